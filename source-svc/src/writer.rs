//! Rows to Kafka, exactly once: each transaction holds records and the
//! offset of the last row it holds, written to the offsets topic. Runs on a
//! blocking thread (decoding, transforms, JSON encoding and librdkafka's
//! blocking calls).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hydrate_common::metrics::SourceTaskMetrics;
use hydrate_common::record::transform::TransformChain;
use hydrate_common::record::{JsonConverter, Record, SchemaAndValue, Value};
use hydrate_common::telemetry::propagation::ROW_TIME_HEADER;
use rdkafka::message::{Header, OwnedHeaders};
use tokio_postgres::Row;
use tokio_util::sync::CancellationToken;

use crate::error::{Result, SourceError};
use crate::kafka::TxProducer;
use crate::layout::RowLayout;
use crate::offset::SourceOffset;

/// The shortest a transaction stays open before a batch boundary may end
/// it: a commit waits for every record to be acknowledged and then for the
/// transaction coordinator (about 0.1 s on a local broker, while the task
/// encodes nothing), so a large snapshot commits about once a second, not
/// every `batch.max.rows` rows. (At 0.2 s, a snapshot spent over a quarter
/// of its time in commits.)
pub const MIN_TRANSACTION: Duration = Duration::from_millis(1000);

/// Where one relation's records go.
#[derive(Debug, Clone)]
pub struct Target {
    /// The rows' layout.
    pub layout: Arc<RowLayout>,
    /// The topic before transforms.
    pub topic: String,
    /// The offsets-topic key of the relation's source partition.
    pub partition_key: Vec<u8>,
    /// Whether offsets are written (not in bulk mode).
    pub tracks_offset: bool,
    /// Timestamp mode without an incrementing column: a transaction may
    /// only end where the timestamp changes, or a resumed poll (`ts > last`)
    /// would skip the rest of the rows sharing the last timestamp.
    pub timestamp_only: bool,
}

/// Converters for keys and values; `None` is Kafka's StringConverter.
pub struct Converters {
    /// `key.converter`.
    pub key: Option<JsonConverter>,
    /// `value.converter`.
    pub value: Option<JsonConverter>,
}

/// What a poll adds to the headers of each record it produces: the poll
/// span's trace context, and the row's time for the sink's freshness.
#[derive(Debug, Clone, Default)]
pub struct Stamp {
    /// W3C `traceparent` (and `tracestate`) of the poll.
    pub trace: Vec<(&'static str, String)>,
    /// No row of the poll committed before this (ms since the epoch): the
    /// start of the relation's previous poll, or of this one when it is the
    /// first read of the relation. A row's time is its timestamp column's
    /// value, raised to this floor: a row older than the last poll
    /// committed late, and a snapshot's rows are as fresh as the snapshot.
    pub floor_ms: Option<i64>,
}

impl Stamp {
    /// The row time of a row whose timestamp column holds `timestamp_micros`.
    fn row_time_ms(&self, timestamp_micros: Option<i64>) -> Option<i64> {
        let row = timestamp_micros.map(|micros| micros.div_euclid(1000));
        row.max(self.floor_ms)
    }
}

/// The task's writer.
pub struct Writer {
    producer: TxProducer,
    converters: Converters,
    chain: Option<TransformChain>,
    offsets_topic: String,
    batch_max_rows: usize,
    cancel: CancellationToken,
    key_buf: Vec<u8>,
    value_buf: Vec<u8>,
    rows_in_transaction: usize,
    /// When the open transaction began.
    transaction_began: Instant,
    /// The offset of the last row sent in the open transaction.
    pending: Option<SourceOffset>,
    /// The offset of the last committed transaction, until taken.
    committed: Option<SourceOffset>,
    metrics: SourceTaskMetrics,
    /// Records and bytes sent in the open transaction, by topic.
    sent: BTreeMap<String, (u64, u64)>,
    /// Bytes of the records converted since last taken (the poll's).
    converted_bytes: u64,
    /// `source.produce`: the open transaction, from begin to commit.
    produce_span: Option<tracing::Span>,
}

impl Writer {
    /// A writer over an initialized transactional producer.
    pub fn new(
        producer: TxProducer,
        converters: Converters,
        chain: Option<TransformChain>,
        offsets_topic: String,
        batch_max_rows: usize,
        cancel: CancellationToken,
        metrics: SourceTaskMetrics,
    ) -> Self {
        Self {
            producer,
            converters,
            chain,
            offsets_topic,
            batch_max_rows: batch_max_rows.max(1),
            cancel,
            key_buf: Vec::new(),
            value_buf: Vec::new(),
            rows_in_transaction: 0,
            transaction_began: Instant::now(),
            pending: None,
            committed: None,
            metrics,
            sent: BTreeMap::new(),
            converted_bytes: 0,
            produce_span: None,
        }
    }

    /// Sends `rows` (in the mode's order), committing whenever a
    /// transaction holds `batch.max.rows` rows, has been open for
    /// [`MIN_TRANSACTION`], and may end here.
    pub fn write(&mut self, target: &Target, rows: Vec<Row>, stamp: &Stamp) -> Result<()> {
        for row in &rows {
            let offset = target.layout.offset_of(row)?;
            if self.rows_in_transaction >= self.batch_max_rows
                && self.transaction_began.elapsed() >= MIN_TRANSACTION
            {
                let boundary = !target.timestamp_only
                    || self.pending.and_then(|p| p.timestamp_micros) != offset.timestamp_micros;
                if boundary {
                    self.commit(target)?;
                }
            }
            let value = target.layout.to_struct(row)?;
            let record =
                Record::new(target.topic.clone(), SchemaAndValue::new(target.layout.schema.clone(), value));
            let record = match &mut self.chain {
                Some(chain) => chain.apply(record)?,
                None => Some(record),
            };
            if !self.producer.in_transaction() {
                self.producer.begin()?;
                self.transaction_began = Instant::now();
                // A child of the poll's span, entered by the caller.
                self.produce_span = Some(tracing::info_span!(
                    "source.produce",
                    records = tracing::field::Empty,
                    bytes = tracing::field::Empty,
                ));
            }
            if let Some(record) = record {
                self.send(&record, stamp, stamp.row_time_ms(offset.timestamp_micros))?;
            }
            self.pending = Some(offset);
            self.rows_in_transaction += 1;
        }
        Ok(())
    }

    /// Commits what the poll sent last.
    pub fn finish(&mut self, target: &Target) -> Result<()> {
        self.commit(target)
    }

    /// Aborts the open transaction (after an error or cancellation).
    pub fn abort(&mut self) {
        self.producer.abort();
        self.rows_in_transaction = 0;
        self.pending = None;
        self.sent.clear();
        self.produce_span = None;
    }

    /// Bytes of the records converted since the last call.
    pub fn take_converted_bytes(&mut self) -> u64 {
        std::mem::take(&mut self.converted_bytes)
    }

    /// The offset of the last commit, once.
    pub fn take_committed(&mut self) -> Option<SourceOffset> {
        self.committed.take()
    }

    fn send(&mut self, record: &Record, stamp: &Stamp, row_time_ms: Option<i64>) -> Result<()> {
        let key = encode(&self.converters.key, &record.key, &mut self.key_buf)?;
        let value = encode(&self.converters.value, &record.value, &mut self.value_buf)?;
        self.producer.ensure_topic(&record.topic)?;
        let key = key.then_some(self.key_buf.as_slice());
        let value = value.then_some(self.value_buf.as_slice());
        let converted = key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len);
        let (headers, header_bytes) = headers(record, stamp, row_time_ms);
        self.producer.send(&record.topic, key, value, headers)?;
        self.converted_bytes += converted as u64;
        let bytes = (converted + header_bytes) as u64;
        match self.sent.get_mut(&record.topic) {
            Some(sent) => {
                sent.0 += 1;
                sent.1 += bytes;
            }
            None => {
                self.sent.insert(record.topic.clone(), (1, bytes));
            }
        }
        Ok(())
    }

    fn commit(&mut self, target: &Target) -> Result<()> {
        if !self.producer.in_transaction() {
            return Ok(());
        }
        // A lost lease or a new owner: nothing more may be committed.
        if self.cancel.is_cancelled() {
            self.abort();
            return Err(SourceError::Cancelled);
        }
        let offset = self.pending.filter(|_| target.tracks_offset);
        if let Some(offset) = offset {
            let payload = offset.to_json().to_string();
            let topic = self.offsets_topic.clone();
            self.producer.ensure_topic(&topic)?;
            self.producer.send(&topic, Some(&target.partition_key), Some(payload.as_bytes()), None)?;
        }
        let span = self.produce_span.take().unwrap_or_else(tracing::Span::none);
        let committed = span.in_scope(|| self.producer.commit());
        let sent = std::mem::take(&mut self.sent);
        if let Err(err) = committed {
            span.record("otel.status_code", "ERROR");
            self.rows_in_transaction = 0;
            self.pending = None;
            return Err(err);
        }
        let elapsed = self.transaction_began.elapsed();
        let (records, bytes) = sent.values().fold((0, 0), |(r, b), (r2, b2)| (r + r2, b + b2));
        span.record("records", records);
        span.record("bytes", bytes);
        for (topic, (records, bytes)) in &sent {
            self.metrics.produced(topic, *records, *bytes, elapsed);
        }
        self.rows_in_transaction = 0;
        self.pending = None;
        if offset.is_some() {
            self.committed = offset;
        }
        Ok(())
    }
}

/// A record's Kafka headers: those transforms gave it, then the poll's
/// trace context and the row's time. Also their size in bytes.
fn headers(record: &Record, stamp: &Stamp, row_time_ms: Option<i64>) -> (Option<OwnedHeaders>, usize) {
    let row_time = row_time_ms.map(|ms| ms.to_string());
    let ours = stamp
        .trace
        .iter()
        .map(|(k, v)| (*k, Some(v.as_bytes())))
        .chain(row_time.as_deref().map(|ms| (ROW_TIME_HEADER, Some(ms.as_bytes()))));
    let all: Vec<(&str, Option<&[u8]>)> =
        record.headers.iter().map(|h| (h.key.as_str(), h.value.as_deref())).chain(ours).collect();
    if all.is_empty() {
        return (None, 0);
    }
    let mut headers = OwnedHeaders::new_with_capacity(all.len());
    let mut bytes = 0;
    for (key, value) in all {
        bytes += key.len() + value.map_or(0, <[u8]>::len);
        headers = headers.insert(Header { key, value });
    }
    (Some(headers), bytes)
}

/// Writes `value` with `converter` into `out`; false for a null Kafka key
/// or value.
fn encode(converter: &Option<JsonConverter>, value: &SchemaAndValue, out: &mut Vec<u8>) -> Result<bool> {
    out.clear();
    match converter {
        Some(json) => Ok(json.write(value.schema.as_ref(), &value.value, out)?),
        None => match &value.value {
            Value::Null => Ok(false),
            Value::String(s) => {
                out.extend_from_slice(s.as_bytes());
                Ok(true)
            }
            Value::Int8(v) => Ok(write_display(out, v)),
            Value::Int16(v) => Ok(write_display(out, v)),
            Value::Int32(v) => Ok(write_display(out, v)),
            Value::Int64(v) => Ok(write_display(out, v)),
            Value::Boolean(v) => Ok(write_display(out, v)),
            other => Err(SourceError::Data(format!(
                "StringConverter cannot write a {} value; use the JsonConverter",
                other.kind()
            ))),
        },
    }
}

fn write_display(out: &mut Vec<u8>, value: &dyn std::fmt::Display) -> bool {
    use std::io::Write;
    let _ = write!(out, "{value}");
    true
}

#[cfg(test)]
mod tests {
    use hydrate_common::record::Header;
    use rdkafka::message::Headers;

    use super::*;

    #[test]
    fn a_row_time_is_its_timestamp_raised_to_the_poll_floor() {
        let stamp = Stamp { trace: Vec::new(), floor_ms: Some(1_000_000) };
        assert_eq!(stamp.row_time_ms(Some(2_000_000_500)), Some(2_000_000), "micros to ms");
        assert_eq!(stamp.row_time_ms(Some(5_000)), Some(1_000_000), "a late commit: the floor");
        assert_eq!(stamp.row_time_ms(None), Some(1_000_000), "no timestamp column: the floor");
        let restarted = Stamp { trace: Vec::new(), floor_ms: None };
        assert_eq!(restarted.row_time_ms(Some(5_000)), Some(5));
        assert_eq!(restarted.row_time_ms(None), None, "nothing known: no header");
    }

    #[test]
    fn records_carry_their_headers_then_the_trace_context_and_row_time() {
        let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned();
        let stamp = Stamp { trace: vec![("traceparent", traceparent.clone())], floor_ms: None };
        let mut record = Record::default();
        record.headers.push(Header { key: "from-smt".into(), value: Some(b"x".to_vec()) });
        let (made, bytes) = headers(&record, &stamp, Some(1_139_996_730_000));
        let made = made.expect("headers");
        let pairs: Vec<(String, Vec<u8>)> = made
            .iter()
            .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec).unwrap_or_default()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("from-smt".to_owned(), b"x".to_vec()),
                ("traceparent".to_owned(), traceparent.into_bytes()),
                (ROW_TIME_HEADER.to_owned(), b"1139996730000".to_vec()),
            ]
        );
        assert_eq!(bytes, pairs.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>());
        assert_eq!(headers(&Record::default(), &Stamp::default(), None).0.map(|h| h.count()), None);
    }
}

//! Rows to Kafka, exactly once: each transaction holds records and the
//! offset of the last row it holds, written to the offsets topic. Runs on a
//! blocking thread (decoding, transforms, JSON encoding and librdkafka's
//! blocking calls).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hydrate_common::record::transform::TransformChain;
use hydrate_common::record::{JsonConverter, Record, SchemaAndValue, Value};
use tokio_postgres::Row;
use tokio_util::sync::CancellationToken;

use crate::error::{Result, SourceError};
use crate::kafka::TxProducer;
use crate::layout::RowLayout;
use crate::offset::SourceOffset;

/// The shortest a transaction stays open before a batch boundary may end
/// it: a commit costs a round trip to the transaction coordinator, so a
/// large snapshot commits a few times a second, not every
/// `batch.max.rows` rows.
const MIN_TRANSACTION: Duration = Duration::from_millis(200);

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
        }
    }

    /// Sends `rows` (in the mode's order), committing whenever a
    /// transaction holds `batch.max.rows` rows, has been open for
    /// [`MIN_TRANSACTION`], and may end here.
    pub fn write(&mut self, target: &Target, rows: Vec<Row>) -> Result<()> {
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
            }
            if let Some(record) = record {
                self.send(&record)?;
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
    }

    /// The offset of the last commit, once.
    pub fn take_committed(&mut self) -> Option<SourceOffset> {
        self.committed.take()
    }

    fn send(&mut self, record: &Record) -> Result<()> {
        let key = encode(&self.converters.key, &record.key, &mut self.key_buf)?;
        let value = encode(&self.converters.value, &record.value, &mut self.value_buf)?;
        self.producer.ensure_topic(&record.topic)?;
        let key = key.then_some(self.key_buf.as_slice());
        let value = value.then_some(self.value_buf.as_slice());
        self.producer.send(&record.topic, key, value)
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
            self.producer.send(&topic, Some(&target.partition_key), Some(payload.as_bytes()))?;
        }
        if let Err(err) = self.producer.commit() {
            self.rows_in_transaction = 0;
            self.pending = None;
            return Err(err);
        }
        self.rows_in_transaction = 0;
        self.pending = None;
        if offset.is_some() {
            self.committed = offset;
        }
        Ok(())
    }
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

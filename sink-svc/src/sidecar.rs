//! Keys and headers objects beside each value object, as Confluent's
//! `store.kafka.keys` and `store.kafka.headers` write them:
//! `<topic>+<partition>+<start>.keys<ext>` and `...+<start>.headers<ext>`,
//! in `keys.format.class` / `headers.format.class`, holding the i-th
//! record's key (headers) where the value object holds its value.
//!
//! A record goes into the objects of its group only once all of them take
//! it (Confluent refuses a null key or no headers before writing anything),
//! so the three stay aligned; they roll together. The value object is the
//! group's commit point (see `commit` and `checkpoint`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use hydrate_common::connect::{Format, S3SinkConfig};
use hydrate_common::record::{Record, Schema, SchemaAndValue, SchemaBuilder, SchemaType, Struct, Value};

use crate::error::{Result, SinkError};
use crate::format::{self, FormatError, FormatOptions, RecordWriter};
use crate::segment::FileFactory;
use crate::spool;

/// What an object beside the value object holds of each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The record key, with its schema.
    Keys,
    /// The headers, as a list of `{key, value}` strings.
    Headers,
}

/// One kind of object written beside every value object.
#[derive(Clone)]
pub struct Sidecar {
    /// What it holds.
    pub view: View,
    /// Its format (compression from the connector's keys, no excluded fields).
    pub options: FormatOptions,
    /// Appended to the value object's name without its extension:
    /// `.keys.json`, `.headers.snappy.parquet`, ...
    pub suffix: String,
    /// `array<struct{key: string, value: string}>`, Confluent's header list.
    headers: Schema,
    /// `RecordHeaders{headers: <headers>}`, the Parquet envelope.
    headers_envelope: Schema,
}

impl Sidecar {
    /// A sidecar holding `view` in `format`.
    pub fn new(view: View, format: &Format, value_options: &FormatOptions) -> Sidecar {
        let element = SchemaBuilder::struct_()
            .field("key", Schema::of(SchemaType::String))
            .field("value", Schema::of(SchemaType::String))
            .build();
        let headers = SchemaBuilder::array(element).build();
        let headers_envelope =
            SchemaBuilder::struct_().name("RecordHeaders").field("headers", headers.clone()).build();
        let name = match view {
            View::Keys => ".keys",
            View::Headers => ".headers",
        };
        Sidecar {
            view,
            options: FormatOptions {
                format: format.clone(),
                excluded_fields: Vec::new(),
                ..value_options.clone()
            },
            suffix: format!("{name}{}", format::extension(format)),
            headers,
            headers_envelope,
        }
    }

    /// The sidecars `config` asks for, keys first.
    pub fn configured(config: &S3SinkConfig, value_options: &FormatOptions) -> Vec<Sidecar> {
        let keys = config.store_keys.as_ref().map(|f| Sidecar::new(View::Keys, f, value_options));
        let headers = config.store_headers.as_ref().map(|f| Sidecar::new(View::Headers, f, value_options));
        keys.into_iter().chain(headers).collect()
    }

    /// Parquet needs a struct at the root, so the view is wrapped in one
    /// (Confluent's "enveloped" views).
    fn enveloped(&self) -> bool {
        matches!(self.options.format, Format::Parquet { .. })
    }

    /// The record this sidecar writes for `record` (its key or headers as
    /// the value); `envelope` caches the last key envelope schema so
    /// records of one key schema share one allocation.
    fn view(&self, record: &Record, envelope: &mut Option<(Schema, Schema)>) -> Result<Record, String> {
        let value = match self.view {
            View::Keys if !self.enveloped() => record.key.clone(),
            View::Keys => {
                let Some(key_schema) = &record.key.schema else {
                    return Err("ParquetFormat key objects need keys with a schema (a key converter \
                                with schemas); use JsonFormat for keys.format.class"
                        .into());
                };
                let fresh = !envelope
                    .as_ref()
                    .is_some_and(|(known, _)| known.ptr_eq(key_schema) || known == key_schema);
                if fresh {
                    let wrapped =
                        SchemaBuilder::struct_().name("RecordKey").field("key", key_schema.clone()).build();
                    *envelope = Some((key_schema.clone(), wrapped));
                }
                let Some((_, wrapped)) = envelope.as_ref() else {
                    return Err("key envelope missing".into());
                };
                let value = Struct::from_values(wrapped.clone(), vec![record.key.value.clone()])?;
                SchemaAndValue::new(wrapped.clone(), Value::Struct(value))
            }
            View::Headers => {
                let element = self.headers.value_schema().ok_or("headers schema without element")?;
                let mut list = Vec::with_capacity(record.headers.len());
                for header in &record.headers {
                    // Kafka Connect's SimpleHeaderConverter reads header bytes as UTF-8.
                    let Some(bytes) = &header.value else {
                        return Err(format!(
                            "header {} has a null value, and header objects hold each value as a string",
                            header.key
                        ));
                    };
                    let text = String::from_utf8_lossy(bytes).into_owned();
                    let pair =
                        Struct::from_values(element.clone(), vec![header.key.clone().into(), text.into()])?;
                    list.push(Value::Struct(pair));
                }
                let list = Value::Array(list);
                if self.enveloped() {
                    let wrapped = Struct::from_values(self.headers_envelope.clone(), vec![list])?;
                    SchemaAndValue::new(self.headers_envelope.clone(), Value::Struct(wrapped))
                } else {
                    SchemaAndValue::new(self.headers.clone(), list)
                }
            }
        };
        Ok(Record {
            topic: record.topic.clone(),
            partition: record.partition,
            offset: record.offset,
            timestamp: record.timestamp,
            value,
            ..Record::default()
        })
    }
}

/// Confluent's refusals before any object of the record is written (its
/// `KeyValueHeaderRecordWriterProvider`), with its messages.
pub fn refusal(sidecars: &[Sidecar], record: &Record) -> Option<String> {
    let described = || {
        format!(
            "SinkRecord{{kafkaOffset={}, topic='{}', kafkaPartition={}}}",
            record.offset.unwrap_or(-1),
            record.topic,
            record.partition.unwrap_or(-1)
        )
    };
    if sidecars.iter().any(|s| s.view == View::Keys) && record.key.value.is_null() {
        return Some(format!("Key cannot be null for SinkRecord: {}", described()));
    }
    if sidecars.iter().any(|s| s.view == View::Headers) && record.headers.is_empty() {
        return Some(format!("Headers cannot be null for SinkRecord: {}", described()));
    }
    None
}

/// One open sidecar object.
struct OpenSidecar {
    spec: Sidecar,
    key: String,
    path: PathBuf,
    written: Arc<AtomicU64>,
    writer: Box<dyn RecordWriter>,
    envelope: Option<(Schema, Schema)>,
    buffered: usize,
}

/// A finished sidecar object waiting for its upload with its value object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedSidecar {
    /// Its object key.
    pub key: String,
    /// The spool file.
    pub path: PathBuf,
}

/// The open sidecar objects of one value object.
#[derive(Default)]
pub struct OpenSidecars(Vec<OpenSidecar>);

/// A record's views, one per sidecar, checked to fit.
pub struct Views(Vec<Record>);

impl OpenSidecars {
    /// Opens the sidecars of a group whose first record is `record`;
    /// `key_of` names a sidecar by its suffix. `Ok(Err)`: the record cannot
    /// be written (nothing stays open).
    pub fn open(
        files: &FileFactory,
        key_of: impl Fn(&str) -> String,
        record: &Record,
    ) -> Result<Result<OpenSidecars, String>> {
        let mut opened = OpenSidecars::default();
        for spec in &files.sidecars {
            let mut envelope = None;
            let first = match spec.view(record, &mut envelope) {
                Ok(view) => view,
                Err(reason) => {
                    opened.discard();
                    return Ok(Err(reason));
                }
            };
            let key = key_of(&spec.suffix);
            let (path, out) = files.spool.create()?;
            let written = out.counter();
            let writer = match (files.open)(&spec.options, first.value.schema.as_ref(), Box::new(out)) {
                Ok(writer) => writer,
                Err(err) => {
                    spool::remove(&path);
                    opened.discard();
                    return match err {
                        FormatError::Record(reason) => Ok(Err(reason)),
                        FormatError::Io(err) => Err(SinkError::Spool(err)),
                        FormatError::Encode(message) => {
                            Err(SinkError::Config(format!("cannot open a writer for {key}: {message}")))
                        }
                    };
                }
            };
            opened.0.push(OpenSidecar {
                spec: spec.clone(),
                key,
                path,
                written,
                writer,
                envelope,
                buffered: 0,
            });
        }
        Ok(Ok(opened))
    }

    /// `record`'s views if every sidecar takes them; `Err` says why not.
    /// Nothing is written.
    pub fn views(&mut self, record: &Record) -> Result<Result<Views, String>> {
        let mut views = Vec::with_capacity(self.0.len());
        for sidecar in &mut self.0 {
            let view = match sidecar.spec.view(record, &mut sidecar.envelope) {
                Ok(view) => view,
                Err(reason) => return Ok(Err(reason)),
            };
            match sidecar.writer.fits(&view) {
                Ok(()) => views.push(view),
                Err(FormatError::Record(reason)) => {
                    return Ok(Err(format!("{}: {reason}", sidecar.spec.suffix)));
                }
                Err(FormatError::Io(err)) => return Err(SinkError::Spool(err)),
                Err(FormatError::Encode(message)) => return Err(encoding(&sidecar.key, &message)),
            }
        }
        Ok(Ok(Views(views)))
    }

    /// Appends views `views` checked. A failure now is a bug or an IO
    /// error: the group is no longer aligned, so it fails the task (and
    /// the records are read again from the checkpoint).
    pub fn append(&mut self, views: Views) -> Result<()> {
        for (sidecar, view) in self.0.iter_mut().zip(views.0) {
            sidecar.writer.append(&view).map_err(|e| match e {
                FormatError::Io(err) => SinkError::Spool(err),
                other => encoding(&sidecar.key, &format!("a checked record did not append: {other}")),
            })?;
            sidecar.buffered = sidecar.writer.buffered_bytes();
        }
        Ok(())
    }

    /// Bytes the sidecar writers hold in memory.
    pub fn buffered(&self) -> usize {
        self.0.iter().map(|s| s.buffered).sum()
    }

    /// Encodes what the writers buffer into their spool files.
    pub fn flush(&mut self) -> Result<()> {
        for sidecar in &mut self.0 {
            sidecar.writer.flush().map_err(|e| encoding(&sidecar.key, &e.to_string()))?;
            sidecar.buffered = sidecar.writer.buffered_bytes();
        }
        Ok(())
    }

    /// Finishes every sidecar object.
    pub fn finish(self) -> Result<Vec<ClosedSidecar>> {
        let mut closed = Vec::with_capacity(self.0.len());
        for sidecar in self.0 {
            sidecar.writer.finish().map_err(|e| match e {
                FormatError::Io(err) => SinkError::Spool(err),
                other => encoding(&sidecar.key, &other.to_string()),
            })?;
            spool::check_complete(&sidecar.path, &sidecar.written)?;
            closed.push(ClosedSidecar { key: sidecar.key, path: sidecar.path });
        }
        Ok(closed)
    }

    /// Drops the writers and their spool files.
    pub fn discard(self) {
        for sidecar in self.0 {
            drop(sidecar.writer);
            spool::remove(&sidecar.path);
        }
    }
}

fn encoding(key: &str, message: &str) -> SinkError {
    SinkError::Spool(std::io::Error::other(format!("encoding {key}: {message}")))
}

#[cfg(test)]
mod tests;

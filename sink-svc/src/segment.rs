//! Rotation, exactly as Confluent's `TopicPartitionWriter` does it: the
//! records of one Kafka partition go into a *segment*, one open file per
//! encoded partition, and the whole segment is committed when it holds
//! `flush.size` records, when a record's time is `rotate.interval.ms` past
//! the segment's first, when the wall-clock schedule fires, or when a
//! record's schema differs from its file's (`schema.compatibility`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use hydrate_common::connect::SchemaCompatibility;
use hydrate_common::record::{Record, Schema, SchemaAndValue, project};

use crate::checkpoint::Resume;
use crate::error::{Result, SinkError};
use crate::format::{FormatError, FormatOptions, RecordWriter};
use crate::naming::Naming;
use crate::schedule::Schedule;
use crate::sidecar::{ClosedSidecar, OpenSidecars, Sidecar};
use crate::spool::{self, Spool, SpoolOut};
use crate::telemetry::FileTrace;

/// Opens a format writer over a spool file (the format module's
/// `open_writer`; tests put their own in).
pub type WriterFactory = Arc<
    dyn Fn(
            &FormatOptions,
            Option<&Schema>,
            Box<dyn std::io::Write + Send>,
        ) -> Result<Box<dyn RecordWriter>, FormatError>
        + Send
        + Sync,
>;

/// When segments are committed.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    /// `flush.size`.
    pub flush_size: u64,
    /// `rotate.interval.ms`.
    pub interval_ms: Option<i64>,
    /// `rotate.schedule.interval.ms` in `timezone`.
    pub schedule: Option<Schedule>,
    /// `schema.compatibility`: NONE rolls the segment on any schema change;
    /// BACKWARD and FULL roll on a higher schema version and project records
    /// of lower versions onto the open file's schema, FORWARD the other way
    /// round, as Confluent's `StorageSchemaCompatibility`.
    pub compatibility: SchemaCompatibility,
}

/// What a task needs to open files.
#[derive(Clone)]
pub struct FileFactory {
    /// Object names.
    pub naming: Naming,
    /// The format.
    pub options: FormatOptions,
    /// Where files are encoded.
    pub spool: Spool,
    /// The writer constructor.
    pub open: WriterFactory,
    /// Keys and headers objects written beside each value object.
    pub sidecars: Vec<Sidecar>,
}

/// A flush must free this many times what it keeps for good: a Parquet
/// row group of a few rows costs more in footer metadata than it frees, and
/// flushing a thousand nearly empty files again and again made memory grow
/// faster than the data.
const FLUSH_WORTH: usize = 8;

struct OpenFile {
    key: String,
    start: i64,
    end: i64,
    records: u64,
    path: PathBuf,
    written: Arc<AtomicU64>,
    writer: Box<dyn RecordWriter>,
    schema: Option<Schema>,
    buffered: usize,
    trace: FileTrace,
    sidecars: OpenSidecars,
}

impl OpenFile {
    /// Bytes the value writer and its sidecars hold in memory, with the
    /// value file's spool buffer.
    fn measure(&self) -> usize {
        self.writer.buffered_bytes() + self.sidecars.buffered() + spool::BUFFER_BYTES
    }

    /// What a flush would free, when it frees at least
    /// [`FLUSH_WORTH`] times what it keeps for good; otherwise 0.
    fn flushable(&self) -> usize {
        let free = self.buffered.saturating_sub(self.writer.retained_bytes() + spool::BUFFER_BYTES);
        if free >= FLUSH_WORTH * self.writer.flush_cost() { free } else { 0 }
    }

    fn discard(self) {
        drop(self.writer);
        spool::remove(&self.path);
        self.sidecars.discard();
    }
}

/// A finished file waiting for its upload.
#[derive(Debug, Clone)]
pub struct ClosedFile {
    /// Its object key.
    pub key: String,
    /// Its encoded partition.
    pub encoded: String,
    /// First offset.
    pub start: i64,
    /// Last offset.
    pub end: i64,
    /// Records.
    pub records: u64,
    /// The spool file.
    pub path: PathBuf,
    /// The source batches its records came from.
    pub trace: FileTrace,
    /// Its keys and headers objects, uploaded before it.
    pub sidecars: Vec<ClosedSidecar>,
}

/// How a record's schema fits its open file.
#[derive(Debug, PartialEq)]
enum SchemaFit {
    /// The same schema (or no open file).
    Same,
    /// The segment rolls; the record opens a file with its schema.
    Change,
    /// The record is projected onto the open file's schema.
    Project(Schema),
}

/// What became of a record.
#[derive(Debug, PartialEq, Eq)]
pub enum Appended {
    /// In an open file.
    Written,
    /// Already in the lake (at or below its directory's watermark).
    Skipped,
    /// The format refused it; the file is as it was.
    Rejected(String),
}

/// The writer of one Kafka partition.
pub struct PartitionWriter {
    /// Topic.
    pub topic: String,
    /// Kafka partition.
    pub partition: i32,
    /// The next offset to read.
    pub next_offset: i64,
    /// The resume offset the last checkpoint holds.
    pub persisted_resume: i64,
    /// Per directory, the last offset already in the lake (from recovery).
    pub watermarks: BTreeMap<String, i64>,
    /// Pending objects recovery did not find (see `checkpoint::Resume`).
    pub orphans: Vec<crate::checkpoint::PendingObject>,
    rotation: Rotation,
    files: BTreeMap<String, OpenFile>,
    closed: Vec<ClosedFile>,
    segment_records: u64,
    segment_first: Option<i64>,
    base_time: Option<i64>,
    next_rotation: Option<i64>,
    buffered: usize,
}

/// What [`PartitionWriter::flush_largest`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    /// Bytes still buffered.
    pub buffered: usize,
    /// Files flushed.
    pub files: u64,
    /// Of their rows, those set aside on local disk (see
    /// [`crate::format::RecordWriter::set_aside_rows`]).
    pub set_aside_rows: u64,
}

impl PartitionWriter {
    /// A writer that starts at `start` with the recovered `resume` state.
    pub fn new(
        topic: &str,
        partition: i32,
        start: i64,
        resume: Resume,
        rotation: Rotation,
        now_ms: i64,
    ) -> Self {
        PartitionWriter {
            topic: topic.to_owned(),
            partition,
            next_offset: start,
            persisted_resume: start,
            watermarks: resume.watermarks,
            orphans: resume.unresolved,
            rotation,
            files: BTreeMap::new(),
            closed: Vec::new(),
            segment_records: 0,
            segment_first: None,
            base_time: None,
            next_rotation: rotation.schedule.map(|s| s.next_after(now_ms)),
            buffered: 0,
        }
    }

    /// Appends `record` (offset set) to the file of directory `encoded`,
    /// committing the segment first or after as rotation says.
    pub fn append(
        &mut self,
        files: &FileFactory,
        encoded: &str,
        record: &Record,
        record_time: Option<i64>,
        now_ms: i64,
    ) -> Result<Appended> {
        let offset = record.offset.unwrap_or(self.next_offset);
        if self.watermarks.get(encoded).is_some_and(|mark| offset <= *mark) {
            return Ok(Appended::Skipped);
        }
        if let Some(reason) = crate::sidecar::refusal(&files.sidecars, record) {
            return Ok(Appended::Rejected(reason));
        }
        let fit = match self.schema_fit(encoded, record) {
            Ok(fit) => fit,
            Err(reason) => return Ok(Appended::Rejected(reason)),
        };
        let projected;
        let record = match fit {
            SchemaFit::Project(ref schema) => {
                let (Some(from), value) = (&record.value.schema, &record.value.value) else {
                    return Ok(Appended::Rejected("a schemaless record cannot be projected".into()));
                };
                match project(from, value, schema) {
                    Ok(value) => {
                        let mut copy = record.clone();
                        copy.value = SchemaAndValue::new(schema.clone(), value);
                        projected = copy;
                        &projected
                    }
                    Err(reason) => {
                        return Ok(Appended::Rejected(format!(
                            "schema.compatibility={}: the record does not project onto the open file's schema: {reason}",
                            self.rotation.compatibility.name()
                        )));
                    }
                }
            }
            SchemaFit::Same | SchemaFit::Change => record,
        };
        if self.segment_records > 0 && (fit == SchemaFit::Change || self.should_rotate(record_time, now_ms)) {
            self.close_segment(now_ms)?;
        }
        if !self.files.contains_key(encoded) {
            let file = match self.open_file(files, encoded, record, offset)? {
                Ok(file) => file,
                Err(reason) => return Ok(Appended::Rejected(reason)),
            };
            self.files.insert(encoded.to_owned(), file);
        }
        let Some(file) = self.files.get_mut(encoded) else {
            return Err(SinkError::Config("open file vanished".into()));
        };
        // The sidecars take the record before the value does, so a refusal
        // leaves all of the group's objects as they were.
        let views = file.sidecars.views(record)?;
        let appended = match views {
            Ok(views) => file.writer.append(record).map(|()| views),
            Err(reason) => Err(FormatError::Record(reason)),
        };
        match appended {
            Ok(views) => file.sidecars.append(views)?,
            Err(FormatError::Record(reason)) => {
                if file.records == 0
                    && let Some(empty) = self.files.remove(encoded)
                {
                    empty.discard();
                }
                return Ok(Appended::Rejected(reason));
            }
            Err(FormatError::Io(err)) => return Err(SinkError::Spool(err)),
            Err(FormatError::Encode(message)) => {
                return Err(SinkError::Spool(std::io::Error::other(format!(
                    "encoding {}: {message}",
                    file.key
                ))));
            }
        }
        file.end = offset;
        file.records += 1;
        file.trace.add(record);
        let now_buffered = file.measure();
        self.buffered = self.buffered.saturating_sub(file.buffered) + now_buffered;
        file.buffered = now_buffered;
        self.segment_records += 1;
        self.segment_first.get_or_insert(offset);
        if self.base_time.is_none() {
            self.base_time = record_time;
        }
        if self.segment_records >= self.rotation.flush_size {
            self.close_segment(now_ms)?;
        }
        Ok(Appended::Written)
    }

    fn should_rotate(&self, record_time: Option<i64>, now_ms: i64) -> bool {
        let scheduled = self.next_rotation.is_some_and(|at| now_ms >= at);
        let periodic = match (self.rotation.interval_ms, record_time, self.base_time) {
            (Some(interval), Some(time), Some(base)) => time - base >= interval,
            _ => false,
        };
        scheduled || periodic
    }

    /// How `record`'s value schema relates to its open file's, per
    /// `schema.compatibility`; `Err` names why the record cannot be written.
    fn schema_fit(&self, encoded: &str, record: &Record) -> Result<SchemaFit, String> {
        let Some(file) = self.files.get(encoded) else { return Ok(SchemaFit::Same) };
        let (current, incoming) = (&file.schema, &record.value.schema);
        if current == incoming {
            return Ok(SchemaFit::Same);
        }
        let mode = self.rotation.compatibility;
        let (Some(current), Some(incoming)) = (current, incoming) else {
            // Schemaless after schemaful or the other way round.
            return Ok(SchemaFit::Change);
        };
        let versions = match (incoming.version(), current.version()) {
            _ if mode == SchemaCompatibility::None => return Ok(SchemaFit::Change),
            (Some(new), Some(open)) => (new, open),
            _ => {
                return Err(format!(
                    "schema.compatibility={} needs schema versions, and the record's value schema or the open \
                     file's has none (JsonConverter schemas carry \"version\" only when the producer sets it); \
                     use NONE to roll files on any schema change",
                    mode.name()
                ));
            }
        };
        let change = match mode {
            SchemaCompatibility::Forward => versions.0 < versions.1,
            _ => versions.0 > versions.1,
        };
        Ok(if change { SchemaFit::Change } else { SchemaFit::Project(current.clone()) })
    }

    /// The value file of directory `encoded` and its sidecars; `Ok(Err)`:
    /// a sidecar cannot take `record` (nothing is opened).
    fn open_file(
        &mut self,
        files: &FileFactory,
        encoded: &str,
        record: &Record,
        offset: i64,
    ) -> Result<Result<OpenFile, String>> {
        let sidecar_key =
            |suffix: &str| files.naming.sidecar_key(&self.topic, encoded, self.partition, offset, suffix);
        let sidecars = match OpenSidecars::open(files, sidecar_key, record)? {
            Ok(sidecars) => sidecars,
            Err(reason) => return Ok(Err(reason)),
        };
        let (path, out): (PathBuf, SpoolOut) = match files.spool.create() {
            Ok(created) => created,
            Err(err) => {
                sidecars.discard();
                return Err(SinkError::Spool(err));
            }
        };
        let written = out.counter();
        let schema = record.value.schema.clone();
        let writer = match (files.open)(&files.options, schema.as_ref(), Box::new(out)) {
            Ok(writer) => writer,
            Err(err) => {
                sidecars.discard();
                return Err(match err {
                    FormatError::Io(err) => SinkError::Spool(err),
                    other => {
                        SinkError::Config(format!("cannot open a {} writer: {other}", files.naming_ext()))
                    }
                });
            }
        };
        Ok(Ok(OpenFile {
            key: files.naming.object_key(&self.topic, encoded, self.partition, offset),
            start: offset,
            end: offset,
            records: 0,
            path,
            written,
            writer,
            schema,
            buffered: 0,
            trace: FileTrace::default(),
            sidecars,
        }))
    }

    /// When the schedule commits the open segment (None: no schedule, or
    /// nothing to commit).
    pub fn rotation_due(&self) -> Option<i64> {
        self.next_rotation.filter(|_| self.segment_records > 0)
    }

    /// Commits the open segment if the schedule says so (called also when
    /// no record comes), and moves the schedule on.
    pub fn tick(&mut self, now_ms: i64) -> Result<()> {
        if let Some(at) = self.next_rotation
            && now_ms >= at
        {
            if self.segment_records > 0 {
                self.close_segment(now_ms)?;
            } else {
                self.next_rotation = self.rotation.schedule.map(|s| s.next_after(now_ms));
            }
        }
        Ok(())
    }

    /// Finishes every open file of the segment; they wait in `closed`.
    fn close_segment(&mut self, now_ms: i64) -> Result<()> {
        for (encoded, file) in std::mem::take(&mut self.files) {
            file.writer.finish().map_err(|e| match e {
                FormatError::Io(err) => SinkError::Spool(err),
                other => SinkError::Spool(std::io::Error::other(format!("finishing {}: {other}", file.key))),
            })?;
            spool::check_complete(&file.path, &file.written)?;
            self.closed.push(ClosedFile {
                key: file.key,
                encoded,
                start: file.start,
                end: file.end,
                records: file.records,
                path: file.path,
                trace: file.trace,
                sidecars: file.sidecars.finish()?,
            });
        }
        self.segment_records = 0;
        self.segment_first = None;
        self.base_time = None;
        self.buffered = 0;
        self.next_rotation = self.rotation.schedule.map(|s| s.next_after(now_ms));
        Ok(())
    }

    /// The finished files not yet uploaded, oldest first.
    pub fn take_closed(&mut self) -> Vec<ClosedFile> {
        std::mem::take(&mut self.closed)
    }

    /// Whether finished files wait for upload.
    pub fn has_closed(&self) -> bool {
        !self.closed.is_empty()
    }

    /// The first offset not in the lake once the closed files are uploaded.
    pub fn resume_after_closed(&self) -> i64 {
        self.segment_first.unwrap_or(self.next_offset)
    }

    /// Bytes the open writers hold in memory.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Objects being written or waiting for their upload.
    pub fn open_files(&self) -> usize {
        self.files.len() + self.closed.len()
    }

    /// Bytes of the objects not uploaded yet: in memory, and in the spool
    /// for the open ones.
    pub fn pending_bytes(&self) -> u64 {
        let spooled: u64 =
            self.files.values().map(|f| f.written.load(std::sync::atomic::Ordering::Relaxed)).sum();
        self.buffered as u64 + spooled
    }

    /// Flushes the writers that would free the most until at most `target`
    /// bytes stay buffered, leaving those a flush would not free enough
    /// from (see [`FLUSH_WORTH`]); says what it did and what stays buffered.
    pub fn flush_largest(&mut self, target: usize) -> Result<Flushed> {
        let mut flushed = Flushed::default();
        let mut by_size: Vec<(usize, String)> = self
            .files
            .iter()
            .map(|(e, f)| (f.flushable(), e.clone()))
            .filter(|(free, _)| *free > 0)
            .collect();
        by_size.sort_unstable_by(|a, b| b.cmp(a));
        for (_, encoded) in by_size {
            if self.buffered <= target {
                break;
            }
            if let Some(file) = self.files.get_mut(&encoded) {
                let set_aside = file.writer.set_aside_rows();
                file.writer.flush().map_err(|e| SinkError::Spool(std::io::Error::other(e.to_string())))?;
                file.sidecars.flush()?;
                let now = file.measure();
                self.buffered = self.buffered.saturating_sub(file.buffered) + now;
                file.buffered = now;
                flushed.files += 1;
                flushed.set_aside_rows += file.writer.set_aside_rows() - set_aside;
            }
        }
        flushed.buffered = self.buffered;
        Ok(flushed)
    }

    /// Drops open files and closed files not uploaded (a stopping task: the
    /// records are read again from the checkpoint).
    pub fn abandon(&mut self) {
        for (_, file) in std::mem::take(&mut self.files) {
            file.discard();
        }
        for file in std::mem::take(&mut self.closed) {
            spool::remove(&file.path);
            for sidecar in &file.sidecars {
                spool::remove(&sidecar.path);
            }
        }
    }
}

impl FileFactory {
    fn naming_ext(&self) -> String {
        format!("{:?}", self.options.format)
    }
}

#[cfg(test)]
mod tests;

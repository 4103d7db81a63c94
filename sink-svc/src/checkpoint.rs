//! Exactly once into S3, with the bucket as the truth.
//!
//! Each Kafka partition of a connector has a small checkpoint object
//! (`<topics.dir>/_hydrate/<connector>/<topic>+<partition>.json`). A task
//! writes records into a *segment*: the open files of one Kafka partition
//! between two commits (one file per encoded partition), and commits whole
//! segments, as Confluent's sink does. A commit is:
//!
//! 1. checkpoint `{resume: R, watermarks, pending: [files of the segment
//!    with their encoded partition and last offset]}`, R unchanged;
//! 2. upload each file (complete or absent; `If-None-Match: *`);
//! 3. checkpoint `{resume: first offset not in any uploaded file, pending: []}`,
//!    then the consumer group offset (for lag and the offsets API).
//!
//! **Invariant.** Every record of the partition below `resume` is in the
//! lake (or was deliberately skipped: filtered, tolerated, ignored null);
//! every record at or above `resume` that is in the lake is in an object
//! listed in `pending` or is at or below the `watermark` of its encoded
//! partition. Files of one encoded partition of one Kafka partition are
//! written one after another and each holds all of that directory's records
//! between its first and last offset, so "offset <= watermark" is exactly
//! "already in the lake".
//!
//! **Recovery.** Read the checkpoint; HEAD each pending object: present
//! means complete, its last offset becomes the watermark of its directory;
//! absent means never written. Seek to `resume` and skip every record at or
//! below its directory's watermark. New files then start above every
//! watermark, so their names are new, whatever the (wall-clock) rotation
//! did before the crash. Without a checkpoint the consumer group's offset
//! is used (a connector that ran on Kafka Connect).
//!
//! **Fencing.** Each checkpoint carries the task and lease epoch of its
//! writer; a writer reads before it writes and stops when a newer epoch of
//! the same task has written, and checks its lease with the control plane
//! before each commit. Object writes are create-only.
//!
//! The directory of a record must be a function of the record (Field,
//! Default, TimeBased with Record or RecordField time): with the Wallclock
//! extractor a replayed record may land in another directory.

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SinkError};
use crate::s3::{error, status};
use crate::upload::Uploader;

/// What the lake holds of one Kafka partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version.
    pub version: u32,
    /// The connector.
    pub connector: String,
    /// The topic.
    pub topic: String,
    /// The Kafka partition.
    pub partition: i32,
    /// The task that wrote this.
    pub task: u32,
    /// Its lease epoch.
    pub epoch: u64,
    /// The first offset that may not be in the lake.
    pub resume: i64,
    /// Per encoded partition, the last offset in the lake at or above `resume`.
    #[serde(default)]
    pub watermarks: BTreeMap<String, i64>,
    /// Objects that may or may not have been written.
    #[serde(default)]
    pub pending: Vec<PendingObject>,
}

/// An object being written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingObject {
    /// Its key.
    pub key: String,
    /// Its encoded partition.
    pub encoded: String,
    /// Its last offset.
    pub end: i64,
}

/// Where a partition resumes, and which records to skip there.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resume {
    /// The offset to seek to; `None`: the consumer group's, else the earliest.
    pub offset: Option<i64>,
    /// Per encoded partition, records at or below this are in the lake.
    pub watermarks: BTreeMap<String, i64>,
}

/// Reads and writes the checkpoints of one bucket.
#[derive(Clone)]
pub struct CheckpointStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl CheckpointStore {
    /// Checkpoints in `bucket`.
    pub fn new(client: aws_sdk_s3::Client, bucket: &str) -> CheckpointStore {
        CheckpointStore { client, bucket: bucket.to_owned() }
    }

    /// The checkpoint at `key`, if any.
    pub async fn read(&self, key: &str) -> Result<Option<Checkpoint>> {
        let got = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(got) => got,
            Err(err) if status(&err) == Some(404) => return Ok(None),
            Err(err) => return Err(error("get checkpoint", key, err)),
        };
        let bytes = got
            .body
            .collect()
            .await
            .map_err(|e| SinkError::S3 {
                op: "get checkpoint",
                target: key.to_owned(),
                message: e.to_string(),
                retryable: true,
            })?
            .into_bytes();
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            SinkError::Config(format!(
                "checkpoint {key} is not readable: {e}; delete it to start from the consumer group's offsets"
            ))
        })
    }

    /// Writes `checkpoint` at `key` unless a newer epoch of the same task
    /// wrote there: then this writer is stale and must stop.
    pub async fn write(&self, key: &str, checkpoint: &Checkpoint) -> Result<()> {
        if let Some(current) = self.read(key).await?
            && current.task == checkpoint.task
            && current.epoch > checkpoint.epoch
        {
            return Err(SinkError::Fenced(format!(
                "checkpoint {key} was written under epoch {} (ours is {})",
                current.epoch, checkpoint.epoch
            )));
        }
        let body = serde_json::to_vec(checkpoint).map_err(|e| SinkError::Config(e.to_string()))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| error("put checkpoint", key, e))?;
        Ok(())
    }
}

/// Where to resume after `checkpoint`: pending objects that exist advance
/// the watermarks of their directories.
pub async fn recover(checkpoint: &Checkpoint, uploader: &Uploader) -> Result<Resume> {
    let mut watermarks = checkpoint.watermarks.clone();
    for pending in &checkpoint.pending {
        if uploader.exists(&pending.key).await? {
            let mark = watermarks.entry(pending.encoded.clone()).or_insert(pending.end);
            *mark = (*mark).max(pending.end);
        }
    }
    watermarks.retain(|_, mark| *mark >= checkpoint.resume);
    Ok(Resume { offset: Some(checkpoint.resume), watermarks })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_read_back_and_old_ones_without_lists_parse() {
        let cp = Checkpoint {
            version: 1,
            connector: "s3".into(),
            topic: "t".into(),
            partition: 0,
            task: 0,
            epoch: 3,
            resume: 100,
            watermarks: BTreeMap::from([("country=Chad".into(), 140)]),
            pending: vec![PendingObject { key: "k".into(), encoded: "country=Chad".into(), end: 150 }],
        };
        let text = serde_json::to_string(&cp).unwrap();
        assert_eq!(serde_json::from_str::<Checkpoint>(&text).unwrap(), cp);
        let bare: Checkpoint = serde_json::from_str(
            r#"{"version":1,"connector":"s3","topic":"t","partition":0,"task":0,"epoch":1,"resume":5}"#,
        )
        .unwrap();
        assert!(bare.pending.is_empty() && bare.watermarks.is_empty());
    }
}

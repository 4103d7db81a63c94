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
//! (and written by this connector) means complete, and the last offset *its
//! own metadata* names becomes the watermark of its directory (not the
//! checkpoint's entry: a dead attempt's file and the next attempt's file of
//! a directory start at the same offset, so they share a name, and only
//! the object says which of them landed); absent means not written (yet: it
//! stays pending until `resume` passes it or a new file takes its name, so
//! should a dead attempt's upload still land, the name clash of a new file
//! sends the task through recovery again, which then finds it). The files
//! of one directory are uploaded one after another, oldest first, so the
//! present ones of a directory are a prefix; a present file after an absent
//! one would mean records skipped, and recovery refuses it. Files a
//! recovery kept pending are marked `carried`: they are a dead attempt's,
//! cut at other offsets than the files of the writer that carried them.
//! That writer read every record of the directory again from its own
//! resume point, so a carried file that never landed leaves no gap before
//! the writer's own files, and does not stop them from counting. Any
//! absent file before a present carried one (landed late) is still refused.
//! Seek to `resume` and skip every record at or below its directory's
//! watermark. New files then start above every
//! watermark, so their names are new, whatever the (wall-clock) rotation
//! did before the crash. Without a checkpoint the consumer group's offset
//! is used (a connector that ran on Kafka Connect).
//!
//! **Keys and headers.** With `store.kafka.keys` / `store.kafka.headers` a
//! file is a group: the value object and its sidecars (keys, headers),
//! which hold the same records in the same order. The sidecars go up
//! first, the value object last: it commits the group, and only value
//! objects count for watermarks. A pending entry lists its sidecars, and
//! recovery checks that each present value object has them, with the same
//! last offset and its upload id as their `hydrate-group`. A sidecar is
//! replaced only while its value object is absent, so a mismatch means a
//! fenced owner's late value upload landed after its successor rewrote
//! the sidecars; recovery refuses it and says how to repair.
//!
//! **Fencing.** Each checkpoint carries the task and lease epoch of its
//! writer; a writer reads before it writes and stops when a newer epoch of
//! the same task has written, and checks its lease with the control plane
//! before each commit. Value objects are created only if absent; keys and
//! headers objects replace only the version they saw (see `upload`).
//!
//! The directory of a record must be a function of the record (Field,
//! Default, TimeBased with Record or RecordField time): with the Wallclock
//! extractor a replayed record may land in another directory.

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SinkError};
use crate::s3::{error, status};
use crate::upload::{Heads, Written};

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
    /// Its first offset (absent in checkpoints of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<i64>,
    /// Its last offset.
    pub end: i64,
    /// Its keys and headers objects (absent in checkpoints of older versions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<String>,
    /// A file of an earlier attempt that recovery did not find and kept
    /// pending, rather than one the checkpoint's writer cut.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub carried: bool,
}

/// Where a partition resumes, and which records to skip there.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resume {
    /// The offset to seek to; `None`: the consumer group's, else the earliest.
    pub offset: Option<i64>,
    /// Per encoded partition, records at or below this are in the lake.
    pub watermarks: BTreeMap<String, i64>,
    /// Pending objects not found, marked `carried`: kept pending, since an
    /// upload of a dead attempt may still land; a name clash then sends the
    /// task back here.
    pub unresolved: Vec<PendingObject>,
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

/// Where to resume after `checkpoint`: pending objects of `connector` that
/// exist advance the watermarks of their directories to the last offset
/// their metadata names.
pub async fn recover<H: Heads>(checkpoint: &Checkpoint, connector: &str, heads: &H) -> Result<Resume> {
    let mut watermarks = checkpoint.watermarks.clone();
    let mut unresolved = Vec::new();
    // Per directory, oldest first; one entry per key (a dead attempt's
    // file and its successor share the key, and the object decides).
    let mut directories: BTreeMap<&str, Vec<&PendingObject>> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for pending in &checkpoint.pending {
        if seen.insert(pending.key.as_str()) {
            directories.entry(pending.encoded.as_str()).or_default().push(pending);
        }
    }
    for (encoded, mut files) in directories {
        files.sort_by_key(|f| (f.start.unwrap_or(i64::MIN), f.end));
        // The first absent file of the checkpoint's writer, and of anyone.
        let (mut missing_own, mut missing): (Option<&PendingObject>, Option<&PendingObject>) = (None, None);
        for pending in files {
            let found = heads.head(&pending.key).await?.filter(|w| w.is_from(connector));
            let Some(found) = found else {
                if pending.end >= checkpoint.resume {
                    unresolved.push(PendingObject { carried: true, ..pending.clone() });
                    missing.get_or_insert(pending);
                    if !pending.carried {
                        missing_own.get_or_insert(pending);
                    }
                }
                continue;
            };
            let (start, end) = (found.start.unwrap_or_default(), found.end.unwrap_or_default());
            if pending.start.is_some_and(|expected| expected != start) {
                return Err(SinkError::Inconsistent(format!(
                    "object {} holds offsets {start}..={end}, but the checkpoint expects it to start at {}",
                    pending.key,
                    pending.start.unwrap_or_default()
                )));
            }
            check_sidecars(pending, &found, heads).await?;
            if let Some(earlier) = if pending.carried { missing } else { missing_own } {
                return Err(SinkError::Inconsistent(format!(
                    "object {} is in the lake but the earlier file {} of directory {encoded} is not; \
                     resuming would skip its records",
                    pending.key, earlier.key
                )));
            }
            let mark = watermarks.entry(encoded.to_owned()).or_insert(end);
            *mark = (*mark).max(end);
        }
    }
    watermarks.retain(|_, mark| *mark >= checkpoint.resume);
    Ok(Resume { offset: Some(checkpoint.resume), watermarks, unresolved })
}

/// Whether the sidecars of the present value object `pending` (as `value`
/// describes it) belong to it: same last offset, its upload id as group.
async fn check_sidecars<H: Heads>(pending: &PendingObject, value: &Written, heads: &H) -> Result<()> {
    for key in &pending.sidecars {
        let problem = match heads.head(key).await? {
            None => "is missing".to_owned(),
            Some(sidecar)
                if sidecar.end != value.end
                    || sidecar.group.is_none()
                    || sidecar.group != value.upload_id =>
            {
                format!(
                    "belongs to another attempt (group {}, last offset {}; the value object's upload \
                     id is {}, last offset {})",
                    sidecar.group.as_deref().unwrap_or("none"),
                    sidecar.end.map_or("none".into(), |e| e.to_string()),
                    value.upload_id.as_deref().unwrap_or("none"),
                    value.end.map_or("none".into(), |e| e.to_string()),
                )
            }
            Some(_) => continue,
        };
        return Err(SinkError::Inconsistent(format!(
            "object {} is in the lake but its sidecar {key} {problem}: a fenced owner's late upload landed \
             after its successor rewrote the group. Delete {} and restart the task; its records are written \
             again with their keys and headers",
            pending.key, pending.key
        )));
    }
    Ok(())
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
            pending: vec![PendingObject {
                key: "k".into(),
                encoded: "country=Chad".into(),
                start: Some(141),
                end: 150,
                sidecars: vec!["k.keys.json".into()],
                carried: true,
            }],
        };
        let text = serde_json::to_string(&cp).unwrap();
        assert_eq!(serde_json::from_str::<Checkpoint>(&text).unwrap(), cp);
        let bare: Checkpoint = serde_json::from_str(
            r#"{"version":1,"connector":"s3","topic":"t","partition":0,"task":0,"epoch":1,"resume":5}"#,
        )
        .unwrap();
        assert!(bare.pending.is_empty() && bare.watermarks.is_empty());
        // Entries of older versions list no sidecars and are not marked carried.
        let old: PendingObject =
            serde_json::from_str(r#"{"key":"k","encoded":"e","start":1,"end":2}"#).unwrap();
        assert!(old.sidecars.is_empty() && !old.carried);
        let text = serde_json::to_string(&old).unwrap();
        assert!(!text.contains("sidecars") && !text.contains("carried"), "{text}");
    }

    /// Objects by key, as HEAD would describe them.
    struct Lake(BTreeMap<String, Written>);

    impl Heads for Lake {
        async fn head(&self, key: &str) -> Result<Option<Written>> {
            Ok(self.0.get(key).cloned())
        }
    }

    fn written(connector: &str, start: i64, end: i64) -> Written {
        Written {
            start: Some(start),
            end: Some(end),
            connector: Some(connector.into()),
            upload_id: Some("u".into()),
            group: None,
            etag: None,
        }
    }

    fn pending(key: &str, encoded: &str, start: i64, end: i64) -> PendingObject {
        PendingObject {
            key: key.into(),
            encoded: encoded.into(),
            start: Some(start),
            end,
            sidecars: Vec::new(),
            carried: false,
        }
    }

    fn carried(key: &str, encoded: &str, start: i64, end: i64) -> PendingObject {
        PendingObject { carried: true, ..pending(key, encoded, start, end) }
    }

    fn checkpoint(resume: i64, pending: Vec<PendingObject>) -> Checkpoint {
        Checkpoint {
            version: 1,
            connector: "s3".into(),
            topic: "t".into(),
            partition: 0,
            task: 0,
            epoch: 1,
            resume,
            watermarks: BTreeMap::new(),
            pending,
        }
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn the_watermark_comes_from_the_object_not_from_a_stale_entry_with_its_name() {
        // A dead attempt's file (to 109997) never landed; the next attempt's
        // file of the same directory took its name and ended at 105397.
        let cp = checkpoint(
            100_000,
            vec![
                pending("g=3/t+0+100002", "g=3", 100_002, 109_997),
                pending("g=3/t+0+100002", "g=3", 100_002, 105_397),
            ],
        );
        let lake = Lake(BTreeMap::from([("g=3/t+0+100002".to_owned(), written("s3", 100_002, 105_397))]));
        let resume = run(recover(&cp, "s3", &lake)).unwrap();
        assert_eq!(resume.watermarks, BTreeMap::from([("g=3".to_owned(), 105_397)]));
        assert!(resume.unresolved.is_empty());
        assert_eq!(resume.offset, Some(100_000));
    }

    #[test]
    fn absent_files_stay_pending_and_present_ones_advance_their_directory() {
        let cp = checkpoint(
            10,
            vec![pending("a/1", "a", 10, 20), pending("a/2", "a", 21, 30), pending("b/1", "b", 11, 25)],
        );
        let lake = Lake(BTreeMap::from([("a/1".to_owned(), written("s3", 10, 20))]));
        let resume = run(recover(&cp, "s3", &lake)).unwrap();
        assert_eq!(resume.watermarks, BTreeMap::from([("a".to_owned(), 20)]));
        let names: Vec<_> = resume.unresolved.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(names, ["a/2", "b/1"]);
        assert!(resume.unresolved.iter().all(|p| p.carried), "kept pending as a dead attempt's");
    }

    #[test]
    fn a_carried_file_that_never_landed_does_not_stop_the_next_writers_files_from_counting() {
        // A dead attempt cut g=2 at 24546 (to 25500); its successor read
        // g=2 again from 14543, cut it at 22546 (committed, resume 24997)
        // and 25001, and died with 25001 up but not checkpointed.
        let cp = checkpoint(
            24_997,
            vec![carried("g=2/24546", "g=2", 24_546, 25_500), pending("g=2/25001", "g=2", 25_001, 25_400)],
        );
        let lake = Lake(BTreeMap::from([("g=2/25001".to_owned(), written("s3", 25_001, 25_400))]));
        let resume = run(recover(&cp, "s3", &lake)).unwrap();
        assert_eq!(resume.watermarks, BTreeMap::from([("g=2".to_owned(), 25_400)]));
        assert_eq!(resume.unresolved, vec![carried("g=2/24546", "g=2", 24_546, 25_500)]);
        // The same two files cut by one writer: 25001 landed before 24546.
        let cp = checkpoint(
            24_997,
            vec![pending("g=2/24546", "g=2", 24_546, 25_000), pending("g=2/25001", "g=2", 25_001, 25_400)],
        );
        assert!(matches!(run(recover(&cp, "s3", &lake)), Err(SinkError::Inconsistent(_))));
    }

    #[test]
    fn a_carried_file_that_landed_late_after_an_absent_one_is_refused() {
        for earlier in [pending("a/1", "a", 10, 20), carried("a/1", "a", 10, 20)] {
            let cp = checkpoint(10, vec![earlier, carried("a/2", "a", 21, 30)]);
            let lake = Lake(BTreeMap::from([("a/2".to_owned(), written("s3", 21, 30))]));
            let err = run(recover(&cp, "s3", &lake)).unwrap_err();
            assert!(matches!(err, SinkError::Inconsistent(_)), "{err}");
        }
    }

    #[test]
    fn a_later_file_present_after_a_missing_one_is_refused_not_skipped_over() {
        let cp = checkpoint(10, vec![pending("a/2", "a", 21, 30), pending("a/1", "a", 10, 20)]);
        let lake = Lake(BTreeMap::from([("a/2".to_owned(), written("s3", 21, 30))]));
        let err = run(recover(&cp, "s3", &lake)).unwrap_err();
        assert!(matches!(err, SinkError::Inconsistent(_)), "{err}");
        assert!(err.to_string().contains("a/1") && err.to_string().contains("a/2"), "{err}");
        assert!(!err.is_retryable());
    }

    #[test]
    fn another_connectors_object_under_a_pending_name_does_not_count_as_ours() {
        let cp = checkpoint(10, vec![pending("a/1", "a", 10, 20)]);
        let lake = Lake(BTreeMap::from([("a/1".to_owned(), written("other", 10, 99))]));
        let resume = run(recover(&cp, "s3", &lake)).unwrap();
        assert!(resume.watermarks.is_empty());
        assert_eq!(resume.unresolved, vec![carried("a/1", "a", 10, 20)]);
        // Objects of older versions name no connector: they are ours.
        let mut old = written("s3", 10, 20);
        old.connector = None;
        let lake = Lake(BTreeMap::from([("a/1".to_owned(), old)]));
        let resume = run(recover(&cp, "s3", &lake)).unwrap();
        assert_eq!(resume.watermarks, BTreeMap::from([("a".to_owned(), 20)]));
    }

    #[test]
    fn an_object_that_does_not_start_where_the_checkpoint_says_is_refused() {
        let cp = checkpoint(10, vec![pending("a/1", "a", 10, 20)]);
        let lake = Lake(BTreeMap::from([("a/1".to_owned(), written("s3", 12, 20))]));
        assert!(matches!(run(recover(&cp, "s3", &lake)), Err(SinkError::Inconsistent(_))));
    }

    /// A value object `a/1` (offsets 10..=20, upload id `u`) with a keys and a headers object.
    fn group(keys: Option<Written>, headers: Option<Written>) -> (Checkpoint, Lake) {
        let entry = PendingObject {
            sidecars: vec!["a/1.keys".into(), "a/1.headers".into()],
            ..pending("a/1", "a", 10, 20)
        };
        let mut lake = BTreeMap::from([("a/1".to_owned(), written("s3", 10, 20))]);
        lake.extend(keys.map(|w| ("a/1.keys".to_owned(), w)));
        lake.extend(headers.map(|w| ("a/1.headers".to_owned(), w)));
        (checkpoint(10, vec![entry]), Lake(lake))
    }

    fn sidecar_of(group: &str, end: i64) -> Written {
        Written { group: Some(group.into()), upload_id: Some(format!("s-{group}")), ..written("s3", 10, end) }
    }

    #[test]
    fn a_value_object_with_its_sidecars_is_complete() {
        let (cp, lake) = group(Some(sidecar_of("u", 20)), Some(sidecar_of("u", 20)));
        let resume = run(recover(&cp, "s3", &lake)).unwrap();
        assert_eq!(resume.watermarks, BTreeMap::from([("a".to_owned(), 20)]));
        assert!(resume.unresolved.is_empty());
    }

    #[test]
    fn leftover_sidecars_of_a_missing_value_object_stay_pending() {
        let (cp, mut lake) = group(Some(sidecar_of("dead", 25)), None);
        lake.0.remove("a/1");
        let resume = run(recover(&cp, "s3", &lake)).unwrap();
        assert!(resume.watermarks.is_empty());
        let kept: Vec<_> = cp.pending.iter().map(|p| PendingObject { carried: true, ..p.clone() }).collect();
        assert_eq!(resume.unresolved, kept, "written again, sidecars replaced");
    }

    #[test]
    fn a_value_object_without_its_sidecars_or_with_anothers_is_refused_with_the_repair() {
        let cases = [
            (None, Some(sidecar_of("u", 20)), "a/1.keys is missing"),
            (
                Some(sidecar_of("u", 20)),
                Some(sidecar_of("v", 20)),
                "a/1.headers belongs to another attempt (group v",
            ),
            // A successor's group that ended elsewhere, and an old object without a group.
            (Some(sidecar_of("u", 18)), Some(sidecar_of("u", 20)), "last offset 18"),
            (Some(written("s3", 10, 20)), Some(sidecar_of("u", 20)), "group none"),
        ];
        for (keys, headers, expected) in cases {
            let (cp, lake) = group(keys, headers);
            let err = run(recover(&cp, "s3", &lake)).unwrap_err();
            assert!(matches!(err, SinkError::Inconsistent(_)), "{err}");
            let text = err.to_string();
            assert!(text.contains(expected), "{text}");
            assert!(text.contains("Delete a/1 and restart the task"), "{text}");
            assert!(!err.is_retryable());
        }
    }
}

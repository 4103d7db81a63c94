//! Committing finished segments of one Kafka partition, in the order the
//! `checkpoint` module's invariant needs: pending checkpoint, uploads,
//! checkpoint without them.

use std::collections::{BTreeMap, HashSet};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{Checkpoint, CheckpointStore, PendingObject};
use crate::error::{Result, SinkError};
use crate::segment::{ClosedFile, PartitionWriter};
use crate::spool;
use crate::upload::{ObjectMeta, Uploader};

/// Who writes, for fencing.
#[derive(Debug, Clone)]
pub struct Owner {
    /// The connector.
    pub connector: String,
    /// The task number.
    pub task: u32,
    /// The lease epoch.
    pub epoch: u64,
}

impl Owner {
    /// A checkpoint of `writer`'s partition by this owner.
    pub fn checkpoint(
        &self,
        writer: &PartitionWriter,
        resume: i64,
        pending: Vec<PendingObject>,
    ) -> Checkpoint {
        Checkpoint {
            version: 1,
            connector: self.connector.clone(),
            topic: writer.topic.clone(),
            partition: writer.partition,
            task: self.task,
            epoch: self.epoch,
            resume,
            watermarks: writer.watermarks.clone(),
            pending,
        }
    }
}

/// Uploads `writer`'s closed files and moves its checkpoint past them.
/// Returns the new resume offset (for the consumer group).
pub async fn commit_closed(
    writer: &mut PartitionWriter,
    closed: Vec<ClosedFile>,
    checkpoint_key: &str,
    owner: &Owner,
    store: &CheckpointStore,
    uploader: &Uploader,
    cancel: &CancellationToken,
) -> Result<i64> {
    // A new file that takes an orphan's name stands for it: whichever of
    // the two lands, recovery reads the object's own offsets.
    let taken: HashSet<&str> = closed.iter().map(|f| f.key.as_str()).collect();
    writer.orphans.retain(|orphan| !taken.contains(orphan.key.as_str()));
    let pending = writer
        .orphans
        .iter()
        .cloned()
        .chain(closed.iter().map(|f| PendingObject {
            key: f.key.clone(),
            encoded: f.encoded.clone(),
            start: Some(f.start),
            end: f.end,
            sidecars: f.sidecars.iter().map(|s| s.key.clone()).collect(),
            carried: false,
        }))
        .collect();
    stop_if(cancel)?;
    let began = std::time::Instant::now();
    store.write(checkpoint_key, &owner.checkpoint(writer, writer.persisted_resume, pending)).await?;
    // Directories upload side by side, the files of one directory one after
    // another, oldest first: a later file never lands before an earlier one
    // (the watermark of a directory must not jump over a missing file). A
    // file's keys and headers objects go first: its value object commits
    // the group.
    let mut uploads = JoinSet::new();
    for files in by_directory(&closed) {
        stop_if(cancel)?;
        let uploader = uploader.clone();
        uploads.spawn(async move {
            for file in files {
                let meta = ObjectMeta { start: file.start, end: file.end, records: file.records };
                let group = uuid::Uuid::new_v4().to_string();
                for sidecar in &file.sidecars {
                    uploader.upload_sidecar(&sidecar.key, &sidecar.path, meta, &group).await?;
                }
                uploader.upload_file(&file, meta, &group).await?;
            }
            Ok::<_, SinkError>(())
        });
    }
    let mut first_error = None;
    while let Some(done) = uploads.join_next().await {
        let outcome = done.unwrap_or_else(|e| Err(SinkError::Spool(std::io::Error::other(e.to_string()))));
        if let Err(err) = outcome {
            first_error.get_or_insert(err);
        }
    }
    if let Some(err) = first_error {
        // The pending checkpoint tells recovery which of them landed.
        return Err(err);
    }
    let resume = writer.resume_after_closed();
    writer.watermarks.retain(|_, mark| *mark >= resume);
    writer.orphans.retain(|orphan| orphan.end >= resume);
    stop_if(cancel)?;
    store.write(checkpoint_key, &owner.checkpoint(writer, resume, writer.orphans.clone())).await?;
    writer.persisted_resume = resume;
    let records: u64 = closed.iter().map(|f| f.records).sum();
    tracing::info!(
        topic = %writer.topic,
        partition = writer.partition,
        objects = closed.len(),
        records,
        resume,
        elapsed_ms = began.elapsed().as_millis() as u64,
        "committed"
    );
    for file in &closed {
        spool::remove(&file.path);
        for sidecar in &file.sidecars {
            spool::remove(&sidecar.path);
        }
    }
    Ok(resume)
}

/// `closed` grouped by directory, each group in offset order.
fn by_directory(closed: &[ClosedFile]) -> Vec<Vec<ClosedFile>> {
    let mut groups: BTreeMap<&str, Vec<ClosedFile>> = BTreeMap::new();
    for file in closed {
        groups.entry(file.encoded.as_str()).or_default().push(file.clone());
    }
    groups
        .into_values()
        .map(|mut files| {
            files.sort_by_key(|f| f.start);
            files
        })
        .collect()
}

fn stop_if(cancel: &CancellationToken) -> Result<()> {
    if cancel.is_cancelled() { Err(SinkError::Cancelled) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(key: &str, encoded: &str, start: i64) -> ClosedFile {
        ClosedFile {
            key: key.into(),
            encoded: encoded.into(),
            start,
            end: start + 9,
            records: 10,
            path: std::path::PathBuf::from(key),
            sidecars: Vec::new(),
            trace: Default::default(),
        }
    }

    #[test]
    fn files_of_one_directory_go_up_one_after_another_oldest_first() {
        // Two segments closed in one step: flush.size, then the schedule.
        let closed =
            [file("a/30", "a", 30), file("b/31", "b", 31), file("a/10", "a", 10), file("b/11", "b", 11)];
        let keys: Vec<Vec<&str>> = by_directory(&closed)
            .iter()
            .map(|group| group.iter().map(|f| f.key.as_str()).collect::<Vec<_>>())
            .map(|g| {
                g.into_iter().map(|k| closed.iter().find(|f| f.key == k).unwrap().key.as_str()).collect()
            })
            .collect();
        assert_eq!(keys, vec![vec!["a/10", "a/30"], vec!["b/11", "b/31"]]);
    }
}

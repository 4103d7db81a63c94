//! Committing finished segments of one Kafka partition, in the order the
//! `checkpoint` module's invariant needs: pending checkpoint, uploads,
//! checkpoint without them.

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
    let pending = writer
        .orphans
        .iter()
        .cloned()
        .chain(closed.iter().map(|f| PendingObject {
            key: f.key.clone(),
            encoded: f.encoded.clone(),
            end: f.end,
        }))
        .collect();
    stop_if(cancel)?;
    store.write(checkpoint_key, &owner.checkpoint(writer, writer.persisted_resume, pending)).await?;
    let mut uploads = JoinSet::new();
    for file in &closed {
        stop_if(cancel)?;
        let (uploader, file) = (uploader.clone(), file.clone());
        let meta = ObjectMeta { start: file.start, end: file.end, records: file.records };
        uploads.spawn(async move { uploader.upload_file(&file, meta).await });
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
        "committed"
    );
    for file in &closed {
        spool::remove(&file.path);
    }
    Ok(resume)
}

fn stop_if(cancel: &CancellationToken) -> Result<()> {
    if cancel.is_cancelled() { Err(SinkError::Cancelled) } else { Ok(()) }
}

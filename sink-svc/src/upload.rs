//! Uploads a finished object from its spool file: one PUT when it fits in a
//! part, else a multipart upload streamed part by part from the file (no
//! part-size buffer held), aborted on any failure so an object is complete
//! or absent. A bounded number of uploads run at once over all tasks.
//!
//! Objects are written with `If-None-Match: *`: a name is never written
//! twice by a correct run (see `checkpoint`), so a refusal means another
//! writer got there first, unless it was our own earlier attempt whose
//! answer was lost, which the upload id in the object's metadata tells.

use std::path::Path;
use std::sync::Arc;

use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ObjectCannedAcl, ServerSideEncryption};
use hydrate_common::connect::Encryption;
use tokio::sync::Semaphore;

use crate::error::{Result, SinkError};
use crate::s3::{error, status};

/// Object metadata key of the first offset an object holds.
pub const META_START: &str = "hydrate-start-offset";
/// Object metadata key of the last offset an object holds.
pub const META_END: &str = "hydrate-end-offset";
/// Object metadata key of the record count.
pub const META_RECORDS: &str = "hydrate-records";
/// Object metadata key of the attempt that wrote it.
pub const META_UPLOAD_ID: &str = "hydrate-upload-id";

/// What an object holds, written into its user metadata.
#[derive(Debug, Clone, Copy)]
pub struct ObjectMeta {
    /// First Kafka offset.
    pub start: i64,
    /// Last Kafka offset.
    pub end: i64,
    /// Records in it.
    pub records: u64,
}

/// Uploads objects into one bucket.
#[derive(Clone)]
pub struct Uploader {
    client: aws_sdk_s3::Client,
    bucket: String,
    part_size: u64,
    encryption: Encryption,
    acl: Option<ObjectCannedAcl>,
    permits: Arc<Semaphore>,
    pub(crate) metrics: Option<hydrate_common::metrics::SinkTaskMetrics>,
}

impl Uploader {
    /// An uploader sharing `permits` (the service-wide upload limit).
    pub fn new(
        client: aws_sdk_s3::Client,
        config: &hydrate_common::connect::S3SinkConfig,
        permits: Arc<Semaphore>,
    ) -> Uploader {
        Uploader {
            client,
            bucket: config.bucket.clone(),
            part_size: u64::from(config.part_size).max(5 << 20),
            encryption: config.encryption.clone(),
            acl: config.acl_canned.as_deref().filter(|a| !a.is_empty()).map(ObjectCannedAcl::from),
            permits,
            metrics: None,
        }
    }

    /// Uploads the file at `path` as `key`.
    pub async fn upload(&self, key: &str, path: &Path, meta: ObjectMeta) -> Result<()> {
        let _permit =
            self.permits.acquire().await.map_err(|_| SinkError::Config("upload limiter closed".into()))?;
        let started = std::time::Instant::now();
        let size = tokio::fs::metadata(path).await?.len();
        let upload_id = uuid::Uuid::new_v4().to_string();
        let result = if size <= self.part_size {
            self.put(key, path, size, meta, &upload_id).await
        } else {
            self.multipart(key, path, size, meta, &upload_id).await
        };
        match result {
            Err(SinkError::Exists(reason)) => {
                // Refused as existing: ours, if an earlier attempt of this
                // upload landed and only its answer was lost.
                if self.written_by(key, &upload_id).await? { Ok(()) } else { Err(SinkError::Exists(reason)) }
            }
            other => other,
        }
        .inspect(|()| tracing::debug!(key, bytes = size, records = meta.records, "object uploaded"))
        .inspect(|()| self.observe_upload(meta.records, size, started))
    }

    async fn put(&self, key: &str, path: &Path, size: u64, meta: ObjectMeta, upload_id: &str) -> Result<()> {
        let body = ByteStream::read_from()
            .path(path)
            .length(Length::Exact(size))
            .build()
            .await
            .map_err(|e| SinkError::Spool(std::io::Error::other(e.to_string())))?;
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(size as i64)
            .body(body)
            .if_none_match("*")
            .set_acl(self.acl.clone());
        for (k, v) in metadata(meta, upload_id) {
            request = request.metadata(k, v);
        }
        request = match &self.encryption {
            Encryption::Aes256 => request.server_side_encryption(ServerSideEncryption::Aes256),
            Encryption::Kms { key_id } => {
                request.server_side_encryption(ServerSideEncryption::AwsKms).set_ssekms_key_id(key_id.clone())
            }
            Encryption::None | Encryption::CustomerKey(_) => request,
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) if status(&err) == Some(412) => Err(exists(key)),
            Err(err) => Err(error("put object", key, err)),
        }
    }

    async fn multipart(
        &self,
        key: &str,
        path: &Path,
        size: u64,
        meta: ObjectMeta,
        upload_id: &str,
    ) -> Result<()> {
        let mut create =
            self.client.create_multipart_upload().bucket(&self.bucket).key(key).set_acl(self.acl.clone());
        for (k, v) in metadata(meta, upload_id) {
            create = create.metadata(k, v);
        }
        create = match &self.encryption {
            Encryption::Aes256 => create.server_side_encryption(ServerSideEncryption::Aes256),
            Encryption::Kms { key_id } => {
                create.server_side_encryption(ServerSideEncryption::AwsKms).set_ssekms_key_id(key_id.clone())
            }
            Encryption::None | Encryption::CustomerKey(_) => create,
        };
        let created = create.send().await.map_err(|e| error("create multipart upload", key, e))?;
        let Some(id) = created.upload_id().map(str::to_owned) else {
            return Err(SinkError::S3 {
                op: "create multipart upload",
                target: key.to_owned(),
                message: "no upload id in the answer".into(),
                retryable: true,
            });
        };
        let result = self.parts(key, path, size, &id).await;
        if result.is_err() {
            // Nothing partial stays behind: the parts are dropped.
            if let Err(err) =
                self.client.abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(&id).send().await
            {
                tracing::warn!(key, error = %error("abort multipart upload", key, err), "abort failed; the bucket's lifecycle rule must clean up");
            }
        }
        result
    }

    async fn parts(&self, key: &str, path: &Path, size: u64, id: &str) -> Result<()> {
        let mut completed = Vec::new();
        let mut offset = 0u64;
        let mut number = 1i32;
        while offset < size {
            let length = self.part_size.min(size - offset);
            let body = ByteStream::read_from()
                .path(path)
                .offset(offset)
                .length(Length::Exact(length))
                .build()
                .await
                .map_err(|e| SinkError::Spool(std::io::Error::other(e.to_string())))?;
            let part = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(id)
                .part_number(number)
                .content_length(length as i64)
                .body(body)
                .send()
                .await
                .map_err(|e| error("upload part", key, e))?;
            completed.push(
                CompletedPart::builder()
                    .set_e_tag(part.e_tag().map(str::to_owned))
                    .part_number(number)
                    .build(),
            );
            offset += length;
            number += 1;
        }
        let done = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(id)
            .if_none_match("*")
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build())
            .send()
            .await;
        match done {
            Ok(_) => Ok(()),
            Err(err) if status(&err) == Some(412) => Err(exists(key)),
            Err(err) => Err(error("complete multipart upload", key, err)),
        }
    }

    /// Whether `key` exists and was written by the attempt `upload_id`.
    async fn written_by(&self, key: &str, upload_id: &str) -> Result<bool> {
        let head = self.client.head_object().bucket(&self.bucket).key(key).send().await;
        match head {
            Ok(out) => {
                Ok(out.metadata().and_then(|m| m.get(META_UPLOAD_ID)).is_some_and(|id| id == upload_id))
            }
            Err(err) if status(&err) == Some(404) => Ok(false),
            Err(err) => Err(error("head object", key, err)),
        }
    }

    /// Whether `key` exists.
    pub async fn exists(&self, key: &str) -> Result<bool> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => Ok(true),
            Err(err) if status(&err) == Some(404) => Ok(false),
            Err(err) => Err(error("head object", key, err)),
        }
    }
}

fn metadata(meta: ObjectMeta, upload_id: &str) -> [(&'static str, String); 4] {
    [
        (META_START, meta.start.to_string()),
        (META_END, meta.end.to_string()),
        (META_RECORDS, meta.records.to_string()),
        (META_UPLOAD_ID, upload_id.to_owned()),
    ]
}

fn exists(key: &str) -> SinkError {
    SinkError::Exists(format!("{key} was written by another attempt or owner"))
}

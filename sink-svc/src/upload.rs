//! Uploads a finished object from its spool file: one PUT when it fits in a
//! part, else a multipart upload streamed part by part from the file (no
//! part-size buffer held), aborted on any failure so an object is complete
//! or absent. A bounded number of uploads run at once over all tasks.
//!
//! Objects are written with `If-None-Match: *`: a name is never written
//! twice by a correct run (see `checkpoint`), so a refusal means another
//! writer got there first, unless it was our own earlier attempt whose
//! answer was lost, which the upload id in the object's metadata tells.
//! An object another connector wrote (its metadata names that connector,
//! or it has none of ours: Kafka Connect, a person) is overwritten with a
//! warning, as Kafka Connect overwrites: two connectors writing one
//! directory is a configuration conflict, not a crash to recover from.
//!
//! Keys and headers objects (sidecars) may be replaced: one whose value
//! object is absent is the leftover of an incomplete group. They are
//! created if absent, else written over exactly the object seen (`If-Match`
//! on its ETag), so a late write of a fenced owner cannot replace the
//! sidecars its successor wrote.

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
/// Object metadata key of the connector that wrote it.
pub const META_CONNECTOR: &str = "hydrate-connector";
/// Object metadata key of a sidecar's group: its value object's upload id.
pub const META_GROUP: &str = "hydrate-group";

/// Writes of a sidecar before giving up when its object keeps changing.
const SIDECAR_WRITES: usize = 3;

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

/// What the metadata of an existing object says about its writer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Written {
    /// First Kafka offset, if written by Hydrate.
    pub start: Option<i64>,
    /// Last Kafka offset, if written by Hydrate.
    pub end: Option<i64>,
    /// The connector that wrote it (objects of older Hydrate versions have none).
    pub connector: Option<String>,
    /// The upload attempt that wrote it.
    pub upload_id: Option<String>,
    /// A sidecar's group (its value object's upload id).
    pub group: Option<String>,
    /// The ETag, to replace exactly this version.
    pub etag: Option<String>,
}

/// What a write expects at its name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    /// Nothing (`If-None-Match: *`).
    Absent,
    /// This version (`If-Match: <ETag>`).
    Version(String),
    /// Anything.
    Any,
}

impl Condition {
    fn if_none_match(&self) -> Option<String> {
        (*self == Condition::Absent).then(|| "*".to_owned())
    }

    fn if_match(&self) -> Option<String> {
        match self {
            Condition::Version(etag) => Some(etag.clone()),
            _ => None,
        }
    }
}

impl Written {
    /// Whether `connector` wrote this object: it carries Hydrate's offsets
    /// and names no other connector.
    pub fn is_from(&self, connector: &str) -> bool {
        self.start.is_some() && self.end.is_some() && self.connector.as_deref().is_none_or(|c| c == connector)
    }
}

/// Reads what an object's metadata says (recovery needs only this of S3).
pub trait Heads {
    /// The object at `key`, if present.
    fn head(&self, key: &str) -> impl std::future::Future<Output = Result<Option<Written>>> + Send;
}

/// Uploads objects into one bucket.
#[derive(Clone)]
pub struct Uploader {
    client: aws_sdk_s3::Client,
    bucket: String,
    connector: String,
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
        connector: &str,
        permits: Arc<Semaphore>,
    ) -> Uploader {
        Uploader {
            client,
            bucket: config.bucket.clone(),
            connector: connector.to_owned(),
            part_size: u64::from(config.part_size).max(5 << 20),
            encryption: config.encryption.clone(),
            acl: config.acl_canned.as_deref().filter(|a| !a.is_empty()).map(ObjectCannedAcl::from),
            permits,
            metrics: None,
        }
    }

    /// Uploads the file at `path` as the value object `key`, create-only;
    /// `upload_id` names this attempt (and its sidecars' group).
    pub async fn upload(&self, key: &str, path: &Path, meta: ObjectMeta, upload_id: &str) -> Result<()> {
        let _permit =
            self.permits.acquire().await.map_err(|_| SinkError::Config("upload limiter closed".into()))?;
        let started = std::time::Instant::now();
        let size = tokio::fs::metadata(path).await?.len();
        let metadata = || self.metadata(meta, upload_id, None);
        let result = match self.write(key, path, size, metadata(), &Condition::Absent).await {
            Err(SinkError::Exists(reason)) => match self.head(key).await? {
                // Ours: an earlier try of this upload landed and only its
                // answer was lost.
                Some(found) if found.upload_id.as_deref() == Some(upload_id) => Ok(()),
                // Another connector's (or not Hydrate's): last writer wins.
                Some(found) if !found.is_from(&self.connector) => {
                    tracing::warn!(
                        key,
                        connector = %self.connector,
                        other = found.connector.as_deref().unwrap_or("not written by Hydrate"),
                        "overwriting an object another connector wrote; two connectors write one directory"
                    );
                    self.write(key, path, size, metadata(), &Condition::Any).await
                }
                // Another attempt of this connector: recovery decides.
                _ => Err(SinkError::Exists(reason)),
            },
            other => other,
        };
        result
            .inspect(|()| tracing::debug!(key, bytes = size, records = meta.records, "object uploaded"))
            .inspect(|()| self.observe_upload(meta.records, size, started))
    }

    /// Uploads the keys or headers object `key` of the group whose value
    /// object is uploaded (after it) with upload id `group`.
    pub async fn upload_sidecar(&self, key: &str, path: &Path, meta: ObjectMeta, group: &str) -> Result<()> {
        let _permit =
            self.permits.acquire().await.map_err(|_| SinkError::Config("upload limiter closed".into()))?;
        let size = tokio::fs::metadata(path).await?.len();
        let upload_id = uuid::Uuid::new_v4().to_string();
        let mut condition = Condition::Absent;
        for _ in 0..SIDECAR_WRITES {
            let metadata = self.metadata(meta, &upload_id, Some(group));
            match self.write(key, path, size, metadata, &condition).await {
                Err(SinkError::Exists(_)) => {}
                other => {
                    return other.inspect(|()| {
                        tracing::debug!(key, bytes = size, records = meta.records, "sidecar uploaded")
                    });
                }
            }
            condition = match self.head(key).await? {
                // An earlier try of this write landed; only its answer was lost.
                Some(found) if found.upload_id.as_deref() == Some(upload_id.as_str()) => return Ok(()),
                Some(Written { etag: Some(etag), group: found, .. }) => {
                    tracing::info!(
                        key,
                        group,
                        found = ?found,
                        "replacing the leftover sidecar of an incomplete group"
                    );
                    Condition::Version(etag)
                }
                Some(_) => {
                    return Err(SinkError::S3 {
                        op: "head object",
                        target: key.to_owned(),
                        message: "the store gave no ETag, which replacing a leftover sidecar needs".into(),
                        retryable: false,
                    });
                }
                None => Condition::Absent,
            };
        }
        Err(SinkError::Exists(format!(
            "{key} changed under each of {SIDECAR_WRITES} writes; another writer is at work"
        )))
    }

    async fn write(
        &self,
        key: &str,
        path: &Path,
        size: u64,
        metadata: Vec<(&'static str, String)>,
        condition: &Condition,
    ) -> Result<()> {
        if size <= self.part_size {
            self.put(key, path, size, metadata, condition).await
        } else {
            self.multipart(key, path, size, metadata, condition).await
        }
    }

    /// `s3.ssea.name` / `s3.sse.kms.key.id` as request fields, the same for
    /// a PUT and a multipart upload.
    fn server_side_encryption(&self) -> (Option<ServerSideEncryption>, Option<String>) {
        match &self.encryption {
            Encryption::Aes256 => (Some(ServerSideEncryption::Aes256), None),
            Encryption::Kms { key_id } => (Some(ServerSideEncryption::AwsKms), key_id.clone()),
            Encryption::None | Encryption::CustomerKey(_) => (None, None),
        }
    }

    async fn put(
        &self,
        key: &str,
        path: &Path,
        size: u64,
        metadata: Vec<(&'static str, String)>,
        condition: &Condition,
    ) -> Result<()> {
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
            .set_if_none_match(condition.if_none_match())
            .set_if_match(condition.if_match())
            .set_acl(self.acl.clone());
        for (k, v) in metadata {
            request = request.metadata(k, v);
        }
        let (sse, kms_key) = self.server_side_encryption();
        request = request.set_server_side_encryption(sse).set_ssekms_key_id(kms_key);
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
        metadata: Vec<(&'static str, String)>,
        condition: &Condition,
    ) -> Result<()> {
        let mut create =
            self.client.create_multipart_upload().bucket(&self.bucket).key(key).set_acl(self.acl.clone());
        for (k, v) in metadata {
            create = create.metadata(k, v);
        }
        let (sse, kms_key) = self.server_side_encryption();
        create = create.set_server_side_encryption(sse).set_ssekms_key_id(kms_key);
        let created = create.send().await.map_err(|e| error("create multipart upload", key, e))?;
        let Some(id) = created.upload_id().map(str::to_owned) else {
            return Err(SinkError::S3 {
                op: "create multipart upload",
                target: key.to_owned(),
                message: "no upload id in the answer".into(),
                retryable: true,
            });
        };
        let result = self.parts(key, path, size, &id, condition).await;
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

    async fn parts(&self, key: &str, path: &Path, size: u64, id: &str, condition: &Condition) -> Result<()> {
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
            .set_if_none_match(condition.if_none_match())
            .set_if_match(condition.if_match())
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build())
            .send()
            .await;
        match done {
            Ok(_) => Ok(()),
            Err(err) if status(&err) == Some(412) => Err(exists(key)),
            Err(err) => Err(error("complete multipart upload", key, err)),
        }
    }

    fn metadata(
        &self,
        meta: ObjectMeta,
        upload_id: &str,
        group: Option<&str>,
    ) -> Vec<(&'static str, String)> {
        let mut metadata = vec![
            (META_START, meta.start.to_string()),
            (META_END, meta.end.to_string()),
            (META_RECORDS, meta.records.to_string()),
            (META_UPLOAD_ID, upload_id.to_owned()),
            (META_CONNECTOR, self.connector.clone()),
        ];
        metadata.extend(group.map(|g| (META_GROUP, g.to_owned())));
        metadata
    }
}

impl Heads for Uploader {
    async fn head(&self, key: &str) -> Result<Option<Written>> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => {
                let meta = out.metadata();
                let get = |name: &str| meta.and_then(|m| m.get(name)).cloned();
                let offset = |name: &str| get(name).and_then(|v| v.parse::<i64>().ok());
                Ok(Some(Written {
                    start: offset(META_START),
                    end: offset(META_END),
                    connector: get(META_CONNECTOR),
                    upload_id: get(META_UPLOAD_ID),
                    group: get(META_GROUP),
                    etag: out.e_tag().map(str::to_owned),
                }))
            }
            Err(err) if status(&err) == Some(404) => Ok(None),
            Err(err) => Err(error("head object", key, err)),
        }
    }
}

fn exists(key: &str) -> SinkError {
    SinkError::Exists(format!("{key} was written by another attempt or owner"))
}

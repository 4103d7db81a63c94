//! The S3 client of a task: the connector's endpoint, addressing and
//! credentials, the AWS SDK's standard retries (exponential backoff with
//! jitter) and timeouts, and how failures are classified.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::Credentials;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use hydrate_common::connect::S3SinkConfig;

use crate::error::SinkError;

/// The store's HTTP status of a failed call, when it answered.
pub fn status<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// A client for the connector's store. The endpoint is `store.url`, else
/// `AWS_ENDPOINT_URL`, else AWS; credentials are the connector's static keys
/// when given, else the AWS default chain (environment, profile, web
/// identity for IRSA, instance metadata).
pub async fn client(config: &S3SinkConfig) -> aws_sdk_s3::Client {
    let attempts = config.part_retries.saturating_add(1).max(1);
    let retry = RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(config.s3_retry_backoff.max(Duration::from_millis(10)))
        .with_max_backoff(Duration::from_secs(20));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(60))
        .operation_attempt_timeout(Duration::from_secs(120))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(config.region.clone()))
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(keys) = &config.credentials {
        loader = loader.credentials_provider(Credentials::new(
            keys.access_key_id.clone(),
            keys.secret_access_key.expose().to_owned(),
            None,
            None,
            "connector-config",
        ));
    }
    let shared = loader.load().await;
    let endpoint = config
        .endpoint
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .filter(|e| !e.is_empty());
    let mut builder = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(config.path_style_access)
        // Checksums only where S3 requires them: S3-compatible stores differ
        // in their support of the newer trailing checksums.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    if let Some(endpoint) = &endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    tracing::info!(
        bucket = %config.bucket,
        region = %config.region,
        endpoint = endpoint.as_deref().unwrap_or("aws"),
        path_style = config.path_style_access,
        static_credentials = config.credentials.is_some(),
        "s3 client ready"
    );
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// A failed call as a [`SinkError`], retryable when the store was busy,
/// failing (5xx), throttling or unreachable.
pub fn error<E>(
    op: &'static str,
    target: &str,
    err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> SinkError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = status(&err);
    let code = err.code().unwrap_or_default().to_owned();
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        _ => {
            status.is_some_and(|s| s >= 500 || s == 429)
                || matches!(code.as_str(), "SlowDown" | "Throttling" | "RequestTimeout" | "InternalError")
        }
    };
    let message = match (status, err.message()) {
        (Some(s), Some(m)) => format!("HTTP {s} {code}: {m}"),
        (Some(s), None) if !code.is_empty() => format!("HTTP {s} {code}"),
        (Some(s), None) => format!("HTTP {s}"),
        _ => DisplayErrorContext(&err).to_string(),
    };
    SinkError::S3 { op, target: target.to_owned(), message, retryable }
}

/// Checks that the bucket exists and the credentials may use it, so a task
/// fails at once with a message naming the bucket.
pub async fn check_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> Result<(), SinkError> {
    match client.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(err) => match status(&err) {
            Some(404) => Err(SinkError::Config(format!(
                "bucket `{bucket}` does not exist (s3.bucket.name); create it or fix the name"
            ))),
            Some(403) => Err(SinkError::Config(format!(
                "access to bucket `{bucket}` denied: check the credentials (AWS default chain or aws.access.key.id) and the bucket policy"
            ))),
            Some(400) | Some(401) => Err(SinkError::Config(format!(
                "bucket `{bucket}`: the store refused the request ({}); check the credentials and s3.region",
                error("head bucket", bucket, err)
            ))),
            _ => Err(error("head bucket", bucket, err)),
        },
    }
}

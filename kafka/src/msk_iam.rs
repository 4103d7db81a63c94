//! MSK IAM sign-in tokens for SASL/OAUTHBEARER, made the way AWS's
//! `aws-msk-iam-sasl-signer` libraries make them: a SigV4 presigned URL for
//! `https://kafka.<region>.amazonaws.com/?Action=kafka-cluster%3AConnect`
//! (service `kafka-cluster`, 900 s), then a `User-Agent` parameter, the
//! whole URL base64url-encoded without padding.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hydrate_common::kafka_props::MskIamOptions;

/// How long a token is valid; also the presigned URL's `X-Amz-Expires`.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);
/// Sent as the token's `User-Agent` parameter (not signed).
pub const USER_AGENT: &str = concat!("hydrate/", env!("CARGO_PKG_VERSION"));
const ACTION: &str = "kafka-cluster:Connect";
const SIGNING_NAME: &str = "kafka-cluster";
/// The Java and Python signers' session name for `awsRoleArn`.
const DEFAULT_SESSION_NAME: &str = "MSKSASLDefaultSession";
/// Credentials without an expiry are read again after this long.
const UNTIMED_CREDENTIALS_TTL: Duration = Duration::from_secs(300);
const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(30);

/// Why no token could be made. Never holds a credential.
#[derive(Debug, thiserror::Error)]
pub enum MskIamError {
    /// The cluster's region is unknown.
    #[error(
        "cannot tell the MSK cluster's AWS region: the bootstrap servers are not *.kafka.<region>.amazonaws.com \
         and no region is configured (set AWS_REGION)"
    )]
    NoRegion,
    /// The credential chain gave nothing.
    #[error("AWS credentials for MSK IAM: {0}")]
    Credentials(String),
    /// Signing failed.
    #[error("signing the MSK IAM token: {0}")]
    Signing(String),
}

/// A signed token and what librdkafka needs with it.
#[derive(Clone, PartialEq, Eq)]
pub struct MskToken {
    /// The base64url token (a bearer secret: never log it).
    pub token: String,
    /// Milliseconds since the epoch when it expires: signing time + 900 s.
    pub lifetime_ms: i64,
    /// The access key id the token is signed with.
    pub principal: String,
}

impl std::fmt::Debug for MskToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MskToken")
            .field("lifetime_ms", &self.lifetime_ms)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// The token for `credentials` and `region`, signed at `time`.
pub fn auth_token(
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
    user_agent: &str,
) -> Result<MskToken, MskIamError> {
    // SigV4 dates have whole seconds; the expiry is counted from there.
    let since_epoch = time.duration_since(UNIX_EPOCH).map_err(|e| MskIamError::Signing(e.to_string()))?;
    let time = UNIX_EPOCH + Duration::from_secs(since_epoch.as_secs());
    let url = format!("https://kafka.{region}.amazonaws.com/?Action={}", encode(ACTION));
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SIGNING_NAME)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| MskIamError::Signing(e.to_string()))?
        .into();
    let request = SignableRequest::new("GET", url.as_str(), std::iter::empty(), SignableBody::Bytes(&[]))
        .map_err(|e| MskIamError::Signing(e.to_string()))?;
    let (instructions, _signature) =
        sign(request, &params).map_err(|e| MskIamError::Signing(e.to_string()))?.into_parts();
    // In the order the reference signers write them, so tokens compare equal.
    const ORDER: [&str; 7] = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Security-Token",
        "X-Amz-Signature",
    ];
    let mut params = instructions.params().to_vec();
    params.sort_by_key(|(name, _)| ORDER.iter().position(|o| o == name).unwrap_or(ORDER.len()));
    let mut signed = url;
    for (name, value) in params {
        // Writing to a String cannot fail.
        let _ = write!(signed, "&{}={}", encode(name), encode(&value));
    }
    let _ = write!(signed, "&User-Agent={}", encode(user_agent));
    let lifetime = since_epoch.as_secs() + TOKEN_LIFETIME.as_secs();
    Ok(MskToken {
        token: URL_SAFE_NO_PAD.encode(signed),
        lifetime_ms: i64::try_from(lifetime).unwrap_or(i64::MAX / 1000) * 1000,
        principal: credentials.access_key_id().to_owned(),
    })
}

/// Percent-encodes all but RFC 3986's unreserved characters, as botocore does.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The region in an MSK broker name: `b-1.<cluster>.<id>.c2.kafka.<region>.amazonaws.com`
/// (also `kafka-serverless`).
pub fn region_from_host(host: &str) -> Option<String> {
    let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    let aws = labels.iter().rposition(|l| l.eq_ignore_ascii_case("amazonaws"))?;
    let (service, region) = (labels.get(aws.checked_sub(2)?)?, labels.get(aws - 1)?);
    let is_kafka = service.eq_ignore_ascii_case("kafka") || service.eq_ignore_ascii_case("kafka-serverless");
    (is_kafka && !region.is_empty()).then(|| region.to_ascii_lowercase())
}

/// Makes tokens for one service: a region, credentials from a provider
/// (cached while they stay valid longer than a token), and a runtime for
/// the provider's calls. Shared by all the service's clients.
pub struct MskIamSigner {
    region: String,
    provider: SharedCredentialsProvider,
    runtime: tokio::runtime::Handle,
    cache: Mutex<Option<(Credentials, Instant)>>,
    tokens: AtomicU64,
}

impl std::fmt::Debug for MskIamSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MskIamSigner").field("region", &self.region).finish_non_exhaustive()
    }
}

impl MskIamSigner {
    /// A signer for `options` (AWS default chain, or the profile, or the
    /// role), for the cluster at `bootstrap_host`. Call within the runtime
    /// that serves credential requests later.
    pub async fn from_options(
        options: &MskIamOptions,
        bootstrap_host: Option<&str>,
    ) -> Result<MskIamSigner, MskIamError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        // The broker's name tells the cluster's region; skip the region chain then.
        let host_region = bootstrap_host.and_then(region_from_host);
        if let Some(region) = &host_region {
            loader = loader.region(Region::new(region.clone()));
        }
        let sdk = loader.load().await;
        let region =
            host_region.or_else(|| sdk.region().map(|r| r.to_string())).ok_or(MskIamError::NoRegion)?;
        let base = sdk
            .credentials_provider()
            .ok_or_else(|| MskIamError::Credentials("no credentials provider is configured".into()))?;
        let provider = match &options.role_arn {
            None => base,
            Some(role) => {
                let sts_region = options.sts_region.clone().unwrap_or_else(|| region.clone());
                let mut builder = AssumeRoleProvider::builder(role)
                    .session_name(options.role_session_name.as_deref().unwrap_or(DEFAULT_SESSION_NAME))
                    .region(Region::new(sts_region))
                    .configure(&sdk);
                if let Some(external_id) = &options.role_external_id {
                    builder = builder.external_id(external_id);
                }
                SharedCredentialsProvider::new(builder.build().await)
            }
        };
        tracing::info!(
            region = %region,
            profile = ?options.profile,
            role = ?options.role_arn,
            "kafka clients sign in with msk iam"
        );
        Ok(MskIamSigner::new(region, provider, tokio::runtime::Handle::current()))
    }

    /// A signer with a given region and credentials provider.
    pub fn new(
        region: impl Into<String>,
        provider: impl ProvideCredentials + 'static,
        runtime: tokio::runtime::Handle,
    ) -> MskIamSigner {
        MskIamSigner {
            region: region.into(),
            provider: SharedCredentialsProvider::new(provider),
            runtime,
            cache: Mutex::new(None),
            tokens: AtomicU64::new(0),
        }
    }

    /// The cluster's region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// How many tokens this signer made.
    pub fn tokens_signed(&self) -> u64 {
        self.tokens.load(Ordering::Relaxed)
    }

    /// A fresh token. Blocks while credentials are fetched (on another
    /// thread, so it may be called from anywhere but async code).
    pub fn token(&self) -> Result<MskToken, MskIamError> {
        let credentials = self.credentials()?;
        let token = auth_token(&credentials, &self.region, SystemTime::now(), USER_AGENT)?;
        self.tokens.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(region = %self.region, lifetime_ms = token.lifetime_ms, "signed an msk iam token");
        Ok(token)
    }

    fn credentials(&self) -> Result<Credentials, MskIamError> {
        // Held while fetching: concurrent refreshes wait for one fetch.
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((credentials, fetched)) = cache.as_ref() {
            let fresh = match credentials.expiry() {
                // A token signed now must not outlive its credentials.
                Some(expiry) => expiry > SystemTime::now() + TOKEN_LIFETIME + Duration::from_secs(60),
                None => fetched.elapsed() < UNTIMED_CREDENTIALS_TTL,
            };
            if fresh {
                return Ok(credentials.clone());
            }
        }
        let provider = Arc::new(self.provider.clone());
        let runtime = self.runtime.clone();
        // librdkafka calls from its own threads; the provider needs the
        // runtime's IO, which a scoped thread may block on.
        let fetched = std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    runtime.block_on(async move {
                        tokio::time::timeout(CREDENTIALS_TIMEOUT, provider.provide_credentials()).await
                    })
                })
                .join()
        })
        .map_err(|_| MskIamError::Credentials("the credentials provider panicked".into()))?
        .map_err(|_| MskIamError::Credentials(format!("no answer within {CREDENTIALS_TIMEOUT:?}")))?
        .map_err(|e| MskIamError::Credentials(error_chain(&e)))?;
        *cache = Some((fetched.clone(), Instant::now()));
        Ok(fetched)
    }
}

/// An error with its causes: the SDK's outer errors say little alone.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;

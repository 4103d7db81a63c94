//! librdkafka clients built from a service's worker properties: one context
//! type for all of them, which signs MSK IAM tokens when librdkafka asks.

use std::error::Error;
use std::ffi::{CString, c_char};
use std::sync::Arc;

use hydrate_common::kafka_props::KafkaSettings;
use rdkafka::ClientConfig;
use rdkafka::admin::AdminClient;
use rdkafka::client::{Client, ClientContext, OAuthToken};
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use crate::msk_iam::{MskIamError, MskIamSigner};

/// Why a service's Kafka clients cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum KafkaSetupError {
    /// librdkafka refuses a property.
    #[error("kafka property {key} ({client} clients): {reason}")]
    Property { key: String, client: &'static str, reason: String },
    /// MSK IAM cannot sign in.
    #[error(transparent)]
    MskIam(#[from] MskIamError),
}

/// The context of every client a service makes: it refreshes OAUTHBEARER
/// tokens with the service's MSK IAM signer.
#[derive(Clone, Default)]
pub struct KafkaContext {
    signer: Option<Arc<MskIamSigner>>,
}

impl ClientContext for KafkaContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(&self, _oauthbearer_config: Option<&str>) -> Result<OAuthToken, Box<dyn Error>> {
        let token = self.token().map_err(|err| {
            tracing::warn!(error = %err, "msk iam token refresh failed");
            err
        })?;
        Ok(token)
    }
}

impl ConsumerContext for KafkaContext {}

impl ProducerContext for KafkaContext {
    type DeliveryOpaque = ();

    fn delivery(&self, _result: &DeliveryResult<'_>, _opaque: ()) {}
}

impl KafkaContext {
    fn token(&self) -> Result<OAuthToken, String> {
        let signer = self
            .signer
            .as_ref()
            .ok_or("OAUTHBEARER tokens are made for MSK IAM only (sasl.mechanism=AWS_MSK_IAM)".to_owned())?;
        let token = signer.token().map_err(|e| e.to_string())?;
        Ok(OAuthToken { token: token.token, principal_name: token.principal, lifetime_ms: token.lifetime_ms })
    }
}

/// A consumer of a service.
pub type KafkaConsumer = BaseConsumer<KafkaContext>;
/// A producer the caller polls.
pub type KafkaProducer = BaseProducer<KafkaContext>;
/// A producer polled by its own thread.
pub type KafkaThreadedProducer = ThreadedProducer<KafkaContext>;
/// An admin client.
pub type KafkaAdmin = AdminClient<KafkaContext>;

/// The kinds of client [`KafkaClientConfig::create`] makes.
pub trait KafkaClient: FromClientConfigAndContext<KafkaContext> {
    /// The underlying client.
    fn kafka_client(&self) -> &Client<KafkaContext>;
}

impl KafkaClient for KafkaConsumer {
    fn kafka_client(&self) -> &Client<KafkaContext> {
        self.client()
    }
}

impl KafkaClient for KafkaProducer {
    fn kafka_client(&self) -> &Client<KafkaContext> {
        self.client()
    }
}

impl KafkaClient for KafkaThreadedProducer {
    fn kafka_client(&self) -> &Client<KafkaContext> {
        self.client()
    }
}

impl KafkaClient for KafkaAdmin {
    fn kafka_client(&self) -> &Client<KafkaContext> {
        self.inner()
    }
}

/// A service's Kafka clients: settings per kind of client, and the MSK IAM
/// signer they share. Cheap to clone.
#[derive(Clone)]
pub struct KafkaClients {
    settings: Arc<KafkaSettings>,
    context: KafkaContext,
}

impl std::fmt::Debug for KafkaClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // KafkaSettings shows keys only.
        f.debug_struct("KafkaClients")
            .field("settings", &self.settings)
            .field("msk_iam_region", &self.context.signer.as_ref().map(|s| s.region()))
            .finish()
    }
}

impl KafkaClients {
    /// Checks every property with librdkafka and, for MSK IAM, sets up the
    /// signer and signs a first token (so missing credentials fail here).
    pub async fn new(settings: KafkaSettings) -> Result<KafkaClients, KafkaSetupError> {
        let signer = match &settings.msk_iam {
            Some(options) => {
                Some(Arc::new(MskIamSigner::from_options(options, settings.bootstrap_host()).await?))
            }
            None => None,
        };
        let clients = KafkaClients::with_signer(settings, signer.clone())?;
        if let Some(signer) = signer {
            // Credentials are checked now, not at the first client, and are
            // cached for the clients that tasks create.
            tokio::task::spawn_blocking(move || signer.token())
                .await
                .map_err(|e| MskIamError::Credentials(format!("credentials task: {e}")))??;
        }
        Ok(clients)
    }

    /// As [`KafkaClients::new`], with a given signer.
    pub fn with_signer(
        settings: KafkaSettings,
        signer: Option<Arc<MskIamSigner>>,
    ) -> Result<KafkaClients, KafkaSetupError> {
        for (client, props) in
            [("consumer", &settings.consumer), ("producer", &settings.producer), ("admin", &settings.admin)]
        {
            let mut config = ClientConfig::new();
            for (key, value) in props {
                config.set(key, value);
            }
            if let Err(err) = config.create_native_config() {
                let (key, reason) = redacted(&err);
                return Err(KafkaSetupError::Property { key, client, reason });
            }
        }
        Ok(KafkaClients { settings: Arc::new(settings), context: KafkaContext { signer } })
    }

    /// The same clients for other bootstrap servers.
    pub fn with_bootstrap(&self, bootstrap: &str) -> KafkaClients {
        let mut settings = (*self.settings).clone();
        for props in [&mut settings.consumer, &mut settings.producer, &mut settings.admin] {
            props.insert("bootstrap.servers".into(), bootstrap.to_owned());
        }
        KafkaClients { settings: Arc::new(settings), context: self.context.clone() }
    }

    /// The settings.
    pub fn settings(&self) -> &KafkaSettings {
        &self.settings
    }

    /// The MSK IAM signer, if the clients sign in with MSK IAM.
    pub fn msk_iam(&self) -> Option<&MskIamSigner> {
        self.context.signer.as_deref()
    }

    /// Config for a consumer.
    pub fn consumer_config(&self) -> KafkaClientConfig {
        self.config(&self.settings.consumer)
    }

    /// Config for a producer.
    pub fn producer_config(&self) -> KafkaClientConfig {
        self.config(&self.settings.producer)
    }

    /// Config for an admin client.
    pub fn admin_config(&self) -> KafkaClientConfig {
        self.config(&self.settings.admin)
    }

    fn config(&self, props: &std::collections::BTreeMap<String, String>) -> KafkaClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in props {
            config.set(key, value);
        }
        KafkaClientConfig { config, context: self.context.clone() }
    }
}

/// A librdkafka client configuration with the service's context.
#[derive(Clone)]
pub struct KafkaClientConfig {
    config: ClientConfig,
    context: KafkaContext,
}

impl std::fmt::Debug for KafkaClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self.config.config_map().into_keys().collect();
        f.debug_struct("KafkaClientConfig").field("keys", &keys).finish()
    }
}

impl KafkaClientConfig {
    /// Sets a librdkafka property.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut KafkaClientConfig {
        self.config.set(key, value);
        self
    }

    /// A librdkafka property.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.config.get(key)
    }

    /// Sets each of `defaults` that is not set yet (by the worker's
    /// properties): the service's defaults give way to the user's.
    pub fn set_defaults(&mut self, defaults: &[(&str, &str)]) -> &mut KafkaClientConfig {
        for (key, value) in defaults {
            if self.config.get(key).is_none() {
                self.config.set(*key, *value);
            }
        }
        self
    }

    /// Creates the client. With OAUTHBEARER its first token is set at once:
    /// librdkafka would otherwise wait for the application to poll, which an
    /// admin client or a consumer asked for metadata first never does.
    /// Errors never repeat a property's value.
    pub fn create<T: KafkaClient>(&self) -> KafkaResult<T> {
        let oauthbearer = ["sasl.mechanism", "sasl.mechanisms"]
            .iter()
            .any(|key| self.config.get(key).is_some_and(|m| m.eq_ignore_ascii_case("OAUTHBEARER")));
        let first_token = match oauthbearer {
            true => {
                Some(self.context.token().map_err(|e| KafkaError::ClientCreation(format!("msk iam: {e}")))?)
            }
            false => None,
        };
        let client =
            T::from_config_and_context(&self.config, self.context.clone()).map_err(|err| match err {
                KafkaError::ClientConfig(..) => {
                    let (key, reason) = redacted(&err);
                    KafkaError::ClientCreation(format!("kafka property {key}: {reason}"))
                }
                other => other,
            })?;
        if let Some(token) = first_token {
            set_token(client.kafka_client(), &token).map_err(KafkaError::ClientCreation)?;
        }
        Ok(client)
    }
}

/// Hands `token` to librdkafka, as rdkafka does after a refresh event.
fn set_token(client: &Client<KafkaContext>, token: &OAuthToken) -> Result<(), String> {
    let value = CString::new(token.token.as_str()).map_err(|_| "msk iam: the token has a NUL byte")?;
    let principal =
        CString::new(token.principal_name.as_str()).map_err(|_| "msk iam: the principal has a NUL byte")?;
    let mut errstr = [0 as c_char; 512];
    // SAFETY: `client` owns a live rd_kafka_t; librdkafka copies both
    // strings before returning, takes no extensions (null, 0) and writes at
    // most `errstr.len()` bytes, NUL-terminated, into `errstr`.
    let code = unsafe {
        rdkafka::bindings::rd_kafka_oauthbearer_set_token(
            client.native_ptr(),
            value.as_ptr(),
            token.lifetime_ms,
            principal.as_ptr(),
            std::ptr::null_mut(),
            0,
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    };
    if code == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        return Ok(());
    }
    // SAFETY: librdkafka NUL-terminated `errstr`, which outlives this borrow.
    let reason = unsafe { std::ffi::CStr::from_ptr(errstr.as_ptr()) }.to_string_lossy().into_owned();
    Err(format!("msk iam: librdkafka refused the token: {reason}"))
}

/// The key of a librdkafka configuration error, and why, without the value
/// when the key may hold a secret.
fn redacted(err: &KafkaError) -> (String, String) {
    match err {
        KafkaError::ClientConfig(_, description, key, _value) => {
            let secret = ["password", "secret", "jaas", "token", "key.pem", "keystore.key"]
                .iter()
                .any(|word| key.contains(word));
            let reason = if secret { "invalid value".to_owned() } else { description.clone() };
            (key.clone(), reason)
        }
        other => (String::new(), other.to_string()),
    }
}

#[cfg(test)]
mod tests;

//! Kafka client settings written as Kafka Connect worker properties
//! (`bootstrap.servers`, `security.protocol`, `sasl.mechanism`,
//! `sasl.jaas.config`, `ssl.*`, and `consumer.`/`producer.`/`admin.`
//! overrides), translated to librdkafka's names for each kind of client.
//!
//! Plain data and no IO beyond reading the file: the services apply the
//! result to their librdkafka clients (crate `hydrate-kafka`), which also
//! signs the MSK IAM tokens.

mod jaas;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use jaas::JaasEntry;

/// Why the worker properties cannot be used. Messages name the key and
/// never repeat a value.
#[derive(Debug, thiserror::Error)]
pub enum KafkaPropsError {
    /// A key whose value cannot be used.
    #[error("kafka property {key}: {reason}")]
    Invalid { key: String, reason: String },
    /// The properties file cannot be read.
    #[error("cannot read the Kafka properties file {}: {source}", path.display())]
    File { path: PathBuf, source: std::io::Error },
    /// A `--kafka-property` without `=`.
    #[error("--kafka-property must be KEY=VALUE (no '=' after {key})")]
    NotAPair { key: String },
}

impl KafkaPropsError {
    fn invalid(key: &str, reason: impl Into<String>) -> Self {
        KafkaPropsError::Invalid { key: key.to_owned(), reason: reason.into() }
    }
}

/// How to sign MSK IAM tokens, from the `IAMLoginModule` options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MskIamOptions {
    /// `awsProfileName`: credentials of this profile instead of the default chain.
    pub profile: Option<String>,
    /// `awsRoleArn`: assume this role (with the default chain's credentials).
    pub role_arn: Option<String>,
    /// `awsRoleSessionName`.
    pub role_session_name: Option<String>,
    /// `awsRoleExternalId`.
    pub role_external_id: Option<String>,
    /// `awsStsRegion`: the STS region for `awsRoleArn`.
    pub sts_region: Option<String>,
}

/// librdkafka settings for each kind of client, and whether they sign in
/// with MSK IAM.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KafkaSettings {
    /// Settings of consumers (`consumer.*` over the rest).
    pub consumer: BTreeMap<String, String>,
    /// Settings of producers (`producer.*` over the rest).
    pub producer: BTreeMap<String, String>,
    /// Settings of admin clients (`admin.*` over the rest).
    pub admin: BTreeMap<String, String>,
    /// Set when the clients authenticate with AWS_MSK_IAM: their
    /// `sasl.mechanism` is OAUTHBEARER and the tokens are MSK IAM tokens.
    pub msk_iam: Option<MskIamOptions>,
}

impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be passwords: keys only.
        f.debug_struct("KafkaSettings")
            .field("consumer", &self.consumer.keys().collect::<Vec<_>>())
            .field("producer", &self.producer.keys().collect::<Vec<_>>())
            .field("admin", &self.admin.keys().collect::<Vec<_>>())
            .field("msk_iam", &self.msk_iam)
            .finish()
    }
}

/// The worker properties of a service: its properties file first, then each
/// `KEY=VALUE` pair (which wins).
pub fn load_worker_properties(
    file: Option<&Path>,
    pairs: &[String],
) -> Result<BTreeMap<String, String>, KafkaPropsError> {
    let mut worker = BTreeMap::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|source| KafkaPropsError::File { path: path.to_owned(), source })?;
        worker.extend(crate::connect::secrets::parse_properties(&text));
    }
    for pair in pairs {
        let (key, value) = pair.split_once('=').ok_or_else(|| KafkaPropsError::NotAPair {
            // Only what looks like a key: the rest may be a password.
            key: pair.split([':', ' ']).next().unwrap_or("").chars().take(64).collect(),
        })?;
        worker.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    Ok(worker)
}

const MSK_LOGIN_HANDLER: &str = "software.amazon.msk.auth.iam.IAMOAuthBearerLoginCallbackHandler";

/// Keys of the Java client or of Kafka Connect's worker that librdkafka has
/// no use for; a worker file carries them, so they are dropped, not refused.
const DROPPED: &[&str] = &[
    "client.dns.lookup",
    "group.id",
    "key.converter",
    "value.converter",
    "header.converter",
    "key.serializer",
    "value.serializer",
    "key.deserializer",
    "value.deserializer",
    "interceptor.classes",
    "max.poll.records",
    "plugin.path",
    "plugin.discovery",
    "listeners",
    "sasl.client.callback.handler.class",
    "sasl.login.class",
    "security.providers",
    "ssl.protocol",
    "ssl.enabled.protocols",
    "ssl.provider",
    "ssl.engine.factory.class",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
    "ssl.truststore.type",
    "ssl.truststore.password",
    "ssl.keystore.type",
    "metric.reporters",
    "auto.include.jmx.reporter",
];

/// Prefixes of the same.
const DROPPED_PREFIXES: &[&str] = &[
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "offset.storage.",
    "config.storage.",
    "status.storage.",
    "offset.flush.",
    "internal.",
    "rest.",
    "admin.listeners",
    "connector.client.",
    "config.providers",
    "task.shutdown.",
    "exactly.once.",
    "scheduled.rebalance.",
    "worker.",
    "metrics.",
    "sasl.login.refresh.",
    "sasl.login.retry.",
    "sasl.login.connect.",
    "sasl.login.read.",
];

/// Client kinds with their override prefix.
const SCOPES: [&str; 3] = ["consumer.", "producer.", "admin."];

impl KafkaSettings {
    /// Translates worker properties. `bootstrap`, when not empty, wins over
    /// the properties' `bootstrap.servers`.
    pub fn from_worker_properties(
        worker: &BTreeMap<String, String>,
        bootstrap: Option<&str>,
    ) -> Result<KafkaSettings, KafkaPropsError> {
        let mut dropped = BTreeSet::new();
        let mut msk_iam: Option<(String, MskIamOptions)> = None;
        let mut out = KafkaSettings::default();
        for scope in SCOPES {
            // key without prefix -> (key as written, value); the scope's own
            // keys override the shared ones.
            let mut effective: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
            for (key, value) in worker {
                if !SCOPES.iter().any(|s| key.starts_with(s)) {
                    effective.insert(key, (key, value));
                }
            }
            for (key, value) in worker {
                if let Some(bare) = key.strip_prefix(scope) {
                    effective.insert(bare, (key, value));
                }
            }
            let translated = translate(&effective, &mut dropped)?;
            if let Some((key, options)) = translated.msk_iam {
                match &msk_iam {
                    Some((_, seen)) if *seen != options => {
                        return Err(KafkaPropsError::invalid(
                            &key,
                            "the MSK IAM options differ between clients; a service signs in as one identity",
                        ));
                    }
                    Some(_) => {}
                    None => msk_iam = Some((key, options)),
                }
            }
            let mut props = translated.properties;
            if let Some(bootstrap) = bootstrap.filter(|b| !b.trim().is_empty()) {
                props.insert("bootstrap.servers".into(), bootstrap.trim().to_owned());
            }
            match scope {
                "consumer." => out.consumer = props,
                "producer." => out.producer = props,
                _ => out.admin = props,
            }
        }
        out.msk_iam = msk_iam.map(|(_, options)| options);
        if !dropped.is_empty() {
            tracing::info!(keys = ?dropped, "kafka properties without a librdkafka equivalent are ignored");
        }
        Ok(out)
    }

    /// The first bootstrap server's host, e.g. to tell an MSK cluster's region.
    pub fn bootstrap_host(&self) -> Option<&str> {
        let servers = self.admin.get("bootstrap.servers")?;
        let first = servers.split(',').next()?.trim();
        let first = first.split_once("://").map_or(first, |(_, rest)| rest);
        let host = match first.rsplit_once(':') {
            Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
            _ => first,
        };
        Some(host.trim_start_matches('[').trim_end_matches(']')).filter(|h| !h.is_empty())
    }
}

struct Translated {
    properties: BTreeMap<String, String>,
    /// With the key that asked for it, for errors.
    msk_iam: Option<(String, MskIamOptions)>,
}

/// One client kind's properties (prefix already removed) to librdkafka's.
fn translate(
    effective: &BTreeMap<&str, (&str, &str)>,
    dropped: &mut BTreeSet<String>,
) -> Result<Translated, KafkaPropsError> {
    let get = |key: &str| effective.get(key).copied();
    let mut props = BTreeMap::new();
    let mechanism = get("sasl.mechanism").or_else(|| get("sasl.mechanisms"));
    let jaas = match get("sasl.jaas.config") {
        Some((key, value)) => {
            Some((key, jaas::parse(value).map_err(|reason| KafkaPropsError::invalid(key, reason))?))
        }
        None => None,
    };
    let login_handler = get("sasl.login.callback.handler.class");
    let msk_mechanism = mechanism.filter(|(_, m)| m.eq_ignore_ascii_case("AWS_MSK_IAM"));
    let msk_handler = login_handler.filter(|(_, h)| h.trim() == MSK_LOGIN_HANDLER);
    let msk_module = jaas.as_ref().filter(|(_, entry)| entry.is("IAMLoginModule"));
    let msk_iam = if msk_mechanism.is_some() || msk_handler.is_some() || msk_module.is_some() {
        // The options come from the JAAS entry: name it when there is one.
        let asked_by = jaas.as_ref().map(|(k, _)| *k).or(msk_mechanism.or(msk_handler).map(|(k, _)| k));
        let asked_by = asked_by.unwrap_or("sasl.mechanism");
        Some((asked_by.to_owned(), msk_iam(mechanism, get("security.protocol"), jaas.as_ref())?))
    } else {
        None
    };

    for (&bare, &(key, value)) in effective {
        match bare {
            "sasl.mechanism" | "sasl.mechanisms" if msk_iam.is_some() => {
                props.insert("sasl.mechanism".into(), "OAUTHBEARER".into());
            }
            "sasl.mechanism" | "sasl.mechanisms" => {
                let upper = value.trim().to_ascii_uppercase();
                match upper.as_str() {
                    "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" => {
                        props.insert("sasl.mechanism".into(), upper);
                    }
                    "OAUTHBEARER" => {
                        return Err(KafkaPropsError::invalid(
                            key,
                            format!(
                                "OAUTHBEARER is supported with MSK IAM only \
                                 (sasl.login.callback.handler.class={MSK_LOGIN_HANDLER})"
                            ),
                        ));
                    }
                    "GSSAPI" => {
                        return Err(KafkaPropsError::invalid(key, "GSSAPI (Kerberos) is not supported"));
                    }
                    other => {
                        return Err(KafkaPropsError::invalid(
                            key,
                            format!(
                                "unknown SASL mechanism {other:?}; expected PLAIN, SCRAM-SHA-256, \
                                 SCRAM-SHA-512, AWS_MSK_IAM or OAUTHBEARER (MSK IAM)"
                            ),
                        ));
                    }
                }
            }
            "security.protocol" if msk_iam.is_some() => {} // checked, set below
            "security.protocol" => {
                let upper = value.trim().to_ascii_uppercase();
                if !["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"].contains(&upper.as_str()) {
                    return Err(KafkaPropsError::invalid(
                        key,
                        format!(
                            "unknown protocol {upper:?}; expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
                        ),
                    ));
                }
                props.insert("security.protocol".into(), upper);
            }
            "sasl.jaas.config" => {
                let Some((_, entry)) = &jaas else { continue };
                if msk_iam.is_some() {
                    continue;
                }
                if !(entry.is("ScramLoginModule") || entry.is("PlainLoginModule")) {
                    return Err(KafkaPropsError::invalid(
                        key,
                        format!(
                            "login module {} is not supported; use ScramLoginModule, PlainLoginModule \
                             or MSK's IAMLoginModule",
                            entry.module
                        ),
                    ));
                }
                let (Some(username), Some(password)) =
                    (entry.options.get("username"), entry.options.get("password"))
                else {
                    return Err(KafkaPropsError::invalid(
                        key,
                        "the login module needs username=\"...\" and password=\"...\"",
                    ));
                };
                props.insert("sasl.username".into(), username.clone());
                props.insert("sasl.password".into(), password.clone());
            }
            "sasl.login.callback.handler.class" => {
                if msk_iam.is_none() {
                    return Err(KafkaPropsError::invalid(
                        key,
                        format!("only MSK IAM's handler ({MSK_LOGIN_HANDLER}) is supported"),
                    ));
                }
            }
            "bootstrap.servers" => {
                props.insert(bare.into(), value.trim().to_owned());
            }
            "ssl.truststore.location" => {
                let kind = store_kind(value, get("ssl.truststore.type"));
                if kind != StoreKind::Pem {
                    return Err(KafkaPropsError::invalid(
                        key,
                        "librdkafka reads trusted certificates from PEM only; convert the trust store \
                         to a PEM file (ssl.truststore.type=PEM)",
                    ));
                }
                props.insert("ssl.ca.location".into(), value.to_owned());
            }
            "ssl.truststore.certificates" => {
                props.insert("ssl.ca.pem".into(), value.to_owned());
            }
            "ssl.keystore.location" => match store_kind(value, get("ssl.keystore.type")) {
                StoreKind::Pkcs12 => {
                    props.insert("ssl.keystore.location".into(), value.to_owned());
                }
                // A PEM key store holds the certificate chain and the key.
                StoreKind::Pem => {
                    props.insert("ssl.certificate.location".into(), value.to_owned());
                    props.insert("ssl.key.location".into(), value.to_owned());
                }
                StoreKind::Jks => {
                    return Err(KafkaPropsError::invalid(
                        key,
                        "librdkafka cannot read Java (JKS) key stores; give a PKCS12 or PEM key store",
                    ));
                }
            },
            "ssl.keystore.password" => {
                let location = get("ssl.keystore.location").map(|(_, v)| v).unwrap_or("");
                if store_kind(location, get("ssl.keystore.type")) == StoreKind::Pkcs12 {
                    props.insert("ssl.keystore.password".into(), value.to_owned());
                } else {
                    // Java opens a PEM key with ssl.key.password; fall back to this one.
                    props.entry("ssl.key.password".into()).or_insert_with(|| value.to_owned());
                }
            }
            "ssl.keystore.certificate.chain" => {
                props.insert("ssl.certificate.pem".into(), value.to_owned());
            }
            "ssl.keystore.key" => {
                props.insert("ssl.key.pem".into(), value.to_owned());
            }
            "ssl.key.password" => {
                props.insert("ssl.key.password".into(), value.to_owned());
            }
            "ssl.endpoint.identification.algorithm" => {
                let algorithm = if value.trim().is_empty() { "none" } else { value.trim() };
                props.insert(bare.into(), algorithm.to_owned());
            }
            k if DROPPED.contains(&k) || DROPPED_PREFIXES.iter().any(|p| k.starts_with(p)) => {
                dropped.insert(key.to_owned());
            }
            _ => {
                props.insert(bare.into(), value.to_owned());
            }
        }
    }
    if msk_iam.is_some() {
        props.insert("security.protocol".into(), "SASL_SSL".into());
        props.insert("sasl.mechanism".into(), "OAUTHBEARER".into());
    }
    Ok(Translated { properties: props, msk_iam })
}

/// Checks an MSK IAM configuration and reads the login module's options.
fn msk_iam(
    mechanism: Option<(&str, &str)>,
    protocol: Option<(&str, &str)>,
    jaas: Option<&(&str, JaasEntry)>,
) -> Result<MskIamOptions, KafkaPropsError> {
    if let Some((key, m)) = mechanism
        && !m.eq_ignore_ascii_case("AWS_MSK_IAM")
        && !m.eq_ignore_ascii_case("OAUTHBEARER")
    {
        return Err(KafkaPropsError::invalid(
            key,
            "MSK IAM (IAMLoginModule, IAMOAuthBearerLoginCallbackHandler) needs sasl.mechanism=AWS_MSK_IAM \
             or OAUTHBEARER",
        ));
    }
    if let Some((key, p)) = protocol
        && !p.trim().eq_ignore_ascii_case("SASL_SSL")
    {
        return Err(KafkaPropsError::invalid(key, "MSK IAM needs security.protocol=SASL_SSL"));
    }
    let mut options = MskIamOptions::default();
    let Some((key, entry)) = jaas else { return Ok(options) };
    if !(entry.is("IAMLoginModule") || entry.is("OAuthBearerLoginModule")) {
        return Err(KafkaPropsError::invalid(
            key,
            format!("login module {} does not sign in with MSK IAM; use IAMLoginModule", entry.module),
        ));
    }
    for (name, value) in &entry.options {
        let value = Some(value.clone()).filter(|v| !v.is_empty());
        match name.as_str() {
            "awsProfileName" => options.profile = value,
            "awsRoleArn" => options.role_arn = value,
            "awsRoleSessionName" => options.role_session_name = value,
            "awsRoleExternalId" => options.role_external_id = value,
            "awsStsRegion" => options.sts_region = value,
            // Logging and retry knobs of the Java library.
            "awsDebugCreds" | "awsMaxRetries" | "awsMaxBackOffTimeMs" => {}
            other => {
                return Err(KafkaPropsError::invalid(
                    key,
                    format!(
                        "MSK IAM option {other} is not supported (supported: awsProfileName, awsRoleArn, \
                         awsRoleSessionName, awsRoleExternalId, awsStsRegion)"
                    ),
                ));
            }
        }
    }
    if options.role_arn.is_none()
        && (options.role_session_name.is_some() || options.role_external_id.is_some())
    {
        return Err(KafkaPropsError::invalid(
            key,
            "awsRoleSessionName and awsRoleExternalId need awsRoleArn",
        ));
    }
    Ok(options)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreKind {
    Pem,
    Pkcs12,
    Jks,
}

/// The store's type from `ssl.*store.type`, else from the file name.
fn store_kind(location: &str, declared: Option<(&str, &str)>) -> StoreKind {
    if let Some((_, declared)) = declared {
        match declared.trim().to_ascii_uppercase().as_str() {
            "PEM" => return StoreKind::Pem,
            "PKCS12" => return StoreKind::Pkcs12,
            "JKS" => return StoreKind::Jks,
            _ => {}
        }
    }
    let lower = location.to_ascii_lowercase();
    if lower.ends_with(".p12") || lower.ends_with(".pfx") || lower.ends_with(".pkcs12") {
        StoreKind::Pkcs12
    } else if lower.ends_with(".jks") || lower.ends_with(".keystore") || lower.ends_with(".truststore") {
        StoreKind::Jks
    } else {
        StoreKind::Pem
    }
}

#[cfg(test)]
mod tests;

//! Kafka client settings given the way a Kafka Connect worker takes them
//! (Java client properties), turned into librdkafka's.

use std::collections::BTreeMap;

/// librdkafka settings for the sink's consumer and its dead letter queue producer.
#[derive(Clone, Default)]
pub struct KafkaProperties {
    /// For every client.
    pub common: BTreeMap<String, String>,
    /// `consumer.*` keys, prefix removed.
    pub consumer: BTreeMap<String, String>,
    /// `producer.*` keys, prefix removed.
    pub producer: BTreeMap<String, String>,
}

impl std::fmt::Debug for KafkaProperties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be passwords: keys only.
        f.debug_struct("KafkaProperties")
            .field("common", &self.common.keys().collect::<Vec<_>>())
            .field("consumer", &self.consumer.keys().collect::<Vec<_>>())
            .field("producer", &self.producer.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Java-client keys librdkafka has no equivalent for; a worker file often
/// carries them, so they are dropped (by name in a log line) instead of
/// failing the client.
const JAVA_ONLY: &[&str] = &[
    "client.dns.lookup",
    "sasl.client.callback.handler.class",
    "sasl.login.callback.handler.class",
    "ssl.truststore.type",
    "ssl.truststore.password",
    "ssl.keystore.type",
    "ssl.keystore.password",
    "ssl.key.password",
    "key.converter",
    "value.converter",
    "key.converter.schemas.enable",
    "value.converter.schemas.enable",
    "group.id",
    "offset.storage.topic",
    "config.storage.topic",
    "status.storage.topic",
    "plugin.path",
];

/// Parses Java properties text: `key=value` or `key: value` lines, `#` and
/// `!` comments, backslash line continuations.
pub fn parse_properties_text(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!')) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            continue;
        }
        pending.push_str(line);
        let logical = std::mem::take(&mut pending);
        let split = logical.find(['=', ':']).unwrap_or(logical.len());
        let (key, value) = logical.split_at(split);
        let value = value.get(1..).unwrap_or("");
        out.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    out
}

/// The librdkafka settings for `bootstrap` and Java-style `pairs`.
pub fn to_librdkafka(bootstrap: &str, pairs: &BTreeMap<String, String>) -> Result<KafkaProperties, String> {
    let mut props = KafkaProperties::default();
    if !bootstrap.is_empty() {
        props.common.insert("bootstrap.servers".into(), bootstrap.into());
    }
    for (key, value) in pairs {
        let (target, key) = if let Some(k) = key.strip_prefix("consumer.") {
            (&mut props.consumer, k)
        } else if let Some(k) = key.strip_prefix("producer.") {
            (&mut props.producer, k)
        } else {
            (&mut props.common, key.as_str())
        };
        if JAVA_ONLY.contains(&key) || key.starts_with("ssl.truststore.") || key.starts_with("ssl.keystore.")
        {
            tracing::warn!(key, "kafka property has no librdkafka equivalent; ignored");
            continue;
        }
        match key {
            "sasl.jaas.config" => {
                let (user, password) = parse_jaas(value)?;
                target.insert("sasl.username".into(), user);
                target.insert("sasl.password".into(), password);
            }
            "sasl.mechanism" => {
                target.insert("sasl.mechanisms".into(), value.clone());
            }
            "ssl.endpoint.identification.algorithm" if value.is_empty() => {
                target.insert(key.into(), "none".into());
            }
            _ => {
                target.insert(key.into(), value.clone());
            }
        }
    }
    Ok(props)
}

/// `...LoginModule required username="u" password="p";` -> (u, p).
fn parse_jaas(text: &str) -> Result<(String, String), String> {
    let get = |name: &str| {
        let at = text.find(&format!("{name}="))? + name.len() + 1;
        let rest = &text[at..];
        let rest = rest.strip_prefix('"')?;
        let end = rest.find('"')?;
        Some(rest[..end].to_owned())
    };
    match (get("username"), get("password")) {
        (Some(u), Some(p)) => Ok((u, p)),
        _ => Err("sasl.jaas.config: expected a login module with username=\"...\" password=\"...\"".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_properties_become_librdkafka_settings() {
        let text = "# MSK\nsecurity.protocol=SASL_SSL\nsasl.mechanism = SCRAM-SHA-512\n\
            sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n  \
            username=\"hydrate\" password=\"p=ss\";\nconsumer.fetch.min.bytes: 1\nclient.dns.lookup=use_all_dns_ips\n";
        let pairs = parse_properties_text(text);
        let props = to_librdkafka("b:9092", &pairs).unwrap();
        assert_eq!(props.common["security.protocol"], "SASL_SSL");
        assert_eq!(props.common["sasl.mechanisms"], "SCRAM-SHA-512");
        assert_eq!(props.common["sasl.username"], "hydrate");
        assert_eq!(props.common["sasl.password"], "p=ss");
        assert_eq!(props.common["bootstrap.servers"], "b:9092");
        assert_eq!(props.consumer["fetch.min.bytes"], "1");
        assert!(!props.common.contains_key("client.dns.lookup"));
        assert!(!format!("{props:?}").contains("p=ss"), "debug output holds no value");
    }

    #[test]
    fn a_jaas_config_without_credentials_is_refused() {
        let pairs = BTreeMap::from([("sasl.jaas.config".to_owned(), "X required;".to_owned())]);
        assert!(to_librdkafka("", &pairs).is_err());
    }
}

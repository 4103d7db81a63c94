//! Kafka client settings written the way Kafka Connect worker properties
//! write them (`security.protocol`, `sasl.mechanism`, `sasl.jaas.config`,
//! `ssl.*`), translated to librdkafka's names.

use std::collections::BTreeMap;

/// librdkafka properties, plus what Hydrate must do itself.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KafkaSettings {
    /// Properties for librdkafka.
    pub properties: BTreeMap<String, String>,
    /// `sasl.mechanism=AWS_MSK_IAM`: OAUTHBEARER tokens signed for MSK IAM,
    /// which Hydrate does not sign yet (see [`translate`]).
    pub msk_iam: bool,
}

impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be passwords: only the keys are shown.
        f.debug_struct("KafkaSettings")
            .field("keys", &self.properties.keys().collect::<Vec<_>>())
            .field("msk_iam", &self.msk_iam)
            .finish()
    }
}

/// Keys that only configure the Java client or Kafka Connect's worker and
/// have no librdkafka equivalent; they are dropped rather than refused.
const JAVA_ONLY: &[&str] = &[
    "client.dns.lookup",
    "sasl.client.callback.handler.class",
    "sasl.login.callback.handler.class",
    "sasl.login.class",
    "ssl.truststore.type",
    "ssl.keystore.type",
    "ssl.protocol",
    "ssl.enabled.protocols",
    "ssl.trustmanager.algorithm",
    "ssl.keymanager.algorithm",
    "ssl.secure.random.implementation",
    "ssl.provider",
    "ssl.engine.factory.class",
    "ssl.truststore.password",
    "key.converter",
    "value.converter",
    "key.converter.schemas.enable",
    "value.converter.schemas.enable",
    "group.id",
    "offset.storage.topic",
    "config.storage.topic",
    "status.storage.topic",
    "plugin.path",
    "rest.port",
    "rest.advertised.host.name",
];

/// Parses Java properties text: `key=value` or `key: value`, `#`/`!`
/// comments, backslash line continuations.
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!')) {
            continue;
        }
        if let Some(body) = line.strip_suffix('\\') {
            pending.push_str(body);
            continue;
        }
        pending.push_str(line);
        let entry = std::mem::take(&mut pending);
        let split = entry.find(['=', ':']).unwrap_or(entry.len());
        let key = entry[..split].trim();
        let value = entry.get(split + 1..).unwrap_or("").trim();
        if !key.is_empty() {
            out.insert(key.to_owned(), value.to_owned());
        }
    }
    out
}

/// Translates worker properties to librdkafka's. Errors name the key and
/// never repeat a value.
pub fn translate(worker: &BTreeMap<String, String>) -> Result<KafkaSettings, String> {
    let mut settings = KafkaSettings::default();
    let props = &mut settings.properties;
    for (key, value) in worker {
        match key.as_str() {
            k if JAVA_ONLY.contains(&k) => {}
            "sasl.mechanism" | "sasl.mechanisms" if value.eq_ignore_ascii_case("AWS_MSK_IAM") => {
                settings.msk_iam = true;
                props.insert("sasl.mechanism".into(), "OAUTHBEARER".into());
            }
            "sasl.mechanism" | "sasl.mechanisms" => {
                props.insert("sasl.mechanism".into(), value.clone());
            }
            "sasl.jaas.config" => {
                if value.contains("IAMLoginModule") {
                    settings.msk_iam = true;
                    continue;
                }
                let options = jaas_options(value);
                for (option, target) in [("username", "sasl.username"), ("password", "sasl.password")] {
                    if let Some(v) = options.get(option) {
                        props.insert(target.into(), v.clone());
                    }
                }
            }
            "ssl.truststore.location" => {
                if is_java_keystore(value) {
                    return Err(format!(
                        "{key}: librdkafka cannot read Java keystores; give a PEM file of CA certificates"
                    ));
                }
                props.insert("ssl.ca.location".into(), value.clone());
            }
            "ssl.truststore.certificates" => {
                props.insert("ssl.ca.pem".into(), value.clone());
            }
            "ssl.keystore.location" => {
                if is_java_keystore(value) {
                    return Err(format!(
                        "{key}: librdkafka cannot read Java keystores; give PEM files (ssl.certificate.location, ssl.key.location)"
                    ));
                }
                props.insert("ssl.certificate.location".into(), value.clone());
            }
            "ssl.keystore.certificate.chain" => {
                props.insert("ssl.certificate.pem".into(), value.clone());
            }
            "ssl.keystore.key" => {
                props.insert("ssl.key.pem".into(), value.clone());
            }
            "ssl.keystore.password" => {
                props.entry("ssl.key.password".into()).or_insert_with(|| value.clone());
            }
            "ssl.endpoint.identification.algorithm" => {
                let algorithm = if value.trim().is_empty() { "none" } else { value.as_str() };
                props.insert(key.clone(), algorithm.to_owned());
            }
            _ => {
                props.insert(key.clone(), value.clone());
            }
        }
    }
    if settings.msk_iam {
        return Err("sasl.mechanism: AWS_MSK_IAM is not supported by this build yet; use SCRAM-SHA-512 \
                    with MSK, or PLAINTEXT/SSL"
            .into());
    }
    Ok(settings)
}

fn is_java_keystore(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".jks")
        || lower.ends_with(".p12")
        || lower.ends_with(".pfx")
        || lower.ends_with(".keystore")
}

/// The `name="value"` options of a JAAS line such as
/// `org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="p";`.
fn jaas_options(line: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = line;
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq].rsplit(|c: char| c.is_whitespace()).next().unwrap_or("").trim();
        let after = rest[eq + 1..].trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end.min(quoted.len())..])
        } else {
            let end = after.find(|c: char| c.is_whitespace() || c == ';').unwrap_or(after.len());
            (after[..end].to_owned(), &after[end..])
        };
        if !name.is_empty() {
            out.insert(name.to_owned(), value);
        }
        rest = remaining;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scram_worker_properties_become_librdkafka_settings() {
        let worker = parse_properties(
            "# MSK with SCRAM\nsecurity.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n  \
             username=\"hydrate\" password=\"p\\\"w;d\";\nssl.truststore.location=/etc/ca.pem\n\
             ssl.endpoint.identification.algorithm=\nclient.dns.lookup: use_all_dns_ips\n",
        );
        let settings = translate(&worker).unwrap();
        let p = &settings.properties;
        assert_eq!(p["security.protocol"], "SASL_SSL");
        assert_eq!(p["sasl.mechanism"], "SCRAM-SHA-512");
        assert_eq!(p["sasl.username"], "hydrate");
        assert_eq!(p["sasl.password"], "p\"w;d");
        assert_eq!(p["ssl.ca.location"], "/etc/ca.pem");
        assert_eq!(p["ssl.endpoint.identification.algorithm"], "none");
        assert!(!p.contains_key("client.dns.lookup") && !p.contains_key("sasl.jaas.config"));
        assert!(!format!("{settings:?}").contains("p\\\"w"), "debug output hides values");
    }

    #[test]
    fn java_keystores_and_msk_iam_are_refused_by_name() {
        let jks = BTreeMap::from([("ssl.truststore.location".to_owned(), "/x/trust.jks".to_owned())]);
        assert!(translate(&jks).unwrap_err().starts_with("ssl.truststore.location"));
        let iam = BTreeMap::from([("sasl.mechanism".to_owned(), "AWS_MSK_IAM".to_owned())]);
        assert!(translate(&iam).unwrap_err().contains("AWS_MSK_IAM"));
    }
}

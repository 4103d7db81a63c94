//! Where connector offsets live, shared by the tasks that write them and the
//! control plane that reads and alters them. The formats are Kafka Connect's,
//! so its tooling reads them too.
//!
//! - Source offsets: a compacted topic (`hydrate-offsets` unless the
//!   connector sets `offsets.storage.topic`), key
//!   `["<connector>",{<source partition>}]`, value `{<offset>}` as schemaless
//!   JSON, null to delete. Tasks write them in the same Kafka transaction as
//!   the records they describe.
//! - Sink offsets: the consumer group `connect-<connector>`.

use serde_json::Value;

/// The source offsets topic when the connector names none.
pub const DEFAULT_SOURCE_OFFSETS_TOPIC: &str = "hydrate-offsets";

/// The source offsets topic of a connector's config.
pub fn source_offsets_topic(config: &std::collections::BTreeMap<String, String>) -> String {
    config
        .get("offsets.storage.topic")
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_SOURCE_OFFSETS_TOPIC)
        .to_owned()
}

/// The consumer group a sink connector commits its offsets under.
pub fn sink_group_id(connector: &str) -> String {
    format!("connect-{connector}")
}

/// The offsets-topic key of one source partition of `connector`.
pub fn encode_source_key(connector: &str, partition: &Value) -> Vec<u8> {
    Value::Array(vec![Value::String(connector.to_owned()), partition.clone()]).to_string().into_bytes()
}

/// The connector and source partition of an offsets-topic key; `None` for a
/// key in another format.
pub fn decode_source_key(key: &[u8]) -> Option<(String, Value)> {
    match serde_json::from_slice::<Value>(key).ok()? {
        Value::Array(mut items) if items.len() == 2 => {
            let partition = items.pop()?;
            let connector = items.pop()?.as_str()?.to_owned();
            partition.is_object().then_some((connector, partition))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_in_kafka_connects_format() {
        let partition = serde_json::json!({"protocol": "1", "table": "pagila.public.address"});
        let key = encode_source_key("pg", &partition);
        assert_eq!(
            String::from_utf8_lossy(&key),
            r#"["pg",{"protocol":"1","table":"pagila.public.address"}]"#
        );
        assert_eq!(decode_source_key(&key), Some(("pg".to_owned(), partition)));
        assert_eq!(decode_source_key(b"not json"), None);
        assert_eq!(decode_source_key(br#"["pg","x"]"#), None);
        assert_eq!(sink_group_id("s3"), "connect-s3");
    }
}

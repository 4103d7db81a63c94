//! Source partitions and offsets in Kafka Connect JDBC's format, so the
//! control plane's offsets API and Kafka Connect tooling read them:
//! partition `{"protocol":"1","table":"<db>.<schema>.<table>"}` or
//! `{"query":"query"}`, offset `{"incrementing":..,"timestamp":<ms>,"timestamp_nanos":<ns of the second>}`.

use serde_json::{Value, json};

/// The source partition of a table.
pub fn table_partition(database: &str, schema: &str, table: &str) -> Value {
    json!({"protocol": "1", "table": format!("{database}.{schema}.{table}")})
}

/// The source partition of the custom query.
pub fn query_partition() -> Value {
    json!({"query": "query"})
}

/// Where a table's polling has got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SourceOffset {
    /// Microseconds since the epoch of the last timestamp read.
    pub timestamp_micros: Option<i64>,
    /// The last incrementing value read.
    pub incrementing: Option<i64>,
}

impl SourceOffset {
    /// Kafka Connect's map: `timestamp` in ms, `timestamp_nanos` the
    /// nanoseconds within the second (Java's `Timestamp.getNanos()`).
    pub fn to_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        if let Some(inc) = self.incrementing {
            map.insert("incrementing".into(), json!(inc));
        }
        if let Some(micros) = self.timestamp_micros {
            map.insert("timestamp".into(), json!(micros.div_euclid(1000)));
            map.insert("timestamp_nanos".into(), json!(micros.rem_euclid(1_000_000) * 1000));
        }
        Value::Object(map)
    }

    /// Reads Kafka Connect's map (numbers may come as floats or strings
    /// from other tools).
    pub fn from_json(value: &Value) -> SourceOffset {
        let number = |key: &str| match value.get(key) {
            Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let timestamp_micros = number("timestamp").map(|ms| {
            let nanos = number("timestamp_nanos").unwrap_or(ms.rem_euclid(1000) * 1_000_000);
            // The whole seconds from ms, the fraction from the nanos.
            ms.div_euclid(1000) * 1_000_000 + nanos / 1000
        });
        SourceOffset { timestamp_micros, incrementing: number("incrementing") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_in_kafka_connect_format() {
        let o = SourceOffset { timestamp_micros: Some(1_139_996_730_123_456), incrementing: Some(7) };
        let v = o.to_json();
        assert_eq!(
            v.to_string(),
            r#"{"incrementing":7,"timestamp":1139996730123,"timestamp_nanos":123456000}"#
        );
        assert_eq!(SourceOffset::from_json(&v), o);
        assert_eq!(
            SourceOffset::from_json(&json!({"timestamp": 5})),
            SourceOffset { timestamp_micros: Some(5000), incrementing: None }
        );
        let before_1970 = SourceOffset { timestamp_micros: Some(-1_500_000), incrementing: None };
        assert_eq!(SourceOffset::from_json(&before_1970.to_json()), before_1970);
        assert_eq!(
            table_partition("pagila", "public", "address").to_string(),
            r#"{"protocol":"1","table":"pagila.public.address"}"#
        );
    }
}

//! A record as it moves through a connector: Kafka Connect's
//! `ConnectRecord` (source and sink records in one shape).

use super::schema::Schema;
use super::value::Value;

/// A value with its schema (`None`: schemaless), as Connect's `SchemaAndValue`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchemaAndValue {
    /// The schema, when known.
    pub schema: Option<Schema>,
    /// The value.
    pub value: Value,
}

impl SchemaAndValue {
    /// No schema, null value (a null key, a tombstone value).
    pub const NULL: SchemaAndValue = SchemaAndValue { schema: None, value: Value::Null };

    /// A value with a schema.
    pub fn new(schema: Schema, value: Value) -> Self {
        Self { schema: Some(schema), value }
    }

    /// A value without a schema.
    pub fn schemaless(value: Value) -> Self {
        Self { schema: None, value }
    }
}

/// A record header; a null value is allowed, as in Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header key.
    pub key: String,
    /// Raw bytes, or null.
    pub value: Option<Vec<u8>>,
}

/// One record: topic, partition, key, value, timestamp, headers, and for
/// records read from Kafka their offset.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record {
    /// The topic (transforms such as RegexRouter change it).
    pub topic: String,
    /// The Kafka partition, when chosen or known.
    pub partition: Option<i32>,
    /// The key and its schema.
    pub key: SchemaAndValue,
    /// The value and its schema.
    pub value: SchemaAndValue,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    /// The Kafka offset (sink records).
    pub offset: Option<i64>,
    /// Headers in order (keys may repeat).
    pub headers: Vec<Header>,
}

impl Record {
    /// A record with a value and nothing else set.
    pub fn new(topic: impl Into<String>, value: SchemaAndValue) -> Self {
        Self { topic: topic.into(), value, ..Self::default() }
    }

    /// Whether the value is null (a tombstone).
    pub fn is_tombstone(&self) -> bool {
        self.value.value.is_null()
    }

    /// The last header called `key`, as Kafka's `Headers.lastWithName`.
    pub fn last_header(&self, key: &str) -> Option<&Header> {
        self.headers.iter().rev().find(|h| h.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tombstones_and_headers() {
        let mut r = Record::new("t", SchemaAndValue::NULL);
        assert!(r.is_tombstone());
        r.headers.push(Header { key: "h".into(), value: Some(b"1".to_vec()) });
        r.headers.push(Header { key: "h".into(), value: None });
        assert_eq!(r.last_header("h").map(|h| h.value.is_none()), Some(true));
        assert!(r.last_header("x").is_none());
        r.value = SchemaAndValue::schemaless(Value::Int64(1));
        assert!(!r.is_tombstone());
        assert_eq!(r.key, SchemaAndValue::NULL);
    }
}

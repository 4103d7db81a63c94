//! The JSON a user pastes: the config object itself (the body of Kafka
//! Connect's `PUT /connectors/{name}/config`) or `{"name": .., "config": {..}}`
//! (the body of `POST /connectors`).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A parsed connector configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorInput {
    /// The name given beside the config (POST shape); `None` for a bare
    /// config object, whose `name` key (if any) stays in `config`.
    pub name: Option<String>,
    /// Key to value; numbers and booleans as their JSON text.
    pub config: BTreeMap<String, String>,
}

/// Why the JSON was refused. Messages never contain a value, only keys and
/// positions, since values may be secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// Not JSON, or a duplicate key (serde_json gives the position).
    #[error("JSON syntax error at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, e.g. `trailing comma`.
        message: String,
    },
    /// JSON, but not a connector configuration.
    #[error("{0}")]
    Shape(String),
    /// A value that is not a string, number or boolean.
    #[error("`{key}`: {reason}")]
    Value {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// Parses a pasted connector configuration.
pub fn parse_connector_json(text: &str) -> Result<ConnectorInput, JsonError> {
    let node: Node = serde_json::from_str(text).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let full = e.to_string();
        let message =
            full.strip_suffix(&format!(" at line {line} column {column}")).unwrap_or(&full).to_owned();
        JsonError::Syntax { line, column, message }
    })?;
    let Node::Object(top) = node else {
        return Err(JsonError::Shape("expected a JSON object holding the connector configuration".into()));
    };
    if !top.iter().any(|(k, _)| k == "config") {
        return Ok(ConnectorInput { name: None, config: flatten(top)? });
    }
    // POST shape: only `name` and `config` belong at the top.
    let mut name = None;
    let mut config = None;
    for (key, value) in top {
        match (key.as_str(), value) {
            ("name", Node::Scalar(n)) => name = Some(n),
            ("name", _) => {
                return Err(JsonError::Value { key, reason: "the connector name must be a string".into() });
            }
            ("config", Node::Object(entries)) => config = Some(flatten(entries)?),
            ("config", _) => {
                return Err(JsonError::Value {
                    key,
                    reason: "must be an object of configuration keys".into(),
                });
            }
            _ => {
                return Err(JsonError::Shape(format!(
                    "unexpected top-level key `{key}`: a {{\"name\": .., \"config\": {{..}}}} body holds only name and config"
                )));
            }
        }
    }
    let config = config.unwrap_or_default();
    if let (Some(outer), Some(inner)) = (&name, config.get("name"))
        && outer != inner
    {
        return Err(JsonError::Value {
            key: "name".into(),
            reason: format!("the config's name ({inner}) differs from the connector name ({outer})"),
        });
    }
    Ok(ConnectorInput { name, config })
}

fn flatten(entries: Vec<(String, Node)>) -> Result<BTreeMap<String, String>, JsonError> {
    entries
        .into_iter()
        .map(|(key, value)| match value {
            Node::Scalar(text) => Ok((key, text)),
            Node::Null => Err(JsonError::Value {
                key,
                reason: "null is not a value; remove the key to use its default".into(),
            }),
            Node::Array => Err(JsonError::Value {
                key,
                reason: "arrays are not values; write lists as one comma-separated string".into(),
            }),
            Node::Object(_) => Err(JsonError::Value {
                key,
                reason: "objects are not values; use dotted keys instead".into(),
            }),
        })
        .collect()
}

/// A JSON value as far as a connector config cares. Our own type rather
/// than `serde_json::Value` because that one keeps only the last of
/// duplicate keys, and a duplicate is a mistake we must report.
enum Node {
    Null,
    Scalar(String),
    Array,
    Object(Vec<(String, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Scalar(v))
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        while seq.next_element::<Node>()?.is_some() {}
        Ok(Node::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            // Checked before reading the value so the position is the key's.
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Node::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAD: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/seed/bad/jdbc_source_connector_postgresql_02.as-printed.json"
    ));

    #[test]
    fn bare_config_keeps_numbers_and_booleans_as_text() {
        let input =
            parse_connector_json(r#"{"a": "x", "poll.interval.ms": 5000, "b": true, "c": 1.5, "name": "n"}"#)
                .unwrap();
        assert_eq!(input.name, None);
        assert_eq!(input.config["poll.interval.ms"], "5000");
        assert_eq!(input.config["b"], "true");
        assert_eq!(input.config["c"], "1.5");
        assert_eq!(input.config["name"], "n");
    }

    #[test]
    fn post_shape() {
        let input = parse_connector_json(r#"{"name": "src", "config": {"tasks.max": 1}}"#).unwrap();
        assert_eq!(input.name.as_deref(), Some("src"));
        assert_eq!(input.config["tasks.max"], "1");
        let err = parse_connector_json(r#"{"name": "a", "config": {"name": "b"}}"#).unwrap_err();
        assert!(err.to_string().contains("differs"), "{err}");
        let err = parse_connector_json(r#"{"name": "a", "config": {}, "tasks": []}"#).unwrap_err();
        assert!(err.to_string().contains("`tasks`"), "{err}");
    }

    #[test]
    fn trailing_comma_of_the_printed_config() {
        let err = parse_connector_json(BAD).unwrap_err();
        let msg = err.to_string();
        // The comma ends line 20; serde_json (like Python's json) reports
        // it where the closing brace shows it is trailing: line 21.
        assert!(
            msg.contains("line 21") && msg.contains("column 1") && msg.contains("trailing comma"),
            "{msg}"
        );
        assert!(!msg.contains("hydrate-secret"));
        assert!(matches!(err, JsonError::Syntax { line: 21, column: 1, .. }));
    }

    #[test]
    fn duplicate_keys_are_errors_with_position() {
        let err = parse_connector_json("{\n\"a\": 1,\n\"a\": 2\n}").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("duplicate key `a`") && msg.contains("line 3"), "{msg}");
        let err = parse_connector_json(r#"{"name": "x", "config": {"k": 1, "k": 1}}"#).unwrap_err();
        assert!(err.to_string().contains("duplicate key `k`"), "{err}");
    }

    #[test]
    fn null_arrays_and_objects_name_the_key() {
        for (text, key) in
            [(r#"{"a": null}"#, "`a`"), (r#"{"b": [1, 2]}"#, "`b`"), (r#"{"c": {"d": 1}}"#, "`c`")]
        {
            let err = parse_connector_json(text).unwrap_err();
            assert!(err.to_string().starts_with(key), "{err}");
        }
        assert!(parse_connector_json("[1]").is_err());
        assert!(parse_connector_json("").is_err());
    }
}

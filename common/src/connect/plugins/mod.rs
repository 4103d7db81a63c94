//! The plugins Hydrate supports and their key definitions.

pub mod common;
pub mod jdbc_source;
pub mod s3_sink;
pub mod transforms;

use std::sync::OnceLock;

use super::def::{PluginDef, PluginKind, Value};

static CONNECTORS: &[PluginDef] = &[
    PluginDef {
        class_name: jdbc_source::CLASS,
        aliases: &["JdbcSourceConnector", "JdbcSource"],
        kind: PluginKind::Source,
        doc: "Copies PostgreSQL tables or a query's rows into Kafka topics by polling.",
        keys: jdbc_source::KEYS,
    },
    PluginDef {
        class_name: s3_sink::CLASS,
        aliases: &["S3SinkConnector", "S3Sink"],
        kind: PluginKind::Sink,
        doc: "Writes Kafka topics to S3 as JSON or Parquet objects.",
        keys: s3_sink::KEYS,
    },
];

/// Every plugin: connectors, then transforms and predicates, sorted by class.
pub fn plugins() -> &'static [&'static PluginDef] {
    static ALL: OnceLock<Vec<&'static PluginDef>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut all: Vec<_> = CONNECTORS.iter().chain(transforms::PLUGINS).collect();
        all.sort_by_key(|p| p.class_name);
        all
    })
}

/// The plugin of a kind answering to `name` (class name or alias).
pub fn find(name: &str, kinds: &[PluginKind]) -> Option<&'static PluginDef> {
    plugins().iter().copied().find(|p| kinds.contains(&p.kind) && p.answers_to(name))
}

/// The class names of the plugins of these kinds, for error messages.
pub fn class_names(kinds: &[PluginKind]) -> String {
    plugins().iter().filter(|p| kinds.contains(&p.kind)).map(|p| p.class_name).collect::<Vec<_>>().join(", ")
}

/// Time zones as Java and Joda take them: `UTC`, `Z`, fixed offsets such as
/// `+05:30`, or tz database names such as `America/New_York`. Without a tz
/// database at hand the name is checked for shape only.
pub(crate) fn time_zone(value: &Value) -> Result<(), String> {
    let Value::Str(tz) = value else { return Ok(()) };
    let offset = |s: &str| {
        let b = s.as_bytes();
        b.len() == 6
            && (b[0] == b'+' || b[0] == b'-')
            && b[1..3].iter().all(u8::is_ascii_digit)
            && b[3] == b':'
            && b[4..6].iter().all(u8::is_ascii_digit)
    };
    let name = |s: &str| {
        !s.is_empty()
            && s.split('/').all(|part| {
                part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
            })
    };
    if tz == "Z" || offset(tz) || name(tz) {
        Ok(())
    } else {
        Err("must be a time zone such as UTC, +02:00 or Europe/Paris".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::def::DefaultValue;

    #[test]
    fn every_default_parses_and_passes_its_check() {
        for plugin in plugins() {
            for key in plugin.config_keys() {
                if let DefaultValue::Value(text) = key.default {
                    let parsed = key.parse(text, false);
                    assert!(
                        parsed.is_ok(),
                        "{} {}: default {text:?}: {parsed:?}",
                        plugin.class_name,
                        key.name
                    );
                }
            }
        }
        for keys in [common::CONVERTER_SUB_KEYS, common::TRANSFORM_ALIAS_KEYS, common::PREDICATE_ALIAS_KEYS] {
            for key in keys {
                if let DefaultValue::Value(text) = key.default {
                    assert!(key.parse(text, false).is_ok(), "{}", key.name);
                }
            }
        }
    }

    #[test]
    fn key_names_are_unique_per_plugin() {
        for plugin in plugins() {
            let keys = plugin.config_keys();
            let mut names: Vec<_> = keys.iter().map(|k| k.name).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "{}", plugin.class_name);
        }
    }

    #[test]
    fn finds_plugins_by_class_and_alias() {
        let connectors = [PluginKind::Source, PluginKind::Sink];
        assert_eq!(find("JdbcSourceConnector", &connectors).map(|p| p.kind), Some(PluginKind::Source));
        assert_eq!(find(s3_sink::CLASS, &connectors).map(|p| p.kind), Some(PluginKind::Sink));
        assert!(find("org.apache.kafka.connect.transforms.ValueToKey", &connectors).is_none());
        let smt = find("InsertField$Value", &[PluginKind::Transformation]);
        assert_eq!(smt.map(|p| p.class_name), Some("org.apache.kafka.connect.transforms.InsertField$Value"));
        assert_eq!(plugins().len(), 2 + transforms::PLUGINS.len());
        assert!(plugins().windows(2).all(|w| w[0].class_name < w[1].class_name));
    }

    #[test]
    fn time_zones() {
        for ok in ["UTC", "Z", "+05:30", "America/New_York", "Etc/GMT+5"] {
            assert!(time_zone(&Value::Str(ok.into())).is_ok(), "{ok}");
        }
        for bad in ["", "5", "Europe//Paris", "+5:30", "UTC;DROP"] {
            assert!(time_zone(&Value::Str(bad.into())).is_err(), "{bad}");
        }
    }
}

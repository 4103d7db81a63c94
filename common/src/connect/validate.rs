//! Field-by-field validation, like Kafka Connect's validate endpoint: every
//! key the plugin defines or the config gives gets a result.

use std::collections::BTreeMap;
use std::fmt;

use super::chain;
use super::def::{ConfigKeyDef, PluginDef, PluginKind};
use super::plugins::{self, common};
use super::secrets;
use super::spec::{self, ConnectorSpec};
use super::suggest::did_you_mean;
use super::values::{Problems, Values};

/// Key -> (definition, ignored) of every key a result is reported for.
pub(crate) type Described = BTreeMap<String, (Option<&'static ConfigKeyDef>, bool)>;

/// The result for one key.
#[derive(Debug, Clone)]
pub struct ConfigValueReport {
    /// The full key, e.g. `transforms.createKey.fields`.
    pub name: String,
    /// The value as given, redacted when secret; `None` when not given.
    pub value: Option<String>,
    /// What is wrong; empty when valid.
    pub errors: Vec<String>,
    /// Accepted but without effect in Hydrate.
    pub ignored: bool,
    /// The definition (its `name` is relative for transform and converter
    /// sub-keys; use `name` above as the key).
    pub definition: Option<&'static ConfigKeyDef>,
}

/// The outcome of validating a configuration.
#[derive(Debug, Clone)]
pub struct Validation {
    /// `connector.class` as given (trimmed; empty when missing).
    pub class_name: String,
    /// The plugin it names, when Hydrate has it.
    pub plugin: Option<&'static PluginDef>,
    /// One result per key, sorted by key.
    pub configs: Vec<ConfigValueReport>,
    /// Problems of no single key.
    pub errors: Vec<String>,
}

impl Validation {
    /// How many problems there are in all.
    pub fn error_count(&self) -> usize {
        self.errors.len() + self.configs.iter().map(|c| c.errors.len()).sum::<usize>()
    }

    /// True when there is no problem.
    pub fn is_valid(&self) -> bool {
        self.error_count() == 0
    }

    /// Keys given that are accepted but ignored.
    pub fn ignored_keys(&self) -> Vec<String> {
        self.configs.iter().filter(|c| c.ignored && c.value.is_some()).map(|c| c.name.clone()).collect()
    }

    /// Every problem as a `<key>: <reason>` line (global ones as they are).
    pub fn problems(&self) -> Vec<String> {
        self.configs
            .iter()
            .flat_map(|c| c.errors.iter().map(move |e| format!("{}: {e}", c.name)))
            .chain(self.errors.iter().cloned())
            .collect()
    }

    /// The result of one key.
    pub fn config(&self, key: &str) -> Option<&ConfigValueReport> {
        self.configs.iter().find(|c| c.name == key)
    }
}

impl fmt::Display for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problems = self.problems();
        if problems.is_empty() {
            return f.write_str("valid");
        }
        for line in problems {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

/// Validates a connector configuration key by key.
pub fn validate(config: &BTreeMap<String, String>) -> Validation {
    analyze(config).0
}

/// Validates and, when the config is valid, builds the spec.
pub(crate) fn analyze(config: &BTreeMap<String, String>) -> (Validation, Option<ConnectorSpec>) {
    let mut problems = Problems::default();
    let mut described = Described::new();
    let connectors = [PluginKind::Source, PluginKind::Sink];
    let class_name = config.get("connector.class").map(|c| c.trim().to_owned()).unwrap_or_default();
    let plugin = plugins::find(&class_name, &connectors);
    let is_secret = |key: &str| secrets::is_secret_key(plugin, key);

    let defs = plugin.map_or_else(|| common::CONNECTOR_KEYS.iter().collect(), |p| p.config_keys());
    let values = Values::parse(config, "", defs, &is_secret, &mut problems);
    let supported = plugins::class_names(&connectors);
    if class_name.is_empty() {
        problems.keys.insert(
            "connector.class".into(),
            vec![format!("missing required key; Hydrate supports: {supported}")],
        );
    } else if plugin.is_none() {
        problems.key(
            "connector.class",
            format!("unknown connector class {class_name}; Hydrate supports: {supported}"),
        );
    }
    for def in values.defs() {
        described.insert(def.name.to_owned(), (Some(*def), def.ignored));
    }

    let chain = chain::analyze(config, &values, &is_secret, &mut problems, &mut described);

    // Converter sub-keys; header.converter.* only configures Kafka Connect.
    let mut converters = Vec::new();
    for side in ["key.converter.", "value.converter."] {
        let sub = Values::parse(
            config,
            side,
            common::CONVERTER_SUB_KEYS.iter().collect(),
            &is_secret,
            &mut problems,
        );
        for key in config.keys().filter(|k| k.starts_with(side)) {
            let name = &key[side.len()..];
            match common::CONVERTER_SUB_KEYS.iter().find(|d| d.name == name) {
                Some(def) => described.insert(key.clone(), (Some(def), def.ignored)),
                None => {
                    problems.key(
                        key.clone(),
                        format!(
                            "unknown converter setting{}",
                            did_you_mean(name, common::CONVERTER_SUB_KEYS.iter().map(|d| d.name))
                        ),
                    );
                    described.insert(key.clone(), (None, false))
                }
            };
        }
        converters.push(sub);
    }

    let undescribed: Vec<&String> = config.keys().filter(|k| !described.contains_key(*k)).collect();
    for key in undescribed {
        let ignored_prefix = common::IGNORED_PREFIXES.iter().any(|(prefix, _)| key.starts_with(prefix))
            || key.starts_with("header.converter.")
            || (plugin.is_some_and(|p| p.kind == PluginKind::Source)
                && key.starts_with(common::TOPIC_CREATION_PREFIX));
        if ignored_prefix {
            described.insert(key.clone(), (None, true));
            continue;
        }
        if plugin.is_some() {
            problems.key(key.clone(), unknown_key_message(plugin, key, values.defs()));
        }
        described.insert(key.clone(), (None, false));
    }

    let ignored_keys: Vec<String> = described
        .iter()
        .filter(|(key, (_, ignored))| *ignored && config.contains_key(*key))
        .map(|(key, _)| key.clone())
        .collect();
    let spec = plugin.and_then(|plugin| {
        spec::build(plugin, &values, [&converters[0], &converters[1]], chain, ignored_keys, &mut problems)
    });

    let mut configs: Vec<ConfigValueReport> = described
        .into_iter()
        .map(|(name, (definition, ignored))| ConfigValueReport {
            value: config.get(&name).map(|v| secrets::redact_value(plugin, &name, v)),
            errors: problems.keys.remove(&name).unwrap_or_default(),
            ignored,
            definition,
            name,
        })
        .collect();
    // Problems of pseudo-keys such as `transforms.<alias>`.
    configs.extend(problems.keys.into_iter().map(|(name, errors)| ConfigValueReport {
        name,
        value: None,
        errors,
        ignored: false,
        definition: None,
    }));
    configs.sort_by(|a, b| a.name.cmp(&b.name));
    let validation = Validation { class_name, plugin, configs, errors: problems.global };
    let spec = spec.filter(|_| validation.is_valid());
    (validation, spec)
}

/// Why a key is unknown, with the likeliest intended key.
fn unknown_key_message(plugin: Option<&PluginDef>, key: &str, defs: &[&'static ConfigKeyDef]) -> String {
    let this = plugin.map_or("this connector", |p| p.short_name());
    // A key of the other connector, or of the other kind, is a likely mix-up.
    let elsewhere = plugins::plugins()
        .iter()
        .filter(|p| matches!(p.kind, PluginKind::Source | PluginKind::Sink))
        .filter(|p| Some(p.class_name) != plugin.map(|q| q.class_name))
        .find(|p| p.config_keys().iter().any(|d| d.name == key));
    if let Some(other) = elsewhere {
        return format!("unknown key: it belongs to {}, not {this}", other.short_name());
    }
    format!("unknown key for {this}{}", did_you_mean(key, defs.iter().map(|d| d.name)))
}

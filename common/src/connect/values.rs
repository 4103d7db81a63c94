//! Parsed values of one key namespace (the connector's keys, one transform
//! alias's keys, one converter's sub-keys), and the sink collecting
//! problems found while checking them.

use std::collections::{BTreeMap, BTreeSet};

use super::def::{ConfigKeyDef, DefaultValue, Value};
use super::secrets::{self, Secret};

/// Problems found, by key, plus those of no single key.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    pub keys: BTreeMap<String, Vec<String>>,
    pub global: Vec<String>,
}

impl Problems {
    /// Records a problem of `key`. The message must not contain a secret.
    pub fn key(&mut self, key: impl Into<String>, message: impl Into<String>) {
        let messages = self.keys.entry(key.into()).or_default();
        let message = message.into();
        if !messages.contains(&message) {
            messages.push(message);
        }
    }

    /// Records a problem that belongs to no key.
    pub fn global(&mut self, message: impl Into<String>) {
        self.global.push(message.into());
    }
}

/// The values of the keys under `prefix`, parsed by their definitions.
///
/// A key whose value failed to parse, or is a config-provider reference
/// (resolved only where the task runs), is *given* but has no value here:
/// checks that need the value skip it, so one mistake is reported once.
pub(crate) struct Values<'a> {
    raw: &'a BTreeMap<String, String>,
    prefix: String,
    defs: Vec<&'static ConfigKeyDef>,
    parsed: BTreeMap<&'static str, Value>,
    opaque: BTreeSet<&'static str>,
}

impl<'a> Values<'a> {
    /// Parses every defined key under `prefix`, reporting type, check and
    /// missing-required problems to `problems`.
    pub fn parse(
        raw: &'a BTreeMap<String, String>,
        prefix: &str,
        defs: Vec<&'static ConfigKeyDef>,
        is_secret: &dyn Fn(&str) -> bool,
        problems: &mut Problems,
    ) -> Self {
        let mut parsed = BTreeMap::new();
        let mut opaque = BTreeSet::new();
        for def in &defs {
            let key = format!("{prefix}{}", def.name);
            match raw.get(&key) {
                Some(text) if !secrets::find_references(text).is_empty() => {
                    opaque.insert(def.name);
                    for (_, reference) in secrets::find_references(text) {
                        if let Err(reason) = secrets::check_reference(&reference) {
                            problems.key(&key, reason);
                        }
                    }
                }
                Some(text) => match def.parse(text, is_secret(&key)) {
                    Ok(value) => {
                        parsed.insert(def.name, value);
                    }
                    Err(reason) => {
                        opaque.insert(def.name);
                        problems.key(&key, reason);
                    }
                },
                None if def.default == DefaultValue::Required => {
                    problems.key(&key, "missing required key");
                }
                None => {
                    if let Some(value) = def.parsed_default() {
                        parsed.insert(def.name, value);
                    }
                }
            }
        }
        Self { raw, prefix: prefix.to_owned(), defs, parsed, opaque }
    }

    /// The full key of `name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The definitions of this namespace.
    pub fn defs(&self) -> &[&'static ConfigKeyDef] {
        &self.defs
    }

    /// True when the key is given with a non-blank value.
    pub fn given(&self, name: &str) -> bool {
        self.raw.get(&self.key(name)).is_some_and(|v| !v.trim().is_empty())
    }

    /// True when the key is given but its value is unusable here (invalid,
    /// or a reference to resolve later).
    pub fn opaque(&self, name: &str) -> bool {
        self.opaque.iter().any(|k| *k == name)
    }

    /// The value given, or the default; `None` when neither is usable.
    pub fn value(&self, name: &str) -> Option<&Value> {
        debug_assert!(self.defs.iter().any(|d| d.name == name), "undefined key {name}");
        self.parsed.get(name)
    }

    /// A STRING or CLASS value.
    pub fn string(&self, name: &str) -> Option<String> {
        match self.value(name)? {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// A STRING value, `None` when empty.
    pub fn non_empty(&self, name: &str) -> Option<String> {
        self.string(name).filter(|s| !s.is_empty())
    }

    /// A BOOLEAN value.
    pub fn flag(&self, name: &str) -> Option<bool> {
        match self.value(name)? {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A SHORT, INT or LONG value.
    pub fn number(&self, name: &str) -> Option<i64> {
        match self.value(name)? {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// A LIST value.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        match self.value(name)? {
            Value::List(l) => Some(l.clone()),
            _ => None,
        }
    }

    /// A PASSWORD value.
    pub fn secret(&self, name: &str) -> Option<Secret> {
        match self.value(name)? {
            Value::Password(s) => Some(s.clone()),
            _ => None,
        }
    }
}

/// A non-negative number of milliseconds as a duration.
pub(crate) fn millis(ms: i64) -> std::time::Duration {
    std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::def::{ConfigKeyDef as K, ConfigType as T, Importance as I};

    static DEFS: &[K] = &[
        K::new("a", T::Int, I::Low, "g", "d").default("1"),
        K::new("b", T::String, I::Low, "g", "d").required(),
        K::new("c", T::Password, I::Low, "g", "d"),
        K::new("d", T::Int, I::Low, "g", "d").required(),
    ];

    #[test]
    fn defaults_errors_and_references() {
        let raw: BTreeMap<String, String> = [("x.c", "${env:PW}"), ("x.d", "oops")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut problems = Problems::default();
        let v = Values::parse(&raw, "x.", DEFS.iter().collect(), &|_| false, &mut problems);
        assert_eq!(v.number("a"), Some(1));
        assert!(problems.keys["x.b"][0].contains("missing required"));
        assert!(problems.keys["x.d"][0].contains("INT"));
        assert!(!problems.keys.contains_key("x.c"));
        assert!(v.given("c") && v.opaque("c") && v.secret("c").is_none());
        assert!(v.given("d") && v.number("d").is_none());
        assert_eq!(v.key("a"), "x.a");
    }
}

//! Configuration key definitions, modelled on Kafka's `ConfigDef`.
//!
//! Definitions are `static` data built with `const fn`s so the plugin tables
//! read like Kafka's `define(...)` chains and cost nothing at run time.

use super::secrets::Secret;

/// A key's value type, as Kafka's `ConfigDef.Type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    /// `true` or `false`, case-insensitive.
    Boolean,
    /// A 16-bit signed integer.
    Short,
    /// A 32-bit signed integer.
    Int,
    /// A 64-bit signed integer.
    Long,
    /// A floating point number.
    Double,
    /// Text; surrounding whitespace is trimmed.
    String,
    /// A comma-separated list; items are trimmed.
    List,
    /// A Java class name.
    Class,
    /// A secret; never shown.
    Password,
}

impl ConfigType {
    /// The name Kafka Connect uses (`BOOLEAN`, `INT`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Boolean => "BOOLEAN",
            Self::Short => "SHORT",
            Self::Int => "INT",
            Self::Long => "LONG",
            Self::Double => "DOUBLE",
            Self::String => "STRING",
            Self::List => "LIST",
            Self::Class => "CLASS",
            Self::Password => "PASSWORD",
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Self::Boolean => "a BOOLEAN (true or false)",
            Self::Short => "a SHORT (16-bit integer)",
            Self::Int => "an INT (32-bit integer)",
            Self::Long => "a LONG (64-bit integer)",
            Self::Double => "a DOUBLE (number)",
            Self::String => "a STRING",
            Self::List => "a LIST (comma-separated)",
            Self::Class => "a CLASS (Java class name)",
            Self::Password => "a PASSWORD",
        }
    }
}

/// How much a key matters, as in Kafka's `ConfigDef.Importance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    /// Most users set it.
    High,
    /// Often set.
    Medium,
    /// Rarely set.
    Low,
}

impl Importance {
    /// `HIGH`, `MEDIUM` or `LOW`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::High => "HIGH",
            Self::Medium => "MEDIUM",
            Self::Low => "LOW",
        }
    }
}

/// A key's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// No default: the key must be given.
    Required,
    /// Optional, and absent means "not set" (Kafka's `null` default).
    Null,
    /// Optional, with this default as text.
    Value(&'static str),
}

/// A value check beyond the type, like Kafka's `ConfigDef.Validator`.
#[derive(Debug, Clone, Copy)]
pub enum Check {
    /// Any value of the type.
    Any,
    /// One of these, compared exactly (after trimming).
    OneOf(&'static [&'static str]),
    /// One of these, ignoring ASCII case.
    OneOfIgnoreCase(&'static [&'static str]),
    /// A number at least this.
    AtLeast(i64),
    /// A number within these bounds, inclusive.
    Between(i64, i64),
    /// A string or list that is not empty.
    NonEmpty,
    /// A custom rule; the error text must not contain the value when secret.
    Custom(fn(&Value) -> Result<(), String>),
}

/// The definition of one configuration key.
#[derive(Debug, Clone, Copy)]
pub struct ConfigKeyDef {
    /// The key (relative to its prefix for transform and converter keys).
    pub name: &'static str,
    /// Its type.
    pub ty: ConfigType,
    /// Its default.
    pub default: DefaultValue,
    /// How much it matters.
    pub importance: Importance,
    /// What it does.
    pub doc: &'static str,
    /// The group it belongs to, e.g. `Database`.
    pub group: &'static str,
    /// The check its value must pass.
    pub check: Check,
    /// Accepted but without effect in Hydrate (only Kafka Connect's runtime
    /// or a feature Hydrate does not have uses it).
    pub ignored: bool,
}

impl ConfigKeyDef {
    /// An optional key with a `null` default and no check.
    pub const fn new(
        name: &'static str,
        ty: ConfigType,
        importance: Importance,
        group: &'static str,
        doc: &'static str,
    ) -> Self {
        Self {
            name,
            ty,
            default: DefaultValue::Null,
            importance,
            doc,
            group,
            check: Check::Any,
            ignored: false,
        }
    }

    /// Makes the key required.
    pub const fn required(mut self) -> Self {
        self.default = DefaultValue::Required;
        self
    }

    /// Sets the default, as text.
    pub const fn default(mut self, value: &'static str) -> Self {
        self.default = DefaultValue::Value(value);
        self
    }

    /// Sets the check.
    pub const fn check(mut self, check: Check) -> Self {
        self.check = check;
        self
    }

    /// Marks the key as accepted but ignored by Hydrate.
    pub const fn ignored(mut self) -> Self {
        self.ignored = true;
        self
    }

    /// False when the key is required.
    pub fn has_default(&self) -> bool {
        !matches!(self.default, DefaultValue::Required)
    }

    /// The default as text; empty for required keys and `null` defaults.
    pub fn default_text(&self) -> &'static str {
        match self.default {
            DefaultValue::Value(v) => v,
            DefaultValue::Required | DefaultValue::Null => "",
        }
    }

    /// The values the key takes, when it takes one of a fixed set.
    pub fn allowed_values(&self) -> &'static [&'static str] {
        match self.check {
            Check::OneOf(values) | Check::OneOfIgnoreCase(values) => values,
            _ => &[],
        }
    }

    /// Parses and checks a value given for this key. `secret` keeps the
    /// value out of the error text.
    pub(crate) fn parse(&self, raw: &str, secret: bool) -> Result<Value, String> {
        let shown = |msg: String| {
            if secret { msg } else { format!("{msg}, got \"{}\"", raw.trim()) }
        };
        let value =
            parse_typed(self.ty, raw).ok_or_else(|| shown(format!("expected {}", self.ty.expected())))?;
        self.check_value(&value).map_err(shown)?;
        Ok(value)
    }

    /// The parsed default, or `None` for required keys and `null` defaults.
    pub(crate) fn parsed_default(&self) -> Option<Value> {
        match self.default {
            DefaultValue::Value(v) => parse_typed(self.ty, v),
            DefaultValue::Required | DefaultValue::Null => None,
        }
    }

    fn check_value(&self, value: &Value) -> Result<(), String> {
        match (self.check, value) {
            (Check::Any, _) => Ok(()),
            (Check::OneOf(allowed), Value::Str(s)) if allowed.contains(&s.as_str()) => Ok(()),
            (Check::OneOfIgnoreCase(allowed), Value::Str(s))
                if allowed.iter().any(|a| a.eq_ignore_ascii_case(s)) =>
            {
                Ok(())
            }
            (Check::OneOf(allowed) | Check::OneOfIgnoreCase(allowed), _) => {
                Err(format!("must be one of: {}", allowed.join(", ")))
            }
            (Check::AtLeast(min), Value::Int(n)) if *n < min => Err(format!("must be at least {min}")),
            (Check::Between(min, max), Value::Int(n)) if *n < min || *n > max => {
                Err(format!("must be between {min} and {max}"))
            }
            (Check::NonEmpty, Value::Str(s)) if s.is_empty() => Err("must not be empty".into()),
            (Check::NonEmpty, Value::List(l)) if l.is_empty() => Err("must list at least one item".into()),
            (Check::Custom(rule), v) => rule(v),
            _ => Ok(()),
        }
    }
}

/// A parsed configuration value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// BOOLEAN.
    Bool(bool),
    /// SHORT, INT or LONG (range-checked for the type).
    Int(i64),
    /// DOUBLE.
    Double(f64),
    /// STRING or CLASS, trimmed.
    Str(String),
    /// LIST, items trimmed, empty items dropped.
    List(Vec<String>),
    /// PASSWORD, as given.
    Password(Secret),
}

fn parse_typed(ty: ConfigType, raw: &str) -> Option<Value> {
    let t = raw.trim();
    Some(match ty {
        ConfigType::Boolean if t.eq_ignore_ascii_case("true") => Value::Bool(true),
        ConfigType::Boolean if t.eq_ignore_ascii_case("false") => Value::Bool(false),
        ConfigType::Boolean => return None,
        ConfigType::Short => Value::Int(t.parse::<i16>().ok()?.into()),
        ConfigType::Int => Value::Int(t.parse::<i32>().ok()?.into()),
        ConfigType::Long => Value::Int(t.parse::<i64>().ok()?),
        ConfigType::Double => Value::Double(t.parse::<f64>().ok().filter(|d| d.is_finite())?),
        ConfigType::String => Value::Str(t.to_owned()),
        ConfigType::Class => {
            let valid =
                !t.is_empty() && t.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '$' | '_'));
            if !valid {
                return None;
            }
            Value::Str(t.to_owned())
        }
        ConfigType::List => Value::List(split_list(t)),
        // Passwords keep their whitespace: it may be part of the secret.
        ConfigType::Password => Value::Password(Secret::new(raw)),
    })
}

/// Splits a Kafka LIST value: comma-separated, items trimmed, empty items
/// dropped (a trailing comma is a common typo and means nothing).
pub(crate) fn split_list(raw: &str) -> Vec<String> {
    raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// What a plugin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    /// A source connector.
    Source,
    /// A sink connector.
    Sink,
    /// A single message transform.
    Transformation,
    /// A predicate for transforms.
    Predicate,
}

impl PluginKind {
    /// `source`, `sink`, `transformation` or `predicate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Sink => "sink",
            Self::Transformation => "transformation",
            Self::Predicate => "predicate",
        }
    }
}

/// A plugin Hydrate supports: a connector, transform or predicate class.
#[derive(Debug)]
pub struct PluginDef {
    /// Kafka Connect's class name.
    pub class_name: &'static str,
    /// Other names Kafka Connect accepts for it (simple names).
    pub aliases: &'static [&'static str],
    /// What it is.
    pub kind: PluginKind,
    /// What it does.
    pub doc: &'static str,
    /// Its own keys (without the common connector keys).
    pub keys: &'static [ConfigKeyDef],
}

impl PluginDef {
    /// Every key the plugin takes: for connectors, the common connector keys
    /// and the source or sink keys come first, as Kafka Connect lists them.
    pub fn config_keys(&self) -> Vec<&'static ConfigKeyDef> {
        use super::plugins::common::{CONNECTOR_KEYS, SINK_KEYS, SOURCE_KEYS};
        let common: &[&'static [ConfigKeyDef]] = match self.kind {
            PluginKind::Source => &[CONNECTOR_KEYS, SOURCE_KEYS],
            PluginKind::Sink => &[CONNECTOR_KEYS, SINK_KEYS],
            PluginKind::Transformation | PluginKind::Predicate => &[],
        };
        common.iter().flat_map(|keys| keys.iter()).chain(self.keys.iter()).collect()
    }

    /// True when `name` is this plugin's class name, its simple name (as
    /// Kafka Connect's plugin aliases allow) or one of its aliases.
    pub fn answers_to(&self, name: &str) -> bool {
        self.class_name == name || self.short_name() == name || self.aliases.contains(&name)
    }

    /// The short name used in messages, e.g. `InsertField$Value`.
    pub fn short_name(&self) -> &'static str {
        self.class_name.rsplit('.').next().unwrap_or(self.class_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT: ConfigKeyDef = ConfigKeyDef::new("port", ConfigType::Int, Importance::Low, "g", "doc")
        .default("5")
        .check(Check::Between(1, 10));

    #[test]
    fn parses_types_like_kafka() {
        assert_eq!(parse_typed(ConfigType::Boolean, " TRUE "), Some(Value::Bool(true)));
        assert_eq!(parse_typed(ConfigType::Boolean, "yes"), None);
        assert_eq!(parse_typed(ConfigType::Int, "5000"), Some(Value::Int(5000)));
        assert_eq!(parse_typed(ConfigType::Int, "3000000000"), None);
        assert_eq!(parse_typed(ConfigType::Short, "40000"), None);
        assert_eq!(parse_typed(ConfigType::Long, "3000000000"), Some(Value::Int(3_000_000_000)));
        assert_eq!(
            parse_typed(ConfigType::List, "RenameField, insertStaticField1,,"),
            Some(Value::List(vec!["RenameField".into(), "insertStaticField1".into()]))
        );
        assert_eq!(parse_typed(ConfigType::List, " "), Some(Value::List(vec![])));
        assert_eq!(parse_typed(ConfigType::Class, "a.b.C$D"), Some(Value::Str("a.b.C$D".into())));
        assert_eq!(parse_typed(ConfigType::Class, "a b"), None);
        assert_eq!(parse_typed(ConfigType::Double, "NaN"), None);
    }

    #[test]
    fn errors_name_the_type_and_hide_secrets() {
        let err = PORT.parse("abc", false).unwrap_err();
        assert!(err.contains("INT") && err.contains("\"abc\""), "{err}");
        let err = PORT.parse("abc", true).unwrap_err();
        assert!(err.contains("INT") && !err.contains("abc"), "{err}");
        let err = PORT.parse("11", false).unwrap_err();
        assert!(err.contains("between 1 and 10"), "{err}");
        assert_eq!(PORT.parse("7", false), Ok(Value::Int(7)));
        assert_eq!(PORT.parsed_default(), Some(Value::Int(5)));
    }

    #[test]
    fn one_of_lists_allowed_values() {
        let key = ConfigKeyDef::new("m", ConfigType::String, Importance::Low, "g", "d")
            .check(Check::OneOf(&["a", "b"]));
        assert_eq!(key.allowed_values(), &["a", "b"]);
        assert!(key.parse("c", false).unwrap_err().contains("one of: a, b"));
        assert!(key.parse(" a ", false).is_ok());
    }
}

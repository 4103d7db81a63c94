//! Typed transforms and predicates, as a transform engine executes them.
//! Built from one alias's checked values; cross-key rules of a transform
//! (InsertField needs a field, ...) are checked here.

use super::def::PluginDef;
use super::values::{Problems, Values};

/// Which part of a record a `$Key` / `$Value` transform works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The record key.
    Key,
    /// The record value.
    Value,
}

/// A field InsertField writes: `name!` makes it required, `name?` or a bare
/// name optional, as in Kafka's `InsertField`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field name.
    pub name: String,
    /// Whether the field's schema is optional.
    pub optional: bool,
}

impl FieldSpec {
    fn parse(text: &str) -> Self {
        if let Some(name) = text.strip_suffix('!') {
            Self { name: name.to_owned(), optional: false }
        } else {
            let name = text.strip_suffix('?').unwrap_or(text);
            Self { name: name.to_owned(), optional: true }
        }
    }
}

/// A Connect schema type Cast can cast to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CastType {
    /// int8
    Int8,
    /// int16
    Int16,
    /// int32
    Int32,
    /// int64
    Int64,
    /// float32
    Float32,
    /// float64
    Float64,
    /// boolean
    Boolean,
    /// string
    String,
}

/// What Cast casts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CastSpec {
    /// The whole key or value.
    Whole(CastType),
    /// These fields, in order.
    Fields(Vec<(String, CastType)>),
}

/// Parses Cast's `spec` list.
pub(crate) fn parse_cast_spec(items: &[String]) -> Result<CastSpec, String> {
    let cast_type = |t: &str| {
        Ok(match t.trim().to_ascii_lowercase().as_str() {
            "int8" => CastType::Int8,
            "int16" => CastType::Int16,
            "int32" => CastType::Int32,
            "int64" => CastType::Int64,
            "float32" => CastType::Float32,
            "float64" => CastType::Float64,
            "boolean" => CastType::Boolean,
            "string" => CastType::String,
            other => {
                return Err(format!(
                    "'{other}' is not a type Cast supports (int8, int16, int32, int64, float32, float64, boolean, string)"
                ));
            }
        })
    };
    match items {
        [] => Err("must list at least one cast".into()),
        [whole] if !whole.contains(':') => Ok(CastSpec::Whole(cast_type(whole)?)),
        _ => items
            .iter()
            .map(|item| match item.split_once(':') {
                Some((field, ty)) if !field.trim().is_empty() => {
                    Ok((field.trim().to_owned(), cast_type(ty)?))
                }
                _ => Err(format!("'{item}' is not of the form field:type")),
            })
            .collect::<Result<_, _>>()
            .map(CastSpec::Fields),
    }
}

/// TimestampConverter's target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampTarget {
    /// A string formatted with `format`.
    String,
    /// A number since the epoch in `unix.precision` units.
    Unix,
    /// Connect Date.
    Date,
    /// Connect Time.
    Time,
    /// Connect Timestamp.
    Timestamp,
}

/// Units of unix timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnixPrecision {
    /// s
    Seconds,
    /// ms
    Milliseconds,
    /// µs
    Microseconds,
    /// ns
    Nanoseconds,
}

/// A transform, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transform {
    /// Sets the key to a struct (or map) of these value fields.
    ValueToKey { fields: Vec<String>, replace_null_with_default: bool },
    /// Replaces the key or value with one of its fields.
    ExtractField { side: Side, field: String, nested: bool, replace_null_with_default: bool },
    /// Adds metadata or a static value.
    InsertField {
        side: Side,
        topic_field: Option<FieldSpec>,
        partition_field: Option<FieldSpec>,
        offset_field: Option<FieldSpec>,
        timestamp_field: Option<FieldSpec>,
        /// The static field and its value.
        static_field: Option<(FieldSpec, String)>,
        replace_null_with_default: bool,
    },
    /// Drops, keeps and renames fields.
    ReplaceField {
        side: Side,
        include: Vec<String>,
        exclude: Vec<String>,
        /// `(old, new)` pairs.
        renames: Vec<(String, String)>,
        replace_null_with_default: bool,
    },
    /// Masks fields with an empty value or `replacement`.
    MaskField {
        side: Side,
        fields: Vec<String>,
        replacement: Option<String>,
        replace_null_with_default: bool,
    },
    /// Casts fields or the whole data.
    Cast { side: Side, spec: CastSpec, replace_null_with_default: bool },
    /// Converts timestamps.
    TimestampConverter {
        side: Side,
        /// `None` converts the whole key or value.
        field: Option<String>,
        target: TimestampTarget,
        /// SimpleDateFormat pattern.
        format: Option<String>,
        unix_precision: UnixPrecision,
        replace_null_with_default: bool,
    },
    /// Renames topics matching `regex` (whole-name match, Java semantics).
    RegexRouter { regex: String, replacement: String },
    /// Flattens nested structures.
    Flatten { side: Side, delimiter: String },
    /// Wraps the data in a one-field struct.
    HoistField { side: Side, field: String },
    /// Drops records.
    Filter,
}

/// A predicate, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Predicate {
    /// The topic matches (whole name) this regular expression.
    TopicNameMatches { pattern: String },
    /// A header of this name exists.
    HasHeaderKey { name: String },
    /// The value is null.
    RecordIsTombstone,
}

/// A predicate with its alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredicateSpec {
    /// Its alias in `predicates`.
    pub alias: String,
    /// What it tests.
    pub predicate: Predicate,
}

/// One step of the transform chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformSpec {
    /// Its alias in `transforms`.
    pub alias: String,
    /// What it does.
    pub transform: Transform,
    /// Apply only to records the predicate matches (or, with `negate`, does
    /// not match); `None` applies to all.
    pub predicate: Option<PredicateSpec>,
    /// Inverts the predicate.
    pub negate: bool,
}

/// Builds one transform from its alias's values. Problems that span keys
/// go to the pseudo-key `transforms.<alias>`.
pub(crate) fn build_transform(
    plugin: &PluginDef,
    alias: &str,
    v: &Values,
    p: &mut Problems,
) -> Option<Transform> {
    let short = plugin.short_name();
    let side = if short.ends_with("$Key") { Side::Key } else { Side::Value };
    let rnwd = || v.flag("replace.null.with.default");
    let base = short.split('$').next().unwrap_or(short);
    Some(match base {
        "ValueToKey" => {
            Transform::ValueToKey { fields: v.list("fields")?, replace_null_with_default: rnwd()? }
        }
        "ExtractField" => Transform::ExtractField {
            side,
            field: v.string("field")?,
            nested: v.string("field.syntax.version")?.eq_ignore_ascii_case("V2"),
            replace_null_with_default: rnwd()?,
        },
        "InsertField" => build_insert_field(side, alias, short, v, p)?,
        "ReplaceField" => {
            let mut list = |new: &str, old: &str| {
                if v.given(new) && v.given(old) {
                    p.key(v.key(old), format!("is the deprecated name of {new}; give only one of them"));
                }
                let mut items = v.list(new)?;
                items.extend(v.list(old)?);
                Some(items)
            };
            let include = list("include", "whitelist");
            let exclude = list("exclude", "blacklist");
            let renames = v
                .list("renames")?
                .iter()
                .filter_map(|r| r.split_once(':'))
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect();
            Transform::ReplaceField {
                side,
                include: include?,
                exclude: exclude?,
                renames,
                replace_null_with_default: rnwd()?,
            }
        }
        "MaskField" => Transform::MaskField {
            side,
            fields: v.list("fields")?,
            replacement: v.string("replacement"),
            replace_null_with_default: rnwd()?,
        },
        "Cast" => Transform::Cast {
            side,
            spec: parse_cast_spec(&v.list("spec")?).ok()?,
            replace_null_with_default: rnwd()?,
        },
        "TimestampConverter" => {
            let target = match v.string("target.type")?.as_str() {
                "string" => TimestampTarget::String,
                "unix" => TimestampTarget::Unix,
                "Date" => TimestampTarget::Date,
                "Time" => TimestampTarget::Time,
                _ => TimestampTarget::Timestamp,
            };
            let format = v.non_empty("format");
            if target == TimestampTarget::String && format.is_none() && !v.opaque("format") {
                p.key(
                    format!("transforms.{alias}.format"),
                    format!("{short} needs format when target.type is string"),
                );
            }
            let unix_precision = match v.string("unix.precision")?.as_str() {
                "seconds" => UnixPrecision::Seconds,
                "microseconds" => UnixPrecision::Microseconds,
                "nanoseconds" => UnixPrecision::Nanoseconds,
                _ => UnixPrecision::Milliseconds,
            };
            Transform::TimestampConverter {
                side,
                field: v.non_empty("field"),
                target,
                format,
                unix_precision,
                replace_null_with_default: rnwd()?,
            }
        }
        "RegexRouter" => {
            Transform::RegexRouter { regex: v.string("regex")?, replacement: v.string("replacement")? }
        }
        "Flatten" => Transform::Flatten { side, delimiter: v.string("delimiter")? },
        "HoistField" => Transform::HoistField { side, field: v.string("field")? },
        "Filter" => Transform::Filter,
        // Every transformation plugin is matched above; a new one must be too.
        _ => {
            p.key(format!("transforms.{alias}.type"), format!("{short} is defined but not implemented"));
            return None;
        }
    })
}

fn build_insert_field(
    side: Side,
    alias: &str,
    short: &str,
    v: &Values,
    p: &mut Problems,
) -> Option<Transform> {
    const FIELDS: [&str; 5] =
        ["topic.field", "partition.field", "offset.field", "timestamp.field", "static.field"];
    let field = |name: &str| v.non_empty(name).map(|f| FieldSpec::parse(&f));
    if !FIELDS.iter().any(|f| v.given(f)) {
        p.key(
            format!("transforms.{alias}"),
            format!("transform {alias} ({short}) inserts nothing: it needs one of {}", FIELDS.join(", ")),
        );
        return None;
    }
    match (v.given("static.field"), v.given("static.value")) {
        (true, false) => {
            p.key(v.key("static.value"), format!("transform {alias}: static.field needs static.value"))
        }
        (false, true) => {
            p.key(v.key("static.field"), format!("transform {alias}: static.value needs static.field"))
        }
        _ => {}
    }
    let static_field = match (field("static.field"), v.string("static.value")) {
        (Some(f), Some(value)) => Some((f, value)),
        (None, None) => None,
        _ => return None,
    };
    Some(Transform::InsertField {
        side,
        topic_field: field("topic.field"),
        partition_field: field("partition.field"),
        offset_field: field("offset.field"),
        timestamp_field: field("timestamp.field"),
        static_field,
        replace_null_with_default: v.flag("replace.null.with.default")?,
    })
}

/// Builds one predicate from its alias's values.
pub(crate) fn build_predicate(plugin: &PluginDef, v: &Values) -> Option<Predicate> {
    Some(match plugin.short_name() {
        "TopicNameMatches" => Predicate::TopicNameMatches { pattern: v.string("pattern")? },
        "HasHeaderKey" => Predicate::HasHeaderKey { name: v.string("name")? },
        _ => Predicate::RecordIsTombstone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_specs() {
        assert_eq!(FieldSpec::parse("a!"), FieldSpec { name: "a".into(), optional: false });
        assert_eq!(FieldSpec::parse("a?"), FieldSpec { name: "a".into(), optional: true });
        assert_eq!(FieldSpec::parse("a"), FieldSpec { name: "a".into(), optional: true });
    }

    #[test]
    fn cast_specs() {
        let s = |items: &[&str]| parse_cast_spec(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&["int32"]), Ok(CastSpec::Whole(CastType::Int32)));
        assert_eq!(
            s(&["a:int64", "b:STRING"]),
            Ok(CastSpec::Fields(vec![("a".into(), CastType::Int64), ("b".into(), CastType::String)]))
        );
        assert!(s(&["a:decimal"]).unwrap_err().contains("'decimal'"));
        assert!(s(&["int32", "b"]).unwrap_err().contains("field:type"));
        assert!(s(&[]).is_err());
    }
}

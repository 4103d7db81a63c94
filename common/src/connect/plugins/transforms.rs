//! Kafka's single message transforms and predicates
//! (`org.apache.kafka.connect.transforms`), with their keys.

use crate::connect::def::{
    Check, ConfigKeyDef as K, ConfigType as T, Importance as I, PluginDef, PluginKind, Value,
};

/// Package of Kafka's transforms.
pub const PACKAGE: &str = "org.apache.kafka.connect.transforms.";

const G: &str = "Transforms";
const P: &str = "Predicates";

fn regex(value: &Value) -> Result<(), String> {
    match value {
        Value::Str(re) => {
            regex::Regex::new(re).map(|_| ()).map_err(|e| format!("is not a valid regular expression: {e}"))
        }
        _ => Ok(()),
    }
}

/// `old:new` pairs, as ReplaceField's `renames` takes them.
fn renames(value: &Value) -> Result<(), String> {
    let Value::List(items) = value else {
        return Ok(());
    };
    match items.iter().find(|item| !matches!(item.split_once(':'), Some((a, b)) if !a.is_empty() && !b.is_empty() && !b.contains(':'))) {
        Some(bad) => Err(format!("'{bad}' is not of the form old:new")),
        None => Ok(()),
    }
}

/// Cast's `spec`: one type for the whole value, or `field:type` pairs.
fn cast_spec(value: &Value) -> Result<(), String> {
    let Value::List(items) = value else {
        return Ok(());
    };
    crate::connect::transforms::parse_cast_spec(items).map(|_| ())
}

const REPLACE_NULL: K = K::new(
    "replace.null.with.default",
    T::Boolean,
    I::Medium,
    G,
    "Use a field's schema default instead of null.",
)
.default("true");

static VALUE_TO_KEY: &[K] = &[
    K::new("fields", T::List, I::High, G, "Value fields that make up the new key.")
        .required()
        .check(Check::NonEmpty),
    REPLACE_NULL,
];

static EXTRACT_FIELD: &[K] = &[
    K::new("field", T::String, I::Medium, G, "Field to extract; the record key or value becomes it.")
        .required()
        .check(Check::NonEmpty),
    K::new(
        "field.syntax.version",
        T::String,
        I::High,
        G,
        "V1: the field name is taken literally; V2: dots address nested fields.",
    )
    .default("V1")
    .check(Check::OneOfIgnoreCase(&["V1", "V2"])),
    REPLACE_NULL,
];

static INSERT_FIELD: &[K] = &[
    K::new(
        "topic.field",
        T::String,
        I::Medium,
        G,
        "Field for the topic name; suffix ! for required, ? for optional (the default).",
    ),
    K::new("partition.field", T::String, I::Medium, G, "Field for the Kafka partition."),
    K::new("offset.field", T::String, I::Medium, G, "Field for the Kafka offset (sink connectors only)."),
    K::new("timestamp.field", T::String, I::Medium, G, "Field for the record timestamp."),
    K::new("static.field", T::String, I::Medium, G, "Field for a static value (static.value)."),
    K::new("static.value", T::String, I::Medium, G, "The static value, with static.field."),
    REPLACE_NULL,
];

static REPLACE_FIELD: &[K] = &[
    K::new("exclude", T::List, I::Medium, G, "Fields to drop.").default(""),
    K::new("include", T::List, I::Medium, G, "Fields to keep; empty keeps all.").default(""),
    K::new("renames", T::List, I::Medium, G, "Renames as old:new pairs, comma-separated.")
        .default("")
        .check(Check::Custom(renames)),
    K::new("blacklist", T::List, I::Low, G, "Deprecated name of exclude.").default(""),
    K::new("whitelist", T::List, I::Low, G, "Deprecated name of include.").default(""),
    REPLACE_NULL,
];

static MASK_FIELD: &[K] = &[
    K::new("fields", T::List, I::High, G, "Fields to mask with a type-appropriate empty value.")
        .required()
        .check(Check::NonEmpty),
    K::new("replacement", T::String, I::Low, G, "Replacement value instead of the empty value."),
    REPLACE_NULL,
];

static CAST: &[K] = &[
    K::new(
        "spec",
        T::List,
        I::High,
        G,
        "field:type pairs, or one type for the whole value; types: int8, int16, int32, int64, \
         float32, float64, boolean, string.",
    )
    .required()
    .check(Check::Custom(cast_spec)),
    REPLACE_NULL,
];

static TIMESTAMP_CONVERTER: &[K] = &[
    K::new("field", T::String, I::High, G, "Field to convert; empty converts the whole value.").default(""),
    K::new("target.type", T::String, I::High, G, "Target: string, unix, Date, Time or Timestamp.")
        .required()
        .check(Check::OneOf(&["string", "unix", "Date", "Time", "Timestamp"])),
    K::new(
        "format",
        T::String,
        I::Medium,
        G,
        "java.text.SimpleDateFormat pattern, for string targets or string sources.",
    )
    .default(""),
    K::new(
        "unix.precision",
        T::String,
        I::Low,
        G,
        "Unit of unix timestamps: seconds, milliseconds, microseconds or nanoseconds.",
    )
    .default("milliseconds")
    .check(Check::OneOf(&["seconds", "milliseconds", "microseconds", "nanoseconds"])),
    REPLACE_NULL,
];

static REGEX_ROUTER: &[K] = &[
    K::new("regex", T::String, I::High, G, "Regular expression matched against the whole topic name.")
        .required()
        .check(Check::Custom(regex)),
    K::new("replacement", T::String, I::High, G, "New topic name; $1.. refer to capture groups.").required(),
];

static FLATTEN: &[K] =
    &[K::new("delimiter", T::String, I::Medium, G, "Delimiter between the names of nested fields.")
        .default(".")];

static HOIST_FIELD: &[K] =
    &[K::new("field", T::String, I::Medium, G, "Name of the single field the data is wrapped in.")
        .required()
        .check(Check::NonEmpty)];

static TOPIC_NAME_MATCHES: &[K] =
    &[K::new("pattern", T::String, I::Medium, P, "Regular expression matched against the whole topic name.")
        .required()
        .check(Check::Custom(regex))];

static HAS_HEADER_KEY: &[K] =
    &[K::new("name", T::String, I::Medium, P, "Header name.").required().check(Check::NonEmpty)];

macro_rules! smt {
    ($class:literal, $doc:literal, $keys:expr) => {
        PluginDef {
            class_name: concat!("org.apache.kafka.connect.transforms.", $class),
            aliases: &[],
            kind: PluginKind::Transformation,
            doc: $doc,
            keys: $keys,
        }
    };
}

macro_rules! predicate {
    ($class:literal, $doc:literal, $keys:expr) => {
        PluginDef {
            class_name: concat!("org.apache.kafka.connect.transforms.predicates.", $class),
            aliases: &[],
            kind: PluginKind::Predicate,
            doc: $doc,
            keys: $keys,
        }
    };
}

/// The transforms and predicates.
pub static PLUGINS: &[PluginDef] = &[
    smt!("Cast$Key", "Casts key fields or the whole key to other types.", CAST),
    smt!("Cast$Value", "Casts value fields or the whole value to other types.", CAST),
    smt!("ExtractField$Key", "Replaces the key with one of its fields.", EXTRACT_FIELD),
    smt!("ExtractField$Value", "Replaces the value with one of its fields.", EXTRACT_FIELD),
    smt!("Filter", "Drops records (all, or those its predicate matches).", &[]),
    smt!("Flatten$Key", "Flattens nested key structures.", FLATTEN),
    smt!("Flatten$Value", "Flattens nested value structures.", FLATTEN),
    smt!("HoistField$Key", "Wraps the key in a struct or map with one field.", HOIST_FIELD),
    smt!("HoistField$Value", "Wraps the value in a struct or map with one field.", HOIST_FIELD),
    smt!("InsertField$Key", "Adds record metadata or a static value to the key.", INSERT_FIELD),
    smt!("InsertField$Value", "Adds record metadata or a static value to the value.", INSERT_FIELD),
    smt!("MaskField$Key", "Masks key fields.", MASK_FIELD),
    smt!("MaskField$Value", "Masks value fields.", MASK_FIELD),
    smt!("RegexRouter", "Renames topics with a regular expression.", REGEX_ROUTER),
    smt!("ReplaceField$Key", "Drops, keeps or renames key fields.", REPLACE_FIELD),
    smt!("ReplaceField$Value", "Drops, keeps or renames value fields.", REPLACE_FIELD),
    smt!("TimestampConverter$Key", "Converts key timestamps between formats.", TIMESTAMP_CONVERTER),
    smt!("TimestampConverter$Value", "Converts value timestamps between formats.", TIMESTAMP_CONVERTER),
    smt!("ValueToKey", "Sets the key to a struct of value fields.", VALUE_TO_KEY),
    predicate!("HasHeaderKey", "Matches records with a header of the given name.", HAS_HEADER_KEY),
    predicate!("RecordIsTombstone", "Matches records with a null value.", &[]),
    predicate!(
        "TopicNameMatches",
        "Matches records whose topic matches a regular expression.",
        TOPIC_NAME_MATCHES
    ),
];

//! Keys every connector takes (Kafka's `ConnectorConfig`,
//! `SourceConnectorConfig`, `SinkConnectorConfig`), converter sub-keys and
//! the keys every transform and predicate alias takes.

use crate::connect::def::{Check, ConfigKeyDef as K, ConfigType as T, Importance as I, Value};

const COMMON: &str = "Common";
const TRANSFORMS: &str = "Transforms";
const PREDICATES: &str = "Predicates";
const ERRORS: &str = "Error Handling";
const TOPIC_CREATION: &str = "Topic Creation";
const EXACTLY_ONCE: &str = "Exactly Once Support";

/// Kafka's JSON converter class.
pub const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";
/// Kafka's string converter class.
pub const STRING_CONVERTER: &str = "org.apache.kafka.connect.storage.StringConverter";

/// Only converters Hydrate implements itself are accepted: the rest need
/// Schema Registry or plugins Hydrate does not have.
fn supported_converter(value: &Value) -> Result<(), String> {
    match value {
        Value::Str(class) if class == JSON_CONVERTER || class == STRING_CONVERTER => Ok(()),
        _ => Err(format!(
            "Hydrate supports only {JSON_CONVERTER} and {STRING_CONVERTER} \
             (Schema Registry converters such as Avro or Protobuf are not available)"
        )),
    }
}

/// Connector names: what the gRPC API accepts, so a name in the config can
/// always be used as the connector's name.
fn valid_name(value: &Value) -> Result<(), String> {
    match value {
        Value::Str(name) => crate::connect::validate_connector_name(name),
        _ => Ok(()),
    }
}

/// Keys of every connector.
pub static CONNECTOR_KEYS: &[K] = &[
    K::new("name", T::String, I::High, COMMON, "Globally unique name to use for this connector.")
        .check(Check::Custom(valid_name)),
    K::new(
        "connector.class",
        T::String,
        I::High,
        COMMON,
        "Name or alias of the connector class, e.g. io.confluent.connect.jdbc.JdbcSourceConnector.",
    )
    .required(),
    K::new("tasks.max", T::Int, I::High, COMMON, "Maximum number of tasks to use for this connector.")
        .default("1")
        .check(Check::AtLeast(1)),
    K::new(
        "tasks.max.enforce",
        T::Boolean,
        I::Low,
        COMMON,
        "Deprecated Kafka Connect switch for failing connectors that create too many tasks.",
    )
    .default("true")
    .ignored(),
    K::new(
        "key.converter",
        T::Class,
        I::Low,
        COMMON,
        "Converter for record keys: JsonConverter (default, schemas enabled) or StringConverter.",
    )
    .check(Check::Custom(supported_converter)),
    K::new(
        "value.converter",
        T::Class,
        I::Low,
        COMMON,
        "Converter for record values: JsonConverter (default, schemas enabled) or StringConverter.",
    )
    .check(Check::Custom(supported_converter)),
    K::new(
        "header.converter",
        T::Class,
        I::Low,
        COMMON,
        "Converter for record headers; Hydrate always writes headers as strings.",
    )
    .ignored(),
    K::new(
        "config.action.reload",
        T::String,
        I::Low,
        COMMON,
        "What Kafka Connect does when external config providers change; Hydrate resolves \
         references when a task starts.",
    )
    .default("restart")
    .check(Check::OneOfIgnoreCase(&["none", "restart"]))
    .ignored(),
    K::new("plugin.version", T::String, I::Low, COMMON, "Version of the connector plugin to use.").ignored(),
    K::new(
        "transforms",
        T::List,
        I::Low,
        TRANSFORMS,
        "Aliases for the transformations to apply to records, in order.",
    )
    .default(""),
    K::new("predicates", T::List, I::Low, PREDICATES, "Aliases for the predicates used by transformations.")
        .default(""),
    K::new(
        "errors.retry.timeout",
        T::Long,
        I::Medium,
        ERRORS,
        "Maximum time in ms to retry a failed operation; 0 means no retries, -1 retries forever.",
    )
    .default("0")
    .check(Check::AtLeast(-1)),
    K::new(
        "errors.retry.delay.max.ms",
        T::Long,
        I::Medium,
        ERRORS,
        "Maximum delay in ms between consecutive retries.",
    )
    .default("60000")
    .check(Check::AtLeast(1)),
    K::new(
        "errors.tolerance",
        T::String,
        I::Medium,
        ERRORS,
        "none: any error fails the task; all: problematic records are skipped.",
    )
    .default("none")
    .check(Check::OneOfIgnoreCase(&["none", "all"])),
    K::new("errors.log.enable", T::Boolean, I::Medium, ERRORS, "Log each error and the failed operation.")
        .default("false"),
    K::new(
        "errors.log.include.messages",
        T::Boolean,
        I::Medium,
        ERRORS,
        "Include the failed record (topic, partition, offset, timestamp) in error logs.",
    )
    .default("false"),
];

/// Keys of every source connector.
pub static SOURCE_KEYS: &[K] = &[
    K::new(
        "topic.creation.groups",
        T::List,
        I::Low,
        TOPIC_CREATION,
        "Groups of topic-creation settings; Hydrate creates missing topics with broker defaults.",
    )
    .default("")
    .ignored(),
    K::new(
        "exactly.once.support",
        T::String,
        I::Medium,
        EXACTLY_ONCE,
        "Whether the connector must support exactly-once delivery; Hydrate's source always does.",
    )
    .default("requested")
    .check(Check::OneOfIgnoreCase(&["requested", "required"]))
    .ignored(),
    K::new(
        "transaction.boundary",
        T::String,
        I::Medium,
        EXACTLY_ONCE,
        "Where Kafka Connect commits transactions; Hydrate commits one per poll batch.",
    )
    .default("poll")
    .check(Check::OneOfIgnoreCase(&["poll", "interval", "connector"]))
    .ignored(),
    K::new(
        "transaction.boundary.interval.ms",
        T::Long,
        I::Low,
        EXACTLY_ONCE,
        "Commit interval for the interval transaction boundary.",
    )
    .check(Check::AtLeast(0))
    .ignored(),
    K::new(
        "offsets.storage.topic",
        T::String,
        I::Low,
        COMMON,
        "Separate offsets topic for this connector (default hydrate-offsets); its source \
         offsets are written there in the same transaction as the records.",
    ),
];

/// Keys of every sink connector.
pub static SINK_KEYS: &[K] = &[
    K::new(
        "topics",
        T::List,
        I::High,
        COMMON,
        "Topics to consume. Exactly one of topics and topics.regex must be set.",
    )
    .default(""),
    K::new(
        "topics.regex",
        T::String,
        I::High,
        COMMON,
        "Regular expression selecting the topics to consume (matched against the whole name).",
    )
    .default(""),
    K::new(
        "errors.deadletterqueue.topic.name",
        T::String,
        I::Medium,
        ERRORS,
        "Topic receiving records that failed, when errors.tolerance is all; empty for none.",
    )
    .default(""),
    K::new(
        "errors.deadletterqueue.topic.replication.factor",
        T::Short,
        I::Medium,
        ERRORS,
        "Replication factor of the dead letter queue topic when Hydrate creates it.",
    )
    .default("3")
    .check(Check::AtLeast(-1)),
    K::new(
        "errors.deadletterqueue.context.headers.enable",
        T::Boolean,
        I::Medium,
        ERRORS,
        "Add headers describing the error to records sent to the dead letter queue.",
    )
    .default("false"),
];

/// Sub-keys under `key.converter.` / `value.converter.` / `header.converter.`.
pub static CONVERTER_SUB_KEYS: &[K] = &[
    K::new(
        "schemas.enable",
        T::Boolean,
        I::High,
        "Converter",
        "JsonConverter: write {\"schema\":..,\"payload\":..} envelopes (true) or the bare payload.",
    )
    .default("true"),
    K::new(
        "decimal.format",
        T::String,
        I::Low,
        "Converter",
        "JsonConverter: write decimals as BASE64 bytes or as NUMERIC JSON numbers.",
    )
    .default("BASE64")
    .check(Check::OneOfIgnoreCase(&["BASE64", "NUMERIC"])),
    K::new(
        "replace.null.with.default",
        T::Boolean,
        I::Low,
        "Converter",
        "JsonConverter: write a field's default instead of null.",
    )
    .default("true"),
    K::new(
        "schemas.cache.size",
        T::Int,
        I::Low,
        "Converter",
        "JsonConverter schema cache size; Hydrate sizes its caches itself.",
    )
    .default("1000")
    .ignored(),
    K::new(
        "encoding",
        T::String,
        I::Low,
        "Converter",
        "StringConverter character encoding; Hydrate always uses UTF-8.",
    )
    .default("UTF-8")
    .check(Check::OneOfIgnoreCase(&["UTF-8", "UTF8"])),
    K::new(
        "converter.encoding",
        T::String,
        I::Low,
        "Converter",
        "StringConverter character encoding; Hydrate always uses UTF-8.",
    )
    .default("UTF-8")
    .check(Check::OneOfIgnoreCase(&["UTF-8", "UTF8"])),
];

/// Keys every `transforms.<alias>.` takes besides the transform's own.
pub static TRANSFORM_ALIAS_KEYS: &[K] = &[
    K::new("type", T::Class, I::High, TRANSFORMS, "Class of the transformation.").required(),
    K::new(
        "predicate",
        T::String,
        I::Medium,
        TRANSFORMS,
        "Alias of a predicate (declared in predicates) deciding which records are transformed.",
    )
    .default(""),
    K::new(
        "negate",
        T::Boolean,
        I::Medium,
        TRANSFORMS,
        "Transform the records the predicate does NOT match.",
    )
    .default("false"),
];

/// Keys every `predicates.<alias>.` takes besides the predicate's own.
pub static PREDICATE_ALIAS_KEYS: &[K] =
    &[K::new("type", T::Class, I::High, PREDICATES, "Class of the predicate.").required()];

/// Key prefixes whose keys only configure Kafka Connect's own clients or
/// topic creation: accepted, reported as ignored.
pub static IGNORED_PREFIXES: &[(&str, &str)] = &[
    ("producer.override.", "overrides Kafka Connect's producer; Hydrate configures its own"),
    ("consumer.override.", "overrides Kafka Connect's consumer; Hydrate configures its own"),
    ("admin.override.", "overrides Kafka Connect's admin client; Hydrate configures its own"),
];

/// Prefix of source topic-creation settings (`topic.creation.<group>.*`).
pub const TOPIC_CREATION_PREFIX: &str = "topic.creation.";

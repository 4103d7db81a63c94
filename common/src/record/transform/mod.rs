//! The transform engine: Kafka Connect's single message transforms
//! (`org.apache.kafka.connect.transforms`) and predicates, run over
//! [`Record`]s with Kafka's semantics, with schemas (structs) and without
//! (maps).
//!
//! [`TransformChain`] compiles a connector's chain once (regexes, per-schema
//! caches); [`apply_chain`] is the one-shot form.

mod cast;
mod date_format;
mod extract_field;
mod flatten;
mod hoist_field;
mod insert_field;
mod java_text;
mod mask_field;
mod predicate;
mod regex_router;
mod replace_field;
mod timestamp_converter;
mod value_to_key;

use super::{Record, Schema, SchemaAndValue, SchemaBuilder, Struct, Value};
use crate::connect::{Side, Transform, TransformSpec};

use cast::Cast;
use extract_field::ExtractField;
use flatten::Flatten;
use hoist_field::HoistField;
use insert_field::InsertField;
use mask_field::MaskField;
use predicate::CompiledPredicate;
use regex_router::RegexRouter;
use replace_field::ReplaceField;
use timestamp_converter::TimestampConverter;
use value_to_key::ValueToKey;

/// A transform failed. Retrying the same record never helps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// The record does not fit what the transform needs (Connect's `DataException`).
    #[error("transform {alias}: {message}")]
    Data {
        /// The transform's alias.
        alias: String,
        /// What is wrong.
        message: String,
    },
    /// The chain cannot be built (a regex or date format it cannot compile).
    #[error("transform {alias}: {message}")]
    Config {
        /// The transform's alias.
        alias: String,
        /// What is wrong.
        message: String,
    },
}

/// Runs `chain` over one record: `Ok(None)` when a transform (Filter)
/// dropped it. Compiles the chain on each call; a task should keep a
/// [`TransformChain`] instead.
pub fn apply_chain(chain: &[TransformSpec], record: Record) -> Result<Option<Record>, TransformError> {
    TransformChain::new(chain)?.apply(record)
}

/// A compiled transform chain. It caches derived schemas per input
/// schema, so keep one per task.
#[derive(Debug)]
pub struct TransformChain {
    steps: Vec<Step>,
}

#[derive(Debug)]
struct Step {
    alias: String,
    op: Op,
    predicate: Option<CompiledPredicate>,
    negate: bool,
}

#[derive(Debug)]
enum Op {
    ValueToKey(ValueToKey),
    ExtractField(ExtractField),
    InsertField(InsertField),
    ReplaceField(ReplaceField),
    MaskField(MaskField),
    HoistField(HoistField),
    Flatten(Flatten),
    Cast(Cast),
    TimestampConverter(TimestampConverter),
    RegexRouter(RegexRouter),
    Filter,
}

impl TransformChain {
    /// Compiles `chain`; fails on a regex or date format the engine cannot
    /// compile.
    pub fn new(chain: &[TransformSpec]) -> Result<Self, TransformError> {
        let steps = chain.iter().map(Step::new).collect::<Result<_, _>>()?;
        Ok(Self { steps })
    }

    /// Runs every step in order; `Ok(None)` when the record was dropped.
    pub fn apply(&mut self, mut record: Record) -> Result<Option<Record>, TransformError> {
        for step in &mut self.steps {
            let selected = step.predicate.as_ref().is_none_or(|p| p.test(&record) != step.negate);
            if !selected {
                continue;
            }
            let result = match &mut step.op {
                Op::ValueToKey(t) => t.apply(record),
                Op::ExtractField(t) => t.apply(record),
                Op::InsertField(t) => t.apply(record),
                Op::ReplaceField(t) => t.apply(record),
                Op::MaskField(t) => t.apply(record),
                Op::HoistField(t) => t.apply(record),
                Op::Flatten(t) => t.apply(record),
                Op::Cast(t) => t.apply(record),
                Op::TimestampConverter(t) => t.apply(record),
                Op::RegexRouter(t) => t.apply(record),
                Op::Filter => return Ok(None),
            };
            record = result.map_err(|message| TransformError::Data { alias: step.alias.clone(), message })?;
        }
        Ok(Some(record))
    }
}

impl Step {
    fn new(spec: &TransformSpec) -> Result<Self, TransformError> {
        let config = |message: String| TransformError::Config { alias: spec.alias.clone(), message };
        let op = match &spec.transform {
            Transform::ValueToKey { fields, replace_null_with_default } => {
                Op::ValueToKey(ValueToKey::new(fields.clone(), *replace_null_with_default))
            }
            Transform::ExtractField { side, field, nested, replace_null_with_default } => Op::ExtractField(
                ExtractField::new(*side, field, *nested, *replace_null_with_default).map_err(config)?,
            ),
            t @ Transform::InsertField { .. } => Op::InsertField(InsertField::new(t)),
            Transform::ReplaceField { side, include, exclude, renames, replace_null_with_default } => {
                Op::ReplaceField(ReplaceField::new(
                    *side,
                    include.clone(),
                    exclude.clone(),
                    renames.clone(),
                    *replace_null_with_default,
                ))
            }
            Transform::MaskField { side, fields, replacement, replace_null_with_default } => Op::MaskField(
                MaskField::new(*side, fields.clone(), replacement.clone(), *replace_null_with_default),
            ),
            Transform::HoistField { side, field } => Op::HoistField(HoistField::new(*side, field.clone())),
            Transform::Cast { side, spec, replace_null_with_default } => {
                Op::Cast(Cast::new(*side, spec.clone(), *replace_null_with_default))
            }
            Transform::TimestampConverter {
                side,
                field,
                target,
                format,
                unix_precision,
                replace_null_with_default,
            } => Op::TimestampConverter(
                TimestampConverter::new(
                    *side,
                    field.clone(),
                    *target,
                    format.as_deref(),
                    *unix_precision,
                    *replace_null_with_default,
                )
                .map_err(config)?,
            ),
            Transform::Flatten { side, delimiter } => Op::Flatten(Flatten::new(*side, delimiter.clone())),
            Transform::RegexRouter { regex, replacement } => {
                Op::RegexRouter(RegexRouter::new(regex, replacement).map_err(config)?)
            }
            Transform::Filter => Op::Filter,
        };
        let predicate = spec
            .predicate
            .as_ref()
            .map(|p| CompiledPredicate::new(&p.predicate))
            .transpose()
            .map_err(config)?;
        Ok(Self { alias: spec.alias.clone(), op, predicate, negate: spec.negate })
    }
}

/// Kafka's `SynchronizedCache` size for derived schemas.
const SCHEMA_CACHE_SIZE: usize = 16;

/// Derived schemas by input schema, as the transforms' `schemaUpdateCache`.
/// Behind a lock so building can borrow the transform's settings.
#[derive(Debug, Default)]
pub(crate) struct SchemaCache {
    entries: std::sync::Mutex<Vec<(Schema, Schema)>>,
}

impl SchemaCache {
    /// The schema derived from `input`, built with `build` on a miss.
    pub(crate) fn get_or_build(
        &self,
        input: &Schema,
        build: impl FnOnce(&Schema) -> Result<Schema, String>,
    ) -> Result<Schema, String> {
        // A panic while holding the lock leaves the list intact, so poison is harmless.
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Records of one table share one schema allocation, so pointers match first.
        let hit = entries
            .iter()
            .find(|(i, _)| i.ptr_eq(input))
            .or_else(|| entries.iter().find(|(i, _)| i == input));
        if let Some((_, derived)) = hit {
            return Ok(derived.clone());
        }
        let derived = build(input)?;
        if entries.len() >= SCHEMA_CACHE_SIZE {
            entries.remove(0);
        }
        entries.push((input.clone(), derived.clone()));
        Ok(derived)
    }
}

/// The key or value a `$Key` / `$Value` transform works on.
pub(crate) fn operating(record: &Record, side: Side) -> &SchemaAndValue {
    match side {
        Side::Key => &record.key,
        Side::Value => &record.value,
    }
}

/// Takes the key or value out of the record (leaving null).
pub(crate) fn take_operating(record: &mut Record, side: Side) -> SchemaAndValue {
    std::mem::take(match side {
        Side::Key => &mut record.key,
        Side::Value => &mut record.value,
    })
}

/// Sets the key or value.
pub(crate) fn set_operating(record: &mut Record, side: Side, data: SchemaAndValue) {
    match side {
        Side::Key => record.key = data,
        Side::Value => record.value = data,
    }
}

/// Connect's `Requirements.requireStruct`.
pub(crate) fn require_struct(value: Value, purpose: &str) -> Result<Struct, String> {
    match value {
        Value::Struct(s) => Ok(s),
        other => Err(format!("Only Struct objects supported for [{purpose}], found: {}", other.kind())),
    }
}

/// Connect's `Requirements.requireMap` (maps with string keys).
pub(crate) fn require_map(value: Value, purpose: &str) -> Result<Vec<(Value, Value)>, String> {
    match value {
        Value::Map(entries) => {
            if let Some((k, _)) = entries.iter().find(|(k, _)| k.as_str().is_none()) {
                return Err(format!("[{purpose}] needs string map keys, found: {}", k.kind()));
            }
            Ok(entries)
        }
        other => Err(format!(
            "Only Map objects supported in absence of schema for [{purpose}], found: {}",
            other.kind()
        )),
    }
}

/// The value of string key `name` in a schemaless map (`None`: absent).
pub(crate) fn map_get<'a>(entries: &'a [(Value, Value)], name: &str) -> Option<&'a Value> {
    entries.iter().find(|(k, _)| k.as_str() == Some(name)).map(|(_, v)| v)
}

/// Puts `name` into a schemaless map: replaces in place, else appends.
pub(crate) fn map_put(entries: &mut Vec<(Value, Value)>, name: &str, value: Value) {
    match entries.iter_mut().find(|(k, _)| k.as_str() == Some(name)) {
        Some(slot) => slot.1 = value,
        None => entries.push((Value::from(name), value)),
    }
}

/// A struct's field value as Connect reads it: with the field's default for
/// a null when `replace_null_with_default` (`Struct.get`), as stored otherwise
/// (`getWithoutDefault`).
pub(crate) fn struct_get(s: &Struct, name: &str, replace_null_with_default: bool) -> Option<Value> {
    if replace_null_with_default { s.get_or_default(name) } else { s.get(name) }.cloned()
}

/// Connect's `SchemaUtil.copySchemaBasics` onto a new struct builder: name,
/// version, doc and parameters (not optionality or default).
pub(crate) fn struct_builder_like(schema: &Schema) -> SchemaBuilder {
    copy_schema_basics(schema, SchemaBuilder::struct_())
}

/// Connect's `SchemaUtil.copySchemaBasics`: name, version, doc and
/// parameters of `schema` onto `builder`.
pub(crate) fn copy_schema_basics(schema: &Schema, mut builder: SchemaBuilder) -> SchemaBuilder {
    if let Some(name) = schema.name() {
        builder = builder.name(name);
    }
    if let Some(version) = schema.version() {
        builder = builder.version(version);
    }
    if let Some(doc) = schema.doc() {
        builder = builder.doc(doc);
    }
    for (k, v) in schema.parameters() {
        builder = builder.parameter(k.clone(), v.clone());
    }
    builder
}

/// Adds a field, refusing a duplicate name as Connect's `SchemaBuilder` does.
pub(crate) fn add_field(
    builder: SchemaBuilder,
    seen: &mut Vec<String>,
    name: &str,
    schema: Schema,
) -> Result<SchemaBuilder, String> {
    if seen.iter().any(|n| n == name) {
        return Err(format!("Cannot create field because of field name duplication {name}"));
    }
    seen.push(name.to_owned());
    Ok(builder.field(name, schema))
}

#[cfg(test)]
mod tests;

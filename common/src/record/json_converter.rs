//! Kafka's `org.apache.kafka.connect.json.JsonConverter`: Connect data to
//! JSON bytes and back, with (`{"schema":..,"payload":..}`) or without
//! schemas, byte for byte as Kafka writes them.

use std::collections::HashMap;
use std::sync::Mutex;

use super::DataError;
use super::connect_record::SchemaAndValue;
use super::json_reader::{self, Reader};
use super::json_schema::{parse_schema, schema_json};
use super::json_writer::{WriteOptions, write_value};
use super::schema::Schema;
use super::value::Value;
use crate::connect::{ConverterSettings, DecimalFormat};

/// Kafka's `schemas.cache.size` default: distinct schema texts remembered when reading.
const SCHEMA_CACHE_SIZE: usize = 1000;

/// The converter's settings (Kafka's `JsonConverterConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonConverterConfig {
    /// `schemas.enable` (default true).
    pub schemas_enable: bool,
    /// `decimal.format` (default BASE64).
    pub decimal_format: DecimalFormat,
    /// `replace.null.with.default` (default true).
    pub replace_null_with_default: bool,
}

impl Default for JsonConverterConfig {
    fn default() -> Self {
        Self { schemas_enable: true, decimal_format: DecimalFormat::Base64, replace_null_with_default: true }
    }
}

/// A schema's text and the schema read from it.
type LastSchema = (Box<[u8]>, Option<Schema>);

/// Converts Connect data to and from JSON. Share one per task: it caches
/// the schemas it reads (schema JSON for writing is cached on the schema).
#[derive(Debug, Default)]
pub struct JsonConverter {
    config: JsonConverterConfig,
    schemas_read: Mutex<HashMap<Box<[u8]>, Option<Schema>>>,
    /// The schema text of the last envelope read and its schema: records of
    /// one topic repeat it byte for byte, so it is compared, not parsed.
    last_schema: Mutex<Option<LastSchema>>,
}

/// How Kafka's JsonConverter starts an envelope, and what follows the schema.
const ENVELOPE_START: &[u8] = b"{\"schema\":";
const PAYLOAD_KEY: &[u8] = b",\"payload\":";

impl JsonConverter {
    /// A converter with these settings.
    pub fn new(config: JsonConverterConfig) -> Self {
        Self { config, schemas_read: Mutex::default(), last_schema: Mutex::default() }
    }

    /// The converter a connector's `key.converter` / `value.converter`
    /// describes; `None` for the string converter.
    pub fn from_settings(settings: &ConverterSettings) -> Option<Self> {
        match *settings {
            ConverterSettings::Json { schemas_enable, decimal_format, replace_null_with_default } => {
                Some(Self::new(JsonConverterConfig {
                    schemas_enable,
                    decimal_format,
                    replace_null_with_default,
                }))
            }
            ConverterSettings::String => None,
        }
    }

    /// The settings.
    pub fn config(&self) -> JsonConverterConfig {
        self.config
    }

    fn write_options(&self) -> WriteOptions {
        WriteOptions {
            decimal_format: self.config.decimal_format,
            replace_null_with_default: self.config.replace_null_with_default,
        }
    }

    /// `fromConnectData`: appends the JSON of `value` to `out`. Returns
    /// `false` and appends nothing when Kafka writes no bytes at all (no
    /// schema and a null value: a null key or a tombstone). On error `out`
    /// is left as it was.
    pub fn write(
        &self,
        schema: Option<&Schema>,
        value: &Value,
        out: &mut Vec<u8>,
    ) -> Result<bool, DataError> {
        if schema.is_none() && value.is_null() {
            return Ok(false);
        }
        let start = out.len();
        let result = self.write_inner(schema, value, out);
        if result.is_err() {
            out.truncate(start);
        }
        result.map(|()| true)
    }

    fn write_inner(
        &self,
        schema: Option<&Schema>,
        value: &Value,
        out: &mut Vec<u8>,
    ) -> Result<(), DataError> {
        let opts = self.write_options();
        if !self.config.schemas_enable {
            return write_value(out, schema, value, opts);
        }
        out.extend_from_slice(b"{\"schema\":");
        match schema {
            Some(schema) => out.extend_from_slice(schema_json(schema, opts)?),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"payload\":");
        write_value(out, schema, value, opts)?;
        out.push(b'}');
        Ok(())
    }

    /// [`Self::write`] into a new buffer; `None` is a null Kafka key or value.
    pub fn to_bytes(&self, schema: Option<&Schema>, value: &Value) -> Result<Option<Vec<u8>>, DataError> {
        let mut out = Vec::new();
        Ok(self.write(schema, value, &mut out)?.then_some(out))
    }

    /// `toConnectData`: reads Kafka bytes (`None`: a null key or tombstone).
    pub fn to_connect(&self, bytes: Option<&[u8]>) -> Result<SchemaAndValue, DataError> {
        let Some(bytes) = bytes else { return Ok(SchemaAndValue::NULL) };
        if self.config.schemas_enable
            && let Some(read) = self.read_same_schema(bytes)
        {
            return Ok(read);
        }
        let replace = self.config.replace_null_with_default;
        let mut r = Reader::new(bytes, replace)?;
        if !self.config.schemas_enable {
            // Jackson reads empty input as a missing node, which converts to null.
            if r.peek().is_none() {
                return Ok(SchemaAndValue::NULL);
            }
            let value = r.value(None)?;
            r.end()?;
            return Ok(SchemaAndValue::schemaless(value));
        }
        let not_envelope = || {
            DataError::new(
                "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not \
                 contain additional fields. If you are trying to deserialize plain JSON data, set \
                 schemas.enable=false in your converter configuration.",
            )
        };
        if r.peek() != Some(b'{') {
            return Err(not_envelope());
        }
        r.expect(b'{')?;
        let (mut schema, mut payload_span) = (None, None);
        loop {
            if r.peek() != Some(b'"') {
                return Err(not_envelope());
            }
            let key = r.string()?;
            r.expect(b':')?;
            r.ws();
            let from = r.pos();
            r.skip()?;
            let span = r.slice(from, r.pos());
            match key.as_ref() {
                "schema" => schema = Some(self.read_schema(span)?),
                "payload" => payload_span = Some(span),
                _ => return Err(not_envelope()),
            }
            if !r.eat(b',') {
                break;
            }
        }
        r.expect(b'}')?;
        r.end()?;
        let (Some(schema), Some(payload)) = (schema, payload_span) else { return Err(not_envelope()) };
        let value = json_reader::parse_payload(payload, schema.as_ref(), replace)?;
        Ok(SchemaAndValue { schema, value })
    }

    /// The common case, without scanning the schema: `bytes` is exactly
    /// `{"schema":<the last schema text>,"payload":<value>}` as Kafka writes
    /// it. `None` sends the record down the general path (which reads such
    /// a document the same way, and words any error).
    fn read_same_schema(&self, bytes: &[u8]) -> Option<SchemaAndValue> {
        let rest = bytes.strip_prefix(ENVELOPE_START)?;
        let (schema, payload) = {
            let last = self.last_schema.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let (text, schema) = last.as_ref()?;
            (schema.clone(), rest.strip_prefix(&text[..])?.strip_prefix(PAYLOAD_KEY)?)
        };
        let mut r = Reader::new(payload, self.config.replace_null_with_default).ok()?;
        let value = r.value(schema.as_ref()).ok()?;
        r.expect(b'}').ok()?;
        r.end().ok()?;
        Some(SchemaAndValue { schema, value })
    }

    /// `asConnectSchema`, cached by the schema's exact text.
    fn read_schema(&self, text: &[u8]) -> Result<Option<Schema>, DataError> {
        let schema = {
            let mut cache = self.schemas_read.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match cache.get(text) {
                Some(schema) => schema.clone(),
                None => {
                    let tree = json_reader::parse_payload(text, None, self.config.replace_null_with_default)?;
                    let schema = parse_schema(&tree, self.config.replace_null_with_default)?;
                    if cache.len() >= SCHEMA_CACHE_SIZE {
                        cache.clear();
                    }
                    cache.insert(text.into(), schema.clone());
                    schema
                }
            }
        };
        let mut last = self.last_schema.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *last = Some((text.into(), schema.clone()));
        Ok(schema)
    }
}

#[cfg(test)]
mod tests;

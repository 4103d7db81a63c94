//! Connect schemas as Kafka's JsonConverter writes and reads them
//! (`asJsonSchema` / `asConnectSchema`). Key order matches Kafka's:
//! `type`, `items` | `keys`,`values` | `fields`, `optional`, `name`,
//! `version`, `doc`, `parameters`, `default`, and `field` last inside a
//! struct's field list.

use super::DataError;
use super::json_reader;
use super::json_writer::{WriteOptions, write_int, write_str, write_value};
use super::schema::{Schema, SchemaBuilder, SchemaType};
use super::value::Value;
use crate::connect::DecimalFormat;

/// The schema's JSON, built once per schema and decimal format.
pub(crate) fn schema_json(schema: &Schema, opts: WriteOptions) -> Result<&[u8], DataError> {
    let slot = match opts.decimal_format {
        DecimalFormat::Base64 => 0,
        DecimalFormat::Numeric => 1,
    };
    let cache = schema.json_cache(slot);
    if let Some(json) = cache.get() {
        return Ok(json);
    }
    let mut out = Vec::with_capacity(64);
    build(schema, opts, &mut out)?;
    Ok(cache.get_or_init(|| out.into_boxed_slice()))
}

fn build(schema: &Schema, opts: WriteOptions, out: &mut Vec<u8>) -> Result<(), DataError> {
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(schema.schema_type().json_name().as_bytes());
    out.push(b'"');
    let missing =
        |what: &str| DataError::new(format!("{} schema has no {what} schema", schema.schema_type()));
    match schema.schema_type() {
        SchemaType::Array => {
            out.extend_from_slice(b",\"items\":");
            out.extend_from_slice(schema_json(schema.value_schema().ok_or_else(|| missing("value"))?, opts)?);
        }
        SchemaType::Map => {
            out.extend_from_slice(b",\"keys\":");
            out.extend_from_slice(schema_json(schema.key_schema().ok_or_else(|| missing("key"))?, opts)?);
            out.extend_from_slice(b",\"values\":");
            out.extend_from_slice(schema_json(schema.value_schema().ok_or_else(|| missing("value"))?, opts)?);
        }
        SchemaType::Struct => {
            out.extend_from_slice(b",\"fields\":[");
            for (i, field) in schema.fields().iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let nested = schema_json(field.schema(), opts)?;
                // The field's schema object with "field" appended.
                out.extend_from_slice(&nested[..nested.len() - 1]);
                out.extend_from_slice(b",\"field\":");
                write_str(out, field.name());
                out.push(b'}');
            }
            out.push(b']');
        }
        _ => {}
    }
    out.extend_from_slice(if schema.is_optional() { b",\"optional\":true" } else { b",\"optional\":false" });
    if let Some(name) = schema.name() {
        out.extend_from_slice(b",\"name\":");
        write_str(out, name);
    }
    if let Some(version) = schema.version() {
        out.extend_from_slice(b",\"version\":");
        write_int(out, i64::from(version));
    }
    if let Some(doc) = schema.doc() {
        out.extend_from_slice(b",\"doc\":");
        write_str(out, doc);
    }
    if !schema.parameters().is_empty() {
        out.extend_from_slice(b",\"parameters\":{");
        for (i, (k, v)) in schema.parameters().iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, k);
            out.push(b':');
            write_str(out, v);
        }
        out.push(b'}');
    }
    if let Some(default) = schema.default_value() {
        out.extend_from_slice(b",\"default\":");
        write_value(out, Some(schema), default, opts).map_err(|e| e.context("schema default"))?;
    }
    out.push(b'}');
    Ok(())
}

/// `asConnectSchema`: a schema from its JSON, read schemalessly (so object
/// keys keep their order); `None` for JSON null.
pub(crate) fn parse_schema(
    json: &Value,
    replace_null_with_default: bool,
) -> Result<Option<Schema>, DataError> {
    let obj = match json {
        Value::Null => return Ok(None),
        Value::Map(entries) => entries.as_slice(),
        _ => return Err(DataError::new("Schema must contain 'type' field")),
    };
    let get = |key: &str| obj.iter().rev().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v);
    let type_name = get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| DataError::new("Schema must contain 'type' field"))?;
    let ty = SchemaType::from_json_name(type_name)
        .ok_or_else(|| DataError::new(format!("Unknown schema type: {type_name}")))?;
    let nested = |key: &str, what: &str| -> Result<Schema, DataError> {
        let missing = || DataError::new(format!("{what} schema did not specify the {key} type"));
        parse_schema(get(key).ok_or_else(missing)?, replace_null_with_default)?.ok_or_else(missing)
    };
    let mut builder = match ty {
        SchemaType::Array => SchemaBuilder::array(nested("items", "Array")?),
        SchemaType::Map => SchemaBuilder::map(nested("keys", "Map")?, nested("values", "Map")?),
        SchemaType::Struct => {
            let Some(Value::Array(fields)) = get("fields") else {
                return Err(DataError::new("Struct schema's \"fields\" argument is not an array."));
            };
            let mut b = SchemaBuilder::struct_();
            for field in fields {
                let name = match field {
                    Value::Map(f) => {
                        f.iter().rev().find(|(k, _)| k.as_str() == Some("field")).map(|(_, v)| v)
                    }
                    _ => None,
                };
                let name = name
                    .and_then(Value::as_str)
                    .ok_or_else(|| DataError::new("Struct schema's field name not specified properly"))?;
                let schema = parse_schema(field, replace_null_with_default)?
                    .ok_or_else(|| DataError::new("Struct field schema is null"))?;
                b = b.field(name, schema);
            }
            b
        }
        _ => SchemaBuilder::new(ty),
    };
    builder = builder.with_optional(matches!(get("optional"), Some(Value::Boolean(true))));
    if let Some(name) = get("name").and_then(Value::as_str) {
        builder = builder.name(name);
    }
    // Jackson's intValue() of an integral number: the low 32 bits.
    if let Some(Value::Int64(version)) = get("version") {
        builder = builder.version(*version as i32);
    }
    if let Some(doc) = get("doc").and_then(Value::as_str) {
        builder = builder.doc(doc);
    }
    if let Some(Value::Map(params)) = get("parameters") {
        for (k, v) in params {
            let (Some(k), Some(v)) = (k.as_str(), v.as_str()) else {
                return Err(DataError::new("Schema parameters must have string values."));
            };
            builder = builder.parameter(k, v);
        }
    }
    if let Some(default) = get("default") {
        // Read under the schema built so far, as Kafka reads it under the builder.
        let schema = builder.clone().build();
        let mut text = Vec::new();
        write_value(&mut text, None, default, SCHEMALESS)?;
        let value = json_reader::parse_payload(&text, Some(&schema), replace_null_with_default)
            .map_err(|e| e.context("schema default"))?;
        builder = builder.default_value(value);
    }
    Ok(Some(builder.build()))
}

const SCHEMALESS: WriteOptions =
    WriteOptions { decimal_format: DecimalFormat::Base64, replace_null_with_default: true };

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Value {
        json_reader::parse_payload(text.as_bytes(), None, true).unwrap()
    }

    const OPTS: WriteOptions =
        WriteOptions { decimal_format: DecimalFormat::Base64, replace_null_with_default: true };

    fn text(schema: &Schema) -> String {
        String::from_utf8(schema_json(schema, OPTS).unwrap().to_vec()).unwrap()
    }

    fn reparse(schema: &Schema) -> Schema {
        parse_schema(&tree(&text(schema)), true).unwrap().unwrap()
    }

    #[test]
    fn primitive_and_logical_schemas_match_kafka() {
        assert_eq!(text(&Schema::of(SchemaType::Int32)), r#"{"type":"int32","optional":false}"#);
        assert_eq!(text(&Schema::optional_of(SchemaType::Float64)), r#"{"type":"double","optional":true}"#);
        assert_eq!(
            text(&SchemaBuilder::timestamp().build()),
            r#"{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1}"#
        );
        let dec = SchemaBuilder::decimal(2).parameter("connect.decimal.precision", "5").optional().build();
        assert_eq!(
            text(&dec),
            r#"{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"5"}}"#
        );
        assert_eq!(reparse(&dec), dec);
    }

    #[test]
    fn complex_schemas_and_defaults_round_trip() {
        let schema = SchemaBuilder::struct_()
            .name("com.example.Thing")
            .version(3)
            .doc("a \"thing\"")
            .field("tags", SchemaBuilder::array(Schema::of(SchemaType::String)).optional().build())
            .field(
                "counts",
                SchemaBuilder::map(Schema::of(SchemaType::Int32), Schema::optional_of(SchemaType::Int64))
                    .build(),
            )
            .field(
                "flag",
                SchemaBuilder::new(SchemaType::Boolean).default_value(Value::Boolean(true)).build(),
            )
            .field(
                "blob",
                SchemaBuilder::new(SchemaType::Bytes).default_value(Value::Bytes(vec![1, 2])).build(),
            )
            .build();
        assert_eq!(
            text(&schema),
            concat!(
                r#"{"type":"struct","fields":["#,
                r#"{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"tags"},"#,
                r#"{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"int64","optional":true},"optional":false,"field":"counts"},"#,
                r#"{"type":"boolean","optional":false,"default":true,"field":"flag"},"#,
                r#"{"type":"bytes","optional":false,"default":"AQI=","field":"blob"}"#,
                r#"],"optional":false,"name":"com.example.Thing","version":3,"doc":"a \"thing\""}"#
            )
        );
        assert_eq!(reparse(&schema), schema);
    }

    #[test]
    fn bad_schemas_are_rejected_with_kafkas_messages() {
        let err = |s: &str| parse_schema(&tree(s), true).unwrap_err().to_string();
        assert!(err(r#"{"optional":false}"#).contains("'type'"));
        assert!(err(r#"{"type":"uint8"}"#).contains("Unknown schema type: uint8"));
        assert!(err(r#"{"type":"array"}"#).contains("items"));
        assert!(err(r#"{"type":"struct","fields":{}}"#).contains("not an array"));
        assert!(err(r#"{"type":"struct","fields":[{"type":"int8"}]}"#).contains("field name"));
        assert!(err(r#"{"type":"int8","parameters":{"a":1}}"#).contains("string values"));
        // "optional" must be the boolean true to count.
        let s = parse_schema(&tree(r#"{"type":"int8","optional":"true"}"#), true).unwrap().unwrap();
        assert!(!s.is_optional());
        assert_eq!(parse_schema(&Value::Null, true).unwrap(), None);
    }
}

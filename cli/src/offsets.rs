//! Kafka Connect's offsets document, `{"offsets": [{"partition": {..},
//! "offset": {..}}]}`, to and from `ConnectorOffset`'s
//! `google.protobuf.Struct`s.
//!
//! A Struct holds every number as a double, so integers beyond 2^53 cannot
//! cross exactly; they are refused here rather than silently rounded.

use std::collections::BTreeMap;

use hydrate_proto::v1::ConnectorOffset;
use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value as ProtoValue};
use serde_json::{Map, Number, Value};

/// The largest integer a double holds exactly.
const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// Parses an offsets document; errors name the entry and key.
pub fn offsets_from_json(text: &str) -> Result<Vec<ConnectorOffset>, String> {
    let document: Value = serde_json::from_str(text).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let full = e.to_string();
        let message = full.strip_suffix(&format!(" at line {line} column {column}")).unwrap_or(&full);
        format!("JSON syntax error at line {line}, column {column}: {message}")
    })?;
    let Value::Object(mut top) = document else {
        return Err(r#"expected {"offsets": [{"partition": {..}, "offset": {..}}]}"#.into());
    };
    let Some(Value::Array(entries)) = top.remove("offsets") else {
        return Err(r#"expected an "offsets" array at the top"#.into());
    };
    if let Some(key) = top.keys().next() {
        return Err(format!("unexpected top-level key `{key}`"));
    }
    entries.into_iter().enumerate().map(|(i, entry)| offset_entry(i, entry)).collect()
}

fn offset_entry(index: usize, entry: Value) -> Result<ConnectorOffset, String> {
    let at = format!("offsets[{index}]");
    let Value::Object(mut fields) = entry else {
        return Err(format!("{at}: expected an object with partition and offset"));
    };
    let partition = match fields.remove("partition") {
        Some(Value::Object(map)) => json_to_struct(&map, &format!("{at}.partition"))?,
        _ => return Err(format!("{at}.partition: expected an object")),
    };
    // `"offset": null` is how Kafka Connect resets one partition; a missing
    // key is more likely a typo, so it is refused.
    let offset = match fields.remove("offset") {
        Some(Value::Object(map)) => Some(json_to_struct(&map, &format!("{at}.offset"))?),
        Some(Value::Null) => None,
        Some(_) => return Err(format!("{at}.offset: expected an object or null")),
        None => {
            return Err(format!("{at}: missing \"offset\" (null resets the partition)"));
        }
    };
    if let Some(key) = fields.keys().next() {
        return Err(format!("{at}: unexpected key `{key}`"));
    }
    Ok(ConnectorOffset { partition: Some(partition), offset })
}

/// A JSON object as a Struct; `path` names it in errors.
pub fn json_to_struct(map: &Map<String, Value>, path: &str) -> Result<Struct, String> {
    let fields = map
        .iter()
        .map(|(key, value)| Ok((key.clone(), json_to_value(value, &format!("{path}.{key}"))?)))
        .collect::<Result<BTreeMap<_, _>, String>>()?;
    Ok(Struct { fields })
}

fn json_to_value(value: &Value, path: &str) -> Result<ProtoValue, String> {
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(number_to_f64(n, path)?),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(ListValue {
            values: items
                .iter()
                .enumerate()
                .map(|(i, v)| json_to_value(v, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        }),
        Value::Object(map) => Kind::StructValue(json_to_struct(map, path)?),
    };
    Ok(ProtoValue { kind: Some(kind) })
}

fn number_to_f64(number: &Number, path: &str) -> Result<f64, String> {
    let too_big = || {
        format!(
            "{path}: {number} is beyond ±2^53 and cannot be carried exactly \
             (google.protobuf.Struct numbers are doubles)"
        )
    };
    if let Some(u) = number.as_u64() {
        return if u <= MAX_EXACT_INTEGER { Ok(u as f64) } else { Err(too_big()) };
    }
    if let Some(i) = number.as_i64() {
        return if i.unsigned_abs() <= MAX_EXACT_INTEGER { Ok(i as f64) } else { Err(too_big()) };
    }
    number.as_f64().ok_or_else(too_big)
}

/// Offsets as Kafka Connect prints them.
pub fn offsets_to_json(offsets: &[ConnectorOffset]) -> Value {
    let entries = offsets
        .iter()
        .map(|o| {
            serde_json::json!({
                "partition": o.partition.as_ref().map_or(Value::Null, struct_to_json),
                "offset": o.offset.as_ref().map_or(Value::Null, struct_to_json),
            })
        })
        .collect();
    serde_json::json!({ "offsets": Value::Array(entries) })
}

/// A Struct as a JSON object.
pub fn struct_to_json(s: &Struct) -> Value {
    Value::Object(s.fields.iter().map(|(k, v)| (k.clone(), value_to_json(v))).collect())
}

fn value_to_json(value: &ProtoValue) -> Value {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::NumberValue(n)) => f64_to_json(*n),
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::ListValue(list)) => Value::Array(list.values.iter().map(value_to_json).collect()),
        Some(Kind::StructValue(s)) => struct_to_json(s),
    }
}

/// Whole numbers print as integers (`42`, not `42.0`), as Kafka Connect
/// prints its long offsets.
fn f64_to_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() <= MAX_EXACT_INTEGER as f64 {
        // Exact: a whole double within ±2^53 is an i64.
        Value::from(n as i64)
    } else {
        // NaN and infinities have no JSON form; show them rather than hide them.
        Number::from_f64(n).map_or_else(|| Value::String(n.to_string()), Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SOURCE_OFFSETS: &str = r#"{"offsets": [
        {"partition": {"protocol": "1", "table": "pagila.public.address"},
         "offset": {"timestamp": 1700000000123, "timestamp_nanos": 123000000, "incrementing": 42}},
        {"partition": {"kafka_topic": "t", "kafka_partition": 0}, "offset": null}
    ]}"#;

    #[test]
    fn round_trips_kafka_connect_offsets() {
        let offsets = offsets_from_json(SOURCE_OFFSETS).unwrap();
        assert_eq!(offsets.len(), 2);
        assert!(offsets[1].offset.is_none(), "null resets the partition");
        let incrementing = &offsets[0].offset.as_ref().unwrap().fields["incrementing"];
        assert_eq!(incrementing.kind, Some(Kind::NumberValue(42.0)));
        let back = offsets_to_json(&offsets);
        let original: Value = serde_json::from_str(SOURCE_OFFSETS).unwrap();
        assert_eq!(back, original);
        assert!(back.to_string().contains("\"incrementing\":42"), "{back}");
    }

    #[test]
    fn nested_values_and_fractions_survive() {
        let map = json!({"a": [1, "x", true, null, {"b": 0.5}], "c": -3}).as_object().cloned().unwrap();
        let s = json_to_struct(&map, "p").unwrap();
        assert_eq!(struct_to_json(&s), Value::Object(map));
    }

    #[test]
    fn integers_a_double_cannot_hold_are_refused() {
        let err = offsets_from_json(
            r#"{"offsets":[{"partition":{"t":"x"},"offset":{"incrementing":9007199254740993}}]}"#,
        )
        .unwrap_err();
        assert!(err.starts_with("offsets[0].offset.incrementing: 9007199254740993"), "{err}");
        // 2^53 itself is exact.
        assert!(
            offsets_from_json(r#"{"offsets":[{"partition":{"t":"x"},"offset":{"i":-9007199254740992}}]}"#)
                .is_ok()
        );
    }

    #[test]
    fn malformed_documents_say_where() {
        let cases = [
            ("[]", "expected {\"offsets\""),
            (r#"{"offset": []}"#, "expected an \"offsets\" array"),
            (r#"{"offsets": [], "x": 1}"#, "unexpected top-level key `x`"),
            (r#"{"offsets": [{"offset": {}}]}"#, "offsets[0].partition: expected an object"),
            (r#"{"offsets": [{"partition": {}}]}"#, "offsets[0]: missing \"offset\""),
            (r#"{"offsets": [{"partition": {}, "offset": 1}]}"#, "offsets[0].offset: expected"),
            ("{\n  \"offsets\": [,]}", "JSON syntax error at line 2, column 15"),
        ];
        for (text, expected) in cases {
            let err = offsets_from_json(text).unwrap_err();
            assert!(err.starts_with(expected), "{text}: {err}");
        }
    }
}

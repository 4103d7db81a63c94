//! `google.protobuf.Struct` <-> JSON, for offsets in the API.

use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value as ProtoValue};
use serde_json::{Map, Number, Value};

/// Largest integer a Struct (whose numbers are doubles) carries exactly.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// A JSON object as a Struct; fails naming `path` for an integer a double
/// cannot hold exactly.
pub fn to_struct(map: &Map<String, Value>, path: &str) -> Result<Struct, String> {
    let mut fields = std::collections::BTreeMap::new();
    for (key, value) in map {
        fields.insert(key.clone(), to_value(value, &format!("{path}.{key}"))?);
    }
    Ok(Struct { fields })
}

fn to_value(value: &Value, path: &str) -> Result<ProtoValue, String> {
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => {
            let f = n.as_f64().ok_or_else(|| format!("{path}: not a number"))?;
            let inexact = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => i.unsigned_abs() > MAX_EXACT as u64,
                (None, Some(u)) => u > MAX_EXACT as u64,
                _ => false,
            };
            if inexact {
                return Err(format!("{path}: {n} cannot be carried exactly (beyond 2^53)"));
            }
            Kind::NumberValue(f)
        }
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(ListValue {
            values: items
                .iter()
                .enumerate()
                .map(|(i, v)| to_value(v, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        }),
        Value::Object(map) => Kind::StructValue(to_struct(map, path)?),
    };
    Ok(ProtoValue { kind: Some(kind) })
}

/// A Struct as a JSON object; whole numbers become integers.
pub fn from_struct(s: &Struct) -> Value {
    Value::Object(s.fields.iter().map(|(k, v)| (k.clone(), from_value(v))).collect())
}

fn from_value(value: &ProtoValue) -> Value {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::NumberValue(f)) if f.fract() == 0.0 && f.abs() <= MAX_EXACT => Value::from(*f as i64),
        Some(Kind::NumberValue(f)) => Number::from_f64(*f).map(Value::Number).unwrap_or(Value::Null),
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::ListValue(list)) => Value::Array(list.values.iter().map(from_value).collect()),
        Some(Kind::StructValue(s)) => from_struct(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_inexact_integers() {
        let json = serde_json::json!({"table": "pagila.public.address", "timestamp": 1139996730000i64, "nanos": 0, "x": [1.5, null]});
        let s = to_struct(json.as_object().unwrap(), "offset").unwrap();
        assert_eq!(from_struct(&s), json);
        let big = serde_json::json!({"incrementing": 9_007_199_254_740_993i64});
        assert!(to_struct(big.as_object().unwrap(), "offset").unwrap_err().contains("offset.incrementing"));
    }
}

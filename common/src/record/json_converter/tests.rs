//! Golden strings are what Kafka's JsonConverter writes (from its sources
//! and `JsonConverterTest`, and the seed demo's records).

use super::*;
use crate::record::{Decimal, SchemaBuilder, SchemaType, Struct};

fn conv(schemas_enable: bool) -> JsonConverter {
    JsonConverter::new(JsonConverterConfig { schemas_enable, ..JsonConverterConfig::default() })
}

fn json(c: &JsonConverter, schema: Option<&Schema>, value: &Value) -> String {
    String::from_utf8(c.to_bytes(schema, value).unwrap().expect("bytes")).unwrap()
}

/// Writes, checks the golden text, reads back, and checks the round trip.
fn golden(c: &JsonConverter, schema: &Schema, value: Value, expected: &str) {
    assert_eq!(json(c, Some(schema), &value), expected);
    // Without schemas the payload reads back schemaless (maps, int64s), as in Kafka.
    if c.config().schemas_enable {
        let back = c.to_connect(Some(expected.as_bytes())).unwrap();
        assert_eq!(back.schema.as_ref(), Some(schema));
        assert_eq!(back.value, value, "round trip of {expected}");
    }
}

fn address_schema() -> Schema {
    let s = |optional: bool| {
        if optional { Schema::optional_of(SchemaType::String) } else { Schema::of(SchemaType::String) }
    };
    SchemaBuilder::struct_()
        .name("address")
        .field("address_id", Schema::of(SchemaType::Int32))
        .field("address", s(false))
        .field("address2", s(true))
        .field("district", s(false))
        .field("city_id", Schema::of(SchemaType::Int16))
        .field("postal_code", s(true))
        .field("phone", s(false))
        .field("last_update", SchemaBuilder::timestamp().build())
        .build()
}

fn address_100() -> Value {
    let values = vec![
        Value::Int32(100),
        "1308 Arecibo Way".into(),
        "".into(),
        "Georgia".into(),
        Value::Int16(41),
        "30695".into(),
        "6171054059".into(),
        Value::Timestamp(1139996730000),
    ];
    Value::Struct(Struct::from_values(address_schema(), values).unwrap())
}

#[test]
fn seed_key_is_an_int32_envelope() {
    golden(
        &conv(true),
        &Schema::of(SchemaType::Int32),
        Value::Int32(100),
        r#"{"schema":{"type":"int32","optional":false},"payload":100}"#,
    );
}

#[test]
fn seed_lake_record_is_the_bare_payload() {
    golden(
        &conv(false),
        &address_schema(),
        address_100(),
        r#"{"address_id":100,"address":"1308 Arecibo Way","address2":"","district":"Georgia","city_id":41,"postal_code":"30695","phone":"6171054059","last_update":1139996730000}"#,
    );
}

#[test]
fn seed_value_envelope_matches_kafka() {
    let expected = concat!(
        r#"{"schema":{"type":"struct","fields":["#,
        r#"{"type":"int32","optional":false,"field":"address_id"},"#,
        r#"{"type":"string","optional":false,"field":"address"},"#,
        r#"{"type":"string","optional":true,"field":"address2"},"#,
        r#"{"type":"string","optional":false,"field":"district"},"#,
        r#"{"type":"int16","optional":false,"field":"city_id"},"#,
        r#"{"type":"string","optional":true,"field":"postal_code"},"#,
        r#"{"type":"string","optional":false,"field":"phone"},"#,
        r#"{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"last_update"}"#,
        r#"],"optional":false,"name":"address"},"payload":"#,
        r#"{"address_id":100,"address":"1308 Arecibo Way","address2":"","district":"Georgia","city_id":41,"postal_code":"30695","phone":"6171054059","last_update":1139996730000}}"#
    );
    golden(&conv(true), &address_schema(), address_100(), expected);
}

#[test]
fn primitives_match_kafka() {
    let c = conv(true);
    let env = |schema: &str, payload: &str| {
        format!(r#"{{"schema":{{"type":"{schema}","optional":false}},"payload":{payload}}}"#)
    };
    golden(&c, &Schema::of(SchemaType::Boolean), Value::Boolean(true), &env("boolean", "true"));
    golden(&c, &Schema::of(SchemaType::Int8), Value::Int8(12), &env("int8", "12"));
    golden(&c, &Schema::of(SchemaType::Int16), Value::Int16(-12), &env("int16", "-12"));
    golden(&c, &Schema::of(SchemaType::Int64), Value::Int64(4398046511104), &env("int64", "4398046511104"));
    golden(&c, &Schema::of(SchemaType::Float32), Value::Float32(12.34), &env("float", "12.34"));
    golden(&c, &Schema::of(SchemaType::Float64), Value::Float64(12.34), &env("double", "12.34"));
    golden(&c, &Schema::of(SchemaType::Float64), Value::Float64(1e20), &env("double", "1.0E20"));
    golden(&c, &Schema::of(SchemaType::String), "foo-bar-baz".into(), &env("string", r#""foo-bar-baz""#));
    golden(
        &c,
        &Schema::of(SchemaType::Bytes),
        Value::Bytes(b"test-string".to_vec()),
        &env("bytes", r#""dGVzdC1zdHJpbmc=""#),
    );
}

#[test]
fn logical_types_match_kafka() {
    let c = conv(true);
    // JsonConverterTest.decimalToJson: 1.56 at scale 2 is "AJw=".
    golden(
        &c,
        &SchemaBuilder::decimal(2).build(),
        Value::Decimal(Decimal::from_i128(156, 2)),
        r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":"AJw="}"#,
    );
    golden(
        &c,
        &SchemaBuilder::date().build(),
        Value::Date(10000),
        r#"{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1},"payload":10000}"#,
    );
    golden(
        &c,
        &SchemaBuilder::time().build(),
        Value::Time(14400000),
        r#"{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Time","version":1},"payload":14400000}"#,
    );
    golden(
        &c,
        &SchemaBuilder::timestamp().build(),
        Value::Timestamp(4000000001),
        r#"{"schema":{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1},"payload":4000000001}"#,
    );
}

#[test]
fn numeric_decimals_are_json_numbers() {
    let c = JsonConverter::new(JsonConverterConfig {
        decimal_format: DecimalFormat::Numeric,
        ..Default::default()
    });
    let schema = SchemaBuilder::decimal(2).parameter("connect.decimal.precision", "5").build();
    golden(
        &c,
        &schema,
        Value::Decimal(Decimal::from_i128(-156, 2)),
        r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"5"}},"payload":-1.56}"#,
    );
    // A numeric reader also accepts base64 and vice versa (Kafka's toConnect takes both).
    let b64 = r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":"AJw="}"#;
    assert_eq!(c.to_connect(Some(b64.as_bytes())).unwrap().value, Value::Decimal(Decimal::from_i128(156, 2)));
    let num = b64.replace(r#""AJw=""#, "1.5");
    assert_eq!(
        conv(true).to_connect(Some(num.as_bytes())).unwrap().value,
        Value::Decimal(Decimal::from_i128(150, 2))
    );
    // A wrong scale is Kafka's "mismatching scale" error.
    assert!(
        c.to_bytes(Some(&schema), &Value::Decimal(Decimal::from_i128(1, 3)))
            .unwrap_err()
            .to_string()
            .contains("scale")
    );
}

#[test]
fn nested_structures_round_trip() {
    let inner = SchemaBuilder::struct_().field("x", Schema::of(SchemaType::Float64)).optional().build();
    let schema = SchemaBuilder::struct_()
        .field("tags", SchemaBuilder::array(Schema::optional_of(SchemaType::String)).build())
        .field(
            "by_name",
            SchemaBuilder::map(Schema::of(SchemaType::String), Schema::of(SchemaType::Int32)).build(),
        )
        .field("by_id", SchemaBuilder::map(Schema::of(SchemaType::Int32), inner.clone()).build())
        .field("inner", inner.clone())
        .field("when", SchemaBuilder::date().optional().build())
        .build();
    let point = |x| Value::Struct(Struct::from_values(inner.clone(), vec![Value::Float64(x)]).unwrap());
    let value = Value::Struct(
        Struct::from_values(
            schema.clone(),
            vec![
                Value::Array(vec!["a".into(), Value::Null]),
                Value::Map(vec![("z".into(), Value::Int32(1)), ("a".into(), Value::Int32(2))]),
                Value::Map(vec![(Value::Int32(7), point(0.5)), (Value::Int32(8), Value::Null)]),
                Value::Null,
                Value::Null,
            ],
        )
        .unwrap(),
    );
    let c = conv(false);
    golden(
        &c,
        &schema,
        value.clone(),
        r#"{"tags":["a",null],"by_name":{"z":1,"a":2},"by_id":[[7,{"x":0.5}],[8,null]],"inner":null,"when":null}"#,
    );
    let envelope = json(&conv(true), Some(&schema), &value);
    let back = conv(true).to_connect(Some(envelope.as_bytes())).unwrap();
    assert_eq!(back, SchemaAndValue::new(schema, value));
}

#[test]
fn nulls_follow_kafka() {
    let c = conv(true);
    // No schema and null: no bytes at all (a null key, a tombstone).
    assert_eq!(c.to_bytes(None, &Value::Null).unwrap(), None);
    assert_eq!(conv(false).to_bytes(None, &Value::Null).unwrap(), None);
    assert_eq!(c.to_connect(None).unwrap(), SchemaAndValue::NULL);
    // An optional schema with a null value keeps its envelope.
    let opt = Schema::optional_of(SchemaType::Int32);
    assert_eq!(
        json(&c, Some(&opt), &Value::Null),
        r#"{"schema":{"type":"int32","optional":true},"payload":null}"#
    );
    assert_eq!(json(&conv(false), Some(&opt), &Value::Null), "null");
    // A required one fails, as Kafka's DataException.
    let err = c.to_bytes(Some(&Schema::of(SchemaType::Int32)), &Value::Null).unwrap_err();
    assert!(err.to_string().contains("null value for field that is required"));
    // Kafka's {"schema":null,"payload":null} reads back as null.
    assert_eq!(c.to_connect(Some(br#"{"schema":null,"payload":null}"#)).unwrap(), SchemaAndValue::NULL);
    // Schemaless data in an envelope.
    assert_eq!(json(&c, None, &Value::Boolean(true)), r#"{"schema":null,"payload":true}"#);
}

#[test]
fn defaults_replace_nulls_unless_disabled() {
    let schema = SchemaBuilder::struct_()
        .field("n", SchemaBuilder::new(SchemaType::Int32).optional().default_value(Value::Int32(42)).build())
        .build();
    let value = Value::Struct(Struct::new(schema.clone()));
    assert_eq!(
        json(&conv(true), Some(&schema), &value),
        r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":true,"default":42,"field":"n"}],"optional":false},"payload":{"n":42}}"#
    );
    let keep = JsonConverter::new(JsonConverterConfig {
        schemas_enable: false,
        replace_null_with_default: false,
        ..Default::default()
    });
    assert_eq!(json(&keep, Some(&schema), &value), r#"{"n":null}"#);
    // Reading: a null or missing field takes the default.
    let text = r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":true,"default":42,"field":"n"}],"optional":false},"payload":{}}"#;
    let read = conv(true).to_connect(Some(text.as_bytes())).unwrap();
    assert_eq!(read.value.as_struct().unwrap().get("n"), Some(&Value::Int32(42)));
}

#[test]
fn schemaless_json_reads_as_kafka_does() {
    let c = conv(false);
    let v = c.to_connect(Some(br#" {"a":1,"b":[1.5,"x",true,null],"c":{"d":-2}} "#)).unwrap();
    assert_eq!(v.schema, None);
    assert_eq!(
        v.value,
        Value::Map(vec![
            ("a".into(), Value::Int64(1)),
            (
                "b".into(),
                Value::Array(vec![Value::Float64(1.5), "x".into(), Value::Boolean(true), Value::Null])
            ),
            ("c".into(), Value::Map(vec![("d".into(), Value::Int64(-2))])),
        ])
    );
    assert_eq!(c.to_connect(Some(b"true")).unwrap(), SchemaAndValue::schemaless(Value::Boolean(true)));
    assert_eq!(c.to_connect(Some(b"")).unwrap(), SchemaAndValue::NULL);
    // Maps with non-string keys are written as pairs, string keys as objects.
    let pairs = Value::Map(vec![(Value::Int32(1), "a".into())]);
    assert_eq!(json(&c, None, &pairs), r#"[[1,"a"]]"#);
    // Structs and logical values need a schema (Kafka fails them too).
    assert!(c.to_bytes(None, &address_100()).is_err());
    assert!(c.to_bytes(None, &Value::Date(1)).is_err());
}

#[test]
fn envelopes_are_checked() {
    let c = conv(true);
    let err = |text: &str| c.to_connect(Some(text.as_bytes())).unwrap_err().to_string();
    assert!(err("true").contains("requires \"schema\" and \"payload\""));
    assert!(err(r#"{"schema":null}"#).contains("requires"));
    assert!(err(r#"{"schema":null,"payload":1,"extra":2}"#).contains("requires"));
    assert!(
        err(r#"{"schema":{"type":"int32","optional":false},"payload":null}"#)
            .contains("Invalid null value for required INT32")
    );
    assert!(err(r#"{"schema":{"type":"int32","optional":false},"payload":1} x"#).contains("after"));
    // Payload before schema is read too.
    let v = c.to_connect(Some(br#"{"payload":"AQI=","schema":{"type":"bytes","optional":false}}"#)).unwrap();
    assert_eq!(v.value, Value::Bytes(vec![1, 2]));
    // Unknown struct fields are ignored, as Kafka ignores them.
    let v = c
        .to_connect(Some(br#"{"schema":{"type":"struct","fields":[{"type":"int8","optional":false,"field":"a"}],"optional":false},"payload":{"zz":[{"q":"\""}],"a":3}}"#))
        .unwrap();
    assert_eq!(v.value.as_struct().unwrap().get("a"), Some(&Value::Int8(3)));
}

#[test]
fn strings_with_escapes_round_trip() {
    let c = conv(true);
    let s = "quote\" backslash\\ newline\n tab\t ctl\u{1} unicode é 😀";
    golden(
        &c,
        &Schema::of(SchemaType::String),
        s.into(),
        "{\"schema\":{\"type\":\"string\",\"optional\":false},\"payload\":\"quote\\\" backslash\\\\ newline\\n tab\\t ctl\\u0001 unicode é 😀\"}",
    );
    let escaped = c.to_connect(Some(br#"{"schema":null,"payload":"\u00e9\ud83d\ude00\/"}"#)).unwrap();
    assert_eq!(escaped.value, Value::from("é😀/"));
}

#[test]
fn schema_cache_returns_equal_schemas() {
    let c = conv(true);
    let text = json(&c, Some(&address_schema()), &address_100());
    let a = c.to_connect(Some(text.as_bytes())).unwrap();
    let b = c.to_connect(Some(text.as_bytes())).unwrap();
    assert!(a.schema.as_ref().unwrap().ptr_eq(b.schema.as_ref().unwrap()), "second read hits the cache");
    // Writing with the read schema gives identical bytes.
    assert_eq!(json(&c, a.schema.as_ref(), &a.value), text);
}

#[test]
fn a_repeated_schema_is_compared_not_scanned_and_reads_the_same() {
    let c = conv(true);
    let schema =
        r#"{"type":"struct","fields":[{"type":"int8","optional":false,"field":"a"}],"optional":false}"#;
    let doc = |payload: &str| format!(r#"{{"schema":{schema},"payload":{payload}}}"#);
    let first = c.to_connect(Some(doc(r#"{"a":1}"#).as_bytes())).unwrap();
    let second = c.to_connect(Some(doc(r#"{"a":2}"#).as_bytes())).unwrap();
    assert!(first.schema.as_ref().unwrap().ptr_eq(second.schema.as_ref().unwrap()));
    assert_eq!(second.value.as_struct().unwrap().get("a"), Some(&Value::Int8(2)));
    // Whitespace after the payload is fine; anything else after the envelope,
    // another key, or a bad payload gets the general path's error.
    let spaced = c.to_connect(Some(format!("{} \n", doc(r#"{"a":3}"#)).as_bytes())).unwrap();
    assert_eq!(spaced.value.as_struct().unwrap().get("a"), Some(&Value::Int8(3)));
    let err = |text: String| c.to_connect(Some(text.as_bytes())).unwrap_err().to_string();
    assert!(err(format!("{} x", doc(r#"{"a":3}"#))).contains("after"));
    assert!(err(format!(r#"{{"schema":{schema},"payload":{{"a":3}},"extra":1}}"#)).contains("requires"));
    assert!(err(doc(r#"{"a":"x"}"#)).contains("field a"), "{}", err(doc(r#"{"a":"x"}"#)));
    assert!(err(doc("{\"a\":1").to_string()).contains("expected"));
    // A schema that only starts like the last one is read in full.
    let longer =
        r#"{"type":"struct","fields":[{"type":"int8","optional":false,"field":"a"}],"optional":true}"#;
    let other = c.to_connect(Some(format!(r#"{{"schema":{longer},"payload":null}}"#).as_bytes())).unwrap();
    assert!(other.schema.unwrap().is_optional());
    assert_eq!(other.value, Value::Null);
}

#[test]
fn from_settings_maps_converter_config() {
    let s = ConverterSettings::Json {
        schemas_enable: false,
        decimal_format: DecimalFormat::Numeric,
        replace_null_with_default: false,
    };
    let c = JsonConverter::from_settings(&s).unwrap();
    assert_eq!(
        c.config(),
        JsonConverterConfig {
            schemas_enable: false,
            decimal_format: DecimalFormat::Numeric,
            replace_null_with_default: false
        }
    );
    assert!(JsonConverter::from_settings(&ConverterSettings::String).is_none());
}

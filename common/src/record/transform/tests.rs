//! The engine over whole chains, starting with the seed demo's.

use super::*;
use crate::connect::{Predicate, PredicateSpec, build_spec, parse_connector_json};
use crate::record::{JsonConverter, JsonConverterConfig, SchemaType};

macro_rules! seed {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/seed/connectors/", $path))
    };
}

fn seed_chain(text: &str) -> Vec<TransformSpec> {
    build_spec(&parse_connector_json(text).unwrap().config).unwrap().transforms
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

fn address_record(topic: &str) -> Record {
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
    let value = Struct::from_values(address_schema(), values).unwrap();
    Record::new(topic, SchemaAndValue::new(address_schema(), Value::Struct(value)))
}

fn json(data: &SchemaAndValue) -> String {
    let converter = JsonConverter::new(JsonConverterConfig::default());
    String::from_utf8(converter.to_bytes(data.schema.as_ref(), &data.value).unwrap().unwrap()).unwrap()
}

#[test]
fn seed_source_01_keys_by_address_id_and_tags_the_value() {
    let chain = seed_chain(seed!("jdbc_source_connector_postgresql_01.json"));
    let aliases: Vec<_> = chain.iter().map(|t| t.alias.as_str()).collect();
    assert_eq!(aliases, ["createKey", "extractInt", "InsertTopic", "InsertSourceDetails"]);
    let out = apply_chain(&chain, address_record("pagila.public.alt.address")).unwrap().unwrap();
    assert_eq!(json(&out.key), r#"{"schema":{"type":"int32","optional":false},"payload":100}"#);
    let value = json(&out.value);
    assert!(
        value.ends_with(
            r#""phone":"6171054059","last_update":1139996730000,"message_topic":"pagila.public.alt.address","message_source":"pagila"}}"#
        ),
        "{value}"
    );
    assert!(
        value.contains(
            r#"{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"last_update"},{"type":"string","optional":true,"field":"message_topic"},{"type":"string","optional":true,"field":"message_source"}],"optional":false,"name":"address"}"#
        ),
        "{value}"
    );
}

#[test]
fn seed_sink_02_renames_district_and_adds_three_static_fields() {
    let chain = seed_chain(seed!("s3_sink_connector_02.json"));
    assert_eq!(chain.len(), 4);
    let mut record = address_record("pagila.query");
    record.offset = Some(7);
    let mut chain = TransformChain::new(&chain).unwrap();
    let out = chain.apply(record.clone()).unwrap().unwrap();
    let schema = out.value.schema.clone().unwrap();
    let names: Vec<_> = schema.fields().iter().map(|f| f.name()).collect();
    assert_eq!(
        names,
        [
            "address_id",
            "address",
            "address2",
            "state_province",
            "city_id",
            "postal_code",
            "phone",
            "last_update",
            "message_source",
            "message_source_engine",
            "environment",
        ]
    );
    let v = out.value.value.as_struct().unwrap();
    assert_eq!(v.get("state_province"), Some(&Value::from("Georgia")));
    assert_eq!(v.get("message_source_engine"), Some(&Value::from("postgresql")));
    assert_eq!(v.get("environment"), Some(&Value::from("development")));
    let value = json(&out.value);
    assert!(
        value.ends_with(
            r#""message_source":"pagila","message_source_engine":"postgresql","environment":"development"}}"#
        ),
        "{value}"
    );
    // The second record of the same schema reuses every derived schema.
    let again = chain.apply(record).unwrap().unwrap();
    assert!(again.value.schema.unwrap().ptr_eq(&schema));
}

fn step(alias: &str, transform: Transform, predicate: Option<Predicate>, negate: bool) -> TransformSpec {
    TransformSpec {
        alias: alias.into(),
        transform,
        predicate: predicate.map(|predicate| PredicateSpec { alias: format!("{alias}-p"), predicate }),
        negate,
    }
}

#[test]
fn filter_with_predicates_and_negate() {
    let drop_tombstones = [step("drop", Transform::Filter, Some(Predicate::RecordIsTombstone), false)];
    assert_eq!(apply_chain(&drop_tombstones, Record::new("t", SchemaAndValue::NULL)).unwrap(), None);
    let live = address_record("t");
    assert_eq!(apply_chain(&drop_tombstones, live.clone()).unwrap(), Some(live.clone()));

    let keep_only_address = [step(
        "keep",
        Transform::Filter,
        Some(Predicate::TopicNameMatches { pattern: ".*\\.address".into() }),
        true,
    )];
    assert_eq!(
        apply_chain(&keep_only_address, address_record("x.address")).unwrap().map(|r| r.topic),
        Some("x.address".into())
    );
    assert_eq!(apply_chain(&keep_only_address, address_record("x.address_old")).unwrap(), None);
    assert_eq!(apply_chain(&[step("all", Transform::Filter, None, false)], live).unwrap(), None);
}

#[test]
fn a_skipped_step_leaves_the_record_and_errors_name_the_alias() {
    let to_key = Transform::ValueToKey { fields: vec!["address_id".into()], replace_null_with_default: true };
    let chain = [
        // Not for tombstones: ValueToKey fails on a null value, as in Kafka.
        step("createKey", to_key, Some(Predicate::RecordIsTombstone), true),
    ];
    let tombstone = Record::new("t", SchemaAndValue::NULL);
    assert_eq!(apply_chain(&chain, tombstone.clone()).unwrap(), Some(tombstone.clone()));
    let unguarded = [step("createKey", chain[0].transform.clone(), None, false)];
    let err = apply_chain(&unguarded, tombstone).unwrap_err();
    assert!(matches!(&err, TransformError::Data { alias, .. } if alias == "createKey"), "{err}");
    let bad_regex =
        [step("f", Transform::Filter, Some(Predicate::TopicNameMatches { pattern: "(".into() }), false)];
    assert!(matches!(TransformChain::new(&bad_regex), Err(TransformError::Config { .. })));
}

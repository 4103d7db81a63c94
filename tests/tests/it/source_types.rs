//! Every common PostgreSQL type, and NULL in each, into Kafka Connect's
//! JSON converter format.

use std::time::Duration;

use serde_json::{Value, json};

use crate::source_support::{SourceTest, TopicReader};

const COLUMNS: &str = "id int PRIMARY KEY,
    c_smallint smallint, c_integer integer, c_bigint bigint,
    c_numeric numeric(10,2), c_numeric_free numeric, c_real real, c_double double precision,
    c_boolean boolean, c_text text, c_varchar varchar(10), c_char char(3),
    c_date date, c_time time, c_timestamp timestamp, c_timestamptz timestamptz,
    c_interval interval, c_uuid uuid, c_json json, c_jsonb jsonb, c_bytea bytea,
    c_enum {s}.mood, c_int_array int[], c_text_array text[], c_numeric_array numeric(6,3)[]";

const VALUES: &str =
    "1, -2, 3, 9007199254740993, 12345.67, 0.000123, 1.5, 2.25, true, 'text ü \"q\"', 'vc', 'ab',
    '2024-02-29', '13:14:15.5', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123+02',
    '1 year 2 mons 3 days 04:05:06.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}',
    '{\"b\": 1, \"a\": 2}', '\\xdeadbeef', 'happy', '{1,NULL,3}', '{x,y}', '{1.5,-2}'";

fn field<'a>(schema: &'a Value, name: &str) -> &'a Value {
    schema["fields"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["field"] == json!(name)))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn source_types_round_trip_into_connect_json() {
    let mut t = SourceTest::new("source_types").await;
    let s = t.schema.clone();
    t.pg.batch_execute(&format!(
        "CREATE TYPE {s}.mood AS ENUM ('sad', 'happy');
         CREATE TABLE {s}.types ({});
         INSERT INTO {s}.types VALUES ({VALUES});
         INSERT INTO {s}.types (id) VALUES (2);",
        COLUMNS.replace("{s}", &s)
    ))
    .await
    .expect("types table");
    let expected =
        t.pg.query_one(
            &format!(
                "SELECT floor(extract(epoch FROM c_timestamp AT TIME ZONE 'UTC') * 1000)::int8,
                        floor(extract(epoch FROM c_timestamptz) * 1000)::int8,
                        c_date - date '1970-01-01', c_interval::text, c_jsonb::text
                 FROM {s}.types WHERE id = 1"
            ),
            &[],
        )
        .await
        .expect("expected values");
    let (ts, tstz, date, interval, jsonb): (i64, i64, i32, String, String) =
        (expected.get(0), expected.get(1), expected.get(2), expected.get(3), expected.get(4));

    for (name, mapping, zone) in
        [("exact", "none", "UTC"), ("fit", "best_fit", "UTC"), ("paris", "none", "Europe/Paris")]
    {
        let prefix = t.prefix(name);
        let config = t.config(&[
            ("mode", "incrementing"),
            ("incrementing.column.name", "id"),
            ("table.whitelist", "types"),
            ("topic.prefix", &prefix),
            ("numeric.mapping", mapping),
            ("db.timezone", zone),
            ("poll.interval.ms", "500"),
        ]);
        t.put(name, &config).await;
    }
    t.start_worker();
    let bootstrap = t.scope.env().kafka_bootstrap().to_owned();
    let read = |name: &str| TopicReader::new(&bootstrap, &format!("{}types", t.prefix(name)), true);
    let exact = read("exact").read_at_least(2, Duration::from_secs(60)).await.values();
    let (schema, full, nulls) = (&exact[0]["schema"], &exact[0]["payload"], &exact[1]["payload"]);

    assert_eq!(
        full,
        &json!({
            "id": 1, "c_smallint": -2, "c_integer": 3, "c_bigint": 9007199254740993i64,
            "c_numeric": "EtaH", "c_numeric_free": "0.000123", "c_real": 1.5, "c_double": 2.25,
            "c_boolean": true, "c_text": "text ü \"q\"", "c_varchar": "vc", "c_char": "ab ",
            "c_date": date, "c_time": 47_655_500, "c_timestamp": ts, "c_timestamptz": tstz,
            "c_interval": interval, "c_uuid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "c_json": "{\"a\": [1, 2]}", "c_jsonb": jsonb, "c_bytea": "3q2+7w==", "c_enum": "happy",
            "c_int_array": [1, null, 3], "c_text_array": ["x", "y"], "c_numeric_array": ["Bdw=", "+DA="]
        })
    );
    assert_eq!(ts % 1000, 123, "milliseconds of a microsecond timestamp");
    assert_eq!(interval, "1 year 2 mons 3 days 04:05:06.5");
    for (name, value) in nulls.as_object().expect("payload") {
        if name != "id" {
            assert_eq!(value, &Value::Null, "{name} is null");
        }
    }
    assert_eq!(schema["name"], json!("types"));
    assert_eq!(field(schema, "id"), &json!({"type": "int32", "optional": false, "field": "id"}));
    assert_eq!(
        field(schema, "c_smallint"),
        &json!({"type": "int16", "optional": true, "field": "c_smallint"})
    );
    assert_eq!(
        field(schema, "c_numeric"),
        &json!({"type": "bytes", "optional": true, "name": "org.apache.kafka.connect.data.Decimal", "version": 1,
                "parameters": {"scale": "2", "connect.decimal.precision": "10"}, "field": "c_numeric"})
    );
    assert_eq!(
        field(schema, "c_timestamptz"),
        &json!({"type": "int64", "optional": true, "name": "org.apache.kafka.connect.data.Timestamp", "version": 1, "field": "c_timestamptz"})
    );
    assert_eq!(field(schema, "c_date")["name"], json!("org.apache.kafka.connect.data.Date"));
    assert_eq!(field(schema, "c_time")["name"], json!("org.apache.kafka.connect.data.Time"));
    assert_eq!(field(schema, "c_uuid")["type"], json!("string"));
    assert_eq!(field(schema, "c_bytea")["type"], json!("bytes"));
    assert_eq!(
        field(schema, "c_int_array"),
        &json!({"type": "array", "items": {"type": "int32", "optional": true}, "optional": true, "field": "c_int_array"})
    );

    // best_fit: numeric(10,2) becomes a double, as Kafka Connect does it.
    let fit = read("fit").read_at_least(2, Duration::from_secs(60)).await.values();
    assert_eq!(fit[0]["payload"]["c_numeric"], json!(12345.67));
    assert_eq!(
        field(&fit[0]["schema"], "c_numeric"),
        &json!({"type": "double", "optional": true, "field": "c_numeric"})
    );

    // db.timezone: a timestamp without time zone is wall-clock time there
    // (UTC+1 in February); an instant stays the same instant.
    let paris = read("paris").read_at_least(2, Duration::from_secs(60)).await.values();
    assert_eq!(paris[0]["payload"]["c_timestamp"], json!(ts - 3_600_000));
    assert_eq!(paris[0]["payload"]["c_timestamptz"], json!(tstz));
    assert_eq!(paris[0]["payload"]["c_date"], json!(date));
    t.kill_worker();
    t.finish().await;
}

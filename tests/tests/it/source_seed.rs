//! The seed demo's three JDBC sources, unchanged but for the connection URL
//! (the test's copy of Pagila's tables) and a test-unique topic prefix in
//! front of theirs: topics, counts, keys, added fields, and new versions
//! after `dml.sql`.

use std::time::{Duration, Instant};

use futures::SinkExt;

use hydrate_tests::env::shared_file;
use serde_json::{Value, json};

use crate::source_support::{SourceTest, TopicReader};

/// Pagila's rows of `table` as shipped: the text of its `COPY ... FROM
/// stdin` block in the dataset (not the stack's `public` tables, which the
/// demo's `dml.sql` changes) and the column list.
fn shipped_rows(data: &str, table: &str) -> (String, String) {
    let head = format!("COPY public.{table} (");
    let start = data.find(&head).unwrap_or_else(|| panic!("no COPY block for {table} in pagila-data.sql"));
    let line_end = start + data[start..].find('\n').expect("COPY line");
    let columns = data[start + head.len()..line_end].split(')').next().expect("columns").to_owned();
    let body = &data[line_end + 1..];
    let end = body.find("\n\\.\n").expect("end of COPY data");
    (columns, format!("{}\n", &body[..end]))
}

/// Copies Pagila's tables, as shipped, into the test's schema with their
/// own sequences and Pagila's `last_updated` trigger, so `dml.sql` runs
/// against the copy.
async fn copy_pagila(t: &SourceTest) {
    let s = &t.schema;
    let mut sql = String::new();
    for (table, id) in [("country", "country_id"), ("city", "city_id"), ("address", "address_id")] {
        sql.push_str(&format!(
            "CREATE TABLE {s}.{table} (LIKE public.{table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
             CREATE SEQUENCE {s}.{table}_seq;
             ALTER TABLE {s}.{table} ALTER {id} SET DEFAULT nextval('{s}.{table}_seq');
             CREATE TRIGGER last_updated BEFORE UPDATE ON {s}.{table} FOR EACH ROW EXECUTE FUNCTION public.last_updated();"
        ));
    }
    sql.push_str(&format!("CREATE TABLE {s}.customer (LIKE public.customer INCLUDING DEFAULTS);"));
    t.pg.batch_execute(&sql).await.expect("create the pagila copy");
    let data = shared_file("datasets/pagila/pagila-data.sql");
    for table in ["country", "city", "address", "customer"] {
        let (columns, rows) = shipped_rows(&data, table);
        let copy =
            t.pg.copy_in::<_, bytes::Bytes>(&format!("COPY {s}.{table} ({columns}) FROM STDIN"))
                .await
                .expect("copy in");
        futures::pin_mut!(copy);
        copy.send(bytes::Bytes::from(rows)).await.expect("copy rows");
        copy.as_mut().finish().await.unwrap_or_else(|e| panic!("copy {table}: {e}"));
    }
    let mut sequences = String::new();
    for (table, id) in [("country", "country_id"), ("city", "city_id"), ("address", "address_id")] {
        sequences
            .push_str(&format!("SELECT setval('{s}.{table}_seq', (SELECT max({id}) FROM {s}.{table}));"));
    }
    t.pg.batch_execute(&sequences).await.expect("set the sequences");
}

/// The seed config `file` pointed at the test's schema, its topic prefix
/// behind the test's own.
fn seed_config(t: &SourceTest, file: &str) -> Value {
    let text = shared_file(&format!("seed/connectors/{file}.json"));
    let mut config: Value = serde_json::from_str(&text).expect("seed config");
    config["connection.url"] = json!(t.jdbc_url());
    let prefix = config["topic.prefix"].as_str().expect("prefix").to_owned();
    config["topic.prefix"] = json!(format!("test.{}.{prefix}", t.scope.id()));
    config["offsets.storage.topic"] = json!(t.scope.topic("offsets"));
    config
}

/// Reads on until `done` holds for the values read.
async fn read_until(mut reader: TopicReader, what: &str, done: impl Fn(&[Value]) -> bool) -> TopicReader {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !done(&reader.values()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        reader = reader.drain(Duration::from_millis(500)).await;
    }
    reader
}

fn versions<'a>(values: &'a [Value], id_field: &str, id: i64) -> Vec<&'a Value> {
    values.iter().map(|v| &v["payload"]).filter(|p| p[id_field] == json!(id)).collect()
}

#[tokio::test]
async fn source_seed_connectors_produce_what_the_readme_says() {
    let mut t = SourceTest::new("source_seed").await;
    copy_pagila(&t).await;
    let id = t.scope.id().to_owned();
    let names = [format!("seed00-{id}"), format!("seed01-{id}"), format!("seed02-{id}")];
    for (i, name) in names.iter().enumerate() {
        t.put(name, &seed_config(&t, &format!("jdbc_source_connector_postgresql_0{i}"))).await;
    }
    t.start_worker();
    let bootstrap = t.scope.env().kafka_bootstrap().to_owned();
    let reader = |topic: &str| TopicReader::new(&bootstrap, &format!("test.{id}.{topic}"), true);
    let minute = Duration::from_secs(90);

    // Pair #1: prefix + table name, null keys, Connect's JSON with schemas.
    let address = reader("pagila.public.address").read_at_least(603, minute).await;
    let city = reader("pagila.public.city").read_at_least(600, minute).await;
    let country = reader("pagila.public.country").read_at_least(109, minute).await;
    assert_eq!((address.messages.len(), city.messages.len(), country.messages.len()), (603, 600, 109));
    assert!(address.messages.iter().all(|m| m.key.is_none()), "record keys are null");
    let values = address.values();
    assert_eq!(values[0]["schema"]["name"], json!("address"));
    assert_eq!(
        versions(&values, "address_id", 100),
        vec![
            &json!({"address_id":100,"address":"1308 Arecibo Way","address2":"","district":"Georgia","city_id":41,"postal_code":"30695","phone":"6171054059","last_update":1139996730000i64})
        ]
    );

    // Pair #2: keyed by address_id, two added fields.
    let alt_topic = format!("test.{id}.pagila.public.alt.address");
    let alt = reader("pagila.public.alt.address").read_at_least(603, minute).await;
    assert_eq!(alt.messages.len(), 603);
    let keyed = alt
        .messages
        .iter()
        .find(|m| m.value.as_deref().is_some_and(|v| v.contains(r#""address_id":100,"#)))
        .expect("address 100");
    assert_eq!(keyed.key.as_deref(), Some(r#"{"schema":{"type":"int32","optional":false},"payload":100}"#));
    let payload = &alt.values()[0]["payload"];
    assert_eq!(payload["message_topic"], json!(alt_topic));
    assert_eq!(payload["message_source"], json!("pagila"));

    // Pair #3: the query's rows in the topic named by the prefix alone.
    let query = reader("pagila.query").read_at_least(603, minute).await;
    assert_eq!(query.messages.len(), 603);
    let q = query.values();
    let row100 = versions(&q, "address_id", 100)[0];
    assert_eq!(row100["city"], json!("Augusta-Richmond County"), "{row100}");
    assert_eq!(row100["message_topic"], json!(format!("test.{id}.pagila.query")));
    assert!(query.messages.iter().all(|m| m.key.as_deref().is_some_and(|k| k.contains(r#""payload":"#))));

    // dml.sql against the copy, one statement at a time as psql runs it.
    let dml = shared_file("seed/dml.sql").replace("public.", &format!("{}.", t.schema));
    let statements: Vec<String> = dml
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    for statement in &statements {
        t.pg.batch_execute(statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    let address = read_until(address, "address versions after dml.sql", |v| {
        versions(v, "address_id", 102).iter().any(|p| p["district"] == json!("Lake Turkana"))
            && versions(v, "address_id", 101).iter().any(|p| p["address2"] == json!("Apartment #2202"))
            && versions(v, "address_id", 100).len() == 2
    })
    .await;
    let values = address.values();
    assert_eq!(versions(&values, "address_id", 100)[1]["address"], json!("123 CDC Test Lane"));
    let latest_102 = versions(&values, "address_id", 102).last().copied().cloned().unwrap_or_default();
    assert_eq!(latest_102["city_id"], json!(601));
    assert_eq!(versions(&values, "address_id", 104).len(), 1, "a delete is invisible to query-based CDC");
    read_until(country, "Wakanda", |v| {
        versions(v, "country_id", 110).iter().any(|p| p["country"] == json!("Wakanda"))
    })
    .await;
    read_until(city, "Birnin Zana", |v| {
        versions(v, "city_id", 601).iter().any(|p| p["city"] == json!("Birnin Zana"))
    })
    .await;
    read_until(query, "the query's new version of 102", |v| {
        versions(v, "address_id", 102).iter().any(|p| {
            p["city"] == json!("Birnin Zana")
                && p["country"] == json!("Wakanda")
                && p["district"] == json!("Lake Turkana")
        })
    })
    .await;
    t.kill_worker();
    t.finish().await;
}

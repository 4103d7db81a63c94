//! Tests across the module, driven by the seed demo's configurations.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;

macro_rules! seed {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/seed/", $path))
    };
}

const SEEDS: [(&str, &str); 6] = [
    ("source 00", seed!("connectors/jdbc_source_connector_postgresql_00.json")),
    ("source 01", seed!("connectors/jdbc_source_connector_postgresql_01.json")),
    ("source 02", seed!("connectors/jdbc_source_connector_postgresql_02.json")),
    ("sink 00", seed!("connectors/s3_sink_connector_00.json")),
    ("sink 01", seed!("connectors/s3_sink_connector_01.json")),
    ("sink 02", seed!("connectors/s3_sink_connector_02.json")),
];
const BAD: &str = seed!("bad/jdbc_source_connector_postgresql_02.as-printed.json");

fn seed_config(index: usize) -> BTreeMap<String, String> {
    parse_connector_json(SEEDS[index].1).unwrap().config
}

fn with(base: &BTreeMap<String, String>, set: &[(&str, &str)], remove: &[&str]) -> BTreeMap<String, String> {
    let mut config = base.clone();
    for key in remove {
        config.remove(*key);
    }
    for (k, v) in set {
        config.insert(k.to_string(), v.to_string());
    }
    config
}

/// The problems of `key`, asserting there is at least one.
fn errors_of(config: &BTreeMap<String, String>, key: &str) -> String {
    let validation = validate(config);
    let errors = validation.config(key).map(|c| c.errors.join(" | ")).unwrap_or_default();
    assert!(!errors.is_empty(), "expected an error on {key}; got:\n{validation}");
    errors
}

fn source() -> BTreeMap<String, String> {
    seed_config(0)
}

fn sink() -> BTreeMap<String, String> {
    seed_config(3)
}

#[test]
fn the_six_seed_configs_are_valid() {
    for (name, text) in SEEDS {
        let input = parse_connector_json(text).unwrap();
        let validation = validate(&input.config);
        assert_eq!(validation.error_count(), 0, "{name}:\n{validation}");
        assert_eq!(validation.to_string(), "valid");
        build_spec(&input.config).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn seed_sink_reports_its_runtime_only_keys_as_ignored() {
    let validation = validate(&sink());
    assert_eq!(validation.ignored_keys(), vec!["storage.class", "table.name.format"]);
    assert_eq!(build_spec(&sink()).unwrap().ignored_keys, vec!["storage.class", "table.name.format"]);
}

#[test]
fn the_printed_source_fails_on_both_problems() {
    let err = parse_connector_json(BAD).unwrap_err();
    assert!(err.to_string().contains("trailing comma"), "{err}");
    let fixed = BAD.replace("$Value\",\n}", "$Value\"\n}");
    let config = parse_connector_json(&fixed).unwrap().config;
    let validation = validate(&config);
    let errors = errors_of(&config, "transforms.InsertSourceDetails");
    for needle in ["InsertSourceDetails", "InsertField$Value", "topic.field", "static.field"] {
        assert!(errors.contains(needle), "{needle}: {errors}");
    }
    assert!(validation.to_string().starts_with("transforms.InsertSourceDetails: "), "{validation}");
    assert!(matches!(build_spec(&config), Err(ConnectError::Invalid(_))));
}

#[test]
fn no_secret_in_any_output() {
    for (name, text) in SEEDS {
        let mut config = parse_connector_json(text).unwrap().config;
        let validation = validate(&config);
        let shown = format!("{validation} {validation:?} {:?}", redact(&config));
        assert!(!shown.contains("hydrate-secret"), "{name}");
        if let Ok(spec) = build_spec(&config) {
            assert!(!format!("{spec:?}").contains("hydrate-secret"), "{name}");
        }
        // Errors on secret keys do not echo them either.
        config.insert("s3.proxy.password".into(), "hydrate-secret".into());
        config.insert("foo.password".into(), "hydrate-secret".into());
        config.insert("value.converter.basic.auth.user.info".into(), "u:hydrate-secret".into());
        let validation = validate(&config);
        let shown = format!("{validation} {validation:?}");
        assert!(!shown.contains("hydrate-secret"), "{name}: {shown}");
        assert!(validation.error_count() >= 2, "{name}");
    }
    let url =
        with(&source(), &[("connection.url", "postgres://hydrate:hydrate-secret@127.0.0.1/pagila")], &[]);
    let spec = build_spec(&url).unwrap();
    assert!(!format!("{spec:?} {}", validate(&url)).contains("hydrate-secret"));
    assert!(!format!("{:?}", validate(&url)).contains("hydrate-secret"));
}

#[test]
fn typed_seed_sources() {
    let spec = build_spec(&source()).unwrap();
    assert_eq!(spec.kind, ConnectorKind::Source);
    assert_eq!(spec.tasks_max, 1);
    assert_eq!(
        spec.value_converter,
        ConverterSettings::Json {
            schemas_enable: true,
            decimal_format: DecimalFormat::Base64,
            replace_null_with_default: true,
        }
    );
    let ConnectorConfig::JdbcSource(jdbc) = &spec.connector else { panic!("not a source") };
    assert_eq!(jdbc.connection.url.database.as_deref(), Some("pagila"));
    assert_eq!(jdbc.connection.user.as_deref(), Some("hydrate"));
    assert_eq!(jdbc.connection.password.as_ref().map(Secret::expose), Some("hydrate-secret"));
    assert_eq!(jdbc.poll_interval, Duration::from_secs(5));
    assert_eq!(jdbc.topic_prefix, "pagila.public.");
    assert_eq!(jdbc.mode, LoadMode::Timestamp { columns: vec!["last_update".into()] });
    assert_eq!(jdbc.numeric_mapping, NumericMapping::None);
    let RowSource::Tables { include, .. } = &jdbc.source else { panic!("not tables") };
    assert_eq!(include, &["address", "city", "country"]);

    let spec = build_spec(&seed_config(1)).unwrap();
    let aliases: Vec<_> = spec.transforms.iter().map(|t| t.alias.as_str()).collect();
    assert_eq!(aliases, ["createKey", "extractInt", "InsertTopic", "InsertSourceDetails"]);
    assert_eq!(
        spec.transforms[0].transform,
        Transform::ValueToKey { fields: vec!["address_id".into()], replace_null_with_default: true }
    );
    assert!(
        matches!(&spec.transforms[1].transform, Transform::ExtractField { side: Side::Key, field, .. } if field == "address_id")
    );
    assert!(matches!(&spec.transforms[3].transform,
        Transform::InsertField { side: Side::Value, static_field: Some((f, v)), topic_field: None, .. }
        if f.name == "message_source" && v == "pagila"));

    let spec = build_spec(&seed_config(2)).unwrap();
    let ConnectorConfig::JdbcSource(jdbc) = &spec.connector else { panic!("not a source") };
    assert!(
        matches!(&jdbc.source, RowSource::Query { sql } if sql.starts_with("SELECT * FROM (SELECT a.address_id"))
    );
    assert_eq!(jdbc.topic_prefix, "pagila.query");
    assert!(!jdbc.validate_non_null);
}

#[test]
fn typed_seed_sinks() {
    let spec = build_spec(&sink()).unwrap();
    let ConnectorConfig::S3Sink(s3) = &spec.connector else { panic!("not a sink") };
    assert_eq!(s3.topics, TopicSelection::Regex("pagila.public.(.*)".into()));
    assert_eq!(s3.flush_size, 100);
    assert_eq!(s3.rotate_schedule_interval, Some(Duration::from_secs(60)));
    assert_eq!(s3.rotate_interval, None);
    assert_eq!(s3.format, Format::Json { gzip: None });
    assert_eq!(s3.partitioner, Partitioner::Default);
    assert_eq!(
        (s3.bucket.as_str(), s3.region.as_str(), s3.topics_dir.as_str()),
        ("pagila-lake", "us-east-1", "topics")
    );
    assert_eq!(s3.part_size, 5_242_880);
    assert_eq!(s3.offset_zero_pad_width, 10);

    let spec = build_spec(&seed_config(5)).unwrap();
    let ConnectorConfig::S3Sink(s3) = &spec.connector else { panic!("not a sink") };
    assert_eq!(s3.format, Format::Parquet { codec: ParquetCodec::Gzip });
    assert_eq!(s3.partitioner, Partitioner::Field { fields: vec!["country".into()] });
    assert!(!s3.partition_field_in_file);
    assert_eq!(s3.topics, TopicSelection::List(vec!["pagila.query".into()]));
    assert_eq!(spec.transforms.len(), 4);
    assert_eq!(spec.transforms[1].alias, "insertStaticField1");
    assert!(matches!(&spec.transforms[0].transform,
        Transform::ReplaceField { renames, .. } if renames == &[("district".to_owned(), "state_province".to_owned())]));
}

#[test]
fn connector_class_selects_the_plugin() {
    let errors = errors_of(&with(&source(), &[], &["connector.class"]), "connector.class");
    assert!(errors.contains("missing") && errors.contains(plugins::s3_sink::CLASS), "{errors}");
    let errors =
        errors_of(&with(&source(), &[("connector.class", "io.debezium.Foo")], &[]), "connector.class");
    assert!(errors.contains("io.debezium.Foo") && errors.contains(plugins::jdbc_source::CLASS), "{errors}");
    let short = with(&source(), &[("connector.class", "JdbcSourceConnector")], &[]);
    assert_eq!(build_spec(&short).unwrap().class_name, plugins::jdbc_source::CLASS);
    let short = with(&sink(), &[("connector.class", "S3SinkConnector")], &[]);
    assert!(validate(&short).is_valid());
}

#[test]
fn per_key_types_ranges_and_unknown_keys() {
    let errors = errors_of(&with(&source(), &[("poll.interval.ms", "abc")], &[]), "poll.interval.ms");
    assert!(errors.contains("INT") && errors.contains("abc"), "{errors}");
    let errors = errors_of(&with(&source(), &[("poll.interval.msec", "100")], &[]), "poll.interval.msec");
    assert!(errors.contains("did you mean `poll.interval.ms`?"), "{errors}");
    let errors = errors_of(&with(&source(), &[("mode", "timestmp")], &[]), "mode");
    assert!(errors.contains("bulk, timestamp"), "{errors}");
    let errors = errors_of(&with(&source(), &[("tasks.max", "0")], &[]), "tasks.max");
    assert!(errors.contains("at least 1"), "{errors}");
    let errors = errors_of(&with(&source(), &[("flush.size", "3")], &[]), "flush.size");
    assert!(errors.contains("S3SinkConnector"), "{errors}");
    let errors = errors_of(&with(&source(), &[("name", "bad name")], &[]), "name");
    assert!(errors.contains("' '"), "{errors}");
    assert!(validate(&with(&source(), &[("producer.override.linger.ms", "5")], &[])).is_valid());
    assert!(validate(&with(&source(), &[("topic.creation.default.partitions", "1")], &[])).is_valid());
    let errors = errors_of(
        &with(&sink(), &[("topic.creation.default.partitions", "1")], &[]),
        "topic.creation.default.partitions",
    );
    assert!(errors.contains("unknown key"), "{errors}");
}

#[test]
fn transform_chain_rules() {
    let base = seed_config(1);
    let errors =
        errors_of(&with(&base, &[("transforms.ghost.type", "Filter")], &[]), "transforms.ghost.type");
    assert!(errors.contains("'ghost' is not listed in transforms"), "{errors}");
    let errors = errors_of(&with(&base, &[], &["transforms.createKey.type"]), "transforms.createKey.type");
    assert!(errors.contains("needs a type") && errors.contains("ValueToKey"), "{errors}");
    let errors = errors_of(
        &with(&base, &[("transforms.createKey.type", "com.example.Nope")], &[]),
        "transforms.createKey.type",
    );
    assert!(errors.contains("unknown transform class com.example.Nope"), "{errors}");
    let errors =
        errors_of(&with(&base, &[("transforms.createKey.field", "x")], &[]), "transforms.createKey.field");
    assert!(errors.contains("did you mean `fields`?"), "{errors}");
    let errors = errors_of(
        &with(&base, &[("transforms.InsertSourceDetails.static.value", "")], &[]),
        "transforms.InsertSourceDetails.static.value",
    );
    assert!(errors.contains("static.field needs static.value"), "{errors}");
    let errors = errors_of(
        &with(&base, &[("transforms.createKey.predicate", "isBig")], &[]),
        "transforms.createKey.predicate",
    );
    assert!(errors.contains("'isBig'") && errors.contains("not declared in predicates"), "{errors}");
    let errors = errors_of(&with(&base, &[("transforms", "createKey,createKey")], &[]), "transforms");
    assert!(errors.contains("twice"), "{errors}");

    let with_predicate = with(
        &base,
        &[
            ("predicates", "isAddress"),
            ("predicates.isAddress.type", "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"),
            ("predicates.isAddress.pattern", "pagila\\..*address"),
            ("transforms.createKey.predicate", "isAddress"),
            ("transforms.createKey.negate", "true"),
        ],
        &[],
    );
    let spec = build_spec(&with_predicate).unwrap();
    let step = &spec.transforms[0];
    assert!(step.negate);
    assert_eq!(
        step.predicate.as_ref().map(|p| &p.predicate),
        Some(&Predicate::TopicNameMatches { pattern: "pagila\\..*address".into() })
    );
    let errors = errors_of(
        &with(&with_predicate, &[("predicates.isAddress.pattern", "(")], &[]),
        "predicates.isAddress.pattern",
    );
    assert!(errors.contains("regular expression"), "{errors}");
    let errors = errors_of(
        &with(&with_predicate, &[("predicates.other.type", "RecordIsTombstone")], &[]),
        "predicates.other.type",
    );
    assert!(errors.contains("not listed in predicates"), "{errors}");
}

#[test]
fn more_transforms_build() {
    let config = with(
        &seed_config(1),
        &[
            ("transforms", "a,b,c,d,e,f,g"),
            ("transforms.a.type", "org.apache.kafka.connect.transforms.Cast$Value"),
            ("transforms.a.spec", "address_id:int64"),
            ("transforms.b.type", "org.apache.kafka.connect.transforms.TimestampConverter$Value"),
            ("transforms.b.target.type", "string"),
            ("transforms.b.field", "last_update"),
            ("transforms.b.format", "yyyy-MM-dd"),
            ("transforms.c.type", "org.apache.kafka.connect.transforms.RegexRouter"),
            ("transforms.c.regex", "pagila\\.(.*)"),
            ("transforms.c.replacement", "lake.$1"),
            ("transforms.d.type", "org.apache.kafka.connect.transforms.MaskField$Value"),
            ("transforms.d.fields", "phone"),
            ("transforms.e.type", "org.apache.kafka.connect.transforms.Flatten$Value"),
            ("transforms.f.type", "org.apache.kafka.connect.transforms.HoistField$Key"),
            ("transforms.f.field", "id"),
            ("transforms.g.type", "org.apache.kafka.connect.transforms.InsertField$Value"),
            ("transforms.g.timestamp.field", "ts!"),
        ],
        &[],
    );
    let config: BTreeMap<_, _> = config
        .into_iter()
        .filter(|(k, _)| {
            !k.starts_with("transforms.createKey")
                && !k.starts_with("transforms.extractInt")
                && !k.starts_with("transforms.Insert")
        })
        .collect();
    let spec = build_spec(&config).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        spec.transforms[0].transform,
        Transform::Cast {
            side: Side::Value,
            spec: CastSpec::Fields(vec![("address_id".into(), CastType::Int64)]),
            replace_null_with_default: true,
        }
    );
    assert!(
        matches!(&spec.transforms[1].transform, Transform::TimestampConverter { target: TimestampTarget::String, format: Some(f), .. } if f == "yyyy-MM-dd")
    );
    assert!(
        matches!(&spec.transforms[6].transform, Transform::InsertField { timestamp_field: Some(f), .. } if f.name == "ts" && !f.optional)
    );
    let errors = errors_of(&with(&config, &[], &["transforms.b.format"]), "transforms.b.format");
    assert!(errors.contains("format"), "{errors}");
    let errors = errors_of(&with(&config, &[("transforms.a.spec", "x:decimal")], &[]), "transforms.a.spec");
    assert!(errors.contains("decimal"), "{errors}");
}

#[test]
fn jdbc_contradictions() {
    let errors = errors_of(&with(&source(), &[("table.blacklist", "film")], &[]), "table.blacklist");
    assert!(errors.contains("table.whitelist"), "{errors}");
    let errors = errors_of(&with(&source(), &[("query", "SELECT 1")], &[]), "table.whitelist");
    assert!(errors.contains("query"), "{errors}");
    let errors = errors_of(&with(&source(), &[("table.include.list", "a")], &[]), "table.include.list");
    assert!(errors.contains("table.whitelist"), "{errors}");
    let errors = errors_of(&with(&source(), &[], &["timestamp.column.name"]), "timestamp.column.name");
    assert!(errors.contains("mode timestamp"), "{errors}");
    let errors =
        errors_of(&with(&source(), &[("mode", "timestamp+incrementing")], &[]), "incrementing.column.name");
    assert!(errors.contains("timestamp+incrementing"), "{errors}");
    let errors = errors_of(
        &with(&source(), &[("connection.url", "jdbc:mysql://127.0.0.1/pagila")], &[]),
        "connection.url",
    );
    assert!(errors.contains("PostgreSQL only"), "{errors}");
    let errors = errors_of(&with(&source(), &[], &["mode"]), "mode");
    assert!(errors.contains("missing required key"), "{errors}");
    let query = with(&seed_config(2), &[("topic.prefix", "")], &[]);
    assert!(errors_of(&query, "topic.prefix").contains("query mode"));
    let everything = with(&source(), &[], &["table.whitelist"]);
    assert!(validate(&everything).errors[0].contains("selects nothing"), "{}", validate(&everything));
    assert!(validate(&with(&everything, &[("schema.pattern", "public")], &[])).is_valid());
    let bulk = with(
        &source(),
        &[("mode", "bulk"), ("numeric.precision.mapping", "true")],
        &["timestamp.column.name"],
    );
    let ConnectorConfig::JdbcSource(jdbc) = build_spec(&bulk).unwrap().connector else { panic!() };
    assert_eq!((jdbc.mode, jdbc.numeric_mapping), (LoadMode::Bulk, NumericMapping::PrecisionOnly));
}

#[test]
fn s3_contradictions() {
    let errors = errors_of(&with(&sink(), &[("topics", "a")], &[]), "topics.regex");
    assert!(errors.contains("topics"), "{errors}");
    assert!(errors_of(&with(&sink(), &[], &["topics.regex"]), "topics").contains("topics.regex"));
    assert!(
        errors_of(&with(&sink(), &[("topics.regex", "(")], &[]), "topics.regex")
            .contains("regular expression")
    );
    let field = with(
        &sink(),
        &[("partitioner.class", "io.confluent.connect.storage.partitioner.FieldPartitioner")],
        &[],
    );
    assert!(errors_of(&field, "partition.field.name").contains("FieldPartitioner"));
    let time = with(
        &sink(),
        &[("partitioner.class", "io.confluent.connect.storage.partitioner.TimeBasedPartitioner")],
        &[],
    );
    for key in ["path.format", "partition.duration.ms", "locale"] {
        assert!(errors_of(&time, key).contains("TimeBasedPartitioner"), "{key}");
    }
    let daily = with(
        &sink(),
        &[
            ("partitioner.class", "io.confluent.connect.storage.partitioner.DailyPartitioner"),
            ("locale", "en-US"),
        ],
        &[],
    );
    let ConnectorConfig::S3Sink(s3) = build_spec(&daily).unwrap().connector else { panic!() };
    assert!(
        matches!(s3.partitioner, Partitioner::Time { duration, .. } if duration == Duration::from_secs(86_400))
    );
    assert!(errors_of(&with(&daily, &[], &["locale"]), "locale").contains("DailyPartitioner"));
    assert!(
        errors_of(&with(&sink(), &[], &["timezone"]), "timezone").contains("rotate.schedule.interval.ms")
    );
    assert!(errors_of(&with(&sink(), &[("s3.part.size", "1024")], &[]), "s3.part.size").contains("5242880"));
    assert!(
        errors_of(&with(&sink(), &[("parquet.codec", "gzip")], &[]), "parquet.codec")
            .contains("ParquetFormat")
    );
    assert!(
        errors_of(&with(&seed_config(5), &[("s3.compression.type", "gzip")], &[]), "s3.compression.type")
            .contains("parquet.codec")
    );
    assert!(errors_of(&with(&sink(), &[("flush.size", "0")], &[]), "flush.size").contains("at least 1"));
    assert!(
        errors_of(&with(&sink(), &[("format.class", plugins::s3_sink::AVRO_FORMAT)], &[]), "format.class")
            .contains("AvroFormat")
    );
    let keys_on = with(&sink(), &[("store.kafka.keys", "true")], &[]);
    let errors = errors_of(&keys_on, "keys.format.class");
    assert!(errors.contains("AvroFormat when not set") && errors.contains("ByteArrayFormat"), "{errors}");
    let headers_as_bytes = with(
        &sink(),
        &[("store.kafka.headers", "true"), ("headers.format.class", plugins::s3_sink::BYTE_ARRAY_FORMAT)],
        &[],
    );
    let errors = errors_of(&headers_as_bytes, "headers.format.class");
    assert!(errors.contains("set it to JsonFormat or ParquetFormat"), "{errors}");
    // Key and header writers take the value writer's compression keys.
    let sidecars = with(
        &sink(),
        &[
            ("store.kafka.keys", "true"),
            ("keys.format.class", "ByteArrayFormat"),
            ("store.kafka.headers", "true"),
            ("headers.format.class", plugins::s3_sink::PARQUET_FORMAT),
            ("parquet.codec", "zstd"),
        ],
        &[],
    );
    let ConnectorConfig::S3Sink(s3) = build_spec(&sidecars).unwrap().connector else { panic!() };
    assert_eq!(
        s3.store_keys,
        Some(Format::ByteArray { gzip: None, extension: ".bin".into(), separator: None })
    );
    assert_eq!(s3.store_headers, Some(Format::Parquet { codec: ParquetCodec::Zstd }));
    assert_eq!(s3.format, Format::Json { gzip: None });
    assert!(
        errors_of(&with(&sink(), &[("aws.access.key.id", "AKIA")], &[]), "aws.secret.access.key")
            .contains("together")
    );
    let gz = with(
        &sink(),
        &[
            ("s3.compression.type", "gzip"),
            ("store.url", "http://127.0.0.1:9000"),
            ("partition.field.in.file", "true"),
        ],
        &[],
    );
    let ConnectorConfig::S3Sink(s3) = build_spec(&gz).unwrap().connector else { panic!() };
    assert_eq!(s3.format, Format::Json { gzip: Some(GzipLevel(None)) });
    assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    assert!(s3.partition_field_in_file);
}

#[test]
fn converters() {
    let errors = errors_of(
        &with(&source(), &[("value.converter", "io.confluent.connect.avro.AvroConverter")], &[]),
        "value.converter",
    );
    assert!(errors.contains("Avro") && errors.contains("JsonConverter"), "{errors}");
    let bare = with(
        &source(),
        &[
            ("value.converter", "org.apache.kafka.connect.json.JsonConverter"),
            ("value.converter.schemas.enable", "false"),
            ("key.converter", "org.apache.kafka.connect.storage.StringConverter"),
            ("header.converter", "org.apache.kafka.connect.storage.SimpleHeaderConverter"),
            ("header.converter.anything", "x"),
        ],
        &[],
    );
    let spec = build_spec(&bare).unwrap();
    assert!(matches!(spec.value_converter, ConverterSettings::Json { schemas_enable: false, .. }));
    assert_eq!(spec.key_converter, ConverterSettings::String);
    assert!(spec.ignored_keys.contains(&"header.converter".to_owned()));
    let errors = errors_of(
        &with(&source(), &[("value.converter.schema.enable", "false")], &[]),
        "value.converter.schema.enable",
    );
    assert!(errors.contains("did you mean `schemas.enable`?"), "{errors}");
}

#[test]
fn references_validate_and_resolve() {
    let config = with(
        &source(),
        &[
            ("connection.password", "${env:PG_PASSWORD}"),
            ("connection.url", "${file:/etc/hydrate/db.properties:url}"),
        ],
        &[],
    );
    let validation = validate(&config);
    assert!(validation.is_valid(), "{validation}");
    assert_eq!(
        validation.config("connection.password").and_then(|c| c.value.as_deref()),
        Some("${env:PG_PASSWORD}")
    );
    assert!(matches!(build_spec(&config), Err(ConnectError::UnresolvedReferences(keys)) if keys.len() == 2));

    struct Fake;
    impl secrets::ReferenceResolver for Fake {
        fn env(&self, _: &str) -> Option<String> {
            Some("hydrate-secret".into())
        }
        fn read_file(&self, _: &std::path::Path) -> std::io::Result<String> {
            Ok("url=jdbc:postgresql://db:5433/pagila?sslmode=require\n".into())
        }
    }
    let resolved = secrets::resolve_references(&config, &Fake).unwrap();
    let ConnectorConfig::JdbcSource(jdbc) = build_spec(&resolved).unwrap().connector else { panic!() };
    assert_eq!(jdbc.connection.url.hosts[0].port, 5433);
    assert_eq!(jdbc.connection.url.ssl_mode, SslMode::Require);
    assert_eq!(jdbc.connection.password.as_ref().map(Secret::expose), Some("hydrate-secret"));

    let errors =
        errors_of(&with(&source(), &[("connection.password", "${vault:x:y}")], &[]), "connection.password");
    assert!(errors.contains("unknown config provider 'vault'"), "{errors}");
}

#[test]
fn plugin_list() {
    let all = plugins();
    let count = |kind| all.iter().filter(|p| p.kind == kind).count();
    assert_eq!(count(PluginKind::Source), 1);
    assert_eq!(count(PluginKind::Sink), 1);
    assert_eq!(count(PluginKind::Transformation), 19);
    assert_eq!(count(PluginKind::Predicate), 3);
    let jdbc = all.iter().find(|p| p.kind == PluginKind::Source).unwrap();
    let keys = jdbc.config_keys();
    assert!(keys.iter().any(|k| k.name == "tasks.max" && k.default_text() == "1"));
    let mode = keys.iter().find(|k| k.name == "mode").unwrap();
    assert!(!mode.has_default());
    assert_eq!(mode.allowed_values(), plugins::jdbc_source::MODES);
    assert_eq!(mode.ty.as_str(), "STRING");
    assert_eq!(mode.importance.as_str(), "HIGH");
}

#[test]
fn connector_names() {
    assert!(validate_connector_name("pagila-source_00.v1").is_ok());
    assert!(validate_connector_name("").is_err());
    assert!(validate_connector_name("a/b").is_err());
    assert!(validate_connector_name(&"a".repeat(250)).is_err());
}

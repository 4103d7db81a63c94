//! Connector offsets through the control plane, stored in Kafka the way
//! Kafka Connect stores them.

use std::time::Duration;

use hydrate_common::offsets::encode_source_key;
use hydrate_proto::v1;
use hydrate_tests::control_plane::{Connectors, TestControlPlane};
use hydrate_tests::env::shared_file;
use hydrate_tests::{TestScope, wait_for};
use prost_types::{Struct, Value as ProtoValue, value::Kind};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tonic::Code;

fn put(name: &str, text: String) -> v1::PutConnectorConfigRequest {
    v1::PutConnectorConfigRequest {
        name: name.into(),
        config: Some(v1::ConnectorConfig { source: Some(v1::connector_config::Source::Json(text)) }),
        ..Default::default()
    }
}

fn proto(json: serde_json::Value) -> Struct {
    let fields = json
        .as_object()
        .expect("object")
        .iter()
        .map(|(k, v)| {
            let kind = match v {
                serde_json::Value::String(s) => Kind::StringValue(s.clone()),
                serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().expect("number")),
                other => panic!("unsupported {other}"),
            };
            (k.clone(), ProtoValue { kind: Some(kind) })
        })
        .collect();
    Struct { fields }
}

fn field<'a>(s: &'a Option<Struct>, key: &str) -> Option<&'a Kind> {
    s.as_ref()?.fields.get(key)?.kind.as_ref()
}

async fn offsets(admin: &mut Connectors, name: &str) -> Vec<v1::ConnectorOffset> {
    admin
        .get_connector_offsets(v1::GetConnectorOffsetsRequest { name: name.into() })
        .await
        .expect("get offsets")
        .into_inner()
        .offsets
}

#[tokio::test]
async fn source_offsets_are_read_altered_only_when_stopped_and_reset() {
    let scope = TestScope::new("offsets_source");
    let cp = TestControlPlane::start(&scope, 5).await;
    let mut admin = cp.admin();
    let topic = scope.topic("offsets");
    let config = shared_file("seed/connectors/jdbc_source_connector_postgresql_00.json")
        .replace("\"mode\"", &format!("\"offsets.storage.topic\": \"{topic}\", \"mode\""));
    admin.put_connector_config(put("pg", config)).await.expect("put");

    // What a source task writes: Kafka Connect's key and value formats.
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", scope.env().kafka_bootstrap())
        .create()
        .expect("producer");
    let partition = serde_json::json!({"protocol": "1", "table": "pagila.public.address"});
    let key = encode_source_key("pg", &partition);
    let other = encode_source_key("other", &partition);
    for (key, value) in [
        (&key, r#"{"timestamp":1,"timestamp_nanos":0}"#),
        (&other, r#"{"timestamp":7}"#),
        (&key, r#"{"timestamp":1139996730000,"timestamp_nanos":0}"#),
    ] {
        producer
            .send(FutureRecord::to(&topic).key(key).payload(value), Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .expect("write offset");
    }
    let read = offsets(&mut admin, "pg").await;
    assert_eq!(read.len(), 1, "only pg's partition, latest value: {read:?}");
    assert_eq!(field(&read[0].partition, "table"), Some(&Kind::StringValue("pagila.public.address".into())));
    assert_eq!(field(&read[0].offset, "timestamp"), Some(&Kind::NumberValue(1139996730000.0)));

    let alter = |offset: serde_json::Value| v1::AlterConnectorOffsetsRequest {
        name: "pg".into(),
        offsets: vec![v1::ConnectorOffset {
            partition: Some(proto(partition.clone())),
            offset: Some(proto(offset)),
        }],
    };
    let refused =
        admin.alter_connector_offsets(alter(serde_json::json!({"timestamp": 5}))).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "not while RUNNING");
    admin.stop_connector(v1::StopConnectorRequest { name: "pg".into() }).await.expect("stop");
    admin
        .alter_connector_offsets(alter(serde_json::json!({"timestamp": 5, "timestamp_nanos": 0})))
        .await
        .expect("alter");
    let read = offsets(&mut admin, "pg").await;
    assert_eq!(field(&read[0].offset, "timestamp"), Some(&Kind::NumberValue(5.0)));
    admin
        .reset_connector_offsets(v1::ResetConnectorOffsetsRequest { name: "pg".into() })
        .await
        .expect("reset");
    assert!(offsets(&mut admin, "pg").await.is_empty(), "reset removes them");
}

#[tokio::test]
async fn sink_offsets_are_the_connector_consumer_group() {
    let scope = TestScope::new("offsets_sink");
    let cp = TestControlPlane::start(&scope, 5).await;
    let mut admin = cp.admin();
    let topic = scope.topic("data");
    let kafka: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", scope.env().kafka_bootstrap()).create().expect("admin");
    kafka
        .create_topics(&[NewTopic::new(&topic, 2, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await
        .expect("create topic")
        .into_iter()
        .for_each(|r| {
            r.expect("topic created");
        });
    let name = format!("sink_{}", scope.id());
    let config =
        shared_file("seed/connectors/s3_sink_connector_01.json").replace("pagila.public.alt.address", &topic);
    admin.put_connector_config(put(&name, config)).await.expect("put");
    wait_for("the sink's tasks to cover both partitions", Duration::from_secs(20), || {
        let mut admin = admin.clone();
        let name = name.clone();
        async move {
            let info = admin
                .get_connector_status(v1::GetConnectorStatusRequest { name })
                .await
                .map_err(|e| e.to_string())?
                .into_inner()
                .status
                .ok_or("no status")?;
            Ok((info.tasks.iter().map(|t| t.resources.len()).sum::<usize>() == 2).then_some(()))
        }
    })
    .await;
    assert!(offsets(&mut admin, &name).await.is_empty(), "nothing committed yet");

    admin.stop_connector(v1::StopConnectorRequest { name: name.clone() }).await.expect("stop");
    let request = v1::AlterConnectorOffsetsRequest {
        name: name.clone(),
        offsets: (0..2)
            .map(|p| v1::ConnectorOffset {
                partition: Some(proto(serde_json::json!({"kafka_topic": topic, "kafka_partition": p}))),
                offset: Some(proto(serde_json::json!({"kafka_offset": 10 + p}))),
            })
            .collect(),
    };
    admin.alter_connector_offsets(request).await.expect("alter");
    let mut read = offsets(&mut admin, &name).await;
    read.sort_by(|a, b| format!("{:?}", a.partition).cmp(&format!("{:?}", b.partition)));
    assert_eq!(read.len(), 2);
    assert_eq!(field(&read[1].offset, "kafka_offset"), Some(&Kind::NumberValue(11.0)));

    let bad = v1::AlterConnectorOffsetsRequest {
        name: name.clone(),
        offsets: vec![v1::ConnectorOffset {
            partition: Some(proto(serde_json::json!({"kafka_topic": topic}))),
            offset: None,
        }],
    };
    let err = admin.alter_connector_offsets(bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("offsets[0].partition.kafka_partition"), "{}", err.message());

    admin
        .reset_connector_offsets(v1::ResetConnectorOffsetsRequest { name: name.clone() })
        .await
        .expect("reset");
    assert!(offsets(&mut admin, &name).await.is_empty());
}

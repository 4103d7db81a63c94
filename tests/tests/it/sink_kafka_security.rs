//! The sink service reaches Kafka over SASL/SCRAM configured the way Kafka
//! Connect worker properties configure it: its consumer and its dead letter
//! queue producer both sign in.

use std::time::Duration;

use hydrate_proto::v1;
use hydrate_tests::env::shared_file;
use hydrate_tests::wait_for;

use crate::sink_support::{ADDRESS_SCHEMA, SinkWorld, address_payload, envelope};

#[tokio::test]
async fn sink_reads_and_dead_letters_over_scram_from_worker_properties() {
    let env = hydrate_tests::env::StackEnv::get();
    let properties = format!(
        "# Kafka Connect worker properties\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism={}\n\
         sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n  \
         username=\"{}\" password=\"{}\";\nconsumer.fetch.min.bytes=1\nproducer.linger.ms=5\n\
         client.dns.lookup=use_all_dns_ips\n",
        env.var("KAFKA_SASL_MECHANISM"),
        env.var("KAFKA_SASL_USERNAME"),
        env.var("KAFKA_SASL_PASSWORD"),
    );
    let path = std::env::temp_dir().join(format!("hydrate-sink-scram-{}.properties", std::process::id()));
    std::fs::write(&path, properties).expect("properties file");
    let world = SinkWorld::start_with(
        "sink_scram",
        5,
        vec![
            ("KAFKA_BOOTSTRAP_SERVERS", env.var("KAFKA_SASL_BOOTSTRAP_SERVERS").to_owned()),
            ("HYDRATE_KAFKA_PROPERTIES_FILE", path.display().to_string()),
        ],
    )
    .await;
    let topic = world.scope.topic("data");
    let dlq = world.scope.topic("dlq");
    world.create_topic(&topic, 1).await;
    world.create_topic(&dlq, 1).await;
    let good = |id| Some(envelope(ADDRESS_SCHEMA, &address_payload(id)));
    world
        .produce(&topic, vec![(0, None, good(1)), (0, None, Some("{not json".into())), (0, None, good(2))])
        .await;
    let text = shared_file("seed/connectors/s3_sink_connector_01.json");
    let mut config: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).expect("seed config");
    config.insert("topics".into(), topic.clone().into());
    config.insert("topics.dir".into(), world.topics_dir().into());
    config.insert("s3.bucket.name".into(), world.scope.env().s3_bucket().into());
    config.insert("flush.size".into(), 2.into());
    config.remove("rotate.schedule.interval.ms");
    config.insert("errors.tolerance".into(), "all".into());
    config.insert("errors.deadletterqueue.topic.name".into(), dlq.clone().into());
    config.insert("errors.deadletterqueue.topic.replication.factor".into(), 1.into());
    let name = format!("scram_{}", world.scope.id());
    world.put(&name, serde_json::Value::Object(config)).await;

    let key = format!("{}/{topic}/partition=0/{topic}+0+0000000000.json", world.topics_dir());
    let prefix = format!("{}/{topic}/", world.topics_dir());
    wait_for("the object of the two good records", Duration::from_secs(60), || {
        let (world, prefix, key) = (&world, prefix.clone(), key.clone());
        async move { Ok((world.list(&prefix).await == [key]).then_some(())) }
    })
    .await;
    let body = String::from_utf8(world.get(&key).await).expect("utf-8");
    assert_eq!(body.lines().collect::<Vec<_>>(), [address_payload(1), address_payload(2)]);

    // The bad record went through the dead letter queue producer, also over SCRAM.
    let dead = world.first_dead_letter(&dlq).await.and_then(|d| d.value);
    assert_eq!(dead.as_deref(), Some(&b"{not json"[..]), "the bad record in the dead letter queue");
    world.wait_tasks(&name, v1::State::Running, Duration::from_secs(10)).await;
    let _ = std::fs::remove_file(&path);
}

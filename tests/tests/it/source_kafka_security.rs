//! The source service reaches Kafka over SASL/SCRAM configured the way
//! Kafka Connect worker properties configure it.

use std::time::Duration;

use crate::source_support::{SourceTest, TopicReader};

#[tokio::test]
async fn source_writes_over_scram_from_worker_properties() {
    let mut t = SourceTest::new("source_scram").await;
    let s = t.schema.clone();
    t.pg.batch_execute(&format!(
        "CREATE TABLE {s}.notes (id int PRIMARY KEY); INSERT INTO {s}.notes VALUES (1), (2);"
    ))
    .await
    .expect("table");
    let prefix = t.prefix("scram");
    let config = t.config(&[
        ("mode", "incrementing"),
        ("incrementing.column.name", "id"),
        ("table.whitelist", "notes"),
        ("topic.prefix", &prefix),
    ]);
    t.put("scram", &config).await;
    let env = t.scope.env();
    let properties = format!(
        "# Kafka Connect worker properties\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism={}\n\
         sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n  \
         username=\"{}\" password=\"{}\";\nclient.dns.lookup=use_all_dns_ips\n",
        env.var("KAFKA_SASL_MECHANISM"),
        env.var("KAFKA_SASL_USERNAME"),
        env.var("KAFKA_SASL_PASSWORD"),
    );
    let path = std::env::temp_dir().join(format!("{}.properties", t.scope.id()));
    std::fs::write(&path, properties).expect("properties file");
    t.start_worker_with(&[
        ("KAFKA_BOOTSTRAP_SERVERS", env.var("KAFKA_SASL_BOOTSTRAP_SERVERS").to_owned()),
        ("HYDRATE_KAFKA_PROPERTIES_FILE", path.display().to_string()),
    ]);
    let reader = TopicReader::new(env.kafka_bootstrap(), &format!("{prefix}notes"), true)
        .read_at_least(2, Duration::from_secs(60))
        .await;
    assert_eq!(reader.messages.len(), 2);
    t.kill_worker();
    let _ = std::fs::remove_file(&path);
    t.finish().await;
}

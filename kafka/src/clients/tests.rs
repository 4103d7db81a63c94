use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use rdkafka::types::RDKafkaConfRes;

use super::*;

/// Nothing listens there: clients keep trying, which is all these tests need.
const UNREACHABLE: &str = "127.0.0.1:1";

fn settings(text: &str) -> KafkaSettings {
    let worker: BTreeMap<String, String> =
        text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    KafkaSettings::from_worker_properties(&worker, Some(UNREACHABLE)).unwrap()
}

fn msk_settings() -> KafkaSettings {
    settings(
        "security.protocol=SASL_SSL\nsasl.mechanism=AWS_MSK_IAM\n\
         sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required;\n\
         sasl.client.callback.handler.class=software.amazon.msk.auth.iam.IAMClientCallbackHandler",
    )
}

fn signer(runtime: &tokio::runtime::Runtime) -> Arc<MskIamSigner> {
    let credentials = Credentials::new("AKIDTEST", "secret-key", None, None, "test");
    Arc::new(MskIamSigner::new("eu-west-1", credentials, runtime.handle().clone()))
}

/// Calls `poll` until `signer` has signed `count` tokens or 10 s passed.
fn poll_until(signer: &MskIamSigner, count: u64, poll: impl Fn()) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    while signer.tokens_signed() < count && Instant::now() < deadline {
        poll();
    }
    signer.tokens_signed()
}

#[test]
fn msk_iam_clients_get_a_token_at_once_and_refresh_through_the_callback() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let signer = signer(&runtime);
    let clients = KafkaClients::with_signer(msk_settings(), Some(signer.clone())).unwrap();
    assert_eq!(clients.producer_config().get("sasl.mechanism"), Some("OAUTHBEARER"));

    // librdkafka accepts the config; the first token is set on creation.
    let producer: KafkaProducer = clients.producer_config().create().unwrap();
    assert_eq!(signer.tokens_signed(), 1);
    // librdkafka asks for a token at start; polling serves the refresh
    // event through KafkaContext::generate_oauth_token.
    let signed = poll_until(&signer, 2, || producer.poll(Duration::from_millis(100)));
    assert_eq!(signed, 2, "the refresh callback signed a token");

    let mut config = clients.consumer_config();
    config.set("group.id", "hydrate-test");
    let consumer: KafkaConsumer = config.create().unwrap();
    assert_eq!(signer.tokens_signed(), 3);
    let signed = poll_until(&signer, 4, || {
        let _ = consumer.poll(Duration::from_millis(100));
    });
    assert_eq!(signed, 4, "the consumer's refresh callback signed a token");

    // Admin clients are never polled for events: the first token is theirs.
    let _admin: KafkaAdmin = clients.admin_config().create().unwrap();
    let _threaded: KafkaThreadedProducer = clients.producer_config().create().unwrap();
    assert!(signer.tokens_signed() >= 6);
}

#[test]
fn clients_without_oauthbearer_never_ask_for_tokens() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let signer = signer(&runtime);
    let scram = settings(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n\
         sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"p\";",
    );
    let clients = KafkaClients::with_signer(scram, Some(signer.clone())).unwrap();
    let producer: KafkaProducer = clients.producer_config().create().unwrap();
    producer.poll(Duration::from_millis(300));
    assert_eq!(signer.tokens_signed(), 0);
}

#[test]
fn a_property_librdkafka_does_not_know_is_named() {
    let err = KafkaClients::with_signer(settings("linger.mss=5"), None).unwrap_err().to_string();
    assert!(err.starts_with("kafka property linger.mss (consumer clients): "), "{err}");
}

#[test]
fn config_errors_hide_secret_values() {
    let err = KafkaError::ClientConfig(
        RDKafkaConfRes::RD_KAFKA_CONF_INVALID,
        "Invalid value \"s3cr3t\" for configuration property \"sasl.password\"".into(),
        "sasl.password".into(),
        "s3cr3t".into(),
    );
    let (key, reason) = redacted(&err);
    assert_eq!((key.as_str(), reason.as_str()), ("sasl.password", "invalid value"));
    let err = KafkaError::ClientConfig(
        RDKafkaConfRes::RD_KAFKA_CONF_INVALID,
        "Invalid value \"tls\" for configuration property \"security.protocol\"".into(),
        "security.protocol".into(),
        "tls".into(),
    );
    assert!(redacted(&err).1.contains("Invalid value \"tls\""));
    let scram = settings(
        "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n\
         sasl.jaas.config=x.ScramLoginModule required username=\"u\" password=\"s3cr3t-Pa55\";",
    );
    let clients = KafkaClients::with_signer(scram, None).unwrap();
    for debug in [format!("{clients:?}"), format!("{:?}", clients.consumer_config())] {
        assert!(debug.contains("sasl.password") && !debug.contains("s3cr3t-Pa55"), "{debug}");
    }
}

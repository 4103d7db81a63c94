use super::*;

const SECRET: &str = "s3cr3t-Pa55";

fn worker(text: &str) -> BTreeMap<String, String> {
    crate::connect::secrets::parse_properties(text)
}

fn settings(text: &str) -> KafkaSettings {
    KafkaSettings::from_worker_properties(&worker(text), None).unwrap()
}

/// The error for `text`, checked to hold no secret.
fn error(text: &str) -> String {
    let err = KafkaSettings::from_worker_properties(&worker(text), None).unwrap_err().to_string();
    assert!(!err.contains(SECRET), "a secret leaked: {err}");
    err
}

fn scram(mechanism: &str) -> String {
    // In a properties file a backslash escapes; `\\\"` reaches JAAS as `\"`.
    format!(
        "sasl.mechanism={mechanism}\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \
         required \\\n  username=\"hydrate\" password=\"{SECRET}\\\\\\\"x\";\n"
    )
}

#[test]
fn plaintext_passes_client_keys_through() {
    let s = settings(
        "bootstrap.servers=k1:9092,k2:9092\nsecurity.protocol=PLAINTEXT\nclient.id=hydrate\n\
         group.id=connect-cluster\nkey.converter=org.apache.kafka.connect.json.JsonConverter\n\
         offset.storage.topic=connect-offsets\nclient.dns.lookup=use_all_dns_ips\n",
    );
    for props in [&s.consumer, &s.producer, &s.admin] {
        assert_eq!(
            props,
            &BTreeMap::from([
                ("bootstrap.servers".to_owned(), "k1:9092,k2:9092".to_owned()),
                ("client.id".to_owned(), "hydrate".to_owned()),
                ("security.protocol".to_owned(), "PLAINTEXT".to_owned()),
            ])
        );
    }
    assert_eq!(s.msk_iam, None);
    assert_eq!(s.bootstrap_host(), Some("k1"));
}

#[test]
fn ssl_with_pem_files_and_pkcs12_key_store() {
    let s = settings(&format!(
        "security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location=/etc/kafka/ca.crt\n\
         ssl.truststore.password={SECRET}\nssl.keystore.location=/etc/kafka/client.p12\n\
         ssl.keystore.password={SECRET}\nssl.endpoint.identification.algorithm=\nssl.protocol=TLSv1.3\n"
    ));
    let p = &s.producer;
    assert_eq!(p["security.protocol"], "SSL");
    assert_eq!(p["ssl.ca.location"], "/etc/kafka/ca.crt");
    assert_eq!(p["ssl.keystore.location"], "/etc/kafka/client.p12");
    assert_eq!(p["ssl.keystore.password"], SECRET);
    assert_eq!(p["ssl.endpoint.identification.algorithm"], "none");
    assert!(!p.keys().any(|k| k.starts_with("ssl.truststore") || k == "ssl.protocol"), "{p:?}");

    let pem = settings(&format!(
        "security.protocol=SSL\nssl.keystore.type=PEM\nssl.keystore.location=/etc/kafka/client.pem\n\
         ssl.key.password={SECRET}\nssl.truststore.certificates=-----BEGIN CERTIFICATE-----\n"
    ));
    let p = &pem.consumer;
    assert_eq!(p["ssl.certificate.location"], "/etc/kafka/client.pem");
    assert_eq!(p["ssl.key.location"], "/etc/kafka/client.pem");
    assert_eq!(p["ssl.key.password"], SECRET);
    assert_eq!(p["ssl.ca.pem"], "-----BEGIN CERTIFICATE-----");
}

#[test]
fn java_key_stores_are_refused_by_name() {
    let err = error(&format!("ssl.truststore.location=/x/trust.jks\nssl.truststore.password={SECRET}\n"));
    assert!(err.starts_with("kafka property ssl.truststore.location: "), "{err}");
    let err = error("ssl.truststore.type=PKCS12\nssl.truststore.location=/x/trust.bin\n");
    assert!(err.contains("ssl.truststore.location") && err.contains("PEM"), "{err}");
    let err = error(&format!("ssl.keystore.location=/x/client.jks\nssl.keystore.password={SECRET}\n"));
    assert!(err.starts_with("kafka property ssl.keystore.location: ") && err.contains("JKS"), "{err}");
}

#[test]
fn scram_from_the_jaas_config() {
    for (protocol, mechanism) in [("SASL_PLAINTEXT", "SCRAM-SHA-256"), ("SASL_SSL", "SCRAM-SHA-512")] {
        let s = settings(&format!("security.protocol={protocol}\n{}", scram(mechanism)));
        for p in [&s.consumer, &s.producer, &s.admin] {
            assert_eq!(p["security.protocol"], protocol);
            assert_eq!(p["sasl.mechanism"], mechanism);
            assert_eq!(p["sasl.username"], "hydrate");
            assert_eq!(p["sasl.password"], format!("{SECRET}\"x"));
            assert!(!p.contains_key("sasl.jaas.config"));
        }
        let debug = format!("{s:?}");
        assert!(debug.contains("sasl.password") && !debug.contains(SECRET), "{debug}");
    }
    // The older librdkafka spelling and lower case are taken too.
    let s = settings(
        &format!("security.protocol=sasl_ssl\n{}", scram("scram-sha-512"))
            .replace("sasl.mechanism=", "sasl.mechanisms="),
    );
    assert_eq!(s.admin["sasl.mechanism"], "SCRAM-SHA-512");
    assert_eq!(s.admin["security.protocol"], "SASL_SSL");
}

#[test]
fn consumer_and_producer_prefixes_override_for_their_clients() {
    let s = settings(
        "security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nproducer.sasl.mechanism=SCRAM-SHA-512\n\
         consumer.fetch.min.bytes=1\nproducer.linger.ms=20\nadmin.request.timeout.ms=5000\n",
    );
    assert_eq!(s.consumer["sasl.mechanism"], "PLAIN");
    assert_eq!(s.producer["sasl.mechanism"], "SCRAM-SHA-512");
    assert_eq!(s.consumer["fetch.min.bytes"], "1");
    assert!(!s.producer.contains_key("fetch.min.bytes") && !s.admin.contains_key("fetch.min.bytes"));
    assert_eq!(s.producer["linger.ms"], "20");
    assert_eq!(s.admin["request.timeout.ms"], "5000");
}

#[test]
fn the_bootstrap_flag_wins_over_the_file() {
    let s =
        KafkaSettings::from_worker_properties(&worker("bootstrap.servers=file:9092\n"), Some("flag:9092"))
            .unwrap();
    assert_eq!(s.consumer["bootstrap.servers"], "flag:9092");
    let s =
        KafkaSettings::from_worker_properties(&worker("bootstrap.servers=file:9092\n"), Some("")).unwrap();
    assert_eq!(s.producer["bootstrap.servers"], "file:9092");
}

#[test]
fn aws_msk_iam_as_kafka_connect_writes_it() {
    let s = settings(
        "bootstrap.servers=b-1.demo.abc123.c2.kafka.eu-west-1.amazonaws.com:9098\n\
         security.protocol=SASL_SSL\nsasl.mechanism=AWS_MSK_IAM\n\
         sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required;\n\
         sasl.client.callback.handler.class=software.amazon.msk.auth.iam.IAMClientCallbackHandler\n",
    );
    for p in [&s.consumer, &s.producer, &s.admin] {
        assert_eq!(p["security.protocol"], "SASL_SSL");
        assert_eq!(p["sasl.mechanism"], "OAUTHBEARER");
        assert!(!p.keys().any(|k| k.contains("jaas") || k.contains("callback")), "{p:?}");
    }
    assert_eq!(s.msk_iam, Some(MskIamOptions::default()));
    assert_eq!(s.bootstrap_host(), Some("b-1.demo.abc123.c2.kafka.eu-west-1.amazonaws.com"));

    let s = settings(
        "security.protocol=SASL_SSL\nsasl.mechanism=AWS_MSK_IAM\n\
         sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required awsDebugCreds=true \
         awsRoleArn=\"arn:aws:iam::123456789012:role/hydrate\" awsRoleSessionName=\"hydrate\" \
         awsStsRegion=\"eu-west-1\";\n",
    );
    let options = s.msk_iam.unwrap();
    assert_eq!(options.role_arn.as_deref(), Some("arn:aws:iam::123456789012:role/hydrate"));
    assert_eq!(options.role_session_name.as_deref(), Some("hydrate"));
    assert_eq!(options.sts_region.as_deref(), Some("eu-west-1"));
    assert_eq!(options.profile, None);
}

#[test]
fn aws_msk_iam_in_the_oauthbearer_form() {
    let s = settings(
        "security.protocol=SASL_SSL\nsasl.mechanism=OAUTHBEARER\n\
         sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
         awsProfileName=\"msk\";\n\
         sasl.login.callback.handler.class=software.amazon.msk.auth.iam.IAMOAuthBearerLoginCallbackHandler\n\
         sasl.client.callback.handler.class=software.amazon.msk.auth.iam.IAMClientCallbackHandler\n",
    );
    assert_eq!(s.consumer["sasl.mechanism"], "OAUTHBEARER");
    assert_eq!(s.consumer["security.protocol"], "SASL_SSL");
    assert!(!s.consumer.contains_key("sasl.login.callback.handler.class"));
    assert_eq!(s.msk_iam.unwrap().profile.as_deref(), Some("msk"));
}

#[test]
fn bad_input_names_the_key_and_hides_the_value() {
    let cases = [
        (format!("sasl.mechanism=GSSAPI\nsasl.password={SECRET}\n"), "sasl.mechanism", "GSSAPI"),
        ("sasl.mechanism=SCRAM-SHA512\n".to_owned(), "sasl.mechanism", "unknown SASL mechanism"),
        ("security.protocol=TLS\n".to_owned(), "security.protocol", "expected PLAINTEXT"),
        (
            format!("sasl.mechanism=PLAIN\nsasl.jaas.config=x.PlainLoginModule required password=\"{SECRET}\";\n"),
            "sasl.jaas.config",
            "username",
        ),
        (
            format!("sasl.jaas.config=x.PlainLoginModule required username=u password=\"{SECRET}\n"),
            "sasl.jaas.config",
            "not closed",
        ),
        (
            format!("sasl.jaas.config=com.sun.security.auth.module.Krb5LoginModule required keyTab=\"{SECRET}\";\n"),
            "sasl.jaas.config",
            "Krb5LoginModule is not supported",
        ),
        ("sasl.mechanism=OAUTHBEARER\n".to_owned(), "sasl.mechanism", "MSK IAM only"),
        (
            "sasl.mechanism=OAUTHBEARER\nsasl.login.callback.handler.class=com.example.Handler\n".to_owned(),
            "sasl.login.callback.handler.class",
            "only MSK IAM's handler",
        ),
        (
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=AWS_MSK_IAM\n".to_owned(),
            "security.protocol",
            "SASL_SSL",
        ),
        (
            "sasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required;\n"
                .to_owned(),
            "sasl.mechanism",
            "AWS_MSK_IAM",
        ),
        (
            format!(
                "sasl.mechanism=AWS_MSK_IAM\nsasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule \
                 required awsRoleArn=\"arn\" awsRoleSecretAccessKey=\"{SECRET}\";\n"
            ),
            "sasl.jaas.config",
            "awsRoleSecretAccessKey is not supported",
        ),
        (
            "sasl.mechanism=AWS_MSK_IAM\nproducer.sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule \
             required awsProfileName=\"other\";\n"
                .to_owned(),
            "producer.sasl.jaas.config",
            "differ between clients",
        ),
    ];
    for (text, key, reason) in cases {
        let err = error(&text);
        assert!(err.starts_with(&format!("kafka property {key}: ")), "{text:?} -> {err}");
        assert!(err.contains(reason), "{text:?} -> {err}");
    }
}

#[test]
fn the_file_then_the_pairs() {
    let path = std::env::temp_dir().join(format!("hydrate-kafka-props-{}.properties", std::process::id()));
    std::fs::write(&path, "security.protocol=SASL_SSL\nsasl.mechanism: PLAIN\nlinger.ms=5\n").unwrap();
    let pairs = vec!["linger.ms = 20".to_owned(), "client.id=x=y".to_owned()];
    let worker = load_worker_properties(Some(&path), &pairs).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(worker["sasl.mechanism"], "PLAIN");
    assert_eq!(worker["linger.ms"], "20");
    assert_eq!(worker["client.id"], "x=y");

    let err = load_worker_properties(None, &[format!("sasl.password:{SECRET}")]).unwrap_err().to_string();
    assert!(err.contains("sasl.password") && !err.contains(SECRET), "{err}");
    let missing = std::path::Path::new("/nonexistent/kafka.properties");
    let err = load_worker_properties(Some(missing), &[]).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/kafka.properties"), "{err}");
}

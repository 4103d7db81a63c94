use std::sync::atomic::AtomicUsize;

use aws_credential_types::provider::future;

use super::*;

// Reference tokens from AWS's own signer, aws-msk-iam-sasl-signer-python
// 1.0.2 (botocore 1.44.8), with botocore's clock pinned:
//
//   import datetime, botocore.auth
//   from botocore.credentials import Credentials
//   import aws_msk_iam_sasl_signer.MSKAuthTokenProvider as p
//   botocore.auth.get_current_datetime = lambda remove_tzinfo=True: datetime.datetime(2024, 3, 1, 12, 34, 56)
//   p.__dict__["__construct_auth_token"]("eu-west-1", Credentials(ACCESS_KEY, SECRET_KEY[, SESSION_TOKEN]))
//
// Both returned expiry 1709297396000 (signing time + 900 s, in ms).
const PYTHON_USER_AGENT: &str = "aws-msk-iam-sasl-signer-python/1.0.2";
const PYTHON_STATIC: &str = "aHR0cHM6Ly9rYWZrYS5ldS13ZXN0LTEuYW1hem9uYXdzLmNvbS8_QWN0aW9uPWthZmthLWNsdXN0ZXIlM0FDb25uZWN0JlgtQW16LUFsZ29yaXRobT1BV1M0LUhNQUMtU0hBMjU2JlgtQW16LUNyZWRlbnRpYWw9QUtJQUlPU0ZPRE5ON0VYQU1QTEUlMkYyMDI0MDMwMSUyRmV1LXdlc3QtMSUyRmthZmthLWNsdXN0ZXIlMkZhd3M0X3JlcXVlc3QmWC1BbXotRGF0ZT0yMDI0MDMwMVQxMjM0NTZaJlgtQW16LUV4cGlyZXM9OTAwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCZYLUFtei1TaWduYXR1cmU9ZDRjMjU0ZGVjYzQ5ZmM3ODU0OTYzZDJmMTcxYTU4OTA5MzdjOTViODFkMzUzN2EzNDRkNTEyMjRjNDM4NmM2OCZVc2VyLUFnZW50PWF3cy1tc2staWFtLXNhc2wtc2lnbmVyLXB5dGhvbiUyRjEuMC4y";
const PYTHON_SESSION: &str = "aHR0cHM6Ly9rYWZrYS5ldS13ZXN0LTEuYW1hem9uYXdzLmNvbS8_QWN0aW9uPWthZmthLWNsdXN0ZXIlM0FDb25uZWN0JlgtQW16LUFsZ29yaXRobT1BV1M0LUhNQUMtU0hBMjU2JlgtQW16LUNyZWRlbnRpYWw9QVNJQUlPU0ZPRE5ON0VYQU1QTEUlMkYyMDI0MDMwMSUyRmV1LXdlc3QtMSUyRmthZmthLWNsdXN0ZXIlMkZhd3M0X3JlcXVlc3QmWC1BbXotRGF0ZT0yMDI0MDMwMVQxMjM0NTZaJlgtQW16LUV4cGlyZXM9OTAwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCZYLUFtei1TZWN1cml0eS1Ub2tlbj1JUW9KYjNKcFoybHVYMlZqRVhBTVBMRSUyRnRva2VuJTJCd2l0aCUzRGNoYXJzJlgtQW16LVNpZ25hdHVyZT03ZTVmMDU0OGU5ZDU2ZTMzNDZhNWIzN2QwNjEyMGU5ZjczMjc1Mjk1NTk1MmU2MTNhZjFmMDU2YjBjZDA5MTNkJlVzZXItQWdlbnQ9YXdzLW1zay1pYW0tc2FzbC1zaWduZXItcHl0aG9uJTJGMS4wLjI";
const PYTHON_EXPIRY_MS: i64 = 1_709_297_396_000;
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE/token+with=chars";

fn static_credentials() -> Credentials {
    Credentials::new("AKIAIOSFODNN7EXAMPLE", SECRET_KEY, None, None, "test")
}

fn session_credentials() -> Credentials {
    Credentials::new("ASIAIOSFODNN7EXAMPLE", SECRET_KEY, Some(SESSION_TOKEN.to_owned()), None, "test")
}

/// 2024-03-01T12:34:56Z, plus a fraction SigV4 drops.
fn signing_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_709_296_496_250)
}

fn decode(token: &str) -> String {
    String::from_utf8(URL_SAFE_NO_PAD.decode(token).expect("base64url without padding")).expect("utf-8")
}

#[test]
fn tokens_equal_the_python_signers() {
    let token = auth_token(&static_credentials(), "eu-west-1", signing_time(), PYTHON_USER_AGENT).unwrap();
    assert_eq!(token.token, PYTHON_STATIC, "{}\n{}", decode(&token.token), decode(PYTHON_STATIC));
    assert_eq!(token.lifetime_ms, PYTHON_EXPIRY_MS);
    assert_eq!(token.principal, "AKIAIOSFODNN7EXAMPLE");

    let token = auth_token(&session_credentials(), "eu-west-1", signing_time(), PYTHON_USER_AGENT).unwrap();
    assert_eq!(token.token, PYTHON_SESSION, "{}\n{}", decode(&token.token), decode(PYTHON_SESSION));
    assert_eq!(token.lifetime_ms, PYTHON_EXPIRY_MS);
    assert!(!format!("{token:?}").contains(&token.token), "debug output hides the token");
}

#[test]
fn the_token_is_a_presigned_connect_url() {
    let token = auth_token(&session_credentials(), "eu-west-1", signing_time(), USER_AGENT).unwrap();
    assert!(!token.token.contains(['=', '+', '/']), "base64url without padding");
    let url = decode(&token.token);
    let (base, query) = url.split_once('?').unwrap();
    assert_eq!(base, "https://kafka.eu-west-1.amazonaws.com/");
    let fields: Vec<(&str, &str)> = query.split('&').map(|p| p.split_once('=').unwrap()).collect();
    let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "Action",
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-SignedHeaders",
            "X-Amz-Security-Token",
            "X-Amz-Signature",
            "User-Agent"
        ]
    );
    let field = |name: &str| fields.iter().find(|(n, _)| *n == name).unwrap().1;
    assert_eq!(field("Action"), "kafka-cluster%3AConnect");
    assert_eq!(field("X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
    assert_eq!(
        field("X-Amz-Credential"),
        "ASIAIOSFODNN7EXAMPLE%2F20240301%2Feu-west-1%2Fkafka-cluster%2Faws4_request"
    );
    assert_eq!(field("X-Amz-Date"), "20240301T123456Z");
    assert_eq!(field("X-Amz-Expires"), "900");
    assert_eq!(field("X-Amz-SignedHeaders"), "host");
    assert_eq!(field("X-Amz-Security-Token"), "IQoJb3JpZ2luX2VjEXAMPLE%2Ftoken%2Bwith%3Dchars");
    let signature = field("X-Amz-Signature");
    assert!(signature.len() == 64 && signature.chars().all(|c| c.is_ascii_hexdigit()), "{signature}");
    assert_eq!(field("User-Agent"), USER_AGENT.replace('/', "%2F"));
    assert!(!url.contains(SECRET_KEY) && !url.contains("wJalrXUtnFEMI"), "the secret key is never sent");
}

#[test]
fn regions_from_msk_broker_names() {
    for (host, region) in [
        ("b-1.demo.abc123.c2.kafka.eu-west-1.amazonaws.com", Some("eu-west-1")),
        ("b-2.demo.abc123.c12.kafka.us-east-1.amazonaws.com.", Some("us-east-1")),
        ("boot-abc.c1.kafka-serverless.ap-south-1.amazonaws.com", Some("ap-south-1")),
        ("b-1.demo.abc123.c2.kafka.cn-north-1.amazonaws.com.cn", Some("cn-north-1")),
        ("kafka.internal.example.com", None),
        ("s3.eu-west-1.amazonaws.com", None),
        ("127.0.0.1", None),
    ] {
        assert_eq!(region_from_host(host).as_deref(), region, "{host}");
    }
}

/// Counts how often credentials are asked for.
#[derive(Debug)]
struct Counting {
    calls: Arc<AtomicUsize>,
    expiry: Option<SystemTime>,
}

impl ProvideCredentials for Counting {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        self.calls.fetch_add(1, Ordering::SeqCst);
        future::ProvideCredentials::ready(Ok(Credentials::new(
            "AKIDCOUNTING",
            SECRET_KEY,
            None,
            self.expiry,
            "test",
        )))
    }
}

#[test]
fn credentials_are_reused_while_they_outlive_a_token() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let long = Some(SystemTime::now() + Duration::from_secs(3600));
    let signer = MskIamSigner::new(
        "eu-west-1",
        Counting { calls: calls.clone(), expiry: long },
        runtime.handle().clone(),
    );
    for _ in 0..3 {
        let token = signer.token().unwrap();
        assert_eq!(token.principal, "AKIDCOUNTING");
        assert!(decode(&token.token).starts_with("https://kafka.eu-west-1.amazonaws.com/?Action="));
    }
    assert_eq!((calls.load(Ordering::SeqCst), signer.tokens_signed()), (1, 3));

    // Credentials that expire before a token would are fetched each time.
    let short = Some(SystemTime::now() + Duration::from_secs(600));
    let calls = Arc::new(AtomicUsize::new(0));
    let signer = MskIamSigner::new(
        "eu-west-1",
        Counting { calls: calls.clone(), expiry: short },
        runtime.handle().clone(),
    );
    signer.token().unwrap();
    signer.token().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn a_failing_provider_is_reported_without_secrets() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    #[derive(Debug)]
    struct Failing(String);
    impl ProvideCredentials for Failing {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            future::ProvideCredentials::ready(Err(
                aws_credential_types::provider::error::CredentialsError::not_loaded(self.0.clone()),
            ))
        }
    }
    let signer =
        MskIamSigner::new("eu-west-1", Failing("no profile named msk".into()), runtime.handle().clone());
    let err = signer.token().unwrap_err().to_string();
    assert!(
        err.starts_with("AWS credentials for MSK IAM: ") && err.contains("no profile named msk"),
        "{err}"
    );
    assert_eq!(signer.tokens_signed(), 0);
}

//! S3 clients for the local stack's object store.

use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};

use crate::StackEnv;

impl StackEnv {
    /// An S3 client for the stack's store with the stack's credentials.
    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        self.s3_client_with_secret(self.var("AWS_SECRET_ACCESS_KEY"))
    }

    /// An S3 client for the stack's store whose requests are signed with
    /// `secret` (to check that the store verifies signatures).
    pub fn s3_client_with_secret(&self, secret: &str) -> aws_sdk_s3::Client {
        let credentials =
            Credentials::new(self.var("AWS_ACCESS_KEY_ID"), secret, None, None, "hydrate-tests");
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.var("AWS_ENDPOINT_URL"))
            .region(Region::new(self.var("AWS_REGION").to_owned()))
            .credentials_provider(credentials)
            .force_path_style(true)
            // Checksums only where S3 requires them, as S3-compatible stores
            // differ in their support for the newer trailing checksums.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

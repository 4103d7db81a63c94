//! Kafka clients for Hydrate's services (source, sink, control plane),
//! configured by Kafka Connect worker properties
//! (`hydrate_common::kafka_props`), including AWS_MSK_IAM: librdkafka signs
//! in with SASL/OAUTHBEARER and the tokens are MSK IAM tokens signed here.

mod clients;
pub mod msk_iam;

pub use clients::{
    KafkaAdmin, KafkaClient, KafkaClientConfig, KafkaClients, KafkaConsumer, KafkaContext, KafkaProducer,
    KafkaSetupError, KafkaThreadedProducer,
};
pub use hydrate_common::kafka_props::{KafkaPropsError, KafkaSettings, load_worker_properties};

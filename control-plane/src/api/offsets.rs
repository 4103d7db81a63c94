//! The offsets RPCs of the connector service: Kafka Connect's formats, read
//! from and written to Kafka (`crate::offsets`).

use hydrate_common::offsets::source_offsets_topic;
use hydrate_proto::v1;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::json_struct::{from_struct, to_struct};
use crate::model::Kind;
use crate::offsets::OffsetStore;
use crate::store::Store;

/// Offsets of the connectors in `store`, kept in Kafka by `kafka`.
#[derive(Clone)]
pub struct Offsets {
    store: Store,
    kafka: Option<OffsetStore>,
}

fn entry(partition: &Value, offset: &Value) -> Result<v1::ConnectorOffset> {
    let as_struct = |v: &Value, path: &str| match v {
        Value::Object(map) => to_struct(map, path).map_err(Error::Internal),
        _ => Err(Error::Internal(format!("{path} is not a JSON object"))),
    };
    Ok(v1::ConnectorOffset {
        partition: Some(as_struct(partition, "partition")?),
        offset: Some(as_struct(offset, "offset")?),
    })
}

/// "topic-3" -> ("topic", 3).
fn split_topic_partition(resource: &str) -> Option<(String, i32)> {
    let (topic, partition) = resource.rsplit_once('-')?;
    Some((topic.to_owned(), partition.parse().ok()?))
}

impl Offsets {
    /// Offsets over `store`, read from Kafka when it is configured.
    pub fn new(store: Store, kafka: Option<OffsetStore>) -> Offsets {
        Offsets { store, kafka }
    }

    fn kafka(&self) -> Result<&OffsetStore> {
        self.kafka.as_ref().ok_or_else(|| {
            Error::FailedPrecondition(
                "no Kafka configured on the control plane (--kafka-bootstrap-servers)".into(),
            )
        })
    }

    /// Every offset of connector `name`.
    pub async fn get(&self, name: &str) -> Result<Vec<v1::ConnectorOffset>> {
        let spec = self.store.require_spec(name).await?;
        let kafka = self.kafka()?;
        match spec.value.kind {
            Kind::Source => {
                let topic = source_offsets_topic(&spec.value.config);
                let offsets = kafka.source_offsets(&topic, name).await?;
                offsets.iter().map(|(p, o)| entry(p, o)).collect()
            }
            Kind::Sink => {
                let tasks = self.store.get_tasks(name).await?.unwrap_or_default();
                let partitions: Vec<(String, i32)> = tasks
                    .tasks
                    .iter()
                    .flat_map(|t| &t.resources)
                    .filter_map(|r| split_topic_partition(r))
                    .collect();
                let offsets = kafka.sink_offsets(name, partitions).await?;
                offsets
                    .iter()
                    .map(|(topic, partition, offset)| {
                        entry(
                            &json!({"kafka_topic": topic, "kafka_partition": partition}),
                            &json!({"kafka_offset": offset}),
                        )
                    })
                    .collect()
            }
        }
    }

    /// Alters some offsets (the caller checked the connector is STOPPED).
    pub async fn alter(&self, name: &str, offsets: Vec<v1::ConnectorOffset>) -> Result<String> {
        let spec = self.store.require_spec(name).await?;
        if offsets.is_empty() {
            return Err(Error::invalid("offsets", "must list at least one partition"));
        }
        let mut entries = Vec::with_capacity(offsets.len());
        for (i, offset) in offsets.iter().enumerate() {
            let partition = offset
                .partition
                .as_ref()
                .map(from_struct)
                .filter(|p| p.as_object().is_some_and(|m| !m.is_empty()))
                .ok_or_else(|| {
                    Error::invalid(&format!("offsets[{i}].partition"), "must be a non-empty object")
                })?;
            entries.push((i, partition, offset.offset.as_ref().map(from_struct)));
        }
        let kafka = self.kafka()?;
        match spec.value.kind {
            Kind::Source => {
                let topic = source_offsets_topic(&spec.value.config);
                let count = entries.len();
                kafka
                    .write_source_offsets(&topic, name, entries.into_iter().map(|(_, p, o)| (p, o)).collect())
                    .await?;
                Ok(format!("altered {count} source offsets of connector {name}; they apply when it resumes"))
            }
            Kind::Sink => {
                let mut commits = Vec::new();
                for (i, partition, offset) in entries {
                    let field = |key: &str| format!("offsets[{i}].{key}");
                    let topic = partition["kafka_topic"]
                        .as_str()
                        .ok_or_else(|| Error::invalid(&field("partition.kafka_topic"), "must be a string"))?;
                    let number = partition["kafka_partition"]
                        .as_i64()
                        .and_then(|p| i32::try_from(p).ok())
                        .filter(|p| *p >= 0)
                        .ok_or_else(|| {
                            Error::invalid(&field("partition.kafka_partition"), "must be a partition number")
                        })?;
                    let at = offset
                        .as_ref()
                        .and_then(|o| o["kafka_offset"].as_i64())
                        .filter(|o| *o >= 0)
                        .ok_or_else(|| {
                            Error::invalid(
                                &field("offset.kafka_offset"),
                                "must be a non-negative offset (reset removes a sink's offsets)",
                            )
                        })?;
                    commits.push((topic.to_owned(), number, at));
                }
                let count = commits.len();
                kafka.write_sink_offsets(name, commits).await?;
                Ok(format!("altered {count} sink offsets of connector {name}; they apply when it resumes"))
            }
        }
    }

    /// Removes every offset (the caller checked the connector is STOPPED).
    pub async fn reset(&self, name: &str) -> Result<String> {
        let spec = self.store.require_spec(name).await?;
        let kafka = self.kafka()?;
        match spec.value.kind {
            Kind::Source => {
                let topic = source_offsets_topic(&spec.value.config);
                let current = kafka.source_offsets(&topic, name).await?;
                let count = current.len();
                if count > 0 {
                    kafka
                        .write_source_offsets(
                            &topic,
                            name,
                            current.into_iter().map(|(p, _)| (p, None)).collect(),
                        )
                        .await?;
                }
                Ok(format!("reset {count} source offsets of connector {name}"))
            }
            Kind::Sink => {
                kafka.reset_sink(name).await?;
                Ok(format!("reset the offsets of sink connector {name}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_partitions_split_at_the_last_dash() {
        assert_eq!(split_topic_partition("pagila.public.alt-x-12"), Some(("pagila.public.alt-x".into(), 12)));
        assert_eq!(split_topic_partition("nodash"), None);
    }
}

//! `hydrate.v1.ConnectorService`: Kafka Connect's REST API as gRPC.

use std::collections::BTreeMap;
use std::pin::Pin;

use hydrate_common::connect::{self, ConfigKeyDef, PluginKind, Validation};
use hydrate_proto::v1::{self, connector_service_server::ConnectorService};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::api::offsets::Offsets;
use crate::auth::{Role, require};
use crate::error::{Error, Result};
use crate::model::{Kind, RestartRequest, StoredSpec, Target};
use crate::offsets::OffsetStore;
use crate::status::StatusReader;
use crate::store::{Expect, Store, Versioned};

/// Largest JSON configuration accepted, in bytes.
const MAX_CONFIG_BYTES: usize = 1024 * 1024;
/// Most keys a configuration may have.
const MAX_CONFIG_KEYS: usize = 2000;

/// The connector service over the etcd store.
#[derive(Clone)]
pub struct Connectors {
    store: Store,
    status: StatusReader,
    offsets: Offsets,
}

impl Connectors {
    /// A service reading and writing `store`, with offsets in `kafka`.
    pub fn new(store: Store, kafka: Option<OffsetStore>) -> Connectors {
        Connectors {
            status: StatusReader::new(store.clone()),
            offsets: Offsets::new(store.clone(), kafka),
            store,
        }
    }
}

/// Checks a connector name, naming the field.
fn check_name(name: &str) -> Result<()> {
    connect::validate_connector_name(name).map_err(|reason| Error::invalid("name", reason))
}

/// The configuration of a request: given, and within the size limits.
fn config_source(config: Option<v1::ConnectorConfig>) -> Result<v1::connector_config::Source> {
    let source = config
        .and_then(|c| c.source)
        .ok_or_else(|| Error::invalid("config", "must be given, as entries or as json"))?;
    match &source {
        v1::connector_config::Source::Entries(entries) => {
            if entries.values.len() > MAX_CONFIG_KEYS {
                return Err(Error::invalid("config.entries", format!("more than {MAX_CONFIG_KEYS} keys")));
            }
            let bytes: usize = entries.values.iter().map(|(k, v)| k.len() + v.len()).sum();
            if bytes > MAX_CONFIG_BYTES {
                return Err(Error::invalid(
                    "config.entries",
                    format!("larger than {MAX_CONFIG_BYTES} bytes"),
                ));
            }
        }
        v1::connector_config::Source::Json(text) => {
            if text.len() > MAX_CONFIG_BYTES {
                return Err(Error::invalid("config.json", format!("larger than {MAX_CONFIG_BYTES} bytes")));
            }
        }
    }
    Ok(source)
}

/// The configuration map of a request's entries or JSON text.
fn config_map(name: Option<&str>, source: v1::connector_config::Source) -> Result<BTreeMap<String, String>> {
    let map: BTreeMap<String, String> = match source {
        v1::connector_config::Source::Entries(entries) => entries.values.into_iter().collect(),
        v1::connector_config::Source::Json(text) => {
            let input = connect::parse_connector_json(&text)
                .map_err(|e| Error::invalid("config.json", e.to_string()))?;
            if input.config.len() > MAX_CONFIG_KEYS {
                return Err(Error::invalid("config.json", format!("more than {MAX_CONFIG_KEYS} keys")));
            }
            if let (Some(inner), Some(name)) = (&input.name, name)
                && inner != name
            {
                return Err(Error::invalid(
                    "config.json",
                    format!("names connector `{inner}` but the request is for `{name}`"),
                ));
            }
            input.config
        }
    };
    if map.is_empty() {
        return Err(Error::invalid("config", "must not be empty"));
    }
    if let (Some(inner), Some(name)) = (map.get("name"), name)
        && inner != name
    {
        return Err(Error::invalid(
            "config",
            format!("key `name` is `{inner}` but the request is for `{name}`"),
        ));
    }
    Ok(map)
}

/// The configuration map of a request, from its entries or its JSON text.
fn config_of(name: Option<&str>, config: Option<v1::ConnectorConfig>) -> Result<BTreeMap<String, String>> {
    config_map(name, config_source(config)?)
}

fn kind_of(validation: &Validation) -> Result<Kind> {
    match validation.plugin.map(|p| p.kind) {
        Some(PluginKind::Source) => Ok(Kind::Source),
        Some(PluginKind::Sink) => Ok(Kind::Sink),
        _ => Err(Error::InvalidConfig(validation.to_string())),
    }
}

/// A key definition as the proto has it.
pub fn definition_to_proto(def: &ConfigKeyDef, name: &str) -> v1::ConfigKeyDefinition {
    v1::ConfigKeyDefinition {
        name: name.to_owned(),
        r#type: def.ty.as_str().to_owned(),
        default_value: def.default_text().to_owned(),
        has_default: def.has_default(),
        importance: def.importance.as_str().to_owned(),
        documentation: def.doc.to_owned(),
        group: def.group.to_owned(),
        allowed_values: def.allowed_values().iter().map(|v| (*v).to_owned()).collect(),
    }
}

fn validation_to_proto(validation: &Validation) -> v1::ValidateConnectorConfigResponse {
    v1::ValidateConnectorConfigResponse {
        name: validation.class_name.clone(),
        error_count: validation.error_count() as u32,
        configs: validation
            .configs
            .iter()
            .map(|report| v1::ConfigValueResult {
                name: report.name.clone(),
                value: report.value.clone().unwrap_or_default(),
                errors: report.errors.clone(),
                ignored: report.ignored,
                definition: report.definition.map(|d| definition_to_proto(d, &report.name)),
            })
            .collect(),
        errors: validation.errors.clone(),
    }
}

impl Connectors {
    async fn info(&self, name: &str) -> Result<v1::ConnectorInfo> {
        let spec = self.store.require_spec(name).await?;
        self.info_of(name, spec).await
    }

    /// The info for `spec` as read or written: a later writer's spec is never
    /// reported as this one's.
    async fn info_of(&self, name: &str, spec: Versioned<StoredSpec>) -> Result<v1::ConnectorInfo> {
        let target = self.store.get_target(name).await?;
        let tasks = self.store.get_tasks(name).await?.unwrap_or_default();
        Ok(v1::ConnectorInfo {
            name: name.to_owned(),
            config: connect::redact(&spec.value.config).into_iter().collect(),
            r#type: spec.value.kind.to_proto() as i32,
            tasks: tasks
                .tasks
                .iter()
                .map(|t| v1::TaskId { connector: name.to_owned(), task: t.task })
                .collect(),
            revision: spec.revision,
            target_state: target.to_proto() as i32,
        })
    }

    async fn set_target(&self, name: &str, target: Target) -> Result<()> {
        check_name(name)?;
        self.store.set_target(name, target).await?;
        tracing::info!(connector = %name, target = ?target, "target state set");
        Ok(())
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<v1::WatchConnectorStatusResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ConnectorService for Connectors {
    async fn put_connector_config(
        &self,
        request: Request<v1::PutConnectorConfigRequest>,
    ) -> Result<Response<v1::PutConnectorConfigResponse>, Status> {
        require(&request, Role::Admin)?;
        let req = request.into_inner();
        check_name(&req.name)?;
        let config = config_of(Some(&req.name), req.config)?;
        let validation = connect::validate(&config);
        if !validation.is_valid() {
            return Err(Error::InvalidConfig(validation.to_string()).into());
        }
        let spec = StoredSpec { kind: kind_of(&validation)?, config };
        let expect = match (req.create_only, req.expected_revision) {
            (true, _) => Expect::Absent,
            (false, 0) => Expect::Current,
            (false, rev) => Expect::Revision(rev),
        };
        let outcome = self.store.put_spec(&req.name, &spec, expect).await?;
        let written = Versioned { value: spec, revision: outcome.revision };
        tracing::info!(
            connector = %req.name,
            created = outcome.created,
            changed = outcome.changed,
            revision = outcome.revision,
            "connector config put"
        );
        Ok(Response::new(v1::PutConnectorConfigResponse {
            connector: Some(self.info_of(&req.name, written).await?),
            created: outcome.created,
            changed: outcome.changed,
            ignored_keys: validation.ignored_keys(),
        }))
    }

    async fn get_connector(
        &self,
        request: Request<v1::GetConnectorRequest>,
    ) -> Result<Response<v1::GetConnectorResponse>, Status> {
        require(&request, Role::Viewer)?;
        let name = request.into_inner().name;
        check_name(&name)?;
        Ok(Response::new(v1::GetConnectorResponse { connector: Some(self.info(&name).await?) }))
    }

    async fn list_connectors(
        &self,
        request: Request<v1::ListConnectorsRequest>,
    ) -> Result<Response<v1::ListConnectorsResponse>, Status> {
        require(&request, Role::Viewer)?;
        let req = request.into_inner();
        let mut connectors = Vec::new();
        for (name, _) in self.store.list_specs().await? {
            let info = if req.include_info { Some(self.info(&name).await?) } else { None };
            let status = if req.include_status { Some(self.status.read(&name).await?) } else { None };
            connectors.push(v1::ConnectorListEntry { name, info, status });
        }
        Ok(Response::new(v1::ListConnectorsResponse { connectors }))
    }

    async fn delete_connector(
        &self,
        request: Request<v1::DeleteConnectorRequest>,
    ) -> Result<Response<v1::DeleteConnectorResponse>, Status> {
        require(&request, Role::Admin)?;
        let name = request.into_inner().name;
        check_name(&name)?;
        self.store.delete_connector(&name).await?;
        tracing::info!(connector = %name, "connector deleted");
        Ok(Response::new(v1::DeleteConnectorResponse {}))
    }

    async fn validate_connector_config(
        &self,
        request: Request<v1::ValidateConnectorConfigRequest>,
    ) -> Result<Response<v1::ValidateConnectorConfigResponse>, Status> {
        require(&request, Role::Viewer)?;
        // A missing or oversized configuration is a bad request; JSON that
        // does not parse is a validation result, like any other mistake in it.
        let source = config_source(request.into_inner().config)?;
        if let v1::connector_config::Source::Json(text) = &source
            && let Err(err) = connect::parse_connector_json(text)
        {
            return Ok(Response::new(v1::ValidateConnectorConfigResponse {
                name: String::new(),
                error_count: 1,
                configs: Vec::new(),
                errors: vec![err.to_string()],
            }));
        }
        let config = config_map(None, source)?;
        Ok(Response::new(validation_to_proto(&connect::validate(&config))))
    }

    async fn get_connector_status(
        &self,
        request: Request<v1::GetConnectorStatusRequest>,
    ) -> Result<Response<v1::GetConnectorStatusResponse>, Status> {
        require(&request, Role::Viewer)?;
        let name = request.into_inner().name;
        check_name(&name)?;
        Ok(Response::new(v1::GetConnectorStatusResponse { status: Some(self.status.read(&name).await?) }))
    }

    async fn pause_connector(
        &self,
        request: Request<v1::PauseConnectorRequest>,
    ) -> Result<Response<v1::PauseConnectorResponse>, Status> {
        require(&request, Role::Admin)?;
        self.set_target(&request.into_inner().name, Target::Paused).await?;
        Ok(Response::new(v1::PauseConnectorResponse {}))
    }

    async fn resume_connector(
        &self,
        request: Request<v1::ResumeConnectorRequest>,
    ) -> Result<Response<v1::ResumeConnectorResponse>, Status> {
        require(&request, Role::Admin)?;
        self.set_target(&request.into_inner().name, Target::Running).await?;
        Ok(Response::new(v1::ResumeConnectorResponse {}))
    }

    async fn stop_connector(
        &self,
        request: Request<v1::StopConnectorRequest>,
    ) -> Result<Response<v1::StopConnectorResponse>, Status> {
        require(&request, Role::Admin)?;
        self.set_target(&request.into_inner().name, Target::Stopped).await?;
        Ok(Response::new(v1::StopConnectorResponse {}))
    }

    async fn restart_connector(
        &self,
        request: Request<v1::RestartConnectorRequest>,
    ) -> Result<Response<v1::RestartConnectorResponse>, Status> {
        require(&request, Role::Admin)?;
        let req = request.into_inner();
        check_name(&req.name)?;
        self.store.require_spec(&req.name).await?;
        let status = self.status.read(&req.name).await?;
        // The connector itself has no process to restart; its tasks do.
        let tasks: Vec<u32> = if req.include_tasks {
            status
                .tasks
                .iter()
                .filter(|t| !req.only_failed || t.state == v1::State::Failed as i32)
                .map(|t| t.id)
                .collect()
        } else {
            Vec::new()
        };
        if !tasks.is_empty() {
            self.store.request_restart(&req.name, &RestartRequest { tasks: tasks.clone() }).await?;
        }
        tracing::info!(connector = %req.name, tasks = ?tasks, "restart requested");
        Ok(Response::new(v1::RestartConnectorResponse { status: Some(self.status.read(&req.name).await?) }))
    }

    async fn get_connector_offsets(
        &self,
        request: Request<v1::GetConnectorOffsetsRequest>,
    ) -> Result<Response<v1::GetConnectorOffsetsResponse>, Status> {
        require(&request, Role::Viewer)?;
        let name = request.into_inner().name;
        check_name(&name)?;
        let offsets = self.offsets.get(&name).await?;
        Ok(Response::new(v1::GetConnectorOffsetsResponse { offsets }))
    }

    async fn alter_connector_offsets(
        &self,
        request: Request<v1::AlterConnectorOffsetsRequest>,
    ) -> Result<Response<v1::AlterConnectorOffsetsResponse>, Status> {
        require(&request, Role::Admin)?;
        let req = request.into_inner();
        self.require_stopped(&req.name).await?;
        let message = self.offsets.alter(&req.name, req.offsets).await?;
        tracing::info!(connector = %req.name, "offsets altered");
        Ok(Response::new(v1::AlterConnectorOffsetsResponse { message }))
    }

    async fn reset_connector_offsets(
        &self,
        request: Request<v1::ResetConnectorOffsetsRequest>,
    ) -> Result<Response<v1::ResetConnectorOffsetsResponse>, Status> {
        require(&request, Role::Admin)?;
        let name = request.into_inner().name;
        self.require_stopped(&name).await?;
        let message = self.offsets.reset(&name).await?;
        tracing::info!(connector = %name, "offsets reset");
        Ok(Response::new(v1::ResetConnectorOffsetsResponse { message }))
    }

    async fn list_connector_plugins(
        &self,
        request: Request<v1::ListConnectorPluginsRequest>,
    ) -> Result<Response<v1::ListConnectorPluginsResponse>, Status> {
        require(&request, Role::Viewer)?;
        let include_transforms = request.into_inner().include_transforms;
        let plugins = connect::plugins()
            .iter()
            .filter(|p| include_transforms || matches!(p.kind, PluginKind::Source | PluginKind::Sink))
            .map(|p| v1::PluginInfo {
                class_name: p.class_name.to_owned(),
                kind: p.kind.as_str().to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                config: p.config_keys().iter().map(|d| definition_to_proto(d, d.name)).collect(),
            })
            .collect();
        Ok(Response::new(v1::ListConnectorPluginsResponse { plugins }))
    }

    type WatchConnectorStatusStream = WatchStream;

    async fn watch_connector_status(
        &self,
        request: Request<v1::WatchConnectorStatusRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        require(&request, Role::Viewer)?;
        let name = request.into_inner().name;
        if !name.is_empty() {
            check_name(&name)?;
            self.store.require_spec(&name).await?;
        }
        let filter = (!name.is_empty()).then_some(name);
        Ok(Response::new(Box::pin(self.status.watch(filter).await?)))
    }
}

impl Connectors {
    async fn require_stopped(&self, name: &str) -> Result<()> {
        check_name(name)?;
        self.store.require_spec(name).await?;
        if self.store.get_target(name).await? != Target::Stopped {
            return Err(Error::FailedPrecondition(format!(
                "connector {name} must be STOPPED before its offsets change (hydratectl stop {name})"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Option<v1::ConnectorConfig> {
        Some(v1::ConnectorConfig { source: Some(v1::connector_config::Source::Json(text.into())) })
    }

    #[test]
    fn config_requires_a_source_and_matching_names() {
        assert!(
            matches!(config_of(Some("a"), None), Err(Error::InvalidArgument { field, .. }) if field == "config")
        );
        let err = config_of(Some("a"), json(r#"{"name":"b","config":{"x":"1"}}"#)).unwrap_err();
        assert!(err.to_string().contains("`b`"), "{err}");
        let err = config_of(Some("a"), json(r#"{"x": "1",}"#)).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        let ok = config_of(Some("a"), json(r#"{"name":"a","config":{"poll.interval.ms":5000}}"#)).unwrap();
        assert_eq!(ok["poll.interval.ms"], "5000");
    }
}

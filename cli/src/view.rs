//! `-o json`: the JSON each command prints, built by hand from the proto
//! messages so field names stay stable whatever prost generates.
//!
//! Where Kafka Connect's REST API has a shape, we print that shape, so `jq`
//! scripts written for Kafka Connect keep working; Hydrate's extra fields are
//! added beside Kafka Connect's:
//!
//! - `get`: `GET /connectors/{name}` (`name`, `type`, `config`, `tasks`) plus
//!   `target_state` and `revision`.
//! - `status`, `restart`: `GET /connectors/{name}/status` (`name`, `type`,
//!   `connector.state`, `connector.trace`, `tasks[].id/state/worker_id/trace`)
//!   plus `target_state` and, per task, `epoch`, `resources` and `snapshots`.
//! - `list`: `GET /connectors` (an array of names); with `--status`,
//!   `?expand=status` (`{"NAME": {"status": ..}}`).
//! - `plugins`: `GET /connector-plugins` (`class`, `type`, `version`) plus
//!   `config`, the key definitions.
//! - `offsets get`: `GET /connectors/{name}/offsets`, which `offsets alter`
//!   reads back; `offsets alter|reset`: `{"message": ..}`.
//! - `validate`: `name`, `error_count`, `errors` (not tied to a key), and
//!   `configs[]` flattened to `name`, `value`, `errors`, `ignored`,
//!   `definition`.
//! - `apply`: an array of `{name, file, result, revision, ignored_keys, error}`
//!   with `result` one of created, updated, unchanged, failed.
//! - `pause|resume|stop|delete`: `{"name": .., "result": "paused"}` etc.
//! - `watch`: one object per line, `{"deleted": bool, "status": ..}`.
//!
//! Every field is always present: empty traces and unassigned workers are
//! `null`, states are Kafka Connect's names (`RUNNING`, `FAILED`, ..), types
//! are `source` or `sink`.

use std::collections::BTreeMap;

use hydrate_proto::v1::{
    ConfigKeyDefinition, ConfigValueResult, ConnectorInfo, ConnectorStatus, ConnectorType, PluginInfo, State,
    TargetState, TaskStatus, ValidateConnectorConfigResponse,
};
use serde_json::{Value, json};

use crate::output::ApplyOutcome;

/// Kafka Connect's name for a state: `RUNNING`, `FAILED`, ...
pub fn state_name(state: i32) -> String {
    match State::try_from(state) {
        Ok(State::Unspecified) => "UNKNOWN".into(),
        Ok(s) => s.as_str_name().trim_start_matches("STATE_").into(),
        Err(_) => format!("UNKNOWN({state})"),
    }
}

/// `RUNNING`, `PAUSED` or `STOPPED`.
pub fn target_state_name(target: i32) -> String {
    match TargetState::try_from(target) {
        Ok(TargetState::Unspecified) => "UNKNOWN".into(),
        Ok(t) => t.as_str_name().trim_start_matches("TARGET_STATE_").into(),
        Err(_) => format!("UNKNOWN({target})"),
    }
}

/// `source` or `sink`, as Kafka Connect's `type` field.
pub fn type_name(kind: i32) -> String {
    match ConnectorType::try_from(kind) {
        Ok(ConnectorType::Source) => "source".into(),
        Ok(ConnectorType::Sink) => "sink".into(),
        Ok(ConnectorType::Unspecified) => "unknown".into(),
        Err(_) => format!("unknown({kind})"),
    }
}

fn non_empty(text: &str) -> Value {
    if text.is_empty() { Value::Null } else { Value::String(text.into()) }
}

/// A connector's configuration and tasks.
pub fn connector_info(info: &ConnectorInfo) -> Value {
    let config: BTreeMap<&String, &String> = info.config.iter().collect();
    json!({
        "name": info.name,
        "type": type_name(info.r#type),
        "config": config,
        "tasks": info.tasks.iter()
            .map(|t| json!({"connector": t.connector, "task": t.task}))
            .collect::<Vec<_>>(),
        "target_state": target_state_name(info.target_state),
        "revision": info.revision,
    })
}

/// A connector's status in Kafka Connect's shape.
pub fn connector_status(status: &ConnectorStatus) -> Value {
    json!({
        "name": status.name,
        "type": type_name(status.r#type),
        "connector": {
            "state": state_name(status.state),
            "trace": non_empty(&status.trace),
        },
        "tasks": status.tasks.iter().map(task_status).collect::<Vec<_>>(),
        "target_state": target_state_name(status.target_state),
    })
}

fn task_status(task: &TaskStatus) -> Value {
    json!({
        "id": task.id,
        "state": state_name(task.state),
        "worker_id": non_empty(&task.worker_id),
        "trace": non_empty(&task.trace),
        "epoch": task.epoch,
        "resources": task.resources,
        "snapshots": task.snapshots.iter().map(|s| json!({
            "table": s.table,
            "rows_done": s.rows_done,
            "rows_estimated": s.rows_estimated,
        })).collect::<Vec<_>>(),
    })
}

/// One key's definition.
pub fn key_definition(def: &ConfigKeyDefinition) -> Value {
    json!({
        "name": def.name,
        "type": def.r#type,
        "required": !def.has_default,
        "default_value": if def.has_default { Value::String(def.default_value.clone()) } else { Value::Null },
        "importance": def.importance,
        "documentation": def.documentation,
        "group": def.group,
        "allowed_values": def.allowed_values,
    })
}

/// A plugin with its key definitions.
pub fn plugin(plugin: &PluginInfo) -> Value {
    json!({
        "class": plugin.class_name,
        "type": plugin.kind,
        "version": plugin.version,
        "config": plugin.config.iter().map(key_definition).collect::<Vec<_>>(),
    })
}

/// The outcome of each connector of an `apply`.
pub fn apply_outcomes(outcomes: &[ApplyOutcome]) -> Value {
    outcomes
        .iter()
        .map(|o| {
            let (revision, ignored, error) = match &o.result {
                Ok(r) => (r.connector.as_ref().map(|c| c.revision), r.ignored_keys.clone(), None),
                Err(message) => (None, Vec::new(), Some(message.clone())),
            };
            json!({
                "name": o.name,
                "file": o.path.display().to_string(),
                "result": o.verb(),
                "revision": revision,
                "ignored_keys": ignored,
                "error": error,
            })
        })
        .collect()
}

/// A validation result.
pub fn validation(response: &ValidateConnectorConfigResponse) -> Value {
    json!({
        "name": response.name,
        "error_count": response.error_count,
        "errors": response.errors,
        "configs": response.configs.iter().map(config_value).collect::<Vec<_>>(),
    })
}

fn config_value(result: &ConfigValueResult) -> Value {
    json!({
        "name": result.name,
        "value": result.value,
        "errors": result.errors,
        "ignored": result.ignored,
        "definition": result.definition.as_ref().map(key_definition),
    })
}

#[cfg(test)]
mod tests {
    use hydrate_proto::v1::{SnapshotProgress, TaskId};

    use super::*;

    #[test]
    fn status_uses_kafka_connect_names() {
        let status = ConnectorStatus {
            name: "pg".into(),
            r#type: ConnectorType::Source as i32,
            state: State::Running as i32,
            trace: String::new(),
            tasks: vec![TaskStatus {
                id: 0,
                state: State::Failed as i32,
                worker_id: "w1".into(),
                trace: "boom".into(),
                epoch: 3,
                snapshots: vec![SnapshotProgress {
                    table: "public.film".into(),
                    rows_done: 10,
                    rows_estimated: 100,
                }],
                resources: vec!["public.film".into()],
            }],
            target_state: TargetState::Running as i32,
        };
        assert_eq!(
            connector_status(&status),
            json!({
                "name": "pg", "type": "source",
                "connector": {"state": "RUNNING", "trace": null},
                "tasks": [{"id": 0, "state": "FAILED", "worker_id": "w1", "trace": "boom",
                    "epoch": 3, "resources": ["public.film"],
                    "snapshots": [{"table": "public.film", "rows_done": 10, "rows_estimated": 100}]}],
                "target_state": "RUNNING",
            })
        );
    }

    #[test]
    fn connector_info_and_unknown_enums_are_visible() {
        let info = ConnectorInfo {
            name: "s3".into(),
            config: [("b".to_owned(), "2".to_owned()), ("a".into(), "1".into())].into(),
            r#type: 9,
            tasks: vec![TaskId { connector: "s3".into(), task: 0 }],
            revision: 7,
            target_state: TargetState::Stopped as i32,
        };
        let value = connector_info(&info);
        assert_eq!(value["config"], json!({"a": "1", "b": "2"}));
        assert_eq!(value["type"], "unknown(9)");
        assert_eq!(value["target_state"], "STOPPED");
        assert_eq!(value["tasks"][0], json!({"connector": "s3", "task": 0}));
    }
}

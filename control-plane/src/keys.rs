//! The etcd key layout, in one place. No key string is assembled elsewhere.
//!
//! Everything lives under one prefix (default `/hydrate/`):
//!
//! ```text
//! connectors/<name>/spec              the connector's config, as written (CAS on mod revision)
//! connectors/<name>/target            RUNNING | PAUSED | STOPPED
//! connectors/<name>/tasks             the task configs the leader generated
//! connectors/<name>/status            the connector's own state (set by the leader)
//! connectors/<name>/restart           tasks the user asked to restart (taken by the leader)
//! epochs/<name>/<task>                the last epoch handed out for a task (never goes back)
//! workers/<worker>                    a registered worker, attached to its lease
//! assignments/<worker>/<name>/<task>  a task leased to a worker, attached to its lease
//! status/<name>/<task>                a task's reported status, attached to the reporter's lease
//! leader                              the leader election
//! ```

/// Builds every etcd key the control plane reads or writes.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix`, which is made to end with `/`.
    pub fn new(prefix: &str) -> Keys {
        let mut prefix = prefix.to_owned();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Keys { prefix }
    }

    /// The prefix every key starts with.
    pub fn root(&self) -> &str {
        &self.prefix
    }

    /// Prefix of everything about connectors.
    pub fn connectors(&self) -> String {
        format!("{}connectors/", self.prefix)
    }

    /// The stored config of connector `name`.
    pub fn spec(&self, name: &str) -> String {
        format!("{}connectors/{name}/spec", self.prefix)
    }

    /// The target state of connector `name`.
    pub fn target(&self, name: &str) -> String {
        format!("{}connectors/{name}/target", self.prefix)
    }

    /// The generated task configs of connector `name`.
    pub fn tasks(&self, name: &str) -> String {
        format!("{}connectors/{name}/tasks", self.prefix)
    }

    /// A pending restart request of `name`.
    pub fn restart(&self, name: &str) -> String {
        format!("{}connectors/{name}/restart", self.prefix)
    }

    /// The connector-level status of `name`.
    pub fn connector_status(&self, name: &str) -> String {
        format!("{}connectors/{name}/status", self.prefix)
    }

    /// Prefix of all keys of connector `name` (spec, target, tasks, status).
    pub fn connector(&self, name: &str) -> String {
        format!("{}connectors/{name}/", self.prefix)
    }

    /// The epoch counter of one task.
    pub fn epoch(&self, name: &str, task: u32) -> String {
        format!("{}epochs/{name}/{task}", self.prefix)
    }

    /// Prefix of all registered workers.
    pub fn workers(&self) -> String {
        format!("{}workers/", self.prefix)
    }

    /// One registered worker.
    pub fn worker(&self, worker: &str) -> String {
        format!("{}workers/{worker}", self.prefix)
    }

    /// Prefix of all assignments.
    pub fn assignments(&self) -> String {
        format!("{}assignments/", self.prefix)
    }

    /// Prefix of one worker's assignments.
    pub fn assignments_of(&self, worker: &str) -> String {
        format!("{}assignments/{worker}/", self.prefix)
    }

    /// One task's assignment to `worker`.
    pub fn assignment(&self, worker: &str, name: &str, task: u32) -> String {
        format!("{}assignments/{worker}/{name}/{task}", self.prefix)
    }

    /// Prefix of all task statuses.
    pub fn statuses(&self) -> String {
        format!("{}status/", self.prefix)
    }

    /// Prefix of connector `name`'s task statuses.
    pub fn statuses_of(&self, name: &str) -> String {
        format!("{}status/{name}/", self.prefix)
    }

    /// One task's status.
    pub fn status(&self, name: &str, task: u32) -> String {
        format!("{}status/{name}/{task}", self.prefix)
    }

    /// The leader election's name.
    pub fn election(&self) -> String {
        format!("{}leader", self.prefix)
    }

    /// Splits an assignment key into (worker, connector, task).
    pub fn parse_assignment<'a>(&self, key: &'a str) -> Option<(&'a str, &'a str, u32)> {
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix("assignments/")?;
        let mut parts = rest.splitn(3, '/');
        let worker = parts.next()?;
        let name = parts.next()?;
        let task = parts.next()?.parse().ok()?;
        Some((worker, name, task))
    }

    /// The connector name of a key under `connectors/`, and what follows it.
    pub fn parse_connector_key<'a>(&self, key: &'a str) -> Option<(&'a str, &'a str)> {
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix("connectors/")?;
        rest.split_once('/')
    }

    /// The connector name and task of a key under `status/`.
    pub fn parse_status<'a>(&self, key: &'a str) -> Option<(&'a str, u32)> {
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix("status/")?;
        let (name, task) = rest.split_once('/')?;
        Some((name, task.parse().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let keys = Keys::new("/hydrate");
        assert_eq!(keys.spec("pg"), "/hydrate/connectors/pg/spec");
        let assignment = keys.assignment("w-1", "s3.sink", 3);
        assert_eq!(keys.parse_assignment(&assignment), Some(("w-1", "s3.sink", 3)));
        assert_eq!(keys.parse_connector_key(&keys.target("a")), Some(("a", "target")));
        assert_eq!(keys.parse_status(&keys.status("a", 7)), Some(("a", 7)));
        assert_eq!(keys.parse_assignment("/other/assignments/w/a/1"), None);
    }

    #[test]
    fn connector_prefix_does_not_match_longer_names() {
        let keys = Keys::new("/h/");
        assert!(!keys.spec("ab").starts_with(&keys.connector("a")));
    }
}

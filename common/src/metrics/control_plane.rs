//! The control plane's metrics: leadership, worker leases, assignments, and
//! the connectors and tasks it manages by state.

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use super::register;

/// The states a connector or task can be in (the `state` label's values).
pub const STATES: &[&str] = &["unassigned", "running", "paused", "stopped", "failed", "restarting"];
/// The connector types (the `type` label's values).
pub const TYPES: &[&str] = &["source", "sink"];

/// Every control-plane metric family.
#[derive(Debug)]
pub struct ControlPlaneMetrics {
    is_leader: IntGauge,
    leader_changes: IntCounter,
    leases_granted: IntCounterVec,
    lease_renewals: IntCounterVec,
    leases_expired: IntCounter,
    assignments: IntCounterVec,
    workers: IntGaugeVec,
    connectors: IntGaugeVec,
    tasks: IntGaugeVec,
    errors: IntCounterVec,
}

impl ControlPlaneMetrics {
    pub(super) fn register(r: &Registry) -> Self {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register(r, IntCounterVec::new(Opts::new(name, help), labels))
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            register(r, IntGaugeVec::new(Opts::new(name, help), labels))
        };
        let this = Self {
            is_leader: register(
                r,
                IntGauge::new(
                    "hydrate_control_plane_is_leader",
                    "1 while this replica is the elected leader.",
                ),
            ),
            leader_changes: register(
                r,
                IntCounter::new(
                    "hydrate_control_plane_leader_changes_total",
                    "Times this replica became or stopped being the leader.",
                ),
            ),
            leases_granted: counter(
                "hydrate_control_plane_leases_granted_total",
                "Worker leases granted (registrations).",
                &["type"],
            ),
            lease_renewals: counter(
                "hydrate_control_plane_lease_renewals_total",
                "Worker lease renewals served.",
                &["type"],
            ),
            leases_expired: register(
                r,
                IntCounter::new(
                    "hydrate_control_plane_leases_expired_total",
                    "Renewals refused because the worker's lease had expired or was replaced.",
                ),
            ),
            assignments: counter(
                "hydrate_control_plane_assignments_total",
                "Assignment changes the leader wrote: assign (new epoch), update, unassign.",
                &["change"],
            ),
            workers: gauge(
                "hydrate_control_plane_workers",
                "Registered workers (live leases), seen by the leader.",
                &["type"],
            ),
            connectors: gauge(
                "hydrate_control_plane_connectors",
                "Connectors by type and state, seen by the leader.",
                &["type", "state"],
            ),
            tasks: gauge(
                "hydrate_control_plane_tasks",
                "Tasks by type and state, seen by the leader.",
                &["type", "state"],
            ),
            errors: counter(
                "hydrate_control_plane_errors_total",
                "Errors by stage (store, schedule).",
                &["stage"],
            ),
        };
        this.is_leader.set(0);
        // Series that alerts and dashboards rate over exist from the start.
        this.leases_expired.inc_by(0);
        for stage in super::Stage::CONTROL_PLANE {
            this.errors.with_label_values(&[stage.as_str()]);
        }
        for kind in TYPES {
            this.leases_granted.with_label_values(&[*kind]);
            this.lease_renewals.with_label_values(&[*kind]);
        }
        for change in ["assign", "update", "unassign"] {
            this.assignments.with_label_values(&[change]);
        }
        this
    }

    /// This replica became leader (`true`) or stopped being it.
    pub fn set_leader(&self, leader: bool) {
        let now = i64::from(leader);
        if self.is_leader.get() != now {
            self.leader_changes.inc();
        }
        self.is_leader.set(now);
        if !leader {
            // Only the leader reports the cluster's view: a follower's would
            // be stale and double-counted.
            for vec in [&self.workers, &self.connectors, &self.tasks] {
                vec.reset();
            }
        }
    }

    /// A worker of `kind` got a lease.
    pub fn lease_granted(&self, kind: &str) {
        self.leases_granted.with_label_values(&[kind]).inc();
    }

    /// A worker of `kind` renewed its lease.
    pub fn lease_renewed(&self, kind: &str) {
        self.lease_renewals.with_label_values(&[kind]).inc();
    }

    /// A worker tried to renew a lease that was gone.
    pub fn lease_expired(&self) {
        self.leases_expired.inc();
    }

    /// The leader wrote an assignment change: `assign`, `update` or `unassign`.
    pub fn assignment_changed(&self, change: &'static str) {
        self.assignments.with_label_values(&[change]).inc();
    }

    /// An error at `stage`.
    pub fn error(&self, stage: super::Stage) {
        self.errors.with_label_values(&[stage.as_str()]).inc();
    }

    /// The leader's census: workers, connectors and tasks by type and state.
    /// States absent from the counts are set to 0 so alerts see a series.
    pub fn set_census(&self, census: &Census) {
        for kind in TYPES {
            self.workers.with_label_values(&[*kind]).set(census.count(&census.workers, kind, ""));
            for state in STATES {
                self.connectors.with_label_values(&[*kind, *state]).set(census.count(
                    &census.connectors,
                    kind,
                    state,
                ));
                self.tasks.with_label_values(&[*kind, *state]).set(census.count(&census.tasks, kind, state));
            }
        }
    }
}

/// What the leader counted; keys are (type, state) from [`TYPES`] and
/// [`STATES`] (workers use an empty state).
#[derive(Debug, Default, Clone)]
pub struct Census {
    /// Workers by type.
    pub workers: Vec<(&'static str, &'static str)>,
    /// Connectors by type and state.
    pub connectors: Vec<(&'static str, &'static str)>,
    /// Tasks by type and state.
    pub tasks: Vec<(&'static str, &'static str)>,
}

impl Census {
    fn count(&self, items: &[(&'static str, &'static str)], kind: &str, state: &str) -> i64 {
        let n = items.iter().filter(|(k, s)| *k == kind && *s == state).count();
        i64::try_from(n).unwrap_or(i64::MAX)
    }
}

//! The data-plane side of leases (`common::worker`), for sources and sinks
//! alike; `kind` is `source` or `sink`.

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

use super::register;

/// Lease and assignment metrics of a worker process.
#[derive(Debug)]
pub struct WorkerMetrics {
    registrations: IntCounterVec,
    lease_renewals: IntCounterVec,
    lease_losses: IntCounterVec,
    assigned_tasks: IntGaugeVec,
}

impl WorkerMetrics {
    pub(super) fn register(r: &Registry) -> Self {
        let counter =
            |name: &str, help: &str| register(r, IntCounterVec::new(Opts::new(name, help), &["kind"]));
        Self {
            registrations: counter(
                "hydrate_worker_registrations_total",
                "Times the worker registered with the control plane (and got a lease).",
            ),
            lease_renewals: counter("hydrate_worker_lease_renewals_total", "Successful lease renewals."),
            lease_losses: counter(
                "hydrate_worker_lease_losses_total",
                "Leases lost (a failed or late renewal, a closed stream): every task stopped.",
            ),
            assigned_tasks: register(
                r,
                IntGaugeVec::new(
                    Opts::new("hydrate_worker_assigned_tasks", "Tasks currently assigned to this worker."),
                    &["kind"],
                ),
            ),
        }
    }

    /// Registered and got a lease.
    pub fn registered(&self, kind: &str) {
        self.registrations.with_label_values(&[kind]).inc();
        // Renewals and losses exist from the first registration, at 0.
        self.lease_renewals.with_label_values(&[kind]);
        self.lease_losses.with_label_values(&[kind]);
    }

    /// Renewed the lease.
    pub fn lease_renewed(&self, kind: &str) {
        self.lease_renewals.with_label_values(&[kind]).inc();
    }

    /// Lost the lease.
    pub fn lease_lost(&self, kind: &str) {
        self.lease_losses.with_label_values(&[kind]).inc();
        self.assigned_tasks.with_label_values(&[kind]).set(0);
    }

    /// Now holds `n` tasks.
    pub fn set_assigned_tasks(&self, kind: &str, n: usize) {
        self.assigned_tasks.with_label_values(&[kind]).set(i64::try_from(n).unwrap_or(i64::MAX));
    }
}

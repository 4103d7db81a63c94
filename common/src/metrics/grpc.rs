//! gRPC server metrics, filled in by [`crate::telemetry::GrpcServerLayer`].

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use super::{LATENCY_BUCKETS, register};

/// Requests served, by method and status code.
#[derive(Debug)]
pub struct GrpcServerMetrics {
    handled: IntCounterVec,
    duration: HistogramVec,
}

impl GrpcServerMetrics {
    pub(super) fn register(r: &Registry) -> Self {
        Self {
            handled: register(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "hydrate_grpc_server_handled_total",
                        "gRPC calls completed, by method (`Service/Method`) and status code name.",
                    ),
                    &["method", "code"],
                ),
            ),
            duration: register(
                r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "hydrate_grpc_server_handling_seconds",
                        "Time to the response headers of a gRPC call (a stream's first message).",
                    )
                    .buckets(LATENCY_BUCKETS.to_vec()),
                    &["method"],
                ),
            ),
        }
    }

    /// One call of `method` answered with `code` after `seconds`.
    pub fn handled(&self, method: &str, code: &str, seconds: f64) {
        self.handled.with_label_values(&[method, code]).inc();
        self.duration.with_label_values(&[method]).observe(seconds);
    }
}

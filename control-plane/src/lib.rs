//! Hydrate's control plane: stores connector specs in etcd, validates them,
//! splits connectors into tasks and leases them to workers over gRPC.

mod server;

use std::net::SocketAddr;

use hydrate_common::telemetry::LogFormat;
use tokio_util::sync::CancellationToken;

pub use server::run;

/// Command-line and environment configuration of a control-plane replica.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "hydrate-control-plane", version, about)]
pub struct Config {
    /// Address the gRPC (and gRPC-web) listener binds to.
    #[arg(long, env = "HYDRATE_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Log line format: text or json.
    #[arg(long, env = "HYDRATE_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

/// A token cancelled on SIGINT or SIGTERM, the root of every task's shutdown.
pub fn shutdown_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let child = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = ctrl_c => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = ctrl_c.await;
                }
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown requested");
        child.cancel();
    });
    token
}

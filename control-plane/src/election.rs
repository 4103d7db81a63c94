//! Leader election on etcd. Only the leader schedules; every replica serves.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::Client;
use tokio_util::sync::CancellationToken;

use crate::kafka::TopicSource;
use crate::store::Store;

/// Campaigns for leadership until `shutdown`, running the scheduler while
/// leader. Leadership is tied to an etcd lease renewed at a third of its TTL;
/// a failed or late renewal ends it at once (scheduling stops first).
pub async fn run(
    store: Store,
    replica_id: String,
    ttl_seconds: i64,
    topics: Arc<dyn TopicSource>,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        let client = match store.blocking_client().await {
            Ok(client) => client,
            Err(err) => {
                tracing::warn!(replica = %replica_id, error = %err, "etcd not reachable for the election");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
        };
        match lead_once(client, &store, &replica_id, ttl_seconds, topics.clone(), &shutdown).await {
            Ok(()) => {}
            Err(err) => {
                tracing::warn!(replica = %replica_id, error = %err, "leadership attempt failed");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

async fn lead_once(
    mut client: Client,
    store: &Store,
    replica_id: &str,
    ttl_seconds: i64,
    topics: Arc<dyn TopicSource>,
    shutdown: &CancellationToken,
) -> Result<(), etcd_client::Error> {
    let lease = client.lease_grant(ttl_seconds, None).await?.id();
    let (mut keeper, mut responses) = client.lease_keep_alive(lease).await?;
    let lost = CancellationToken::new();

    // Renew at a third of the TTL; any failure means leadership is lost.
    let renew = {
        let lost = lost.clone();
        let interval = Duration::from_millis((ttl_seconds as u64 * 1000 / 3).max(500));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let renewed = tokio::time::timeout(interval, async {
                    keeper.keep_alive().await?;
                    responses.message().await
                })
                .await;
                match renewed {
                    Ok(Ok(Some(r))) if r.ttl() > 0 => continue,
                    _ => {
                        lost.cancel();
                        return;
                    }
                }
            }
        })
    };

    let election = store.keys().election();
    let campaign = client.campaign(election.as_str(), replica_id, lease);
    let leader_key = tokio::select! {
        _ = shutdown.cancelled() => { renew.abort(); let _ = client.lease_revoke(lease).await; return Ok(()); }
        _ = lost.cancelled() => { renew.abort(); return Ok(()); }
        result = campaign => match result {
            Ok(key) => key,
            Err(err) => {
                renew.abort();
                let _ = client.lease_revoke(lease).await;
                return Err(err);
            }
        },
    };
    tracing::info!(replica = %replica_id, "became leader");
    hydrate_common::metrics::control_plane().set_leader(true);
    let scheduling = CancellationToken::new();
    let scheduler = tokio::spawn(crate::scheduler::run(store.clone(), topics, scheduling.clone()));
    let census = tokio::spawn(crate::census::run(store.clone(), scheduling.clone()));
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = lost.cancelled() => tracing::warn!(replica = %replica_id, "leader lease lost; stopped scheduling"),
    }
    scheduling.cancel();
    let _ = scheduler.await;
    let _ = census.await;
    hydrate_common::metrics::control_plane().set_leader(false);
    renew.abort();
    if let Some(key) = leader_key.leader() {
        let _ = client.resign(Some(etcd_client::ResignOptions::new().with_leader(key.clone()))).await;
    }
    let _ = client.lease_revoke(lease).await;
    tracing::info!(replica = %replica_id, "no longer leader");
    Ok(())
}

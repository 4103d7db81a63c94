//! The local stack's etcd expires leased keys.

use std::time::Duration;

use etcd_client::{Client, GetOptions, PutOptions};
use hydrate_tests::{TestScope, wait_for};

#[tokio::test]
async fn leased_key_disappears_after_lease_expires() {
    let scope = TestScope::new("etcd_lease");
    let mut client = Client::connect(scope.env().etcd_endpoints(), None).await.expect("connect to etcd");
    let key = format!("{}worker", scope.etcd_prefix());

    let lease = client.lease_grant(2, None).await.expect("grant lease");
    client
        .put(key.as_str(), "alive", Some(PutOptions::new().with_lease(lease.id())))
        .await
        .expect("put leased key");
    let got = client.get(key.as_str(), None).await.expect("get key");
    assert_eq!(got.kvs().len(), 1, "key present while the lease lives");
    assert_eq!(got.kvs()[0].lease(), lease.id());

    // No keep-alive: the lease expires after its 2 s TTL and takes the key.
    wait_for("leased key to expire", Duration::from_secs(15), || {
        let mut client = client.clone();
        let key = key.clone();
        async move {
            let got = client
                .get(key.as_str(), Some(GetOptions::new().with_count_only()))
                .await
                .map_err(|e| e.to_string())?;
            Ok((got.count() == 0).then_some(()))
        }
    })
    .await;

    let ttl = client.lease_time_to_live(lease.id(), None).await.expect("lease ttl");
    assert!(ttl.ttl() <= 0, "lease reported expired, ttl {}", ttl.ttl());
}

//! The sink follows its assignment: a paused connector's task stops
//! consuming (and commits nothing), a resumed one goes on from its
//! checkpoint.

use std::time::Duration;

use hydrate_proto::v1;
use hydrate_tests::wait_for;

use crate::sink_support::{ADDRESS_SCHEMA, SinkWorld, address_payload, envelope};

#[tokio::test]
async fn sink_pause_stops_consuming_and_resume_goes_on_from_the_checkpoint() {
    let world = SinkWorld::start("sink_pause", 5).await;
    let topic = world.scope.topic("data");
    world.create_topic(&topic, 1).await;
    let rows = |ids: std::ops::RangeInclusive<u32>| {
        ids.map(|id| (0, None, Some(envelope(ADDRESS_SCHEMA, &address_payload(id))))).collect()
    };
    world.produce(&topic, rows(1..=10)).await;
    let config = world.sink_config(
        &topic,
        serde_json::json!({
            "flush.size": 5,
        }),
    );
    let name = format!("pause_{}", world.scope.id());
    world.put(&name, config).await;
    let dir = format!("{}/{topic}/partition=0/", world.topics_dir());
    let key = |start: u32| format!("{dir}{topic}+0+{start:010}.json");
    let objects = |n: usize| {
        let dir = dir.clone();
        let world = &world;
        async move {
            wait_for(&format!("{n} objects"), Duration::from_secs(60), || {
                let dir = dir.clone();
                async move {
                    let keys = world.list(&dir).await;
                    Ok((keys.len() >= n).then_some(keys))
                }
            })
            .await
        }
    };
    assert_eq!(objects(2).await, [key(0), key(5)]);

    world
        .admin
        .clone()
        .pause_connector(v1::PauseConnectorRequest { name: name.clone() })
        .await
        .expect("pause");
    world.wait_tasks(&name, v1::State::Paused, Duration::from_secs(30)).await;
    // PAUSED is reported once the task has stopped: nothing consumes now.
    world.produce(&topic, rows(11..=15)).await;
    assert_eq!(world.committed(&name, &topic, 1).await, [10]);
    assert_eq!(world.list(&dir).await.len(), 2, "no object while paused");

    world
        .admin
        .clone()
        .resume_connector(v1::ResumeConnectorRequest { name: name.clone() })
        .await
        .expect("resume");
    world.wait_tasks(&name, v1::State::Running, Duration::from_secs(30)).await;
    assert_eq!(objects(3).await, [key(0), key(5), key(10)]);
    let body = String::from_utf8(world.get(&key(10)).await).expect("utf-8");
    assert_eq!(body.lines().collect::<Vec<_>>(), (11..=15).map(address_payload).collect::<Vec<_>>());
}

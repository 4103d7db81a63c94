use std::collections::BTreeSet;
use std::time::Duration;

use super::*;

/// Serializes the tests that set the control plane's global gauges.
static CONTROL_PLANE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Every family, registered (the lazily made ones too).
fn all_families() -> BTreeSet<String> {
    all_family_types().into_iter().map(|(name, _)| name).collect()
}

fn all_family_types() -> Vec<(String, prometheus::proto::MetricType)> {
    let _lock = CONTROL_PLANE.lock().unwrap_or_else(|e| e.into_inner());
    let source = source().task("contract", 0);
    let sink = sink().task("contract", 0);
    source.polled(1, 1, Duration::ZERO);
    source.produced("t", 1, 1, Duration::ZERO);
    source.error(Stage::Poll);
    sink.received("t", 1, 1);
    sink.uploaded(1, 1, Duration::ZERO);
    sink.set_consumer_lag("t", 0, 1);
    sink.error(Stage::Upload);
    worker().registered("source");
    worker().lease_renewed("source");
    worker().lease_lost("source");
    control_plane().lease_granted("sink");
    control_plane().lease_renewed("sink");
    control_plane().lease_expired();
    control_plane().assignment_changed("assign");
    control_plane().error(Stage::Store);
    control_plane().set_census(&control_plane::Census::default());
    grpc_server().handled("hydrate.v1.X/Y", "OK", 0.0);
    set_build_info("test");
    let names = registry().gather().iter().map(|f| (f.name().to_owned(), f.get_field_type())).collect();
    source.remove();
    sink.remove();
    names
}

#[test]
fn names_follow_prometheus_conventions() {
    for (name, kind) in all_family_types() {
        assert!(name.starts_with("hydrate_"), "{name}: not under hydrate_");
        assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{name}");
        let counter = kind == prometheus::proto::MetricType::COUNTER;
        assert_eq!(counter, name.ends_with("_total"), "{name}: counters and only counters end in _total");
        if kind == prometheus::proto::MetricType::HISTOGRAM {
            assert!(
                name.ends_with("_seconds") || name.ends_with("_rows"),
                "{name}: histogram without a unit"
            );
        }
    }
}

/// docs/metrics.md is the contract: it lists exactly the families defined here.
#[test]
fn docs_list_every_metric() {
    let doc = include_str!("../../../docs/metrics.md");
    let documented: BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `hydrate_"))
        .filter_map(|l| l.split('`').next())
        .map(|n| format!("hydrate_{n}"))
        .collect();
    let defined = all_families();
    let undocumented: Vec<_> = defined.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&defined).collect();
    assert!(undocumented.is_empty(), "defined but not in docs/metrics.md: {undocumented:?}");
    assert!(stale.is_empty(), "in docs/metrics.md but not defined: {stale:?}");
}

#[test]
fn task_handles_count_and_remove_their_series() {
    let task = source().task("handles", 3);
    task.polled(10, 1000, Duration::from_millis(20));
    task.polled(5, 500, Duration::from_millis(20));
    task.produced("pg.orders", 15, 1500, Duration::from_millis(5));
    task.error(Stage::Produce);
    let text = encode_text();
    assert!(
        text.contains(r#"hydrate_source_received_records_total{connector="handles",task="3"} 15"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"hydrate_source_sent_bytes_total{connector="handles",task="3",topic="pg.orders"} 1500"#
        )
    );
    assert!(text.contains(r#"hydrate_source_errors_total{connector="handles",stage="produce",task="3"} 1"#));
    assert!(text.contains(r#"hydrate_source_poll_rows_count{connector="handles",task="3"} 2"#));
    assert!(
        text.contains(r#"hydrate_source_errors_total{connector="handles",stage="commit",task="3"} 0"#),
        "error series start at 0"
    );
    task.remove();
    let text = encode_text();
    assert!(!text.contains(r#"connector="handles""#), "series left after remove: {text}");
}

#[test]
fn a_task_started_again_before_the_old_run_stopped_keeps_its_series() {
    let old = sink().task("restarted", 0);
    let new = sink().task("restarted", 0);
    new.set_open_files(2);
    old.remove();
    let text = encode_text();
    assert!(text.contains(r#"hydrate_sink_open_files{connector="restarted",task="0"} 2"#), "{text}");
    new.remove();
    assert!(!encode_text().contains(r#"connector="restarted""#));
}

#[test]
fn sink_freshness_and_lag() {
    let task = sink().task("fresh", 1);
    task.freshness_between_millis(1_000, 4_000);
    task.freshness_between_millis(5_000, 4_000); // clock skew: 0, not negative
    task.set_consumer_lag("t", 2, -5);
    task.set_open_files(3);
    let text = encode_text();
    assert!(text.contains(r#"hydrate_sink_freshness_seconds_sum{connector="fresh",task="1"} 3"#), "{text}");
    assert!(text.contains(r#"hydrate_sink_freshness_seconds_bucket{connector="fresh",task="1",le="1"} 1"#));
    assert!(text.contains(
        r#"hydrate_sink_consumer_lag_records{connector="fresh",partition="2",task="1",topic="t"} 0"#
    ));
    assert!(text.contains(r#"hydrate_sink_open_files{connector="fresh",task="1"} 3"#));
    task.remove();
}

#[test]
fn leadership_counts_changes_and_clears_the_census() {
    let _lock = CONTROL_PLANE.lock().unwrap_or_else(|e| e.into_inner());
    let cp = control_plane();
    let census = control_plane::Census {
        workers: vec![("source", "")],
        connectors: vec![("source", "running")],
        tasks: vec![("source", "running"), ("source", "failed"), ("sink", "running")],
    };
    let before = leader_changes();
    cp.set_leader(true);
    cp.set_leader(true);
    cp.set_census(&census);
    let text = encode_text();
    assert!(text.contains(r#"hydrate_control_plane_tasks{state="failed",type="source"} 1"#), "{text}");
    assert!(text.contains(r#"hydrate_control_plane_tasks{state="paused",type="sink"} 0"#));
    assert!(text.contains("hydrate_control_plane_is_leader 1"));
    cp.set_leader(false);
    assert_eq!(leader_changes() - before, 2);
    assert!(!encode_text().contains("hydrate_control_plane_tasks{"));
}

fn leader_changes() -> u64 {
    let text = encode_text();
    text.lines()
        .find_map(|l| l.strip_prefix("hydrate_control_plane_leader_changes_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

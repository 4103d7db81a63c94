//! Nothing skipped: writers update random rows in transactions held open
//! for random times while the source polls every 100 ms in timestamp mode;
//! afterwards the final version of every row is in Kafka. Kafka Connect's
//! algorithm (`ts > last AND ts < now - delay`) loses rows here, because a
//! trigger's `now()` is the transaction's start, long before it commits.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::source_support::{SourceTest, TopicReader};

const ROWS: i32 = 100;
const WRITERS: usize = 4;

/// xorshift64: enough randomness without another dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test]
async fn source_torture_late_commits_are_never_skipped() {
    let mut t = SourceTest::new("source_torture").await;
    let s = t.schema.clone();
    t.pg.batch_execute(&format!(
        "CREATE TABLE {s}.t (id int PRIMARY KEY, v int NOT NULL DEFAULT 0,
                             last_update timestamp without time zone NOT NULL DEFAULT now());
         CREATE FUNCTION {s}.stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.last_update = now(); RETURN NEW; END $$;
         CREATE TRIGGER last_updated BEFORE UPDATE ON {s}.t FOR EACH ROW EXECUTE FUNCTION {s}.stamp();
         INSERT INTO {s}.t (id) SELECT generate_series(1, {ROWS});"
    ))
    .await
    .expect("table");
    let prefix = t.prefix("torture");
    let config = t.config(&[
        ("mode", "timestamp"),
        ("timestamp.column.name", "last_update"),
        ("table.whitelist", "t"),
        ("topic.prefix", &prefix),
        ("poll.interval.ms", "100"),
    ]);
    t.put("torture", &config).await;
    t.start_worker();
    let reader = TopicReader::new(t.scope.env().kafka_bootstrap(), &format!("{prefix}t"), true)
        .read_at_least(ROWS as usize, Duration::from_secs(60))
        .await;

    // Writers: each transaction updates one or two random rows, then stays
    // open up to 2.5 s before it commits.
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(7);
    let stop = Instant::now() + Duration::from_secs(12);
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let session = t.session().await;
        let s = s.clone();
        writers.push(tokio::spawn(async move {
            let mut rng = Rng::new(seed.wrapping_add(w as u64 * 7919));
            let mut commits = 0;
            while Instant::now() < stop {
                session.batch_execute("BEGIN").await.expect("begin");
                for _ in 0..=rng.below(2) {
                    let id = 1 + rng.below(ROWS as u64) as i32;
                    session
                        .execute(&format!("UPDATE {s}.t SET v = v + 1 WHERE id = $1"), &[&id])
                        .await
                        .expect("update");
                }
                tokio::time::sleep(Duration::from_millis(rng.below(2500))).await;
                session.batch_execute("COMMIT").await.expect("commit");
                commits += 1;
            }
            commits
        }));
    }
    let mut commits = 0;
    for writer in writers {
        commits += writer.await.expect("writer");
    }
    assert!(commits >= 20, "the writers committed {commits} transactions");

    let finals: BTreeMap<i32, i32> =
        t.pg.query(&format!("SELECT id, v FROM {s}.t"), &[])
            .await
            .expect("final rows")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    let missing = |values: &[serde_json::Value]| -> Vec<i32> {
        finals
            .iter()
            .filter(|(id, v)| {
                !values.iter().any(|x| x["payload"]["id"] == json!(id) && x["payload"]["v"] == json!(v))
            })
            .map(|(id, _)| *id)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut reader = reader;
    loop {
        let missing = missing(&reader.values());
        if missing.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "final versions never arrived for rows {missing:?}");
        reader = reader.drain(Duration::from_millis(500)).await;
    }
    t.kill_worker();
    t.finish().await;
}

//! Freshness: one writer updates `rate` rows a second in commits every
//! `commit_ms` (bumping `version`, `last_update = now()`), noting each
//! (id, version)'s wall-clock time once COMMIT returned; a watcher lists the
//! lake every `list_ms` and reads each new object (JSON lines). The delay of
//! a row is the first listing that showed an object holding it, less its
//! commit time.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use serde_json::{Value, json};
use tokio::time::{Instant, MissedTickBehavior};

use crate::{pg, unix_now};

#[derive(clap::Args)]
pub struct FreshnessArgs {
    #[arg(long, env = "BENCH_PG_URL", hide_env_values = true)]
    pg_url: String,
    /// `schema.table` with `id bigint`, `version int`, `last_update timestamptz`.
    #[arg(long)]
    table: String,
    /// Ids 1..=rows exist in the table.
    #[arg(long)]
    rows: i64,
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    #[arg(long, default_value_t = 100)]
    commit_ms: u64,
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// How long to keep watching after the last commit.
    #[arg(long, default_value_t = 30)]
    drain_seconds: u64,
    #[arg(long, default_value_t = 100)]
    list_ms: u64,
    #[arg(long)]
    bucket: String,
    /// The prefix the sink writes the table's objects under.
    #[arg(long)]
    prefix: String,
}

type Key = (i64, i32);

fn s3_client() -> anyhow::Result<aws_sdk_s3::Client> {
    let var = |k: &str| std::env::var(k).with_context(|| format!("{k} is not set"));
    let credentials = Credentials::new(
        var("AWS_ACCESS_KEY_ID")?,
        var("AWS_SECRET_ACCESS_KEY")?,
        None,
        None,
        "hydrate-bench",
    );
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(var("AWS_ENDPOINT_URL")?)
        .region(Region::new(var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into())))
        .credentials_provider(credentials)
        .force_path_style(true)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    Ok(aws_sdk_s3::Client::from_conf(config))
}

pub async fn run(args: FreshnessArgs) -> anyhow::Result<Value> {
    let s3 = s3_client()?;
    let committed: Arc<Mutex<HashMap<Key, f64>>> = Arc::default();
    let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let started = unix_now();

    let writer = {
        let (committed, writing) = (committed.clone(), writing.clone());
        let client = pg::connect(&args.pg_url).await?;
        let (table, rows, rate, commit_ms, seconds) =
            (args.table.clone(), args.rows, args.rate, args.commit_ms, args.seconds);
        tokio::spawn(async move {
            let result = write(client, &table, rows, rate, commit_ms, seconds, &committed).await;
            writing.store(false, std::sync::atomic::Ordering::SeqCst);
            result
        })
    };

    // (id, version) -> the first time a listing showed an object holding it.
    let mut seen: HashMap<Key, f64> = HashMap::new();
    let mut objects: HashSet<String> = HashSet::new();
    let mut drain_deadline: Option<Instant> = None;
    let mut ticker = tokio::time::interval(Duration::from_millis(args.list_ms));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut lists = 0u64;
    loop {
        ticker.tick().await;
        let (keys, listed_at) = list(&s3, &args.bucket, &args.prefix).await?;
        lists += 1;
        for key in keys {
            if key.contains("/_hydrate/") || !objects.insert(key.clone()) {
                continue;
            }
            // A key the store lists before it can serve it (an upload
            // completing) is read again at the next listing, whose time counts.
            match read_rows(&s3, &args.bucket, &key).await {
                Ok(rows) => {
                    for row in rows {
                        seen.entry(row).or_insert(listed_at);
                    }
                }
                Err(err) => {
                    eprintln!("{key}: {err:#}; retried at the next listing");
                    objects.remove(&key);
                }
            }
        }
        if !writing.load(std::sync::atomic::Ordering::SeqCst) {
            let deadline = *drain_deadline
                .get_or_insert_with(|| Instant::now() + Duration::from_secs(args.drain_seconds));
            let all = committed.lock().map(|c| c.keys().all(|k| seen.contains_key(k))).unwrap_or(false);
            if all || Instant::now() > deadline {
                break;
            }
        }
    }
    writer.await.context("writer task")??;

    let committed = committed.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    let mut delays: Vec<f64> = committed.iter().filter_map(|(k, at)| seen.get(k).map(|s| s - at)).collect();
    delays.sort_by(f64::total_cmp);
    let missing = committed.len() - delays.len();
    let pct = |p: f64| -> Option<f64> {
        if delays.is_empty() {
            return None;
        }
        let rank = ((p * delays.len() as f64).ceil() as usize).clamp(1, delays.len());
        Some(delays[rank - 1])
    };
    Ok(json!({
        "rows_committed": committed.len(),
        "rows_seen": delays.len(),
        "rows_missing": missing,
        "seconds": args.seconds,
        "achieved_rows_per_s": committed.len() as f64 / args.seconds as f64,
        "objects": objects.len(),
        "lists": lists,
        "p50_s": pct(0.50),
        "p90_s": pct(0.90),
        "p99_s": pct(0.99),
        "max_s": delays.last(),
        "min_s": delays.first(),
        "started_at": started,
    }))
}

/// The update load: ids in a cycle, `rate * commit_ms / 1000` per commit.
async fn write(
    mut client: tokio_postgres::Client,
    table: &str,
    rows: i64,
    rate: u64,
    commit_ms: u64,
    seconds: u64,
    committed: &Mutex<HashMap<Key, f64>>,
) -> anyhow::Result<()> {
    let per_commit = (rate * commit_ms / 1000).max(1) as i64;
    let statement = client
        .prepare(&format!(
            "UPDATE {table} SET version = version + 1, last_update = now() WHERE id = ANY($1) RETURNING id, version"
        ))
        .await
        .context("prepare the update")?;
    let mut ticker = tokio::time::interval(Duration::from_millis(commit_ms));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut next = 0i64;
    while Instant::now() < end {
        ticker.tick().await;
        let ids: Vec<i64> = (0..per_commit).map(|i| (next + i) % rows + 1).collect();
        next = (next + per_commit) % rows;
        let tx = client.transaction().await.context("begin")?;
        let updated = tx.query(&statement, &[&ids]).await.context("update")?;
        tx.commit().await.context("commit")?;
        let at = unix_now();
        let mut committed = committed.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        for row in updated {
            committed.insert((row.get(0), row.get(1)), at);
        }
    }
    Ok(())
}

/// Every key under `prefix`, and when the listing ended.
async fn list(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> anyhow::Result<(Vec<String>, f64)> {
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .context("ListObjectsV2")?;
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok((keys, unix_now()))
}

/// The (id, version) of each JSON line of an object.
async fn read_rows(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> anyhow::Result<Vec<Key>> {
    let object = s3.get_object().bucket(bucket).key(key).send().await.context("GetObject")?;
    let body = object.body.collect().await.context("object body")?.into_bytes();
    let mut rows = Vec::new();
    for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let value: Value = serde_json::from_slice(line).with_context(|| format!("a line of {key}"))?;
        if let (Some(id), Some(version)) =
            (value.get("id").and_then(Value::as_i64), value.get("version").and_then(Value::as_i64))
        {
            rows.push((id, version as i32));
        }
    }
    Ok(rows)
}

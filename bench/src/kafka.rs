//! Kafka's raw limits (produce, consume) and the waits that time Hydrate's
//! and the peers' runs. Everything here blocks: run it on a blocking thread.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};

use crate::unix_now;

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(clap::Args)]
pub struct ProduceArgs {
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    bootstrap: String,
    /// The topic to fill (created by the broker on first use).
    #[arg(long)]
    topic: String,
    /// Records to produce.
    #[arg(long)]
    count: u64,
    /// Where the pre-encoded values come from: one value a line, as
    /// `topic-stats --save-sample` wrote them (records of the topic to mirror).
    #[arg(long)]
    sample_file: std::path::PathBuf,
    /// Commit a transaction this often (default: as the source does, its
    /// `MIN_TRANSACTION`); 0 for no transactions at all.
    #[arg(long, default_value_t = hydrate_source::MIN_TRANSACTION.as_millis() as u64)]
    commit_ms: u64,
    /// A librdkafka producer setting over the source's defaults (repeat;
    /// the harness passes the workers' `producer.*` properties here).
    #[arg(long = "property", value_name = "KEY=VALUE")]
    properties: Vec<String>,
}

#[derive(clap::Args)]
pub struct ConsumeArgs {
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    bootstrap: String,
    #[arg(long)]
    topic: String,
}

#[derive(clap::Args)]
pub struct WaitSourceOffsetArgs {
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    bootstrap: String,
    /// The connector's `offsets.storage.topic`.
    #[arg(long)]
    offsets_topic: String,
    #[arg(long)]
    connector: String,
    /// Done when a committed offset's `timestamp` (ms) reaches this.
    #[arg(long)]
    timestamp_ms: i64,
    #[arg(long, default_value_t = 3600)]
    timeout_s: u64,
}

#[derive(clap::Args)]
pub struct WaitTopicArgs {
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    bootstrap: String,
    #[arg(long)]
    topic: String,
    /// Done when the end offsets of all partitions add up to this.
    #[arg(long)]
    records: i64,
    #[arg(long, default_value_t = 3600)]
    timeout_s: u64,
}

#[derive(clap::Args)]
pub struct WaitGroupArgs {
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    bootstrap: String,
    #[arg(long)]
    group: String,
    /// A topic the producer has finished writing (transactionally).
    #[arg(long)]
    topic: String,
    #[arg(long, default_value_t = 3600)]
    timeout_s: u64,
}

#[derive(clap::Args)]
pub struct TopicStatsArgs {
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    bootstrap: String,
    #[arg(long)]
    topic: String,
    #[arg(long, default_value_t = 2000)]
    sample: usize,
    /// Writes the sampled values here, one a line (JSON values have no raw newlines).
    #[arg(long)]
    save_sample: Option<std::path::PathBuf>,
}

fn consumer(bootstrap: &str, group: &str, committed_only: bool) -> anyhow::Result<BaseConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", if committed_only { "read_committed" } else { "read_uncommitted" })
        .create()
        .context("create consumer")
}

/// The partitions of `topic`, waiting until it exists.
fn partitions(consumer: &BaseConsumer, topic: &str, wait: Duration) -> anyhow::Result<Vec<i32>> {
    let deadline = Instant::now() + wait;
    loop {
        let metadata = consumer.fetch_metadata(Some(topic), TIMEOUT).context("metadata")?;
        if let Some(t) = metadata.topics().iter().find(|t| t.name() == topic)
            && t.error().is_none()
            && !t.partitions().is_empty()
        {
            return Ok(t.partitions().iter().map(|p| p.id()).collect());
        }
        if Instant::now() > deadline {
            bail!("topic {topic} does not exist");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn assign_from_start(consumer: &BaseConsumer, topic: &str, parts: &[i32]) -> anyhow::Result<()> {
    let mut list = TopicPartitionList::new();
    for p in parts {
        list.add_partition_offset(topic, *p, Offset::Beginning).context("partition list")?;
    }
    consumer.assign(&list).context("assign")
}

/// The values of the first `n` committed records of `topic`.
fn sample_values(bootstrap: &str, topic: &str, n: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let consumer = consumer(bootstrap, "hydrate-bench-sample", true)?;
    let parts = partitions(&consumer, topic, Duration::from_secs(5))?;
    assign_from_start(&consumer, topic, &parts)?;
    let mut values = Vec::with_capacity(n);
    let mut at_end = 0;
    let deadline = Instant::now() + TIMEOUT;
    while values.len() < n && at_end < parts.len() && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => values.push(m.payload().unwrap_or_default().to_vec()),
            Some(Err(KafkaError::PartitionEOF(_))) => at_end += 1,
            Some(Err(e)) => return Err(e).context("sample"),
            None => {}
        }
    }
    if values.is_empty() {
        bail!("no records in {topic} to sample");
    }
    Ok(values)
}

pub fn topic_stats(args: &TopicStatsArgs) -> anyhow::Result<Value> {
    let values = sample_values(&args.bootstrap, &args.topic, args.sample)?;
    let total: usize = values.iter().map(Vec::len).sum();
    let first: Value = serde_json::from_slice(&values[0]).unwrap_or(Value::Null);
    if let Some(path) = &args.save_sample {
        let mut text = Vec::with_capacity(total + values.len());
        for value in &values {
            if value.contains(&b'\n') {
                bail!("a value holds a newline: it cannot be saved one a line");
            }
            text.extend_from_slice(value);
            text.push(b'\n');
        }
        std::fs::write(path, text).context("save the sample")?;
    }
    Ok(json!({
        "sampled": values.len(),
        "avg_value_bytes": total as f64 / values.len() as f64,
        "first": first,
    }))
}

/// The source service's producer (`source-svc/src/kafka.rs`): idempotent,
/// transactional, its `PRODUCER_DEFAULTS` (linger, queue), no compression.
pub fn produce(args: &ProduceArgs) -> anyhow::Result<Value> {
    let text = std::fs::read(&args.sample_file).context("read the sample file")?;
    let values: Vec<&[u8]> = text.split(|b| *b == b'\n').filter(|v| !v.is_empty()).collect();
    if values.is_empty() {
        bail!("the sample file is empty");
    }
    let transactional = args.commit_ms > 0;
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &args.bootstrap).set("enable.idempotence", "true");
    for (key, value) in hydrate_source::PRODUCER_DEFAULTS {
        config.set(key, value);
    }
    for property in &args.properties {
        let (key, value) =
            property.split_once('=').with_context(|| format!("--property {property}: expected KEY=VALUE"))?;
        config.set(key.trim(), value.trim());
    }
    if transactional {
        config
            .set("transactional.id", format!("hydrate-bench-{}", args.topic))
            .set("transaction.timeout.ms", "900000");
    }
    let producer: ThreadedProducer<DefaultProducerContext> = config.create().context("create producer")?;
    if transactional {
        producer.init_transactions(TIMEOUT).context("init transactions")?;
    }
    // The broker creates the topic on this metadata request.
    partitions_of_producer(&producer, &args.topic)?;
    let started = Instant::now();
    let mut tx_began = Instant::now();
    if transactional {
        producer.begin_transaction().context("begin")?;
    }
    let (mut bytes, mut transactions) = (0u64, 0u64);
    for i in 0..args.count {
        let value = &values[(i % values.len() as u64) as usize];
        bytes += value.len() as u64;
        let mut record = BaseRecord::<(), [u8]>::to(&args.topic).payload(*value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err((e, _)) => return Err(e).context("produce"),
            }
        }
        if transactional && tx_began.elapsed() >= Duration::from_millis(args.commit_ms) {
            producer.commit_transaction(Duration::from_secs(120)).context("commit")?;
            transactions += 1;
            producer.begin_transaction().context("begin")?;
            tx_began = Instant::now();
        }
    }
    if transactional {
        producer.commit_transaction(Duration::from_secs(120)).context("commit")?;
        transactions += 1;
    } else {
        producer.flush(Duration::from_secs(120)).context("flush")?;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(json!({
        "rows": args.count,
        "bytes": bytes,
        "seconds": seconds,
        "rows_per_s": args.count as f64 / seconds,
        "bytes_per_s": bytes as f64 / seconds,
        "transactions": transactions,
        "distinct_values": values.len(),
    }))
}

fn partitions_of_producer(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
) -> anyhow::Result<Vec<i32>> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let metadata = producer.client().fetch_metadata(Some(topic), TIMEOUT).context("metadata")?;
        if let Some(t) = metadata.topics().iter().find(|t| t.name() == topic)
            && t.error().is_none()
            && !t.partitions().is_empty()
        {
            return Ok(t.partitions().iter().map(|p| p.id()).collect());
        }
        if Instant::now() > deadline {
            bail!("topic {topic} was not created");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reads `topic` to its end as the sink's consumer does (read_committed,
/// librdkafka's default fetch sizes), counting records and bytes.
pub fn consume(args: &ConsumeArgs) -> anyhow::Result<Value> {
    let consumer = consumer(&args.bootstrap, "hydrate-bench-consume", true)?;
    let parts = partitions(&consumer, &args.topic, Duration::from_secs(5))?;
    let started = Instant::now();
    assign_from_start(&consumer, &args.topic, &parts)?;
    let (mut rows, mut bytes) = (0u64, 0u64);
    let mut at_end = std::collections::BTreeSet::new();
    while at_end.len() < parts.len() {
        match consumer.poll(Duration::from_secs(1)) {
            Some(Ok(m)) => {
                rows += 1;
                bytes += (m.payload_len() + m.key().map_or(0, <[u8]>::len)) as u64;
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => return Err(e).context("consume"),
            None => {}
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(json!({
        "rows": rows,
        "bytes": bytes,
        "seconds": seconds,
        "rows_per_s": rows as f64 / seconds,
        "bytes_per_s": bytes as f64 / seconds,
    }))
}

pub fn wait_source_offset(args: &WaitSourceOffsetArgs) -> anyhow::Result<Value> {
    let consumer = consumer(&args.bootstrap, "hydrate-bench-wait", true)?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout_s);
    let parts = partitions(&consumer, &args.offsets_topic, Duration::from_secs(args.timeout_s))?;
    assign_from_start(&consumer, &args.offsets_topic, &parts)?;
    while Instant::now() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else { continue };
        let message = match message {
            Ok(m) => m,
            Err(KafkaError::PartitionEOF(_)) => continue,
            Err(e) => return Err(e).context("read offsets"),
        };
        let key: Value = serde_json::from_slice(message.key().unwrap_or_default()).unwrap_or(Value::Null);
        if key.get(0).and_then(Value::as_str) != Some(args.connector.as_str()) {
            continue;
        }
        let value: Value =
            serde_json::from_slice(message.payload().unwrap_or_default()).unwrap_or(Value::Null);
        if value.get("timestamp").and_then(Value::as_i64).is_some_and(|ts| ts >= args.timestamp_ms) {
            return Ok(json!({"done_at": unix_now(), "offset": value}));
        }
    }
    bail!("{} did not commit timestamp {} in {} s", args.connector, args.timestamp_ms, args.timeout_s)
}

fn end_offsets(consumer: &BaseConsumer, topic: &str, parts: &[i32]) -> anyhow::Result<BTreeMap<i32, i64>> {
    parts
        .iter()
        .map(|p| {
            let (_, high) = consumer.fetch_watermarks(topic, *p, TIMEOUT).context("watermarks")?;
            Ok((*p, high))
        })
        .collect()
}

pub fn wait_topic(args: &WaitTopicArgs) -> anyhow::Result<Value> {
    let consumer = consumer(&args.bootstrap, "hydrate-bench-wait", false)?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout_s);
    let parts = partitions(&consumer, &args.topic, Duration::from_secs(args.timeout_s))?;
    let mut last = 0;
    while Instant::now() < deadline {
        last = end_offsets(&consumer, &args.topic, &parts)?.values().sum::<i64>();
        if last >= args.records {
            return Ok(json!({"done_at": unix_now(), "end_offsets": last}));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{} holds {last} of {} records after {} s", args.topic, args.records, args.timeout_s)
}

/// Done when the group's committed offset of every non-empty partition has
/// reached the last record: a transactional topic ends with a commit
/// marker, so that is the end offset less one (or the end itself).
pub fn wait_group(args: &WaitGroupArgs) -> anyhow::Result<Value> {
    let consumer = consumer(&args.bootstrap, &args.group, true)?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout_s);
    let parts = partitions(&consumer, &args.topic, Duration::from_secs(5))?;
    let ends = end_offsets(&consumer, &args.topic, &parts)?;
    let mut list = TopicPartitionList::new();
    for p in &parts {
        list.add_partition(&args.topic, *p);
    }
    let mut behind = ends.clone();
    while Instant::now() < deadline {
        let committed = consumer.committed_offsets(list.clone(), TIMEOUT).context("committed offsets")?;
        behind.retain(|p, end| {
            let at = match committed.find_partition(&args.topic, *p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o,
                _ => -1,
            };
            *end > 0 && at < *end - 1
        });
        if behind.is_empty() {
            return Ok(json!({"done_at": unix_now(), "end_offsets": ends.values().sum::<i64>()}));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("group {} still behind on {:?} after {} s", args.group, behind, args.timeout_s)
}

#[derive(clap::Args)]
pub struct DeleteTopicsArgs {
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    bootstrap: String,
    /// Topics to delete; each must start with `bench.`.
    topics: Vec<String>,
}

pub async fn delete_topics(args: &DeleteTopicsArgs) -> anyhow::Result<Value> {
    use rdkafka::admin::{AdminClient, AdminOptions};
    use rdkafka::client::DefaultClientContext;
    if let Some(other) = args.topics.iter().find(|t| !t.starts_with("bench.")) {
        bail!("refusing to delete {other}: not a benchmark topic");
    }
    if args.topics.is_empty() {
        return Ok(json!({"deleted": []}));
    }
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &args.bootstrap).create().context("admin client")?;
    let names: Vec<&str> = args.topics.iter().map(String::as_str).collect();
    let results = admin.delete_topics(&names, &AdminOptions::new().operation_timeout(Some(TIMEOUT))).await?;
    let mut deleted = Vec::new();
    for result in results {
        match result {
            Ok(name) => deleted.push(name),
            Err((name, RDKafkaErrorCode::UnknownTopicOrPartition)) => deleted.push(name),
            Err((name, code)) => bail!("delete {name}: {code}"),
        }
    }
    Ok(json!({"deleted": deleted}))
}

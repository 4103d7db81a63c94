//! `hydrate-bench`: the measurements of `scripts/bench` that need Rust's
//! speed (the machine's raw limits) or precise timing (freshness). Each
//! subcommand prints one JSON object on stdout; the Python harness
//! (`bench/harness`) runs them and builds the report.

mod freshness;
mod kafka;
mod parquet_encode;
mod pg;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "hydrate-bench", about = "Raw limits and probes for Hydrate's benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// PostgreSQL's own export rate: `COPY (SELECT ...) TO STDOUT`, counted and dropped.
    CopyOut {
        #[arg(long, env = "BENCH_PG_URL", hide_env_values = true)]
        pg_url: String,
        /// The relation or query to copy (`schema.table` or `(SELECT ...)`).
        #[arg(long)]
        relation: String,
    },
    /// Produces `count` pre-encoded records (values sampled from
    /// `sample_topic`) with the source service's producer settings.
    Produce(kafka::ProduceArgs),
    /// Reads a topic from the beginning to its end, read_committed, counting.
    Consume(kafka::ConsumeArgs),
    /// Waits until a source connector's committed offset reaches a timestamp.
    WaitSourceOffset(kafka::WaitSourceOffsetArgs),
    /// Waits until a topic's end offsets add up to a record count.
    WaitTopic(kafka::WaitTopicArgs),
    /// Waits until a consumer group has committed every record of a topic.
    WaitGroup(kafka::WaitGroupArgs),
    /// Average record size and the first records' values of a topic.
    TopicStats(kafka::TopicStatsArgs),
    /// Decodes Kafka Connect JSON records to Arrow, then encodes Parquet
    /// (snappy) in memory with the sink's writer settings, timing both.
    EncodeParquet(parquet_encode::EncodeArgs),
    /// Steady updates and a watcher of the lake: commit-to-listable delays.
    Freshness(freshness::FreshnessArgs),
    /// Deletes the benchmark's topics (names must start with `bench.`).
    DeleteTopics(kafka::DeleteTopicsArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let report = match cli.command {
        Command::CopyOut { pg_url, relation } => pg::copy_out(&pg_url, &relation).await?,
        Command::Produce(args) => tokio::task::spawn_blocking(move || kafka::produce(&args)).await??,
        Command::Consume(args) => tokio::task::spawn_blocking(move || kafka::consume(&args)).await??,
        Command::WaitSourceOffset(args) => {
            tokio::task::spawn_blocking(move || kafka::wait_source_offset(&args)).await??
        }
        Command::WaitTopic(args) => tokio::task::spawn_blocking(move || kafka::wait_topic(&args)).await??,
        Command::WaitGroup(args) => tokio::task::spawn_blocking(move || kafka::wait_group(&args)).await??,
        Command::TopicStats(args) => tokio::task::spawn_blocking(move || kafka::topic_stats(&args)).await??,
        Command::EncodeParquet(args) => {
            tokio::task::spawn_blocking(move || parquet_encode::run(&args)).await??
        }
        Command::Freshness(args) => freshness::run(args).await?,
        Command::DeleteTopics(args) => kafka::delete_topics(&args).await?,
    };
    println!("{report}");
    Ok(())
}

/// Seconds since the Unix epoch, for timestamps the harness compares.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

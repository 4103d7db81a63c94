//! PostgreSQL's export limit: `COPY ... TO STDOUT` through the wire
//! protocol, every byte read and dropped.

use std::time::Instant;

use anyhow::Context;
use serde_json::{Value, json};
use tokio_postgres::NoTls;
use tokio_stream::StreamExt;

/// Connects with `url`, the connection driven on its own task.
pub async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.context("connect to PostgreSQL")?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            eprintln!("postgres connection ended: {err}");
        }
    });
    Ok(client)
}

/// Copies `relation` (text format) and counts rows and bytes.
pub async fn copy_out(url: &str, relation: &str) -> anyhow::Result<Value> {
    let client = connect(url).await?;
    let started = Instant::now();
    let stream = client.copy_out(&format!("COPY {relation} TO STDOUT")).await.context("COPY TO STDOUT")?;
    let mut stream = std::pin::pin!(stream);
    let (mut rows, mut bytes) = (0u64, 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.context("COPY data")?;
        bytes += chunk.len() as u64;
        rows += chunk.iter().filter(|b| **b == b'\n').count() as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(json!({"rows": rows, "bytes": bytes, "seconds": seconds, "rows_per_s": rows as f64 / seconds}))
}

//! PostgreSQL sessions: connecting per `connection.attempts` /
//! `connection.backoff.ms`, and what the catalog says about tables.

use std::time::Duration;

use hydrate_common::connect::{JdbcSourceConfig, SslMode};
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use crate::error::{Result, SourceError};
use crate::pg_tls::{MakeRustls, Verify};
use crate::query::{APPLICATION_NAME, quote_ident, quote_literal};

/// Opens a session, trying `connection.attempts` times.
pub async fn connect(config: &JdbcSourceConfig, session: &str, cancel: &CancellationToken) -> Result<Client> {
    let attempts = config.connection_attempts.max(1);
    let mut last = String::new();
    for attempt in 1..=attempts {
        match connect_once(config, session).await {
            Ok(client) => return Ok(client),
            Err(SourceError::Connection(message)) => {
                tracing::warn!(attempt, attempts, error = %message, "connecting to postgresql failed");
                last = message;
            }
            Err(other) => return Err(other),
        }
        if attempt < attempts {
            tokio::select! {
                _ = cancel.cancelled() => return Err(SourceError::Cancelled),
                _ = tokio::time::sleep(config.connection_backoff) => {}
            }
        }
    }
    Err(SourceError::Connection(format!("gave up after {attempts} attempts: {last}")))
}

async fn connect_once(config: &JdbcSourceConfig, session: &str) -> Result<Client> {
    let conn = &config.connection;
    let url = &conn.url;
    let mut pg = tokio_postgres::Config::new();
    for host in &url.hosts {
        pg.host(&host.host).port(host.port);
    }
    if let Some(db) = &url.database {
        pg.dbname(db);
    }
    if let Some(user) = &conn.user {
        pg.user(user);
    }
    if let Some(password) = &conn.password {
        pg.password(password.expose());
    }
    // PostgreSQL keeps 63 bytes of it.
    let mut application_name = format!("{APPLICATION_NAME} {session}");
    while application_name.len() > 63 {
        application_name.pop();
    }
    pg.application_name(&application_name);
    let timeout = url
        .params
        .get("connectTimeout")
        .or_else(|| url.params.get("connect_timeout"))
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(10);
    pg.connect_timeout(Duration::from_secs(timeout));
    if let Some(options) = url.params.get("options") {
        pg.options(options);
    }
    use tokio_postgres::config::SslMode as Mode;
    let (mode, verify) = match url.ssl_mode {
        SslMode::Disable => (Mode::Disable, Verify::Nothing),
        SslMode::Allow | SslMode::Prefer => (Mode::Prefer, Verify::Nothing),
        SslMode::Require => (Mode::Require, Verify::Nothing),
        SslMode::VerifyCa => (Mode::Require, Verify::Chain),
        SslMode::VerifyFull => (Mode::Require, Verify::Full),
    };
    pg.ssl_mode(mode);
    let tls = MakeRustls::new(verify, url.params.get("sslrootcert").map(String::as_str))
        .map_err(|e| SourceError::Config(format!("connection.url: {e}")))?;
    let (client, connection) = pg.connect(tls).await.map_err(|e| SourceError::postgres("connect", &e))?;
    // The connection's driver; it ends when the client is dropped.
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::warn!(error = %err, "postgresql connection ended");
        }
    });
    let mut setup = format!("SET TIME ZONE {};", quote_literal(&config.db_timezone));
    if let Some(schemas) = url.params.get("currentSchema").filter(|s| !s.trim().is_empty()) {
        let list: Vec<String> = schemas.split(',').map(|s| quote_ident(s.trim())).collect();
        setup.push_str(&format!("SET search_path TO {};", list.join(", ")));
    }
    client.batch_execute(&setup).await.map_err(|e| SourceError::postgres("session settings", &e))?;
    Ok(client)
}

/// The schema and name of table `name` (`schema.table` or a bare name,
/// found in `schema.pattern` or else on the search path).
pub async fn resolve_table(
    client: &Client,
    name: &str,
    schema_pattern: Option<&str>,
) -> Result<Option<(String, String)>> {
    let (schema, table) = match name.split_once('.') {
        Some((s, t)) => (Some(s.trim()), t.trim()),
        None => (None, name.trim()),
    };
    let row = match (schema, schema_pattern) {
        (Some(schema), _) => {
            client
                .query_opt(
                    "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = $1 AND c.relname = $2",
                    &[&schema, &table],
                )
                .await
        }
        (None, Some(pattern)) => {
            client
                .query_opt(
                    "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname LIKE $1 AND c.relname = $2 AND c.relkind IN ('r','p','v','m','f') \
                     ORDER BY n.nspname LIMIT 1",
                    &[&pattern, &table],
                )
                .await
        }
        (None, None) => {
            client
                .query_opt(
                    "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE c.oid = to_regclass(quote_ident($1))",
                    &[&table],
                )
                .await
        }
    }
    .map_err(|e| SourceError::postgres("look up table", &e))?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Tables matching the connector's patterns, for a task that discovers
/// its own (`schema.pattern`, `table.types`, exclusions).
pub async fn discover_tables(
    client: &Client,
    schema_pattern: Option<&str>,
    table_types: &[String],
    include: &[String],
    exclude: &[String],
) -> Result<Vec<(String, String)>> {
    let mut kinds: Vec<String> = Vec::new();
    for t in table_types {
        let k: &[&str] = match t.trim().to_ascii_uppercase().as_str() {
            "TABLE" => &["r", "p"],
            "VIEW" => &["v"],
            "MATERIALIZED VIEW" => &["m"],
            "FOREIGN TABLE" => &["f"],
            _ => &[],
        };
        kinds.extend(k.iter().map(|s| (*s).to_owned()));
    }
    if kinds.is_empty() {
        kinds = vec!["r".into(), "p".into()];
    }
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind::text = ANY($1) AND n.nspname LIKE $2 \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' \
               AND NOT c.relispartition \
             ORDER BY 1, 2",
            &[&kinds, &schema_pattern.unwrap_or("%")],
        )
        .await
        .map_err(|e| SourceError::postgres("discover tables", &e))?;
    let matches = |list: &[String], schema: &str, table: &str| {
        list.iter().any(|entry| {
            let entry = entry.trim();
            entry == table || entry == format!("{schema}.{table}")
        })
    };
    Ok(rows
        .into_iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .filter(|(s, t)| include.is_empty() || matches(include, s, t))
        .filter(|(s, t)| !matches(exclude, s, t))
        .collect())
}

/// Which of the result columns are declared NOT NULL, by (table oid,
/// column number); columns not from a table are nullable.
pub async fn not_null(client: &Client, origins: &[(Option<u32>, Option<i16>)]) -> Result<Vec<bool>> {
    let rels: Vec<u32> = origins.iter().map(|(t, _)| t.unwrap_or(0)).collect();
    let nums: Vec<i16> = origins.iter().map(|(_, c)| c.unwrap_or(0)).collect();
    let rows = client
        .query(
            "SELECT coalesce(a.attnotnull, false) FROM unnest($1::oid[], $2::int2[]) WITH ORDINALITY AS k(rel, num, i) \
             LEFT JOIN pg_attribute a ON a.attrelid = k.rel AND a.attnum = k.num ORDER BY k.i",
            &[&rels, &nums],
        )
        .await
        .map_err(|e| SourceError::postgres("column nullability", &e))?;
    Ok(rows.iter().map(|r| r.get::<_, bool>(0)).collect())
}

/// PostgreSQL's estimate of a table's rows; 0 when unknown.
pub async fn estimated_rows(client: &Client, schema: &str, table: &str) -> u64 {
    let qualified = format!("{}.{}", quote_ident(schema), quote_ident(table));
    match client
        .query_opt("SELECT reltuples::int8 FROM pg_class WHERE oid = to_regclass($1)", &[&qualified])
        .await
    {
        Ok(Some(row)) => u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
        _ => 0,
    }
}

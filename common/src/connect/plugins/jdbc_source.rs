//! Keys of Confluent's JDBC source connector (`JdbcSourceConnectorConfig`).
//! Names, types and defaults follow Confluent's; the docs say what Hydrate
//! does with them. Hydrate reads PostgreSQL only.

use crate::connect::def::{Check, ConfigKeyDef as K, ConfigType as T, Importance as I, Value};

/// Kafka Connect's class name.
pub const CLASS: &str = "io.confluent.connect.jdbc.JdbcSourceConnector";

const DATABASE: &str = "Database";
const MODE: &str = "Mode";
const CONNECTOR: &str = "Connector";

/// The load modes.
pub const MODES: &[&str] = &["bulk", "timestamp", "incrementing", "timestamp+incrementing"];

/// Topic names allow these characters only (Kafka's rule), and so does a
/// prefix that becomes part of them.
fn topic_prefix(value: &Value) -> Result<(), String> {
    let Value::Str(prefix) = value else {
        return Ok(());
    };
    if prefix.len() > 249 {
        return Err("must not be longer than 249 characters (Kafka's topic name limit)".into());
    }
    if let Some(c) = prefix.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(format!("contains '{c}'; topic names allow only letters, digits, '.', '_' and '-'"));
    }
    Ok(())
}

/// Hydrate has one dialect; naming any other is a mistake worth reporting.
fn postgres_dialect(value: &Value) -> Result<(), String> {
    match value {
        Value::Str(d) if d.is_empty() || d == "PostgreSqlDatabaseDialect" => Ok(()),
        _ => Err("Hydrate supports PostgreSQL only: leave empty or use PostgreSqlDatabaseDialect".into()),
    }
}

/// The connector's keys.
pub static KEYS: &[K] = &[
    K::new(
        "connection.url",
        T::String,
        I::High,
        DATABASE,
        "PostgreSQL connection URL: jdbc:postgresql://host:port/database?params, or a libpq \
         URL postgres://host:port/database. Hydrate supports PostgreSQL only.",
    )
    .required(),
    K::new("connection.user", T::String, I::High, DATABASE, "Database user."),
    K::new(
        "connection.password",
        T::Password,
        I::High,
        DATABASE,
        "Database password; may be a reference such as ${env:PG_PASSWORD}.",
    ),
    K::new(
        "connection.attempts",
        T::Int,
        I::Low,
        DATABASE,
        "Maximum number of attempts to open a database connection.",
    )
    .default("3")
    .check(Check::AtLeast(1)),
    K::new(
        "connection.backoff.ms",
        T::Long,
        I::Low,
        DATABASE,
        "Time in ms to wait between connection attempts.",
    )
    .default("10000")
    .check(Check::AtLeast(0)),
    K::new(
        "table.whitelist",
        T::List,
        I::Medium,
        DATABASE,
        "Tables to copy, comma-separated. Not together with table.blacklist or query.",
    )
    .default(""),
    K::new(
        "table.blacklist",
        T::List,
        I::Medium,
        DATABASE,
        "Tables not to copy, comma-separated. Not together with table.whitelist or query.",
    )
    .default(""),
    K::new(
        "table.include.list",
        T::List,
        I::Medium,
        DATABASE,
        "Newer name of table.whitelist (tables to copy).",
    )
    .default(""),
    K::new(
        "table.exclude.list",
        T::List,
        I::Medium,
        DATABASE,
        "Newer name of table.blacklist (tables not to copy).",
    )
    .default(""),
    K::new(
        "catalog.pattern",
        T::String,
        I::Medium,
        DATABASE,
        "Catalog pattern for table discovery. PostgreSQL's driver ignores catalogs, so this \
         has no effect, as in Kafka Connect; use schema.pattern.",
    )
    .ignored(),
    K::new(
        "schema.pattern",
        T::String,
        I::High,
        DATABASE,
        "Schema (LIKE pattern) to discover tables in; unset means every schema.",
    ),
    K::new(
        "numeric.precision.mapping",
        T::Boolean,
        I::Low,
        DATABASE,
        "Deprecated: map NUMERIC by precision to integer types; use numeric.mapping.",
    )
    .default("false"),
    K::new(
        "numeric.mapping",
        T::String,
        I::Low,
        DATABASE,
        "How NUMERIC columns map to Connect types: none (Decimal), precision_only, best_fit \
         or best_fit_eager_double.",
    )
    .check(Check::OneOfIgnoreCase(&["none", "precision_only", "best_fit", "best_fit_eager_double"])),
    K::new(
        "dialect.name",
        T::String,
        I::Low,
        DATABASE,
        "Database dialect; Hydrate has PostgreSqlDatabaseDialect only.",
    )
    .default("")
    .check(Check::Custom(postgres_dialect)),
    K::new(
        "mode",
        T::String,
        I::High,
        MODE,
        "How each poll finds rows: bulk (whole table), incrementing (new rows by a strictly \
         increasing column), timestamp (new and changed rows by a timestamp column) or \
         timestamp+incrementing (both).",
    )
    .required()
    .check(Check::OneOf(MODES)),
    K::new(
        "incrementing.column.name",
        T::String,
        I::Medium,
        MODE,
        "Strictly increasing, non-null column detecting new rows (incrementing modes).",
    )
    .default(""),
    K::new(
        "incrementing.relaxed.monotonic",
        T::Boolean,
        I::Low,
        MODE,
        "Let the incrementing column's values of the last poll.interval.ms appear out of order.",
    )
    .default("false"),
    K::new(
        "timestamp.column.name",
        T::List,
        I::Medium,
        MODE,
        "Timestamp columns (COALESCEd, in order) detecting new and changed rows (timestamp modes).",
    )
    .default(""),
    K::new(
        "timestamp.initial",
        T::Long,
        I::Low,
        MODE,
        "Epoch ms to start timestamp queries from; -1 means now; unset reads everything.",
    ),
    K::new(
        "timestamp.granularity",
        T::String,
        I::Low,
        MODE,
        "How timestamp values are represented: connect_logical, nanos_long, nanos_string or \
         nanos_iso_datetime_string.",
    )
    .default("connect_logical")
    .check(Check::OneOfIgnoreCase(&[
        "connect_logical",
        "nanos_long",
        "nanos_string",
        "nanos_iso_datetime_string",
    ])),
    K::new(
        "validate.non.null",
        T::Boolean,
        I::Low,
        MODE,
        "Check that the incrementing and timestamp columns are NOT NULL before starting.",
    )
    .default("true"),
    K::new(
        "query",
        T::String,
        I::Medium,
        MODE,
        "Custom query to run instead of copying tables; its rows go to the topic named by \
         topic.prefix. It must allow a WHERE clause to be appended in incremental modes.",
    )
    .default(""),
    K::new(
        "quote.sql.identifiers",
        T::String,
        I::Medium,
        MODE,
        "When to quote table and column names: always or never.",
    )
    .default("always")
    .check(Check::OneOfIgnoreCase(&["always", "never"])),
    K::new("query.suffix", T::String, I::Low, MODE, "Text appended to the end of each generated query.")
        .default(""),
    K::new(
        "transaction.isolation.mode",
        T::String,
        I::Low,
        MODE,
        "Isolation level of the polling transactions: DEFAULT, READ_UNCOMMITTED, READ_COMMITTED, \
         REPEATABLE_READ or SERIALIZABLE.",
    )
    .default("DEFAULT")
    .check(Check::OneOf(&[
        "DEFAULT",
        "READ_UNCOMMITTED",
        "READ_COMMITTED",
        "REPEATABLE_READ",
        "SERIALIZABLE",
    ])),
    K::new(
        "query.retry.attempts",
        T::Int,
        I::Low,
        MODE,
        "Times to retry a failed query; -1 retries forever.",
    )
    .default("-1")
    .check(Check::AtLeast(-1)),
    K::new(
        "table.types",
        T::List,
        I::Low,
        CONNECTOR,
        "Kinds of relations to copy, e.g. TABLE, VIEW, MATERIALIZED VIEW, FOREIGN TABLE, \
         PARTITIONED TABLE.",
    )
    .default("TABLE"),
    K::new(
        "poll.interval.ms",
        T::Int,
        I::High,
        CONNECTOR,
        "How often, in ms, each table is polled for new data.",
    )
    .default("5000")
    .check(Check::AtLeast(1)),
    K::new(
        "batch.max.rows",
        T::Int,
        I::Low,
        CONNECTOR,
        "Maximum rows in one batch; bounds the memory a poll uses.",
    )
    .default("100")
    .check(Check::AtLeast(1)),
    K::new(
        "table.poll.interval.ms",
        T::Long,
        I::Low,
        CONNECTOR,
        "How often, in ms, to look for added or removed tables.",
    )
    .default("60000")
    .check(Check::AtLeast(1)),
    K::new(
        "table.monitoring.startup.polling.limit.ms",
        T::Long,
        I::Low,
        CONNECTOR,
        "Kafka Connect's internal wait for the first table listing.",
    )
    .default("10000")
    .ignored(),
    K::new(
        "topic.prefix",
        T::String,
        I::High,
        CONNECTOR,
        "Prefix put before table names to name topics; with query, the whole topic name.",
    )
    .default("")
    .check(Check::Custom(topic_prefix)),
    K::new(
        "timestamp.delay.interval.ms",
        T::Long,
        I::High,
        CONNECTOR,
        "How long, in ms, after a row's timestamp the row becomes eligible, leaving time for \
         transactions with earlier timestamps to commit.",
    )
    .default("0")
    .check(Check::AtLeast(0)),
    K::new("db.timezone", T::String, I::Medium, CONNECTOR, "Time zone used for time-based query criteria.")
        .default("UTC")
        .check(Check::Custom(crate::connect::plugins::time_zone)),
];

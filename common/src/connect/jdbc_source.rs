//! The JDBC source connector's checked configuration, and its cross-key
//! rules.

use std::time::Duration;

use super::pg_url::{PgUrl, parse_pg_url};
use super::secrets::Secret;
use super::values::{Problems, Values, millis};

/// The source's checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct JdbcSourceConfig {
    /// Where to connect.
    pub connection: PgConnection,
    /// Attempts to open a connection before failing.
    pub connection_attempts: u32,
    /// Wait between connection attempts.
    pub connection_backoff: Duration,
    /// Tables or a query.
    pub source: RowSource,
    /// How new and changed rows are found.
    pub mode: LoadMode,
    /// `incrementing.relaxed.monotonic`.
    pub incrementing_relaxed_monotonic: bool,
    /// Where timestamp queries start.
    pub timestamp_initial: TimestampInitial,
    /// How timestamps are represented.
    pub timestamp_granularity: TimestampGranularity,
    /// Rows become eligible this long after their timestamp.
    pub timestamp_delay: Duration,
    /// Check that mode columns are NOT NULL.
    pub validate_non_null: bool,
    /// How NUMERIC columns map to Connect types.
    pub numeric_mapping: NumericMapping,
    /// Quote identifiers in generated SQL.
    pub quote_identifiers: bool,
    /// Appended to generated queries.
    pub query_suffix: Option<String>,
    /// Isolation of polling transactions; `None` is the server default.
    pub isolation: Option<IsolationLevel>,
    /// Query retries; `None` retries forever.
    pub query_retry_attempts: Option<u32>,
    /// How often each table is polled.
    pub poll_interval: Duration,
    /// Rows per batch.
    pub batch_max_rows: u32,
    /// How often the table list is refreshed.
    pub table_poll_interval: Duration,
    /// Prefix of topic names (the whole name in query mode).
    pub topic_prefix: String,
    /// Time zone of time-based criteria.
    pub db_timezone: String,
}

/// Connection settings: the URL plus `connection.user` / `connection.password`,
/// which win over credentials inside the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgConnection {
    /// The parsed URL (its password, if any, is a secret).
    pub url: PgUrl,
    /// The user to log in as.
    pub user: Option<String>,
    /// The password.
    pub password: Option<Secret>,
}

/// What the source reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowSource {
    /// Tables, discovered in the database.
    Tables {
        /// Tables to copy (table.whitelist); empty means all.
        include: Vec<String>,
        /// Tables not to copy (table.blacklist).
        exclude: Vec<String>,
        /// Schema LIKE pattern; `None` means every schema.
        schema_pattern: Option<String>,
        /// Relation kinds to copy.
        table_types: Vec<String>,
    },
    /// One query; its rows go to the topic named `topic_prefix`.
    Query {
        /// The SQL.
        sql: String,
    },
}

/// How each poll finds rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadMode {
    /// The whole table, every poll.
    Bulk,
    /// New rows, by a strictly increasing column.
    Incrementing {
        /// The column.
        column: String,
    },
    /// New and changed rows, by timestamp columns (COALESCEd in order).
    Timestamp {
        /// The columns.
        columns: Vec<String>,
    },
    /// Both.
    TimestampIncrementing {
        /// The timestamp columns.
        timestamp_columns: Vec<String>,
        /// The incrementing column.
        incrementing_column: String,
    },
}

/// Where timestamp polling starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampInitial {
    /// From the beginning.
    Earliest,
    /// From the connector's start.
    Now,
    /// From this many ms since the epoch.
    EpochMillis(i64),
}

/// `timestamp.granularity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampGranularity {
    /// Connect's Timestamp logical type.
    ConnectLogical,
    /// Nanoseconds since the epoch, as a number.
    NanosLong,
    /// Nanoseconds since the epoch, as a string.
    NanosString,
    /// ISO date-time with nanoseconds, as a string.
    NanosIsoDatetimeString,
}

/// `numeric.mapping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumericMapping {
    /// Always Connect Decimal.
    None,
    /// Integer types by precision when the scale is 0.
    PrecisionOnly,
    /// Integer or float64 when lossless, else Decimal.
    BestFit,
    /// Like BestFit, but any scale becomes float64.
    BestFitEagerDouble,
}

/// `transaction.isolation.mode` (other than DEFAULT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    /// PostgreSQL treats it as READ COMMITTED.
    ReadUncommitted,
    /// READ COMMITTED.
    ReadCommitted,
    /// REPEATABLE READ.
    RepeatableRead,
    /// SERIALIZABLE.
    Serializable,
}

/// Builds the source config, reporting contradictions between keys.
pub(crate) fn build(v: &Values, p: &mut Problems) -> Option<JdbcSourceConfig> {
    let connection = connection(v, p);
    let source = row_source(v, p);
    let mode = load_mode(v, p);
    let topic_prefix = v.string("topic.prefix");
    if matches!(source, Some(RowSource::Query { .. })) && topic_prefix.as_deref() == Some("") {
        p.key(
            "topic.prefix",
            "must be set in query mode: it is the name of the topic the query's rows go to",
        );
    }
    let timestamp_initial = match v.value("timestamp.initial") {
        None if v.opaque("timestamp.initial") => None,
        None => Some(TimestampInitial::Earliest),
        Some(_) => match v.number("timestamp.initial")? {
            -1 => Some(TimestampInitial::Now),
            ms if ms >= 0 => Some(TimestampInitial::EpochMillis(ms)),
            _ => {
                p.key("timestamp.initial", "must be -1 (now) or milliseconds since the epoch");
                None
            }
        },
    };
    let numeric_mapping = match v.string("numeric.mapping").map(|m| m.to_ascii_lowercase()) {
        Some(m) => Some(match m.as_str() {
            "precision_only" => NumericMapping::PrecisionOnly,
            "best_fit" => NumericMapping::BestFit,
            "best_fit_eager_double" => NumericMapping::BestFitEagerDouble,
            _ => NumericMapping::None,
        }),
        // Deprecated switch, consulted only when numeric.mapping is unset.
        None if v.given("numeric.mapping") => None,
        None => v
            .flag("numeric.precision.mapping")
            .map(|on| if on { NumericMapping::PrecisionOnly } else { NumericMapping::None }),
    };
    let timestamp_granularity =
        v.string("timestamp.granularity").map(|g| match g.to_ascii_lowercase().as_str() {
            "nanos_long" => TimestampGranularity::NanosLong,
            "nanos_string" => TimestampGranularity::NanosString,
            "nanos_iso_datetime_string" => TimestampGranularity::NanosIsoDatetimeString,
            _ => TimestampGranularity::ConnectLogical,
        });
    let isolation = v.string("transaction.isolation.mode").map(|m| match m.as_str() {
        "READ_UNCOMMITTED" => Some(IsolationLevel::ReadUncommitted),
        "READ_COMMITTED" => Some(IsolationLevel::ReadCommitted),
        "REPEATABLE_READ" => Some(IsolationLevel::RepeatableRead),
        "SERIALIZABLE" => Some(IsolationLevel::Serializable),
        _ => None,
    });
    let count = |name: &str| v.number(name).and_then(|n| u32::try_from(n).ok());
    Some(JdbcSourceConfig {
        connection: connection?,
        connection_attempts: count("connection.attempts")?,
        connection_backoff: millis(v.number("connection.backoff.ms")?),
        source: source?,
        mode: mode?,
        incrementing_relaxed_monotonic: v.flag("incrementing.relaxed.monotonic")?,
        timestamp_initial: timestamp_initial?,
        timestamp_granularity: timestamp_granularity?,
        timestamp_delay: millis(v.number("timestamp.delay.interval.ms")?),
        validate_non_null: v.flag("validate.non.null")?,
        numeric_mapping: numeric_mapping?,
        quote_identifiers: v.string("quote.sql.identifiers")?.eq_ignore_ascii_case("always"),
        query_suffix: v.non_empty("query.suffix"),
        isolation: isolation?,
        query_retry_attempts: u32::try_from(v.number("query.retry.attempts")?).ok(),
        poll_interval: millis(v.number("poll.interval.ms")?),
        batch_max_rows: count("batch.max.rows")?,
        table_poll_interval: millis(v.number("table.poll.interval.ms")?),
        topic_prefix: topic_prefix?,
        db_timezone: v.string("db.timezone")?,
    })
}

fn connection(v: &Values, p: &mut Problems) -> Option<PgConnection> {
    let url = match parse_pg_url(&v.string("connection.url")?) {
        Ok(url) => url,
        Err(reason) => {
            p.key("connection.url", reason);
            return None;
        }
    };
    let user = v.non_empty("connection.user").or_else(|| url.user.clone());
    let password = match v.secret("connection.password") {
        Some(pw) => Some(pw),
        None if v.opaque("connection.password") => return None,
        None => url.password.clone(),
    };
    Some(PgConnection { url, user, password })
}

fn row_source(v: &Values, p: &mut Problems) -> Option<RowSource> {
    // Two names for each list; giving both names of one is ambiguous.
    for (old, new) in [("table.whitelist", "table.include.list"), ("table.blacklist", "table.exclude.list")] {
        if v.given(old) && v.given(new) {
            p.key(new, format!("is the newer name of {old}; give only one of them"));
        }
    }
    let include_key = if v.given("table.include.list") { "table.include.list" } else { "table.whitelist" };
    let exclude_key = if v.given("table.exclude.list") { "table.exclude.list" } else { "table.blacklist" };
    let (include, exclude, query) = (v.given(include_key), v.given(exclude_key), v.given("query"));
    if include && exclude {
        p.key(
            exclude_key,
            format!("cannot be used together with {include_key}: list the tables to copy, or those to skip"),
        );
    }
    if query {
        for (given, key) in [(include, include_key), (exclude, exclude_key)] {
            if given {
                p.key(
                    key,
                    "cannot be used together with query: in query mode only the query's rows are read",
                );
            }
        }
        return Some(RowSource::Query { sql: v.string("query")? });
    }
    if !include && !exclude && !v.given("schema.pattern") {
        p.global(
            "the source selects nothing specific: set table.whitelist (tables to copy), table.blacklist, \
             schema.pattern (copy every table of a schema) or query",
        );
    }
    Some(RowSource::Tables {
        include: v.list(include_key)?,
        exclude: v.list(exclude_key)?,
        schema_pattern: v.string("schema.pattern"),
        table_types: v.list("table.types")?,
    })
}

fn load_mode(v: &Values, p: &mut Problems) -> Option<LoadMode> {
    let mode = v.string("mode")?;
    let needs_timestamp = mode.starts_with("timestamp");
    let needs_incrementing = mode.ends_with("incrementing");
    let timestamp_columns = v.list("timestamp.column.name");
    let incrementing_column = v.string("incrementing.column.name");
    if needs_timestamp && timestamp_columns.as_ref().is_some_and(Vec::is_empty) {
        p.key("timestamp.column.name", format!("is required in mode {mode}"));
    }
    if needs_incrementing && incrementing_column.as_deref() == Some("") {
        p.key(
            "incrementing.column.name",
            format!("is required in mode {mode} (Hydrate does not guess the auto-increment column)"),
        );
    }
    Some(match mode.as_str() {
        "bulk" => LoadMode::Bulk,
        "incrementing" => LoadMode::Incrementing { column: incrementing_column.filter(|c| !c.is_empty())? },
        "timestamp" => LoadMode::Timestamp { columns: timestamp_columns.filter(|c| !c.is_empty())? },
        _ => LoadMode::TimestampIncrementing {
            timestamp_columns: timestamp_columns.filter(|c| !c.is_empty())?,
            incrementing_column: incrementing_column.filter(|c| !c.is_empty())?,
        },
    })
}

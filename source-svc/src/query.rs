//! The SQL each poll runs, built as Kafka Connect's JDBC source builds it
//! (the incremental condition around the table or the custom query), plus
//! the statement that bounds timestamp polls below every open transaction.

/// What a querier reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    /// A table or view.
    Table {
        /// Its schema.
        schema: String,
        /// Its name.
        name: String,
    },
    /// A custom query; the incremental condition wraps it.
    Query(String),
}

/// The incremental part of a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Criteria {
    /// Everything, every poll.
    Bulk,
    /// `inc > $1`.
    Incrementing {
        /// The incrementing column.
        column: String,
    },
    /// `ts > $1 AND ts < $2`.
    Timestamp {
        /// Timestamp columns, COALESCEd in order.
        columns: Vec<String>,
    },
    /// Kafka Connect's tuple comparison: `ts < $3 AND ((ts = $1 AND inc > $2) OR ts > $1)`.
    TimestampIncrementing {
        /// Timestamp columns, COALESCEd in order.
        columns: Vec<String>,
        /// The incrementing column.
        column: String,
    },
}

/// The alias the relation gets in every generated statement.
pub const ALIAS: &str = "hydrate_src";

/// The start of the application name of Hydrate's PostgreSQL sessions
/// (`hydrate-source <connector>/<task>`); they only read, so the bound
/// statement ignores their transactions.
pub const APPLICATION_NAME: &str = "hydrate-source";

/// `"name"` with inner quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` with inner quotes doubled.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl Relation {
    /// The FROM item, aliased.
    pub fn from_sql(&self) -> String {
        match self {
            Relation::Table { schema, name } => {
                format!("{}.{} AS {ALIAS}", quote_ident(schema), quote_ident(name))
            }
            Relation::Query(sql) => {
                let sql = sql.trim().trim_end_matches(';').trim_end();
                format!("({sql}) AS {ALIAS}")
            }
        }
    }

    /// A statement whose columns are the relation's (prepared, never run).
    pub fn describe_sql(&self) -> String {
        format!("SELECT * FROM {}", self.from_sql())
    }
}

fn column(name: &str) -> String {
    format!("{ALIAS}.{}", quote_ident(name))
}

/// The COALESCE of the timestamp columns, compared as timestamptz (the
/// session time zone is `db.timezone`, so timestamps without time zone are
/// read in it, as Kafka Connect reads them).
pub fn timestamp_expr(columns: &[String]) -> String {
    let parts: Vec<String> = columns.iter().map(|c| format!("{}::timestamptz", column(c))).collect();
    if parts.len() == 1 {
        parts.into_iter().next().unwrap_or_default()
    } else {
        format!("COALESCE({})", parts.join(", "))
    }
}

/// The poll statement. `select_list` is what [`select_list`] built.
pub fn poll_sql(relation: &Relation, select_list: &str, criteria: &Criteria, suffix: Option<&str>) -> String {
    let mut sql = format!("SELECT {select_list} FROM {}", relation.from_sql());
    match criteria {
        Criteria::Bulk => {}
        Criteria::Incrementing { column: inc } => {
            let inc = column(inc);
            sql.push_str(&format!(" WHERE {inc} > $1::int8 ORDER BY {inc} ASC"));
        }
        Criteria::Timestamp { columns } => {
            let ts = timestamp_expr(columns);
            sql.push_str(&format!(
                " WHERE {ts} > $1::timestamptz AND {ts} < $2::timestamptz ORDER BY {ts} ASC"
            ));
        }
        Criteria::TimestampIncrementing { columns, column: inc } => {
            let (ts, inc) = (timestamp_expr(columns), column(inc));
            sql.push_str(&format!(
                " WHERE {ts} < $3::timestamptz AND (({ts} = $1::timestamptz AND {inc} > $2::int8) OR {ts} > $1::timestamptz) \
                 ORDER BY {ts}, {inc} ASC"
            ));
        }
    }
    if let Some(suffix) = suffix.map(str::trim).filter(|s| !s.is_empty()) {
        sql.push(' ');
        sql.push_str(suffix);
    }
    sql
}

/// The select list: every column as it is, except timestamps without time
/// zone, which become instants in the session time zone (`db.timezone`)
/// when that is not UTC.
pub fn select_list(columns: &[(String, bool)]) -> String {
    if columns.iter().all(|(_, convert)| !convert) {
        return format!("{ALIAS}.*");
    }
    columns
        .iter()
        .map(|(name, convert)| {
            if *convert {
                format!("{}::timestamptz AS {}", column(name), quote_ident(name))
            } else {
                column(name)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The upper bound of a timestamp poll, read in its own statement before
/// the poll's snapshot: `clock_timestamp() - delay`, lowered to the start
/// of the oldest transaction still open in this database (a trigger's
/// `now()` stamps rows with it, and it may commit after this poll). Hidden
/// is the number of open transactions whose start this role cannot see.
pub const BOUND_SQL: &str = "\
SELECT clock_timestamp() - $1::int8 * interval '1 millisecond' AS wall_bound,
       (SELECT min(a.xact_start) FROM pg_stat_activity a
         WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
           AND a.backend_type = 'client backend' AND a.xact_start IS NOT NULL
           AND coalesce(a.application_name, '') NOT LIKE 'hydrate-source %') AS oldest_open,
       (SELECT count(*) FROM pg_stat_activity a
         WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
           AND coalesce(a.backend_type, 'client backend') = 'client backend' AND a.xact_start IS NULL
           AND (a.backend_xid IS NOT NULL OR a.backend_xmin IS NOT NULL)) AS hidden";

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Relation {
        Relation::Table { schema: "public".into(), name: "address".into() }
    }

    #[test]
    fn timestamp_poll_is_bounded_and_ordered() {
        let sql = poll_sql(
            &table(),
            "hydrate_src.*",
            &Criteria::Timestamp { columns: vec!["last_update".into()] },
            None,
        );
        assert_eq!(
            sql,
            "SELECT hydrate_src.* FROM \"public\".\"address\" AS hydrate_src WHERE \
             hydrate_src.\"last_update\"::timestamptz > $1::timestamptz AND \
             hydrate_src.\"last_update\"::timestamptz < $2::timestamptz ORDER BY hydrate_src.\"last_update\"::timestamptz ASC"
        );
    }

    #[test]
    fn timestamp_columns_coalesce_and_tuple_comparison() {
        let criteria = Criteria::TimestampIncrementing {
            columns: vec!["updated".into(), "created".into()],
            column: "id".into(),
        };
        let sql = poll_sql(
            &Relation::Query("SELECT * FROM t;".into()),
            "hydrate_src.*",
            &criteria,
            Some("LIMIT 5"),
        );
        let ts = "COALESCE(hydrate_src.\"updated\"::timestamptz, hydrate_src.\"created\"::timestamptz)";
        assert!(
            sql.starts_with("SELECT hydrate_src.* FROM (SELECT * FROM t) AS hydrate_src WHERE "),
            "{sql}"
        );
        assert!(sql.contains(&format!("{ts} < $3::timestamptz AND (({ts} = $1::timestamptz AND hydrate_src.\"id\" > $2::int8) OR {ts} > $1::timestamptz)")), "{sql}");
        assert!(sql.ends_with(&format!("ORDER BY {ts}, hydrate_src.\"id\" ASC LIMIT 5")), "{sql}");
    }

    #[test]
    fn incrementing_bulk_and_quoting() {
        let sql =
            poll_sql(&table(), "hydrate_src.*", &Criteria::Incrementing { column: "a\"b".into() }, None);
        assert!(
            sql.ends_with("WHERE hydrate_src.\"a\"\"b\" > $1::int8 ORDER BY hydrate_src.\"a\"\"b\" ASC"),
            "{sql}"
        );
        assert_eq!(
            poll_sql(&table(), "x", &Criteria::Bulk, Some(" ")),
            "SELECT x FROM \"public\".\"address\" AS hydrate_src"
        );
        assert_eq!(
            select_list(&[("a".into(), false), ("t".into(), true)]),
            "hydrate_src.\"a\", hydrate_src.\"t\"::timestamptz AS \"t\""
        );
        assert_eq!(quote_literal("Europe/O'x"), "'Europe/O''x'");
    }
}

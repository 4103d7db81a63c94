//! A polled relation's row layout: its Connect schema, how each column is
//! decoded, and where the mode's timestamp and incrementing values are.

use hydrate_common::record::{Schema, SchemaBuilder, Struct, Value};
use tokio_postgres::Row;

use crate::error::{Result, SourceError};
use crate::numeric::PgNumeric;
use crate::offset::SourceOffset;
use crate::types::{ColumnKind, Raw, decode, schema_of, timestamp_micros};

/// One result column.
#[derive(Debug, Clone)]
pub struct ColumnInfo {
    /// Its name.
    pub name: String,
    /// How it is decoded.
    pub kind: ColumnKind,
    /// Declared NOT NULL.
    pub not_null: bool,
}

/// The layout of a poll's rows.
#[derive(Debug)]
pub struct RowLayout {
    /// The value schema (named after the table in table mode).
    pub schema: Schema,
    kinds: Vec<ColumnKind>,
    /// Indexes of the timestamp columns, COALESCEd in order.
    timestamp_columns: Vec<usize>,
    /// Index of the incrementing column.
    incrementing_column: Option<usize>,
}

impl RowLayout {
    /// The layout of `columns`; `schema_name` is the table's name in table
    /// mode (as Kafka Connect names it) and `None` for a query.
    pub fn new(
        columns: &[ColumnInfo],
        schema_name: Option<&str>,
        timestamp_columns: Vec<usize>,
        incrementing_column: Option<usize>,
    ) -> Self {
        let mut builder = SchemaBuilder::struct_();
        if let Some(name) = schema_name {
            builder = builder.name(name);
        }
        for c in columns {
            builder = builder.field(&c.name, schema_of(&c.kind, !c.not_null));
        }
        Self {
            schema: builder.build(),
            kinds: columns.iter().map(|c| c.kind.clone()).collect(),
            timestamp_columns,
            incrementing_column,
        }
    }

    /// The row as a Connect struct.
    pub fn to_struct(&self, row: &Row) -> Result<Value> {
        let mut values = Vec::with_capacity(self.kinds.len());
        for (i, kind) in self.kinds.iter().enumerate() {
            let raw = raw(row, i)?;
            values.push(match raw {
                None => Value::Null,
                Some(bytes) => decode(kind, bytes).map_err(|e| {
                    SourceError::Data(format!("column {}: {e}", self.schema.fields()[i].name()))
                })?,
            });
        }
        Struct::from_values(self.schema.clone(), values).map(Value::Struct).map_err(SourceError::Data)
    }

    /// The row's position in the mode's order (its offset once sent).
    pub fn offset_of(&self, row: &Row) -> Result<SourceOffset> {
        let mut offset = SourceOffset::default();
        for &i in &self.timestamp_columns {
            if let Some(bytes) = raw(row, i)? {
                offset.timestamp_micros = Some(timestamp_micros(bytes).map_err(SourceError::Data)?);
                break;
            }
        }
        if let Some(i) = self.incrementing_column
            && let Some(bytes) = raw(row, i)?
        {
            offset.incrementing = Some(incrementing(&self.kinds[i], bytes)?);
        }
        Ok(offset)
    }
}

fn raw(row: &Row, i: usize) -> Result<Option<&[u8]>> {
    row.try_get::<_, Option<Raw<'_>>>(i)
        .map(|r| r.map(|r| r.0))
        .map_err(|e| SourceError::Data(format!("column {i}: {e}")))
}

fn incrementing(kind: &ColumnKind, bytes: &[u8]) -> Result<i64> {
    let value = match kind {
        ColumnKind::Numeric(_) => {
            let n = PgNumeric::parse(bytes).and_then(|n| n.unscaled(0)).map_err(SourceError::Data)?;
            i64::try_from(n).map_err(|_| SourceError::Data("incrementing value exceeds int64".into()))?
        }
        _ => match decode(kind, bytes).map_err(SourceError::Data)? {
            Value::Int16(v) => i64::from(v),
            Value::Int32(v) => i64::from(v),
            Value::Int64(v) => v,
            other => return Err(SourceError::Data(format!("incrementing column holds a {}", other.kind()))),
        },
    };
    Ok(value)
}

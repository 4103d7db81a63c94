//! The record model shared by the source and sink services: Kafka Connect's
//! schemas, values and records, and its JSON converter.
//!
//! - [`Schema`] / [`SchemaBuilder`]: Connect schemas, logical types by name.
//! - [`Value`], [`Struct`], [`Decimal`]: Connect data.
//! - [`Record`], [`SchemaAndValue`], [`Header`]: what flows through transforms.
//! - [`JsonConverter`]: `org.apache.kafka.connect.json.JsonConverter`, byte for byte.
//! - [`transform`]: Kafka's single message transforms and predicates.

mod connect_record;
mod decimal;
mod json_converter;
mod json_reader;
mod json_schema;
mod json_writer;
mod projector;
mod schema;
mod value;

pub mod transform;

pub use connect_record::{Header, Record, SchemaAndValue};
pub use decimal::Decimal;
pub use json_converter::{JsonConverter, JsonConverterConfig};
pub use projector::project;
pub use schema::{
    DATE_NAME, DECIMAL_NAME, DECIMAL_PRECISION_PARAM, DECIMAL_SCALE_PARAM, Field, Logical, Schema,
    SchemaBuilder, SchemaType, TIME_NAME, TIMESTAMP_NAME,
};
pub use value::{Struct, Value};

/// Data that does not fit its schema or cannot be converted, as Connect's
/// `DataException`. A retry never helps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DataError(String);

impl DataError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// Prefixes where the problem is (`field address_id: ...`).
    pub(crate) fn context(self, at: impl std::fmt::Display) -> Self {
        Self(format!("{at}: {}", self.0))
    }
}

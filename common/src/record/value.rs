//! Connect data values: one variant per schema type, logical values
//! explicit, and structs tied to their schema.

use super::decimal::Decimal;
use super::schema::{Schema, SchemaType};

/// A Connect value. Logical types have their own variants; a value checked
/// against a schema with [`Value::conforms_to`] has the variant the schema says.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// null
    #[default]
    Null,
    /// boolean
    Boolean(bool),
    /// int8
    Int8(i8),
    /// int16
    Int16(i16),
    /// int32
    Int32(i32),
    /// int64
    Int64(i64),
    /// float32
    Float32(f32),
    /// float64
    Float64(f64),
    /// string
    String(String),
    /// bytes
    Bytes(Vec<u8>),
    /// array
    Array(Vec<Value>),
    /// map, as ordered pairs
    Map(Vec<(Value, Value)>),
    /// struct
    Struct(Struct),
    /// Decimal (BYTES)
    Decimal(Decimal),
    /// Date: days since 1970-01-01 (INT32)
    Date(i32),
    /// Time: milliseconds since midnight (INT32)
    Time(i32),
    /// Timestamp: milliseconds since the epoch (INT64)
    Timestamp(i64),
}

impl Value {
    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The struct, if this is one.
    pub fn as_struct(&self) -> Option<&Struct> {
        match self {
            Self::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// The schema type this value's variant belongs to (`None` for null).
    pub fn schema_type(&self) -> Option<SchemaType> {
        Some(match self {
            Self::Null => return None,
            Self::Boolean(_) => SchemaType::Boolean,
            Self::Int8(_) => SchemaType::Int8,
            Self::Int16(_) => SchemaType::Int16,
            Self::Int32(_) | Self::Date(_) | Self::Time(_) => SchemaType::Int32,
            Self::Int64(_) | Self::Timestamp(_) => SchemaType::Int64,
            Self::Float32(_) => SchemaType::Float32,
            Self::Float64(_) => SchemaType::Float64,
            Self::String(_) => SchemaType::String,
            Self::Bytes(_) | Self::Decimal(_) => SchemaType::Bytes,
            Self::Array(_) => SchemaType::Array,
            Self::Map(_) => SchemaType::Map,
            Self::Struct(_) => SchemaType::Struct,
        })
    }

    /// Checks the value against a schema as Connect's
    /// `ConnectSchema.validateValue` does (recursively); the error says where.
    pub fn conforms_to(&self, schema: &Schema) -> Result<(), String> {
        use super::schema::Logical;
        let ok = match (self, schema.logical()) {
            (Self::Null, _) => {
                return if schema.is_optional() || schema.default_value().is_some() {
                    Ok(())
                } else {
                    Err("null used for a required schema".into())
                };
            }
            (Self::Decimal(_), Some(Logical::Decimal { .. }))
            | (Self::Date(_), Some(Logical::Date))
            | (Self::Time(_), Some(Logical::Time))
            | (Self::Timestamp(_), Some(Logical::Timestamp)) => true,
            (_, Some(_)) => false,
            (Self::Array(items), None) if schema.schema_type() == SchemaType::Array => {
                if let Some(item_schema) = schema.value_schema() {
                    for (i, item) in items.iter().enumerate() {
                        item.conforms_to(item_schema).map_err(|e| format!("[{i}]: {e}"))?;
                    }
                }
                true
            }
            (Self::Map(entries), None) if schema.schema_type() == SchemaType::Map => {
                if let (Some(ks), Some(vs)) = (schema.key_schema(), schema.value_schema()) {
                    for (k, v) in entries {
                        k.conforms_to(ks).map_err(|e| format!("map key: {e}"))?;
                        v.conforms_to(vs).map_err(|e| format!("map value: {e}"))?;
                    }
                }
                true
            }
            (Self::Struct(s), None) => s.schema() == schema,
            (v, None) => v.schema_type() == Some(schema.schema_type()),
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{} does not fit schema type {}", self.kind(), schema.schema_type()))
        }
    }

    /// A short name of the variant, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Boolean(_) => "boolean",
            Self::Int8(_) => "int8",
            Self::Int16(_) => "int16",
            Self::Int32(_) => "int32",
            Self::Int64(_) => "int64",
            Self::Float32(_) => "float32",
            Self::Float64(_) => "float64",
            Self::String(_) => "string",
            Self::Bytes(_) => "bytes",
            Self::Array(_) => "array",
            Self::Map(_) => "map",
            Self::Struct(_) => "struct",
            Self::Decimal(_) => "Decimal",
            Self::Date(_) => "Date",
            Self::Time(_) => "Time",
            Self::Timestamp(_) => "Timestamp",
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

/// A struct value: one value per field of its schema, in field order.
/// A null field holds [`Value::Null`]; defaults apply when it is read with
/// [`Struct::get_or_default`] or written by a converter.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    schema: Schema,
    values: Vec<Value>,
}

impl Struct {
    /// All fields null.
    pub fn new(schema: Schema) -> Self {
        let values = vec![Value::Null; schema.fields().len()];
        Self { schema, values }
    }

    /// From values in field order; `Err` if the count differs from the
    /// schema's field count.
    pub fn from_values(schema: Schema, values: Vec<Value>) -> Result<Self, String> {
        if values.len() != schema.fields().len() {
            return Err(format!("{} values for {} fields", values.len(), schema.fields().len()));
        }
        Ok(Self { schema, values })
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Values in field order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Takes the values out (field order).
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }

    /// The value of field `name` as stored (null stays null).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.schema.field(name).map(|f| &self.values[f.index()])
    }

    /// The value of field `name`, or the field's default when null, as
    /// Connect's `Struct.get(String)`.
    pub fn get_or_default(&self, name: &str) -> Option<&Value> {
        let field = self.schema.field(name)?;
        let value = &self.values[field.index()];
        match (value, field.schema().default_value()) {
            (Value::Null, Some(default)) => Some(default),
            _ => Some(value),
        }
    }

    /// The value at field index `index`.
    pub fn get_index(&self, index: usize) -> Option<&Value> {
        self.values.get(index)
    }

    /// Sets field `name`, checked against its schema.
    pub fn put(&mut self, name: &str, value: Value) -> Result<&mut Self, String> {
        let field = self.schema.field(name).ok_or_else(|| format!("{name} is not a valid field name"))?;
        value.conforms_to(field.schema()).map_err(|e| format!("field {name}: {e}"))?;
        let index = field.index();
        self.values[index] = value;
        Ok(self)
    }

    /// Sets the field at `index` without checks (a hot path for row
    /// conversion whose values are built from the schema).
    pub fn put_index(&mut self, index: usize, value: Value) {
        self.values[index] = value;
    }

    /// Checks every field, as Connect's `Struct.validate`.
    pub fn validate(&self) -> Result<(), String> {
        for (field, value) in self.schema.fields().iter().zip(&self.values) {
            value.conforms_to(field.schema()).map_err(|e| format!("field {}: {e}", field.name()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::SchemaBuilder;
    use super::*;

    fn address() -> Schema {
        SchemaBuilder::struct_()
            .name("address")
            .field("address_id", Schema::of(SchemaType::Int32))
            .field(
                "address2",
                SchemaBuilder::new(SchemaType::String).optional().default_value("-".into()).build(),
            )
            .field("last_update", SchemaBuilder::timestamp().build())
            .build()
    }

    #[test]
    fn put_checks_types_and_defaults_apply_on_read() {
        let mut s = Struct::new(address());
        s.put("address_id", Value::Int32(7)).unwrap();
        assert!(s.put("address_id", Value::Int64(7)).unwrap_err().contains("int64"));
        assert!(s.put("last_update", Value::Int64(1)).is_err(), "Timestamp wants a Timestamp value");
        s.put("last_update", Value::Timestamp(1139996730000)).unwrap();
        assert!(s.put("nope", Value::Null).unwrap_err().contains("nope"));
        assert_eq!(s.get("address2"), Some(&Value::Null));
        assert_eq!(s.get_or_default("address2"), Some(&Value::from("-")));
        assert_eq!(s.get("address_id"), Some(&Value::Int32(7)));
        s.validate().unwrap();
    }

    #[test]
    fn validation_finds_required_nulls_and_nested_mismatches() {
        let s = Struct::new(address());
        assert!(s.validate().unwrap_err().contains("address_id"));
        let arr = SchemaBuilder::array(Schema::of(SchemaType::Int64)).build();
        assert!(
            Value::Array(vec![Value::Int64(1), Value::Int32(2)])
                .conforms_to(&arr)
                .unwrap_err()
                .contains("[1]")
        );
        assert!(Struct::from_values(address(), vec![Value::Null]).is_err());
    }
}

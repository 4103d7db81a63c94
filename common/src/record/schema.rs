//! Kafka Connect's schema model (`org.apache.kafka.connect.data.Schema`):
//! types, optionality, defaults, names, versions, docs, parameters and the
//! four logical types Connect defines. Schemas are immutable and cheap to
//! clone (one `Arc`).

use std::fmt;
use std::sync::{Arc, OnceLock};

use super::value::Value;

/// Logical name of Connect's Decimal (BYTES holding an unscaled big integer).
pub const DECIMAL_NAME: &str = "org.apache.kafka.connect.data.Decimal";
/// Logical name of Connect's Date (INT32 days since the epoch).
pub const DATE_NAME: &str = "org.apache.kafka.connect.data.Date";
/// Logical name of Connect's Time (INT32 milliseconds since midnight).
pub const TIME_NAME: &str = "org.apache.kafka.connect.data.Time";
/// Logical name of Connect's Timestamp (INT64 milliseconds since the epoch).
pub const TIMESTAMP_NAME: &str = "org.apache.kafka.connect.data.Timestamp";
/// The Decimal parameter holding the scale.
pub const DECIMAL_SCALE_PARAM: &str = "scale";
/// The parameter the JDBC connector sets to a column's precision.
pub const DECIMAL_PRECISION_PARAM: &str = "connect.decimal.precision";

/// A Connect schema type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    /// int8
    Int8,
    /// int16
    Int16,
    /// int32
    Int32,
    /// int64
    Int64,
    /// float32 (`"float"` in JSON schemas)
    Float32,
    /// float64 (`"double"` in JSON schemas)
    Float64,
    /// boolean
    Boolean,
    /// string
    String,
    /// bytes
    Bytes,
    /// array of one value schema
    Array,
    /// map from a key schema to a value schema
    Map,
    /// ordered named fields
    Struct,
}

impl SchemaType {
    /// The type's name in Kafka's JSON schemas.
    pub fn json_name(self) -> &'static str {
        match self {
            Self::Int8 => "int8",
            Self::Int16 => "int16",
            Self::Int32 => "int32",
            Self::Int64 => "int64",
            Self::Float32 => "float",
            Self::Float64 => "double",
            Self::Boolean => "boolean",
            Self::String => "string",
            Self::Bytes => "bytes",
            Self::Array => "array",
            Self::Map => "map",
            Self::Struct => "struct",
        }
    }

    /// The type named `name` in a JSON schema.
    pub fn from_json_name(name: &str) -> Option<Self> {
        Some(match name {
            "int8" => Self::Int8,
            "int16" => Self::Int16,
            "int32" => Self::Int32,
            "int64" => Self::Int64,
            "float" => Self::Float32,
            "double" => Self::Float64,
            "boolean" => Self::Boolean,
            "string" => Self::String,
            "bytes" => Self::Bytes,
            "array" => Self::Array,
            "map" => Self::Map,
            "struct" => Self::Struct,
            _ => return None,
        })
    }

    /// Whether this is a primitive (not array, map or struct).
    pub fn is_primitive(self) -> bool {
        !matches!(self, Self::Array | Self::Map | Self::Struct)
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.json_name().to_ascii_uppercase())
    }
}

/// A logical type, recognised by schema name and underlying type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logical {
    /// Decimal with this scale.
    Decimal {
        /// Digits after the point.
        scale: i32,
    },
    /// Days since 1970-01-01.
    Date,
    /// Milliseconds since midnight.
    Time,
    /// Milliseconds since the epoch.
    Timestamp,
}

/// A field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    name: String,
    index: usize,
    schema: Schema,
}

impl Field {
    /// The field name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its position in the struct.
    pub fn index(&self) -> usize {
        self.index
    }
    /// Its schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }
}

/// A Connect schema. Clones share one allocation.
#[derive(Clone)]
pub struct Schema(Arc<Inner>);

struct Inner {
    ty: SchemaType,
    optional: bool,
    default: Option<Value>,
    name: Option<String>,
    version: Option<i32>,
    doc: Option<String>,
    /// In insertion order, as Connect's `SchemaBuilder` keeps them.
    parameters: Vec<(String, String)>,
    key: Option<Schema>,
    value: Option<Schema>,
    fields: Vec<Field>,
    logical: Option<Logical>,
    /// The schema's JSON (see `json_schema`), per decimal format, built once.
    json: [OnceLock<Box<[u8]>>; 2],
}

impl PartialEq for Inner {
    fn eq(&self, o: &Self) -> bool {
        self.ty == o.ty
            && self.optional == o.optional
            && self.name == o.name
            && self.version == o.version
            && self.doc == o.doc
            && self.parameters == o.parameters
            && self.key == o.key
            && self.value == o.value
            && self.fields == o.fields
            && self.default == o.default
    }
}

impl PartialEq for Schema {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Schema");
        d.field("type", &self.0.ty).field("optional", &self.0.optional);
        if let Some(n) = &self.0.name {
            d.field("name", n);
        }
        if let Some(v) = &self.0.version {
            d.field("version", v);
        }
        if !self.0.parameters.is_empty() {
            d.field("parameters", &self.0.parameters);
        }
        if let Some(v) = &self.0.default {
            d.field("default", v);
        }
        if let Some(k) = &self.0.key {
            d.field("key", k);
        }
        if let Some(v) = &self.0.value {
            d.field("value", v);
        }
        if !self.0.fields.is_empty() {
            let fields: Vec<_> = self.0.fields.iter().map(|f| (&f.name, &f.schema)).collect();
            d.field("fields", &fields);
        }
        d.finish()
    }
}

impl Schema {
    /// The type.
    pub fn schema_type(&self) -> SchemaType {
        self.0.ty
    }
    /// Whether null is allowed.
    pub fn is_optional(&self) -> bool {
        self.0.optional
    }
    /// The default value, if any.
    pub fn default_value(&self) -> Option<&Value> {
        self.0.default.as_ref()
    }
    /// The schema name (a logical type's name, or a record name).
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// The version.
    pub fn version(&self) -> Option<i32> {
        self.0.version
    }
    /// The documentation.
    pub fn doc(&self) -> Option<&str> {
        self.0.doc.as_deref()
    }
    /// Parameters in insertion order.
    pub fn parameters(&self) -> &[(String, String)] {
        &self.0.parameters
    }
    /// One parameter.
    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.0.parameters.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    /// The logical type, if the name and type make one.
    pub fn logical(&self) -> Option<Logical> {
        self.0.logical
    }
    /// A map's key schema.
    pub fn key_schema(&self) -> Option<&Schema> {
        self.0.key.as_ref()
    }
    /// An array's element schema or a map's value schema.
    pub fn value_schema(&self) -> Option<&Schema> {
        self.0.value.as_ref()
    }
    /// A struct's fields, in order (empty for other types).
    pub fn fields(&self) -> &[Field] {
        &self.0.fields
    }
    /// The struct field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.0.fields.iter().find(|f| f.name == name)
    }
    /// Whether both are the same allocation (a cheap equality hint).
    pub fn ptr_eq(&self, other: &Schema) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// A builder starting from this schema's settings (fields included).
    pub fn to_builder(&self) -> SchemaBuilder {
        let i = &self.0;
        SchemaBuilder {
            ty: i.ty,
            optional: i.optional,
            default: i.default.clone(),
            name: i.name.clone(),
            version: i.version,
            doc: i.doc.clone(),
            parameters: i.parameters.clone(),
            key: i.key.clone(),
            value: i.value.clone(),
            fields: i.fields.iter().map(|f| (f.name.clone(), f.schema.clone())).collect(),
        }
    }

    pub(crate) fn json_cache(&self, slot: usize) -> &OnceLock<Box<[u8]>> {
        &self.0.json[slot]
    }

    /// Required int8, int16, ... schemas, as Connect's `Schema.INT8_SCHEMA` etc.
    pub fn of(ty: SchemaType) -> Schema {
        SchemaBuilder::new(ty).build()
    }
    /// Optional primitive schemas, as `Schema.OPTIONAL_INT8_SCHEMA` etc.
    pub fn optional_of(ty: SchemaType) -> Schema {
        SchemaBuilder::new(ty).optional().build()
    }
}

/// Builds a [`Schema`], as Connect's `SchemaBuilder`.
#[derive(Debug, Clone)]
pub struct SchemaBuilder {
    ty: SchemaType,
    optional: bool,
    default: Option<Value>,
    name: Option<String>,
    version: Option<i32>,
    doc: Option<String>,
    parameters: Vec<(String, String)>,
    key: Option<Schema>,
    value: Option<Schema>,
    fields: Vec<(String, Schema)>,
}

impl SchemaBuilder {
    /// A required schema of `ty` (for arrays and maps, see [`Self::array`] and [`Self::map`]).
    pub fn new(ty: SchemaType) -> Self {
        Self {
            ty,
            optional: false,
            default: None,
            name: None,
            version: None,
            doc: None,
            parameters: Vec::new(),
            key: None,
            value: None,
            fields: Vec::new(),
        }
    }
    /// A struct schema; add fields with [`Self::field`].
    pub fn struct_() -> Self {
        Self::new(SchemaType::Struct)
    }
    /// An array of `value`.
    pub fn array(value: Schema) -> Self {
        Self { value: Some(value), ..Self::new(SchemaType::Array) }
    }
    /// A map from `key` to `value`.
    pub fn map(key: Schema, value: Schema) -> Self {
        Self { key: Some(key), value: Some(value), ..Self::new(SchemaType::Map) }
    }
    /// Connect's `Decimal.builder(scale)`: BYTES named Decimal, version 1, parameter `scale`.
    pub fn decimal(scale: i32) -> Self {
        Self::new(SchemaType::Bytes)
            .name(DECIMAL_NAME)
            .version(1)
            .parameter(DECIMAL_SCALE_PARAM, scale.to_string())
    }
    /// Connect's `Date.builder()`: INT32 named Date, version 1.
    pub fn date() -> Self {
        Self::new(SchemaType::Int32).name(DATE_NAME).version(1)
    }
    /// Connect's `Time.builder()`: INT32 named Time, version 1.
    pub fn time() -> Self {
        Self::new(SchemaType::Int32).name(TIME_NAME).version(1)
    }
    /// Connect's `Timestamp.builder()`: INT64 named Timestamp, version 1.
    pub fn timestamp() -> Self {
        Self::new(SchemaType::Int64).name(TIMESTAMP_NAME).version(1)
    }
    /// Allows null.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
    /// Sets optionality.
    pub fn with_optional(mut self, optional: bool) -> Self {
        self.optional = optional;
        self
    }
    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Sets the version.
    pub fn version(mut self, version: i32) -> Self {
        self.version = Some(version);
        self
    }
    /// Sets the documentation.
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.doc = Some(doc.into());
        self
    }
    /// Sets a parameter (replacing an earlier value, keeping its position).
    pub fn parameter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (key.into(), value.into());
        match self.parameters.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.parameters.push((key, value)),
        }
        self
    }
    /// Sets the default value (not checked against the type).
    pub fn default_value(mut self, value: Value) -> Self {
        self.default = Some(value);
        self
    }
    /// Adds a struct field (a later field of the same name replaces it).
    pub fn field(mut self, name: impl Into<String>, schema: Schema) -> Self {
        let name = name.into();
        match self.fields.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = schema,
            None => self.fields.push((name, schema)),
        }
        self
    }
    /// The type being built.
    pub fn schema_type(&self) -> SchemaType {
        self.ty
    }

    /// Builds the schema.
    pub fn build(self) -> Schema {
        let logical = match (self.name.as_deref(), self.ty) {
            (Some(DECIMAL_NAME), SchemaType::Bytes) => {
                let scale = self
                    .parameters
                    .iter()
                    .find(|(k, _)| k == DECIMAL_SCALE_PARAM)
                    .and_then(|(_, v)| v.trim().parse().ok());
                scale.map(|scale| Logical::Decimal { scale })
            }
            (Some(DATE_NAME), SchemaType::Int32) => Some(Logical::Date),
            (Some(TIME_NAME), SchemaType::Int32) => Some(Logical::Time),
            (Some(TIMESTAMP_NAME), SchemaType::Int64) => Some(Logical::Timestamp),
            _ => None,
        };
        let fields = self
            .fields
            .into_iter()
            .enumerate()
            .map(|(index, (name, schema))| Field { name, index, schema })
            .collect();
        Schema(Arc::new(Inner {
            ty: self.ty,
            optional: self.optional,
            default: self.default,
            name: self.name,
            version: self.version,
            doc: self.doc,
            parameters: self.parameters,
            key: self.key,
            value: self.value,
            fields,
            logical,
            json: [OnceLock::new(), OnceLock::new()],
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_types_are_recognised_by_name_and_type() {
        let d = SchemaBuilder::decimal(2).parameter(DECIMAL_PRECISION_PARAM, "5").build();
        assert_eq!(d.logical(), Some(Logical::Decimal { scale: 2 }));
        assert_eq!(d.parameters()[0].0, "scale");
        assert_eq!(d.parameter(DECIMAL_PRECISION_PARAM), Some("5"));
        assert_eq!(SchemaBuilder::date().build().logical(), Some(Logical::Date));
        assert_eq!(SchemaBuilder::time().build().logical(), Some(Logical::Time));
        assert_eq!(SchemaBuilder::timestamp().build().logical(), Some(Logical::Timestamp));
        assert_eq!(SchemaBuilder::timestamp().build().version(), Some(1));
        // A Timestamp name on the wrong type is not a Timestamp.
        assert_eq!(SchemaBuilder::new(SchemaType::Int32).name(TIMESTAMP_NAME).build().logical(), None);
    }

    #[test]
    fn structs_keep_field_order_and_indexes() {
        let s = SchemaBuilder::struct_()
            .name("address")
            .field("b", Schema::of(SchemaType::Int32))
            .field("a", Schema::optional_of(SchemaType::String))
            .build();
        let names: Vec<_> = s.fields().iter().map(|f| (f.name(), f.index())).collect();
        assert_eq!(names, [("b", 0), ("a", 1)]);
        assert!(s.field("a").is_some_and(|f| f.schema().is_optional()));
        assert!(s.field("c").is_none());
    }

    #[test]
    fn equality_is_structural_and_clone_is_shared() {
        let a = SchemaBuilder::array(Schema::of(SchemaType::Int64)).optional().build();
        let b = SchemaBuilder::array(Schema::of(SchemaType::Int64)).optional().build();
        assert_eq!(a, b);
        assert!(!a.ptr_eq(&b));
        assert!(a.ptr_eq(&a.clone()));
        assert_ne!(a, SchemaBuilder::array(Schema::of(SchemaType::Int64)).build());
        assert_eq!(a.to_builder().build(), a);
        assert_eq!(SchemaType::from_json_name("double"), Some(SchemaType::Float64));
        assert_eq!(SchemaType::Float32.json_name(), "float");
    }
}

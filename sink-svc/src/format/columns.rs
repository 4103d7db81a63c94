//! Arrow column builders that take Connect values: one per column, nested
//! for structs, lists and maps. Appending is two steps: [`ColumnBuilder::check`]
//! finds whether a value fits without touching anything, then
//! [`ColumnBuilder::append`] adds it, so a bad record leaves every column as
//! it was.

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    Decimal256Builder, Float32Builder, Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder,
    ListArray, MapArray, NullBufferBuilder, StringBuilder, StructArray, Time32MillisecondBuilder,
    TimestampMillisecondBuilder,
};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, FieldRef, Fields, i256};
use arrow::error::ArrowError;
use hydrate_common::record::{Schema, Struct, Value};

use super::decimal::{decimal128, decimal256};
use super::mismatch::Mismatch;

/// Builds one Arrow column from Connect values of one Connect schema.
pub(super) struct ColumnBuilder {
    /// The Connect schema (defaults, optionality).
    schema: Schema,
    kind: Kind,
}

enum Kind {
    Boolean(BooleanBuilder),
    Int8(Int8Builder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Utf8(StringBuilder),
    Binary(BinaryBuilder),
    Decimal128 {
        builder: Decimal128Builder,
        precision: u8,
        scale: i8,
    },
    Decimal256 {
        builder: Decimal256Builder,
        precision: u8,
        scale: i8,
    },
    Date(Date32Builder),
    Time(Time32MillisecondBuilder),
    Timestamp(TimestampMillisecondBuilder),
    Struct(StructColumn),
    List {
        field: FieldRef,
        offsets: Vec<i32>,
        nulls: NullBufferBuilder,
        items: Box<ColumnBuilder>,
    },
    Map {
        entries: FieldRef,
        offsets: Vec<i32>,
        nulls: NullBufferBuilder,
        keys: Box<ColumnBuilder>,
        values: Box<ColumnBuilder>,
    },
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Self::Boolean(_) => "boolean",
            Self::Int8(_) => "int8",
            Self::Int16(_) => "int16",
            Self::Int32(_) => "int32",
            Self::Int64(_) => "int64",
            Self::Float32(_) => "float32",
            Self::Float64(_) => "float64",
            Self::Utf8(_) => "string",
            Self::Binary(_) => "bytes",
            Self::Decimal128 { .. } | Self::Decimal256 { .. } => "Decimal",
            Self::Date(_) => "Date",
            Self::Time(_) => "Time",
            Self::Timestamp(_) => "Timestamp",
            Self::Struct(_) => "struct",
            Self::List { .. } => "array",
            Self::Map { .. } => "map",
        }
    }
}

/// A struct's children, named as the Connect schema names them.
pub(super) struct StructColumn {
    schema: Schema,
    fields: Fields,
    children: Vec<ColumnBuilder>,
    nulls: NullBufferBuilder,
    len: usize,
}

impl StructColumn {
    /// A struct column of Connect `schema` whose Arrow fields are `fields`.
    pub(super) fn new(schema: &Schema, fields: &Fields) -> Result<Self, String> {
        if schema.fields().len() != fields.len() {
            return Err("the struct's Arrow and Connect fields differ".into());
        }
        let children = schema
            .fields()
            .iter()
            .zip(fields.iter())
            .map(|(f, arrow)| ColumnBuilder::new(f.schema(), arrow.data_type()))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            schema: schema.clone(),
            fields: fields.clone(),
            children,
            nulls: NullBufferBuilder::new(0),
            len: 0,
        })
    }

    /// Whether `value` (a struct of the same field names, in order) fits.
    fn check(&self, value: &Struct) -> Result<(), Mismatch> {
        same_fields(&self.schema, value.schema())?;
        for ((child, field), v) in self.children.iter().zip(self.schema.fields()).zip(value.values()) {
            child.check(v).map_err(|e| e.under(field.name()))?;
        }
        Ok(())
    }

    fn append(&mut self, value: &Struct) -> Result<(), Mismatch> {
        for ((child, field), v) in self.children.iter_mut().zip(self.schema.fields()).zip(value.values()) {
            child.append(v).map_err(|e| e.under(field.name()))?;
        }
        self.nulls.append_non_null();
        self.len += 1;
        Ok(())
    }

    /// A null struct (`null`) or a required one under a null parent.
    fn append_placeholder(&mut self, null: bool) {
        for child in &mut self.children {
            child.append_placeholder();
        }
        self.nulls.append(!null);
        self.len += 1;
    }

    fn memory(&self) -> usize {
        self.children.iter().map(ColumnBuilder::memory).sum::<usize>() + self.len / 8
    }

    /// The struct array of everything appended; the builder starts over.
    pub(super) fn finish(&mut self) -> Result<StructArray, ArrowError> {
        let arrays = self.children.iter_mut().map(ColumnBuilder::finish).collect::<Result<Vec<_>, _>>()?;
        let nulls = self.nulls.finish();
        let len = std::mem::take(&mut self.len);
        StructArray::try_new_with_length(self.fields.clone(), arrays, nulls, len)
    }
}

/// Whether `found` has the field names of `expected`, in order.
pub(super) fn same_fields(expected: &Schema, found: &Schema) -> Result<(), Mismatch> {
    if expected.ptr_eq(found) {
        return Ok(());
    }
    let (e, f) = (expected.fields(), found.fields());
    for (i, field) in e.iter().enumerate() {
        match f.get(i) {
            Some(other) if other.name() == field.name() => {}
            Some(other) => {
                return Err(Mismatch::new(format!(
                    "the object has field {} where the record has {}",
                    field.name(),
                    other.name()
                )));
            }
            None => return Err(Mismatch::new(format!("the record lacks field {}", field.name()))),
        }
    }
    if let Some(extra) = f.get(e.len()) {
        return Err(Mismatch::new(format!("field {} is not in the object's schema", extra.name())));
    }
    Ok(())
}

/// `i32` offsets of a list or map; a batch never nears 2^31 elements, but if
/// one did it is refused rather than wrapped.
fn offset(len: usize) -> Result<i32, Mismatch> {
    i32::try_from(len).map_err(|_| Mismatch::new("more than 2^31 list elements in one batch"))
}

impl ColumnBuilder {
    /// A builder for Connect `schema` producing Arrow `data_type` (from
    /// [`super::arrow_schema`]).
    pub(super) fn new(schema: &Schema, data_type: &DataType) -> Result<Self, String> {
        let kind = match data_type {
            DataType::Boolean => Kind::Boolean(BooleanBuilder::with_capacity(0)),
            DataType::Int8 => Kind::Int8(Int8Builder::with_capacity(0)),
            DataType::Int16 => Kind::Int16(Int16Builder::with_capacity(0)),
            DataType::Int32 => Kind::Int32(Int32Builder::with_capacity(0)),
            DataType::Int64 => Kind::Int64(Int64Builder::with_capacity(0)),
            DataType::Float32 => Kind::Float32(Float32Builder::with_capacity(0)),
            DataType::Float64 => Kind::Float64(Float64Builder::with_capacity(0)),
            DataType::Utf8 => Kind::Utf8(StringBuilder::with_capacity(0, 0)),
            DataType::Binary => Kind::Binary(BinaryBuilder::with_capacity(0, 0)),
            DataType::Decimal128(p, s) => Kind::Decimal128 {
                builder: Decimal128Builder::with_capacity(0)
                    .with_precision_and_scale(*p, *s)
                    .map_err(|e| e.to_string())?,
                precision: *p,
                scale: *s,
            },
            DataType::Decimal256(p, s) => Kind::Decimal256 {
                builder: Decimal256Builder::with_capacity(0)
                    .with_precision_and_scale(*p, *s)
                    .map_err(|e| e.to_string())?,
                precision: *p,
                scale: *s,
            },
            DataType::Date32 => Kind::Date(Date32Builder::with_capacity(0)),
            DataType::Time32(_) => Kind::Time(Time32MillisecondBuilder::with_capacity(0)),
            DataType::Timestamp(_, tz) => {
                Kind::Timestamp(TimestampMillisecondBuilder::with_capacity(0).with_timezone_opt(tz.clone()))
            }
            DataType::Struct(fields) => Kind::Struct(StructColumn::new(schema, fields)?),
            DataType::List(field) => {
                let item = schema.value_schema().ok_or("an array schema without an element schema")?;
                Kind::List {
                    field: field.clone(),
                    offsets: vec![0],
                    nulls: NullBufferBuilder::new(0),
                    items: Box::new(ColumnBuilder::new(item, field.data_type())?),
                }
            }
            DataType::Map(entries, _) => {
                let (Some(ks), Some(vs), DataType::Struct(kv)) =
                    (schema.key_schema(), schema.value_schema(), entries.data_type())
                else {
                    return Err("a map schema without key and value schemas".into());
                };
                let (Some(kf), Some(vf)) = (kv.first(), kv.get(1)) else {
                    return Err("a map type without key and value fields".into());
                };
                Kind::Map {
                    entries: entries.clone(),
                    offsets: vec![0],
                    nulls: NullBufferBuilder::new(0),
                    keys: Box::new(ColumnBuilder::new(ks, kf.data_type())?),
                    values: Box::new(ColumnBuilder::new(vs, vf.data_type())?),
                }
            }
            other => return Err(format!("no column builder for {other}")),
        };
        Ok(Self { schema: schema.clone(), kind })
    }

    /// Null stands for the schema's default when it has one, as Connect's
    /// converters read it.
    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match (value, self.schema.default_value()) {
            (Value::Null, Some(default)) => default,
            _ => value,
        }
    }

    /// Whether `value` fits this column; changes nothing.
    pub(super) fn check(&self, value: &Value) -> Result<(), Mismatch> {
        let value = self.resolve(value);
        let fits = match (&self.kind, value) {
            (_, Value::Null) => {
                return if self.schema.is_optional() {
                    Ok(())
                } else {
                    Err(Mismatch::new("null in a required field"))
                };
            }
            (Kind::Boolean(_), Value::Boolean(_))
            | (Kind::Int8(_), Value::Int8(_))
            | (Kind::Int16(_), Value::Int16(_))
            | (Kind::Int32(_), Value::Int32(_))
            | (Kind::Int64(_), Value::Int64(_))
            | (Kind::Float32(_), Value::Float32(_))
            | (Kind::Float64(_), Value::Float64(_))
            | (Kind::Utf8(_), Value::String(_))
            | (Kind::Binary(_), Value::Bytes(_))
            | (Kind::Date(_), Value::Date(_) | Value::Int32(_))
            | (Kind::Time(_), Value::Time(_) | Value::Int32(_))
            | (Kind::Timestamp(_), Value::Timestamp(_) | Value::Int64(_)) => true,
            (Kind::Decimal128 { precision, scale, .. }, Value::Decimal(d)) => {
                return decimal128(d, *precision, *scale).map(|_| ());
            }
            (Kind::Decimal256 { precision, scale, .. }, Value::Decimal(d)) => {
                return decimal256(d, *precision, *scale).map(|_| ());
            }
            (Kind::Struct(s), Value::Struct(v)) => return s.check(v),
            (Kind::List { items, .. }, Value::Array(values)) => {
                for (i, v) in values.iter().enumerate() {
                    items.check(v).map_err(|e| e.at_index(i))?;
                }
                return Ok(());
            }
            (Kind::Map { keys, values, .. }, Value::Map(entries)) => {
                for (k, v) in entries {
                    if keys.resolve(k).is_null() {
                        return Err(Mismatch::new("a map key is null"));
                    }
                    keys.check(k).map_err(|e| e.under("key"))?;
                    values.check(v).map_err(|e| e.under("value"))?;
                }
                return Ok(());
            }
            _ => false,
        };
        if fits {
            Ok(())
        } else {
            Err(Mismatch::new(format!("{} does not fit a {} column", value.kind(), self.kind.name())))
        }
    }

    /// Appends a value [`Self::check`] accepted.
    pub(super) fn append(&mut self, value: &Value) -> Result<(), Mismatch> {
        // Disjoint borrows: the default lives in the schema, the builders in the kind.
        let Self { schema, kind } = self;
        let value = match (value, schema.default_value()) {
            (Value::Null, Some(d)) => d,
            _ => value,
        };
        if value.is_null() {
            if !schema.is_optional() {
                return Err(Mismatch::new("null in a required field"));
            }
            self.append_null();
            return Ok(());
        }
        match (kind, value) {
            (Kind::Boolean(b), Value::Boolean(v)) => b.append_value(*v),
            (Kind::Int8(b), Value::Int8(v)) => b.append_value(*v),
            (Kind::Int16(b), Value::Int16(v)) => b.append_value(*v),
            (Kind::Int32(b), Value::Int32(v)) => b.append_value(*v),
            (Kind::Int64(b), Value::Int64(v)) => b.append_value(*v),
            (Kind::Float32(b), Value::Float32(v)) => b.append_value(*v),
            (Kind::Float64(b), Value::Float64(v)) => b.append_value(*v),
            (Kind::Utf8(b), Value::String(v)) => b.append_value(v),
            (Kind::Binary(b), Value::Bytes(v)) => b.append_value(v),
            (Kind::Date(b), Value::Date(v) | Value::Int32(v)) => b.append_value(*v),
            (Kind::Time(b), Value::Time(v) | Value::Int32(v)) => b.append_value(*v),
            (Kind::Timestamp(b), Value::Timestamp(v) | Value::Int64(v)) => b.append_value(*v),
            (Kind::Decimal128 { builder, precision, scale }, Value::Decimal(d)) => {
                builder.append_value(decimal128(d, *precision, *scale)?)
            }
            (Kind::Decimal256 { builder, precision, scale }, Value::Decimal(d)) => {
                builder.append_value(decimal256(d, *precision, *scale)?)
            }
            (Kind::Struct(s), Value::Struct(v)) => s.append(v)?,
            (Kind::List { offsets, nulls, items, .. }, Value::Array(values)) => {
                for (i, v) in values.iter().enumerate() {
                    items.append(v).map_err(|e| e.at_index(i))?;
                }
                offsets.push(offset(items.len())?);
                nulls.append_non_null();
            }
            (Kind::Map { offsets, nulls, keys, values, .. }, Value::Map(entries)) => {
                for (k, v) in entries {
                    keys.append(k).map_err(|e| e.under("key"))?;
                    values.append(v).map_err(|e| e.under("value"))?;
                }
                offsets.push(offset(keys.len())?);
                nulls.append_non_null();
            }
            (kind, v) => {
                return Err(Mismatch::new(format!("{} does not fit a {} column", v.kind(), kind.name())));
            }
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match &mut self.kind {
            Kind::Boolean(b) => b.append_null(),
            Kind::Int8(b) => b.append_null(),
            Kind::Int16(b) => b.append_null(),
            Kind::Int32(b) => b.append_null(),
            Kind::Int64(b) => b.append_null(),
            Kind::Float32(b) => b.append_null(),
            Kind::Float64(b) => b.append_null(),
            Kind::Utf8(b) => b.append_null(),
            Kind::Binary(b) => b.append_null(),
            Kind::Decimal128 { builder, .. } => builder.append_null(),
            Kind::Decimal256 { builder, .. } => builder.append_null(),
            Kind::Date(b) => b.append_null(),
            Kind::Time(b) => b.append_null(),
            Kind::Timestamp(b) => b.append_null(),
            Kind::Struct(s) => s.append_placeholder(true),
            Kind::List { offsets, nulls, .. } | Kind::Map { offsets, nulls, .. } => {
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last);
                nulls.append_null();
            }
        }
    }

    /// A slot under a null struct: null where allowed, else a zero value
    /// (Arrow requires required children to hold something there).
    fn append_placeholder(&mut self) {
        if self.schema.is_optional() {
            return self.append_null();
        }
        match &mut self.kind {
            Kind::Boolean(b) => b.append_value(false),
            Kind::Int8(b) => b.append_value(0),
            Kind::Int16(b) => b.append_value(0),
            Kind::Int32(b) => b.append_value(0),
            Kind::Date(b) => b.append_value(0),
            Kind::Time(b) => b.append_value(0),
            Kind::Int64(b) => b.append_value(0),
            Kind::Timestamp(b) => b.append_value(0),
            Kind::Float32(b) => b.append_value(0.0),
            Kind::Float64(b) => b.append_value(0.0),
            Kind::Utf8(b) => b.append_value(""),
            Kind::Binary(b) => b.append_value(b""),
            Kind::Decimal128 { builder, .. } => builder.append_value(0),
            Kind::Decimal256 { builder, .. } => builder.append_value(i256::ZERO),
            Kind::Struct(s) => s.append_placeholder(false),
            Kind::List { offsets, nulls, .. } | Kind::Map { offsets, nulls, .. } => {
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last);
                nulls.append_non_null();
            }
        }
    }

    /// Values appended (not yet finished).
    fn len(&self) -> usize {
        match &self.kind {
            Kind::Boolean(b) => b.len(),
            Kind::Int8(b) => b.len(),
            Kind::Int16(b) => b.len(),
            Kind::Int32(b) => b.len(),
            Kind::Int64(b) => b.len(),
            Kind::Float32(b) => b.len(),
            Kind::Float64(b) => b.len(),
            Kind::Utf8(b) => b.len(),
            Kind::Binary(b) => b.len(),
            Kind::Decimal128 { builder, .. } => builder.len(),
            Kind::Decimal256 { builder, .. } => builder.len(),
            Kind::Date(b) => b.len(),
            Kind::Time(b) => b.len(),
            Kind::Timestamp(b) => b.len(),
            Kind::Struct(s) => s.len,
            Kind::List { offsets, .. } | Kind::Map { offsets, .. } => offsets.len() - 1,
        }
    }

    /// Bytes the builder holds: the allocated capacity of its buffers (which
    /// grow by doubling), one bit per validity slot.
    pub(super) fn memory(&self) -> usize {
        let validity = self.len() / 8;
        validity
            + match &self.kind {
                Kind::Boolean(b) => b.capacity() / 8,
                Kind::Int8(b) => b.capacity(),
                Kind::Int16(b) => b.capacity() * 2,
                Kind::Int32(b) => b.capacity() * 4,
                Kind::Date(b) => b.capacity() * 4,
                Kind::Time(b) => b.capacity() * 4,
                Kind::Int64(b) => b.capacity() * 8,
                Kind::Timestamp(b) => b.capacity() * 8,
                Kind::Float32(b) => b.capacity() * 4,
                Kind::Float64(b) => b.capacity() * 8,
                Kind::Utf8(b) => b.values_capacity() + b.offsets_capacity() * 4,
                Kind::Binary(b) => b.values_capacity() + b.offsets_capacity() * 4,
                Kind::Decimal128 { builder, .. } => builder.capacity() * 16,
                Kind::Decimal256 { builder, .. } => builder.capacity() * 32,
                Kind::Struct(s) => s.memory(),
                Kind::List { offsets, items, .. } => offsets.capacity() * 4 + items.memory(),
                Kind::Map { offsets, keys, values, .. } => {
                    offsets.capacity() * 4 + keys.memory() + values.memory()
                }
            }
    }

    /// The column of everything appended; the builder starts over.
    pub(super) fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        Ok(match &mut self.kind {
            Kind::Boolean(b) => ArrayBuilder::finish(b),
            Kind::Int8(b) => ArrayBuilder::finish(b),
            Kind::Int16(b) => ArrayBuilder::finish(b),
            Kind::Int32(b) => ArrayBuilder::finish(b),
            Kind::Int64(b) => ArrayBuilder::finish(b),
            Kind::Float32(b) => ArrayBuilder::finish(b),
            Kind::Float64(b) => ArrayBuilder::finish(b),
            Kind::Utf8(b) => ArrayBuilder::finish(b),
            Kind::Binary(b) => ArrayBuilder::finish(b),
            Kind::Decimal128 { builder, .. } => ArrayBuilder::finish(builder),
            Kind::Decimal256 { builder, .. } => ArrayBuilder::finish(builder),
            Kind::Date(b) => ArrayBuilder::finish(b),
            Kind::Time(b) => ArrayBuilder::finish(b),
            Kind::Timestamp(b) => ArrayBuilder::finish(b),
            Kind::Struct(s) => Arc::new(s.finish()?),
            Kind::List { field, offsets, nulls, items } => {
                let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(offsets, vec![0])));
                Arc::new(ListArray::try_new(field.clone(), offsets, items.finish()?, nulls.finish())?)
            }
            Kind::Map { entries, offsets, nulls, keys, values } => {
                let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(offsets, vec![0])));
                let DataType::Struct(kv) = entries.data_type() else {
                    return Err(ArrowError::SchemaError("a map's entries are not a struct".into()));
                };
                let kv = StructArray::try_new(kv.clone(), vec![keys.finish()?, values.finish()?], None)?;
                Arc::new(MapArray::try_new(entries.clone(), offsets, kv, nulls.finish(), false)?)
            }
        })
    }
}

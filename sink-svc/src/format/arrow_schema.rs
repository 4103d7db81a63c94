//! Connect schemas as Arrow schemas, the types Parquet readers expect:
//! Decimal -> Decimal128/256(precision, scale), Date -> Date32,
//! Time -> Time32(ms), Timestamp -> Timestamp(ms, UTC); structs, arrays
//! (Parquet's compliant `element` lists) and maps; optional -> nullable.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema as ArrowSchema, SchemaRef, TimeUnit};
use hydrate_common::record::{DECIMAL_PRECISION_PARAM, Logical, Schema, SchemaType};

use super::FormatError;

/// Precision of a Decimal whose schema does not say (`connect.decimal.precision`
/// unset or 0): the widest that fits 128 bits.
const DEFAULT_DECIMAL_PRECISION: u8 = 38;
/// The widest a Decimal256 holds.
const MAX_DECIMAL_PRECISION: u8 = 76;

/// A Decimal column's shape: Arrow's precision and scale, and the scale the
/// values are rescaled to (Parquet has no negative scales, so a negative
/// Connect scale becomes 0 with as many more digits of precision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DecimalShape {
    pub precision: u8,
    pub scale: i8,
}

/// The Arrow schema of the object whose records have value schema `schema`
/// (a struct), without the top-level fields in `excluded`.
pub fn arrow_schema(schema: &Schema, excluded: &[String]) -> Result<SchemaRef, FormatError> {
    if schema.schema_type() != SchemaType::Struct {
        return Err(FormatError::Record(format!(
            "ParquetFormat writes struct values, not {}",
            schema.schema_type()
        )));
    }
    let fields = schema
        .fields()
        .iter()
        .filter(|f| !excluded.iter().any(|e| e == f.name()))
        .map(|f| field(f.name(), f.schema()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(ArrowSchema::new(fields)))
}

/// One Arrow field for a Connect field.
fn field(name: &str, schema: &Schema) -> Result<Field, FormatError> {
    let data_type = data_type(schema).map_err(|e| FormatError::Record(format!("field {name}: {e}")))?;
    Ok(Field::new(name, data_type, schema.is_optional()))
}

/// The shape of a Decimal with Connect scale `scale` under `schema`.
pub(super) fn decimal_shape(schema: &Schema, scale: i32) -> Result<DecimalShape, String> {
    let declared = match schema.parameter(DECIMAL_PRECISION_PARAM) {
        None => DEFAULT_DECIMAL_PRECISION,
        Some(p) => match p.trim().parse::<u32>() {
            Ok(0) => DEFAULT_DECIMAL_PRECISION,
            Ok(p) => u8::try_from(p).unwrap_or(u8::MAX),
            Err(_) => return Err(format!("{DECIMAL_PRECISION_PARAM} is not a number: {p}")),
        },
    };
    let extra = u8::try_from(scale.min(0).unsigned_abs()).unwrap_or(u8::MAX);
    let scale = u8::try_from(scale.max(0)).unwrap_or(u8::MAX);
    let precision = declared.saturating_add(extra).max(scale);
    if precision > MAX_DECIMAL_PRECISION {
        return Err(format!(
            "Decimal precision {precision} (scale {scale}) exceeds Parquet's {MAX_DECIMAL_PRECISION} digits"
        ));
    }
    // Above: scale <= precision <= 76, so it fits an i8.
    let scale = i8::try_from(scale).map_err(|_| format!("Decimal scale {scale} is too large"))?;
    Ok(DecimalShape { precision, scale })
}

/// The Arrow type of values of `schema`.
pub(super) fn data_type(schema: &Schema) -> Result<DataType, String> {
    if let Some(logical) = schema.logical() {
        return Ok(match logical {
            Logical::Decimal { scale } => {
                let shape = decimal_shape(schema, scale)?;
                if shape.precision <= DEFAULT_DECIMAL_PRECISION {
                    DataType::Decimal128(shape.precision, shape.scale)
                } else {
                    DataType::Decimal256(shape.precision, shape.scale)
                }
            }
            Logical::Date => DataType::Date32,
            Logical::Time => DataType::Time32(TimeUnit::Millisecond),
            Logical::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        });
    }
    Ok(match schema.schema_type() {
        SchemaType::Int8 => DataType::Int8,
        SchemaType::Int16 => DataType::Int16,
        SchemaType::Int32 => DataType::Int32,
        SchemaType::Int64 => DataType::Int64,
        SchemaType::Float32 => DataType::Float32,
        SchemaType::Float64 => DataType::Float64,
        SchemaType::Boolean => DataType::Boolean,
        SchemaType::String => DataType::Utf8,
        SchemaType::Bytes => DataType::Binary,
        SchemaType::Array => {
            let item = schema.value_schema().ok_or("an array schema without an element schema")?;
            DataType::List(Arc::new(Field::new("element", data_type(item)?, item.is_optional())))
        }
        SchemaType::Map => {
            let (Some(key), Some(value)) = (schema.key_schema(), schema.value_schema()) else {
                return Err("a map schema without key and value schemas".into());
            };
            // Parquet's MAP: a repeated key_value group whose keys are never null.
            let entries = Fields::from(vec![
                Field::new("key", data_type(key)?, false),
                Field::new("value", data_type(value)?, value.is_optional()),
            ]);
            DataType::Map(Arc::new(Field::new("key_value", DataType::Struct(entries), false)), false)
        }
        SchemaType::Struct => {
            let fields = schema
                .fields()
                .iter()
                .map(|f| {
                    let t = data_type(f.schema()).map_err(|e| format!("{}: {e}", f.name()))?;
                    Ok(Field::new(f.name(), t, f.schema().is_optional()))
                })
                .collect::<Result<Vec<_>, String>>()?;
            DataType::Struct(Fields::from(fields))
        }
    })
}

#[cfg(test)]
mod tests {
    use hydrate_common::record::SchemaBuilder;

    use super::*;

    fn arrow(schema: Schema) -> DataType {
        data_type(&schema).unwrap()
    }

    #[test]
    fn every_connect_type_has_its_arrow_type() {
        use SchemaType as T;
        for (ty, arrow_ty) in [
            (T::Int8, DataType::Int8),
            (T::Int16, DataType::Int16),
            (T::Int32, DataType::Int32),
            (T::Int64, DataType::Int64),
            (T::Float32, DataType::Float32),
            (T::Float64, DataType::Float64),
            (T::Boolean, DataType::Boolean),
            (T::String, DataType::Utf8),
            (T::Bytes, DataType::Binary),
        ] {
            assert_eq!(arrow(Schema::of(ty)), arrow_ty);
        }
        assert_eq!(arrow(SchemaBuilder::date().build()), DataType::Date32);
        assert_eq!(arrow(SchemaBuilder::time().build()), DataType::Time32(TimeUnit::Millisecond));
        assert_eq!(
            arrow(SchemaBuilder::timestamp().build()),
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
        );
    }

    #[test]
    fn decimals_take_precision_from_the_schema() {
        let dec = |scale, precision: Option<&str>| {
            let mut b = SchemaBuilder::decimal(scale);
            if let Some(p) = precision {
                b = b.parameter(DECIMAL_PRECISION_PARAM, p);
            }
            data_type(&b.build())
        };
        assert_eq!(dec(2, Some("5")), Ok(DataType::Decimal128(5, 2)));
        assert_eq!(dec(2, None), Ok(DataType::Decimal128(38, 2)));
        assert_eq!(dec(4, Some("0")), Ok(DataType::Decimal128(38, 4)));
        assert_eq!(dec(10, Some("60")), Ok(DataType::Decimal256(60, 10)));
        assert_eq!(dec(-2, Some("5")), Ok(DataType::Decimal128(7, 0)));
        assert!(dec(2, Some("80")).unwrap_err().contains("exceeds"));
        assert!(dec(2, Some("x")).is_err());
    }

    #[test]
    fn nested_types_and_nullability() {
        let inner = SchemaBuilder::struct_()
            .field("a", Schema::of(SchemaType::Int32))
            .field("b", Schema::optional_of(SchemaType::String))
            .optional()
            .build();
        let list = SchemaBuilder::array(Schema::optional_of(SchemaType::Int64)).build();
        let map = SchemaBuilder::map(Schema::of(SchemaType::String), SchemaBuilder::date().build())
            .optional()
            .build();
        let top = SchemaBuilder::struct_()
            .field("s", inner)
            .field("l", list)
            .field("m", map)
            .field("country", Schema::of(SchemaType::String))
            .build();
        let schema = arrow_schema(&top, &["country".into()]).unwrap();
        assert_eq!(schema.fields().len(), 3, "the excluded field is dropped");
        let s = schema.field_with_name("s").unwrap();
        assert!(s.is_nullable());
        assert_eq!(
            s.data_type(),
            &DataType::Struct(Fields::from(vec![
                Field::new("a", DataType::Int32, false),
                Field::new("b", DataType::Utf8, true)
            ]))
        );
        let l = schema.field_with_name("l").unwrap();
        assert!(!l.is_nullable());
        assert_eq!(l.data_type(), &DataType::List(Arc::new(Field::new("element", DataType::Int64, true))));
        let m = schema.field_with_name("m").unwrap();
        let DataType::Map(entries, false) = m.data_type() else { panic!("not a map: {m:?}") };
        assert_eq!(
            entries.data_type(),
            &DataType::Struct(Fields::from(vec![
                Field::new("key", DataType::Utf8, false),
                Field::new("value", DataType::Date32, false)
            ]))
        );
        assert!(arrow_schema(&Schema::of(SchemaType::String), &[]).is_err());
    }
}

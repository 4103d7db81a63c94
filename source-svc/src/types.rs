//! PostgreSQL column types to Connect schemas, and PostgreSQL's binary
//! wire values to Connect values, as Kafka Connect's PostgreSQL dialect maps
//! them (arrays are kept where Kafka Connect drops them).

use hydrate_common::connect::NumericMapping;
use hydrate_common::record::{DECIMAL_PRECISION_PARAM, Decimal, Schema, SchemaBuilder, SchemaType, Value};
use tokio_postgres::types::{FromSql, Kind, Type};

use crate::numeric::PgNumeric;

/// How one column's values are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnKind {
    /// boolean
    Bool,
    /// smallint
    Int2,
    /// integer
    Int4,
    /// bigint
    Int8,
    /// real
    Float4,
    /// double precision
    Float8,
    /// numeric, mapped per `numeric.mapping`
    Numeric(NumericAs),
    /// text-like values, passed through as strings (text, varchar, char,
    /// name, enums, json, xml)
    Text,
    /// jsonb (a version byte, then the text)
    Jsonb,
    /// uuid, as its canonical string
    Uuid,
    /// interval, as PostgreSQL prints it
    Interval,
    /// bytea
    Bytea,
    /// date
    Date,
    /// time without time zone
    Time,
    /// timestamp with time zone (and timestamps converted to it)
    Timestamp,
    /// a one-dimensional array
    Array(Box<ColumnKind>),
}

/// Where a numeric column goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumericAs {
    /// Connect Decimal with this scale and (when known) precision.
    Decimal {
        /// Digits after the point.
        scale: i32,
        /// Total digits.
        precision: i32,
    },
    /// An integer of this many bits.
    Integer(u8),
    /// float64.
    Double,
    /// The exact decimal text: an unconstrained `numeric` has no fixed
    /// scale for a Connect Decimal.
    Text,
}

/// The kind of a column of type `ty` with type modifier `typmod`, or why
/// it has none.
pub fn column_kind(ty: &Type, typmod: i32, mapping: NumericMapping) -> Result<ColumnKind, String> {
    match ty.kind() {
        Kind::Enum(_) => return Ok(ColumnKind::Text),
        Kind::Domain(base) => return column_kind(base, typmod, mapping),
        Kind::Array(element) => {
            let inner = column_kind(element, typmod, mapping)?;
            if matches!(inner, ColumnKind::Array(_)) {
                return Err(format!("type {} (arrays of arrays) has no Connect mapping", ty.name()));
            }
            return Ok(ColumnKind::Array(Box::new(inner)));
        }
        _ => {}
    }
    Ok(match *ty {
        Type::BOOL => ColumnKind::Bool,
        Type::INT2 => ColumnKind::Int2,
        Type::INT4 => ColumnKind::Int4,
        Type::INT8 | Type::OID => ColumnKind::Int8,
        Type::FLOAT4 => ColumnKind::Float4,
        Type::FLOAT8 => ColumnKind::Float8,
        Type::NUMERIC => ColumnKind::Numeric(numeric_as(typmod, mapping)),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::JSON | Type::XML | Type::UNKNOWN => {
            ColumnKind::Text
        }
        Type::JSONB => ColumnKind::Jsonb,
        Type::UUID => ColumnKind::Uuid,
        Type::INTERVAL => ColumnKind::Interval,
        Type::BYTEA => ColumnKind::Bytea,
        Type::DATE => ColumnKind::Date,
        Type::TIME => ColumnKind::Time,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => ColumnKind::Timestamp,
        _ => return Err(format!("type {} has no Connect mapping", ty.name())),
    })
}

/// Kafka Connect's `numeric.mapping` rules for a numeric(precision, scale).
fn numeric_as(typmod: i32, mapping: NumericMapping) -> NumericAs {
    if typmod < 4 {
        return match mapping {
            NumericMapping::BestFitEagerDouble => NumericAs::Double,
            _ => NumericAs::Text,
        };
    }
    let precision = ((typmod - 4) >> 16) & 0xffff;
    // PostgreSQL 15 stores an 11-bit signed scale.
    let raw_scale = (typmod - 4) & 0x7ff;
    let scale = if raw_scale > 1000 { raw_scale - 2048 } else { raw_scale };
    let integer = || {
        NumericAs::Integer(match precision {
            p if p > 9 => 64,
            p if p > 4 => 32,
            p if p > 2 => 16,
            _ => 8,
        })
    };
    match mapping {
        NumericMapping::PrecisionOnly if scale == 0 && precision <= 18 => integer(),
        NumericMapping::BestFit if precision <= 18 && scale < 1 => integer(),
        NumericMapping::BestFit if precision <= 18 => NumericAs::Double,
        NumericMapping::BestFitEagerDouble if scale > 0 => NumericAs::Double,
        NumericMapping::BestFitEagerDouble if precision <= 18 => integer(),
        _ => NumericAs::Decimal { scale, precision },
    }
}

/// The Connect schema of a column of `kind`.
pub fn schema_of(kind: &ColumnKind, optional: bool) -> Schema {
    let builder = match kind {
        ColumnKind::Bool => SchemaBuilder::new(SchemaType::Boolean),
        ColumnKind::Int2 => SchemaBuilder::new(SchemaType::Int16),
        ColumnKind::Int4 => SchemaBuilder::new(SchemaType::Int32),
        ColumnKind::Int8 => SchemaBuilder::new(SchemaType::Int64),
        ColumnKind::Float4 => SchemaBuilder::new(SchemaType::Float32),
        ColumnKind::Float8 => SchemaBuilder::new(SchemaType::Float64),
        ColumnKind::Numeric(NumericAs::Decimal { scale, precision }) => {
            let b = SchemaBuilder::decimal(*scale);
            if *precision > 0 { b.parameter(DECIMAL_PRECISION_PARAM, precision.to_string()) } else { b }
        }
        ColumnKind::Numeric(NumericAs::Integer(bits)) => SchemaBuilder::new(match bits {
            8 => SchemaType::Int8,
            16 => SchemaType::Int16,
            32 => SchemaType::Int32,
            _ => SchemaType::Int64,
        }),
        ColumnKind::Numeric(NumericAs::Double) => SchemaBuilder::new(SchemaType::Float64),
        ColumnKind::Numeric(NumericAs::Text)
        | ColumnKind::Text
        | ColumnKind::Jsonb
        | ColumnKind::Uuid
        | ColumnKind::Interval => SchemaBuilder::new(SchemaType::String),
        ColumnKind::Bytea => SchemaBuilder::new(SchemaType::Bytes),
        ColumnKind::Date => SchemaBuilder::date(),
        ColumnKind::Time => SchemaBuilder::time(),
        ColumnKind::Timestamp => SchemaBuilder::timestamp(),
        // Elements of a PostgreSQL array may always be NULL.
        ColumnKind::Array(element) => SchemaBuilder::array(schema_of(element, true)),
    };
    builder.with_optional(optional).build()
}

/// A column value exactly as the server sent it (binary format).
pub struct Raw<'a>(pub &'a [u8]);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
pub const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;
const PG_EPOCH_OFFSET_DAYS: i32 = 10_957;

fn array<const N: usize>(raw: &[u8]) -> Result<[u8; N], String> {
    raw.get(..N)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("a value of {} bytes where {N} were expected", raw.len()))
}

/// Microseconds since 1970 of a binary timestamp(tz); infinities saturate.
pub fn timestamp_micros(raw: &[u8]) -> Result<i64, String> {
    Ok(i64::from_be_bytes(array(raw)?).saturating_add(PG_EPOCH_OFFSET_MICROS))
}

/// Decodes one binary value of `kind`.
pub fn decode(kind: &ColumnKind, raw: &[u8]) -> Result<Value, String> {
    Ok(match kind {
        ColumnKind::Bool => Value::Boolean(array::<1>(raw)?[0] != 0),
        ColumnKind::Int2 => Value::Int16(i16::from_be_bytes(array(raw)?)),
        ColumnKind::Int4 => Value::Int32(i32::from_be_bytes(array(raw)?)),
        ColumnKind::Int8 => Value::Int64(match raw.len() {
            4 => i64::from(u32::from_be_bytes(array(raw)?)), // oid
            _ => i64::from_be_bytes(array(raw)?),
        }),
        ColumnKind::Float4 => Value::Float32(f32::from_be_bytes(array(raw)?)),
        ColumnKind::Float8 => Value::Float64(f64::from_be_bytes(array(raw)?)),
        ColumnKind::Numeric(to) => numeric(*to, raw)?,
        ColumnKind::Text => Value::String(text(raw)?.to_owned()),
        ColumnKind::Jsonb => Value::String(text(raw.get(1..).unwrap_or_default())?.to_owned()),
        ColumnKind::Uuid => Value::String(uuid(&array::<16>(raw)?)),
        ColumnKind::Interval => Value::String(interval(
            i64::from_be_bytes(array(raw)?),
            i32::from_be_bytes(array(raw.get(8..).unwrap_or_default())?),
            i32::from_be_bytes(array(raw.get(12..).unwrap_or_default())?),
        )),
        ColumnKind::Bytea => Value::Bytes(raw.to_vec()),
        ColumnKind::Date => Value::Date(i32::from_be_bytes(array(raw)?).saturating_add(PG_EPOCH_OFFSET_DAYS)),
        ColumnKind::Time => Value::Time((i64::from_be_bytes(array(raw)?) / 1000) as i32),
        ColumnKind::Timestamp => Value::Timestamp(timestamp_micros(raw)?.div_euclid(1000)),
        ColumnKind::Array(element) => Value::Array(decode_array(element, raw)?),
    })
}

fn text(raw: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(raw).map_err(|_| "text that is not UTF-8".to_owned())
}

fn numeric(to: NumericAs, raw: &[u8]) -> Result<Value, String> {
    let n = PgNumeric::parse(raw)?;
    Ok(match to {
        NumericAs::Decimal { scale, .. } => Value::Decimal(Decimal::from_i128(n.unscaled(scale)?, scale)),
        NumericAs::Integer(bits) => {
            let v = n.unscaled(0)?;
            let out_of_range = || format!("numeric {} does not fit int{bits}", n.to_text());
            match bits {
                8 => Value::Int8(i8::try_from(v).map_err(|_| out_of_range())?),
                16 => Value::Int16(i16::try_from(v).map_err(|_| out_of_range())?),
                32 => Value::Int32(i32::try_from(v).map_err(|_| out_of_range())?),
                _ => Value::Int64(i64::try_from(v).map_err(|_| out_of_range())?),
            }
        }
        NumericAs::Double => Value::Float64(n.to_text().parse().map_err(|_| "numeric is not a number")?),
        NumericAs::Text => Value::String(n.to_text()),
    })
}

fn decode_array(element: &ColumnKind, raw: &[u8]) -> Result<Vec<Value>, String> {
    let int = |at: usize| raw.get(at..at + 4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let dims = int(0).ok_or("a truncated array")?;
    if dims == 0 {
        return Ok(Vec::new());
    }
    if dims != 1 {
        return Err(format!("a {dims}-dimensional array (only one dimension maps to a Connect array)"));
    }
    let len = int(12).ok_or("a truncated array")?.max(0) as usize;
    let mut at = 20;
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        let size = int(at).ok_or("a truncated array")?;
        at += 4;
        if size < 0 {
            out.push(Value::Null);
            continue;
        }
        let end = at + size as usize;
        out.push(decode(element, raw.get(at..end).ok_or("a truncated array")?)?);
        at = end;
    }
    Ok(out)
}

fn uuid(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{byte:02x}"));
    }
    s
}

/// An interval as PostgreSQL prints it with the default IntervalStyle
/// (`postgres`), e.g. `1 year 2 mons 3 days 04:05:06.5`.
pub fn interval(micros: i64, days: i32, months: i32) -> String {
    let mut out = String::new();
    let (mut is_zero, mut is_before) = (true, false);
    for (value, unit) in
        [(i64::from(months / 12), "year"), (i64::from(months % 12), "mon"), (i64::from(days), "day")]
    {
        if value == 0 {
            continue;
        }
        let plus = if is_before && value > 0 { "+" } else { "" };
        let space = if is_zero { "" } else { " " };
        let plural = if value != 1 { "s" } else { "" };
        out.push_str(&format!("{space}{plus}{value} {unit}{plural}"));
        is_before = value < 0;
        is_zero = false;
    }
    if is_zero || micros != 0 {
        let minus = micros < 0;
        let abs = micros.unsigned_abs();
        let (hours, rest) = (abs / 3_600_000_000, abs % 3_600_000_000);
        let (mins, rest) = (rest / 60_000_000, rest % 60_000_000);
        let (secs, fraction) = (rest / 1_000_000, rest % 1_000_000);
        let sign = if minus {
            "-"
        } else if is_before {
            "+"
        } else {
            ""
        };
        let space = if is_zero { "" } else { " " };
        out.push_str(&format!("{space}{sign}{hours:02}:{mins:02}:{secs:02}"));
        if fraction != 0 {
            let digits = format!("{fraction:06}");
            out.push('.');
            out.push_str(digits.trim_end_matches('0'));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_mapping_follows_kafka_connect() {
        let typmod = |p: i32, s: i32| ((p << 16) | s) + 4;
        let m = |p, s, mapping| numeric_as(typmod(p, s), mapping);
        assert_eq!(m(10, 2, NumericMapping::None), NumericAs::Decimal { scale: 2, precision: 10 });
        assert_eq!(m(5, 0, NumericMapping::PrecisionOnly), NumericAs::Integer(32));
        assert_eq!(m(5, 2, NumericMapping::PrecisionOnly), NumericAs::Decimal { scale: 2, precision: 5 });
        assert_eq!(m(4, 0, NumericMapping::BestFit), NumericAs::Integer(16));
        assert_eq!(m(18, 0, NumericMapping::BestFit), NumericAs::Integer(64));
        assert_eq!(m(5, 2, NumericMapping::BestFit), NumericAs::Double);
        assert_eq!(m(30, 2, NumericMapping::BestFit), NumericAs::Decimal { scale: 2, precision: 30 });
        assert_eq!(m(30, 2, NumericMapping::BestFitEagerDouble), NumericAs::Double);
        assert_eq!(numeric_as(-1, NumericMapping::BestFit), NumericAs::Text);
    }

    #[test]
    fn types_map_to_connect_schemas() {
        let kind = |t: &Type| column_kind(t, -1, NumericMapping::None).unwrap();
        assert_eq!(kind(&Type::INT2), ColumnKind::Int2);
        assert_eq!(kind(&Type::TIMESTAMPTZ), ColumnKind::Timestamp);
        assert_eq!(kind(&Type::INT4_ARRAY), ColumnKind::Array(Box::new(ColumnKind::Int4)));
        assert!(column_kind(&Type::POINT, -1, NumericMapping::None).unwrap_err().contains("point"));
        let s = schema_of(&ColumnKind::Numeric(NumericAs::Decimal { scale: 2, precision: 5 }), true);
        assert_eq!(s.parameter(DECIMAL_PRECISION_PARAM), Some("5"));
        assert!(s.is_optional());
    }

    #[test]
    fn binary_values_decode() {
        assert_eq!(decode(&ColumnKind::Int4, &100i32.to_be_bytes()), Ok(Value::Int32(100)));
        let ts = (1_139_996_730_000_000i64 - PG_EPOCH_OFFSET_MICROS).to_be_bytes();
        assert_eq!(decode(&ColumnKind::Timestamp, &ts), Ok(Value::Timestamp(1_139_996_730_000)));
        assert_eq!(decode(&ColumnKind::Date, &0i32.to_be_bytes()), Ok(Value::Date(10_957)));
        assert!(decode(&ColumnKind::Interval, &[0, 1]).is_err(), "a short value is an error, not a panic");
        let u = [0x12u8, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0, 1, 2, 3, 4, 5, 6, 7];
        assert_eq!(uuid(&u), "12345678-9abc-def0-0001-020304050607");
        let mut arr = Vec::new();
        for v in [1i32, 0, 23, 1, 1] {
            arr.extend_from_slice(&v.to_be_bytes());
        }
        arr[8..12].copy_from_slice(&23u32.to_be_bytes());
        arr[12..16].copy_from_slice(&2i32.to_be_bytes());
        arr.extend_from_slice(&4i32.to_be_bytes());
        arr.extend_from_slice(&7i32.to_be_bytes());
        arr.extend_from_slice(&(-1i32).to_be_bytes());
        let decoded = decode(&ColumnKind::Array(Box::new(ColumnKind::Int4)), &arr).unwrap();
        assert_eq!(decoded, Value::Array(vec![Value::Int32(7), Value::Null]));
    }

    #[test]
    fn intervals_print_as_postgres_does() {
        assert_eq!(interval(0, 0, 0), "00:00:00");
        assert_eq!(interval(14_706_500_000, 3, 14), "1 year 2 mons 3 days 04:05:06.5");
        assert_eq!(interval(0, 1, 0), "1 day");
        assert_eq!(interval(-3_600_000_000, 2, -1), "-1 mons +2 days -01:00:00");
        assert_eq!(interval(3_600_000_000, 0, -24), "-2 years +01:00:00");
    }
}

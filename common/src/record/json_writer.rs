//! Writes Connect values as JSON bytes exactly as Kafka's JsonConverter
//! (Jackson) does: Java's number formats, Jackson's string escapes,
//! base64 bytes. Straight into a `Vec<u8>`, no intermediate tree.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::DataError;
use super::schema::{Logical, Schema, SchemaType};
use super::value::Value;
use crate::connect::DecimalFormat;

/// How values are written; see Kafka's `JsonConverterConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriteOptions {
    pub decimal_format: DecimalFormat,
    pub replace_null_with_default: bool,
}

/// `JsonConverter.convertToJson`: writes `value` under `schema`.
pub(crate) fn write_value(
    out: &mut Vec<u8>,
    schema: Option<&Schema>,
    value: &Value,
    opts: WriteOptions,
) -> Result<(), DataError> {
    let Some(schema) = schema else { return write_schemaless(out, value, opts) };
    if value.is_null() {
        if let (Some(default), true) = (schema.default_value(), opts.replace_null_with_default) {
            return write_value(out, Some(schema), default, opts);
        }
        if schema.is_optional() {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        return Err(DataError::new(
            "Conversion error: null value for field that is required and has no default value",
        ));
    }
    if let Some(logical) = schema.logical() {
        return write_logical(out, logical, value, opts);
    }
    let mismatch = || DataError::new(format!("Invalid type for {}: {}", schema.schema_type(), value.kind()));
    match (schema.schema_type(), value) {
        (SchemaType::Int8, Value::Int8(v)) => write_int(out, i64::from(*v)),
        (SchemaType::Int16, Value::Int16(v)) => write_int(out, i64::from(*v)),
        (SchemaType::Int32, Value::Int32(v) | Value::Date(v) | Value::Time(v)) => {
            write_int(out, i64::from(*v))
        }
        (SchemaType::Int64, Value::Int64(v) | Value::Timestamp(v)) => write_int(out, *v),
        (SchemaType::Float32, Value::Float32(v)) => write_f32(out, *v),
        (SchemaType::Float64, Value::Float64(v)) => write_f64(out, *v),
        (SchemaType::Boolean, Value::Boolean(v)) => {
            out.extend_from_slice(if *v { b"true" } else { b"false" })
        }
        (SchemaType::String, Value::String(s)) => write_str(out, s),
        (SchemaType::Bytes, Value::Bytes(b)) => write_base64(out, b),
        (SchemaType::Bytes, Value::Decimal(d)) => write_base64(out, d.unscaled_bytes()),
        (SchemaType::Array, Value::Array(items)) => {
            let item_schema = schema.value_schema();
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item_schema, item, opts)?;
            }
            out.push(b']');
        }
        (SchemaType::Map, Value::Map(entries)) => {
            let (ks, vs) = (schema.key_schema(), schema.value_schema());
            let object_mode = ks.is_some_and(|k| k.schema_type() == SchemaType::String);
            write_map(out, ks, vs, entries, object_mode, opts)?;
        }
        (SchemaType::Struct, Value::Struct(s)) => {
            if s.schema() != schema {
                return Err(DataError::new("Mismatching schema."));
            }
            out.push(b'{');
            for (i, (field, v)) in schema.fields().iter().zip(s.values()).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, field.name());
                out.push(b':');
                write_value(out, Some(field.schema()), v, opts)
                    .map_err(|e| e.context(format!("field {}", field.name())))?;
            }
            out.push(b'}');
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

fn write_logical(
    out: &mut Vec<u8>,
    logical: Logical,
    value: &Value,
    opts: WriteOptions,
) -> Result<(), DataError> {
    match (logical, value) {
        (Logical::Decimal { scale }, Value::Decimal(d)) => {
            if d.scale() != scale {
                return Err(DataError::new(format!(
                    "Decimal value has mismatching scale. Expected {scale}, got {}",
                    d.scale()
                )));
            }
            match opts.decimal_format {
                DecimalFormat::Base64 => write_base64(out, d.unscaled_bytes()),
                // Jackson writes BigDecimal.toString(), as is.
                DecimalFormat::Numeric => out.extend_from_slice(d.to_string().as_bytes()),
            }
        }
        (Logical::Date, Value::Date(v) | Value::Int32(v))
        | (Logical::Time, Value::Time(v) | Value::Int32(v)) => write_int(out, i64::from(*v)),
        (Logical::Timestamp, Value::Timestamp(v) | Value::Int64(v)) => write_int(out, *v),
        (l, v) => return Err(DataError::new(format!("Invalid type for {l:?}: {}", v.kind()))),
    }
    Ok(())
}

/// Without a schema, the value's own type decides (`ConnectSchema.schemaType`
/// of its Java class); logical values and structs have no schemaless form.
fn write_schemaless(out: &mut Vec<u8>, value: &Value, opts: WriteOptions) -> Result<(), DataError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(v) => out.extend_from_slice(if *v { b"true" } else { b"false" }),
        Value::Int8(v) => write_int(out, i64::from(*v)),
        Value::Int16(v) => write_int(out, i64::from(*v)),
        Value::Int32(v) => write_int(out, i64::from(*v)),
        Value::Int64(v) => write_int(out, *v),
        Value::Float32(v) => write_f32(out, *v),
        Value::Float64(v) => write_f64(out, *v),
        Value::String(s) => write_str(out, s),
        Value::Bytes(b) => write_base64(out, b),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_schemaless(out, item, opts)?;
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            let object_mode = entries.iter().all(|(k, _)| matches!(k, Value::String(_)));
            write_map(out, None, None, entries, object_mode, opts)?;
        }
        Value::Struct(_) => return Err(DataError::new("Mismatching schema.")),
        other => {
            return Err(DataError::new(format!(
                "{} value without a schema has no corresponding schema type",
                other.kind()
            )));
        }
    }
    Ok(())
}

fn write_map(
    out: &mut Vec<u8>,
    ks: Option<&Schema>,
    vs: Option<&Schema>,
    entries: &[(Value, Value)],
    object_mode: bool,
    opts: WriteOptions,
) -> Result<(), DataError> {
    if object_mode {
        out.push(b'{');
        for (i, (k, v)) in entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match k {
                Value::String(s) => write_str(out, s),
                // A null key under an optional string schema: Jackson's asText of null is "null".
                Value::Null => write_str(out, "null"),
                other => {
                    return Err(DataError::new(format!("Invalid type for map key STRING: {}", other.kind())));
                }
            }
            out.push(b':');
            write_value(out, vs, v, opts)?;
        }
        out.push(b'}');
    } else {
        out.push(b'[');
        for (i, (k, v)) in entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'[');
            write_value(out, ks, k, opts)?;
            out.push(b',');
            write_value(out, vs, v, opts)?;
            out.push(b']');
        }
        out.push(b']');
    }
    Ok(())
}

/// Writes an integer in decimal.
pub(crate) fn write_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Writes a JSON string with Jackson's escapes: `"` `\` and control
/// characters (`\b \t \n \f \r`, others as `\u00XX` in upper case); other
/// characters, non-ASCII included, as UTF-8.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Base64 (standard alphabet, padded), as Jackson writes binary nodes.
pub(crate) fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let start = out.len();
    out.resize(start + bytes.len().div_ceil(3) * 4, 0);
    // The buffer was sized for the padded encoding, so this cannot fail.
    let written = STANDARD.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
    out.push(b'"');
}

/// Java's `Double.toString` (shortest digits, JDK 19+).
pub(crate) fn write_f64(out: &mut Vec<u8>, v: f64) {
    if !v.is_finite() {
        return write_non_finite(out, v.is_nan(), v > 0.0);
    }
    let mut buf = StackBuf::default();
    let _ = write!(buf, "{v:e}");
    write_java_float(out, buf.as_str(), v.abs() >= 1e-3 && v.abs() < 1e7);
}

/// Java's `Float.toString` (shortest digits for the float).
pub(crate) fn write_f32(out: &mut Vec<u8>, v: f32) {
    if !v.is_finite() {
        return write_non_finite(out, v.is_nan(), v > 0.0);
    }
    let mut buf = StackBuf::default();
    let _ = write!(buf, "{v:e}");
    write_java_float(out, buf.as_str(), v.abs() >= 1e-3 && v.abs() < 1e7);
}

/// Jackson quotes non-finite numbers (`QUOTE_NON_NUMERIC_NUMBERS`).
fn write_non_finite(out: &mut Vec<u8>, nan: bool, positive: bool) {
    out.extend_from_slice(match (nan, positive) {
        (true, _) => b"\"NaN\"",
        (false, true) => b"\"Infinity\"",
        (false, false) => b"\"-Infinity\"",
    });
}

/// Reformats Rust's shortest scientific form (`-1.2345e3`) the Java way:
/// plain (`1234.5`, `0.001`, `1.0`) in [1e-3, 1e7), else `1.2345E10`.
fn write_java_float(out: &mut Vec<u8>, sci: &str, plain: bool) {
    let (sign, sci) = match sci.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", sci),
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits = [0u8; 24];
    let mut n = 0;
    for b in mantissa.bytes().filter(u8::is_ascii_digit) {
        if n < digits.len() {
            digits[n] = b;
            n += 1;
        }
    }
    let digits = &digits[..n.max(1)];
    out.extend_from_slice(sign.as_bytes());
    let zero = digits.iter().all(|&d| d == b'0');
    if plain || zero {
        if zero {
            out.extend_from_slice(b"0.0");
        } else if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() > int_len {
                out.extend_from_slice(&digits[..int_len]);
                out.push(b'.');
                out.extend_from_slice(&digits[int_len..]);
            } else {
                out.extend_from_slice(digits);
                out.extend(std::iter::repeat_n(b'0', int_len - digits.len()));
                out.extend_from_slice(b".0");
            }
        } else {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
            out.extend_from_slice(digits);
        }
    } else {
        out.push(digits[0]);
        out.push(b'.');
        if digits.len() > 1 {
            out.extend_from_slice(&digits[1..]);
        } else {
            out.push(b'0');
        }
        out.push(b'E');
        write_int(out, i64::from(exp));
    }
}

/// A small formatting buffer on the stack (floats need at most ~30 bytes).
#[derive(Default)]
struct StackBuf {
    buf: [u8; 32],
    len: usize,
}

impl StackBuf {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("0e0")
    }
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f64s(v: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    fn f32s(v: f32) -> String {
        let mut out = Vec::new();
        write_f32(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(f64s(0.0), "0.0");
        assert_eq!(f64s(-0.0), "-0.0");
        assert_eq!(f64s(1.0), "1.0");
        assert_eq!(f64s(12.34), "12.34");
        assert_eq!(f64s(-1234.5), "-1234.5");
        assert_eq!(f64s(100.0), "100.0");
        assert_eq!(f64s(0.001), "0.001");
        assert_eq!(f64s(0.0001), "1.0E-4");
        assert_eq!(f64s(1.5e-5), "1.5E-5");
        assert_eq!(f64s(9999999.0), "9999999.0");
        assert_eq!(f64s(1e7), "1.0E7");
        assert_eq!(f64s(1.2345e20), "1.2345E20");
        assert_eq!(f64s(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(f64s(f64::MAX), "1.7976931348623157E308");
        assert_eq!(f64s(f64::NAN), "\"NaN\"");
        assert_eq!(f64s(f64::NEG_INFINITY), "\"-Infinity\"");
    }

    #[test]
    fn floats_print_like_java() {
        assert_eq!(f32s(12.34), "12.34");
        assert_eq!(f32s(0.1), "0.1");
        assert_eq!(f32s(1e10), "1.0E10");
        assert_eq!(f32s(3.4028235e38), "3.4028235E38");
    }

    #[test]
    fn strings_escape_like_jackson() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\n\t\u{1}\u{1f}/é€\u{7f}");
        assert_eq!(String::from_utf8(out).unwrap(), "\"a\\\"b\\\\c\\n\\t\\u0001\\u001F/é€\u{7f}\"");
    }

    #[test]
    fn integers_and_base64() {
        let mut out = Vec::new();
        for v in [0, -1, 42, i64::MIN, i64::MAX] {
            write_int(&mut out, v);
            out.push(b' ');
        }
        write_base64(&mut out, b"\x00\x9c");
        write_base64(&mut out, b"");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "0 -1 42 -9223372036854775808 9223372036854775807 \"AJw=\"\"\""
        );
    }
}

//! Reads JSON into Connect values as Kafka's JsonConverter
//! (`convertToConnect`) does, driven by the schema while parsing: no
//! intermediate tree, and numbers keep their text (exact decimals).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::DataError;
use super::decimal::Decimal;
use super::schema::{Logical, Schema, SchemaType};
use super::value::{Struct, Value};

/// Jackson reads base64 with or without padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Parses a whole JSON document as a value of `schema` (`None`: schemaless).
pub(crate) fn parse_payload(
    bytes: &[u8],
    schema: Option<&Schema>,
    replace_null_with_default: bool,
) -> Result<Value, DataError> {
    let mut r = Reader::new(bytes, replace_null_with_default)?;
    let value = r.value(schema)?;
    r.end()?;
    Ok(value)
}

/// A cursor over one UTF-8 JSON document.
pub(crate) struct Reader<'a> {
    text: &'a str,
    pos: usize,
    replace_null_with_default: bool,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], replace_null_with_default: bool) -> Result<Self, DataError> {
        let text =
            std::str::from_utf8(bytes).map_err(|e| DataError::new(format!("invalid UTF-8 in JSON: {e}")))?;
        Ok(Self { text, pos: 0, replace_null_with_default })
    }

    fn err(&self, what: impl std::fmt::Display) -> DataError {
        DataError::new(format!("{what} at byte {}", self.pos))
    }

    pub(crate) fn ws(&mut self) {
        let b = self.text.as_bytes();
        while self.pos < b.len() && matches!(b[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.text.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn slice(&self, from: usize, to: usize) -> &'a [u8] {
        &self.text.as_bytes()[from..to]
    }

    /// Consumes `c` (after whitespace) or fails.
    pub(crate) fn expect(&mut self, c: u8) -> Result<(), DataError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(format_args!("expected '{}'", c as char)))
        }
    }

    /// Consumes `c` if it is next.
    pub(crate) fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// Only whitespace may follow.
    pub(crate) fn end(&mut self) -> Result<(), DataError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.err("unexpected data after the JSON value")),
        }
    }

    fn literal(&mut self, word: &str) -> Result<(), DataError> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.err("invalid JSON literal"))
        }
    }

    /// A JSON string (after whitespace).
    pub(crate) fn string(&mut self) -> Result<Cow<'a, str>, DataError> {
        self.expect(b'"')?;
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let mut i = start;
        while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\\' && bytes[i] >= 0x20 {
            i += 1;
        }
        if bytes.get(i) == Some(&b'"') {
            self.pos = i + 1;
            return Ok(Cow::Borrowed(&self.text[start..i]));
        }
        let mut s = String::from(&self.text[start..i]);
        self.pos = i;
        loop {
            let Some(&b) = bytes.get(self.pos) else { return Err(self.err("unterminated string")) };
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(Cow::Owned(s));
                }
                b'\\' => {
                    let esc = *bytes.get(self.pos + 1).ok_or_else(|| self.err("unterminated string"))?;
                    self.pos += 2;
                    match esc {
                        b'"' => s.push('"'),
                        b'\\' => s.push('\\'),
                        b'/' => s.push('/'),
                        b'b' => s.push('\u{8}'),
                        b'f' => s.push('\u{c}'),
                        b'n' => s.push('\n'),
                        b'r' => s.push('\r'),
                        b't' => s.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let c = if (0xd800..0xdc00).contains(&hi)
                                && self.text[self.pos..].starts_with("\\u")
                            {
                                self.pos += 2;
                                let lo = self.hex4()?;
                                char::from_u32(
                                    0x10000 + ((hi - 0xd800) << 10) + (lo.wrapping_sub(0xdc00) & 0x3ff),
                                )
                            } else {
                                char::from_u32(hi)
                            };
                            s.push(c.unwrap_or('\u{fffd}'));
                        }
                        _ => return Err(self.err("invalid escape")),
                    }
                }
                0..0x20 => return Err(self.err("unescaped control character in string")),
                _ => {
                    let run = bytes[self.pos..]
                        .iter()
                        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                        .map_or(bytes.len(), |n| self.pos + n);
                    s.push_str(&self.text[self.pos..run]);
                    self.pos = run;
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, DataError> {
        let hex = self.text.get(self.pos..self.pos + 4).ok_or_else(|| self.err("bad \\u escape"))?;
        let v = u32::from_str_radix(hex, 16).map_err(|_| self.err("bad \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }

    /// A JSON number's text and whether it is integral.
    fn number(&mut self) -> Result<(&'a str, bool), DataError> {
        self.ws();
        let b = self.text.as_bytes();
        let start = self.pos;
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        let digits_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == digits_start {
            return Err(self.err("expected a number"));
        }
        let mut integral = true;
        if b.get(i) == Some(&b'.') {
            integral = false;
            i += 1;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            integral = false;
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        self.pos = i;
        Ok((&self.text[start..i], integral))
    }

    /// An integer as Jackson's `longValue()` gives it (wrapping, truncating).
    fn long(&mut self) -> Result<i64, DataError> {
        let (text, integral) = self.number()?;
        if integral {
            if let Ok(v) = text.parse::<i64>() {
                return Ok(v);
            }
            if let Ok(v) = text.parse::<i128>() {
                return Ok(v as i64);
            }
        }
        text.parse::<f64>().map(|f| f as i64).map_err(|_| self.err("invalid number"))
    }

    fn double(&mut self) -> Result<f64, DataError> {
        match self.peek() {
            // Jackson writes non-finite numbers as strings.
            Some(b'"') => match self.string()?.as_ref() {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                other => Err(self.err(format_args!("expected a number, found string {other:?}"))),
            },
            _ => {
                let (text, _) = self.number()?;
                text.parse().map_err(|_| self.err("invalid number"))
            }
        }
    }

    fn boolean(&mut self) -> Result<bool, DataError> {
        match self.peek() {
            Some(b't') => self.literal("true").map(|_| true),
            Some(b'f') => self.literal("false").map(|_| false),
            _ => Err(self.err("expected a boolean")),
        }
    }

    fn base64(&mut self) -> Result<Vec<u8>, DataError> {
        let text = self.string()?;
        BASE64.decode(text.as_bytes()).map_err(|e| self.err(format_args!("invalid base64: {e}")))
    }

    /// Skips one value without building it.
    pub(crate) fn skip(&mut self) -> Result<(), DataError> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(open @ (b'{' | b'[')) => {
                self.pos += 1;
                let close = if open == b'{' { b'}' } else { b']' };
                if self.eat(close) {
                    return Ok(());
                }
                loop {
                    if close == b'}' {
                        self.string()?;
                        self.expect(b':')?;
                    }
                    self.skip()?;
                    if !self.eat(b',') {
                        return self.expect(close);
                    }
                }
            }
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            _ => self.number().map(drop),
        }
    }

    /// Reads a value under `schema`, or schemaless when `None`.
    pub(crate) fn value(&mut self, schema: Option<&Schema>) -> Result<Value, DataError> {
        let Some(schema) = schema else { return self.schemaless() };
        if self.peek() == Some(b'n') {
            self.literal("null")?;
            return self.null_for(schema);
        }
        if let Some(logical) = schema.logical() {
            return self.logical(logical);
        }
        Ok(match schema.schema_type() {
            SchemaType::Int8 => Value::Int8(self.long()? as i8),
            SchemaType::Int16 => Value::Int16(self.long()? as i16),
            SchemaType::Int32 => Value::Int32(self.long()? as i32),
            SchemaType::Int64 => Value::Int64(self.long()?),
            SchemaType::Float32 => Value::Float32(self.double()? as f32),
            SchemaType::Float64 => Value::Float64(self.double()?),
            SchemaType::Boolean => Value::Boolean(self.boolean()?),
            SchemaType::String => Value::String(self.string()?.into_owned()),
            SchemaType::Bytes => Value::Bytes(self.base64()?),
            SchemaType::Array => {
                let items = schema.value_schema();
                let mut out = Vec::new();
                self.expect(b'[')?;
                if !self.eat(b']') {
                    loop {
                        out.push(self.value(items)?);
                        if !self.eat(b',') {
                            break;
                        }
                    }
                    self.expect(b']')?;
                }
                Value::Array(out)
            }
            SchemaType::Map => self.map(schema.key_schema(), schema.value_schema())?,
            SchemaType::Struct => self.structure(schema)?,
        })
    }

    /// What a JSON null (or a missing field) becomes under `schema`.
    fn null_for(&self, schema: &Schema) -> Result<Value, DataError> {
        match schema.default_value() {
            Some(default) if self.replace_null_with_default => Ok(default.clone()),
            _ if schema.is_optional() => Ok(Value::Null),
            _ => {
                Err(DataError::new(format!("Invalid null value for required {} field", schema.schema_type())))
            }
        }
    }

    fn logical(&mut self, logical: Logical) -> Result<Value, DataError> {
        match logical {
            Logical::Decimal { scale } => {
                if self.peek() == Some(b'"') {
                    let bytes = self.base64()?;
                    if bytes.is_empty() {
                        return Err(self.err("Invalid bytes for Decimal field: zero length"));
                    }
                    return Ok(Value::Decimal(Decimal::from_bytes(&bytes, scale)));
                }
                let (text, _) = self.number()?;
                let d = Decimal::parse(text).ok_or_else(|| self.err("invalid decimal"))?;
                Ok(Value::Decimal(d.rescale(scale).unwrap_or(d)))
            }
            Logical::Date | Logical::Time => {
                let (text, integral) = self.number()?;
                let v = text.parse::<i32>().ok().filter(|_| integral).ok_or_else(|| {
                    self.err(format_args!(
                        "Invalid type for {logical:?}, underlying representation should be integer"
                    ))
                })?;
                Ok(if logical == Logical::Date { Value::Date(v) } else { Value::Time(v) })
            }
            Logical::Timestamp => {
                let (text, integral) = self.number()?;
                let v = text.parse::<i64>().ok().filter(|_| integral).ok_or_else(|| {
                    self.err("Invalid type for Timestamp, underlying representation should be integral")
                })?;
                Ok(Value::Timestamp(v))
            }
        }
    }

    fn map(&mut self, keys: Option<&Schema>, values: Option<&Schema>) -> Result<Value, DataError> {
        let mut out = Vec::new();
        if keys.is_none_or(|k| k.schema_type() == SchemaType::String) {
            if self.peek() != Some(b'{') {
                return Err(self.err("Maps with string fields should be encoded as JSON objects"));
            }
            self.pos += 1;
            if !self.eat(b'}') {
                loop {
                    let key = self.string()?.into_owned();
                    self.expect(b':')?;
                    out.push((Value::String(key), self.value(values)?));
                    if !self.eat(b',') {
                        break;
                    }
                }
                self.expect(b'}')?;
            }
        } else {
            if self.peek() != Some(b'[') {
                return Err(self.err("Maps with non-string fields should be encoded as JSON array of tuples"));
            }
            self.pos += 1;
            if !self.eat(b']') {
                loop {
                    self.expect(b'[')?;
                    let k = self.value(keys)?;
                    self.expect(b',')?;
                    let v = self.value(values)?;
                    self.expect(b']').map_err(|_| self.err("Found invalid map entry, expected length 2"))?;
                    out.push((k, v));
                    if !self.eat(b',') {
                        break;
                    }
                }
                self.expect(b']')?;
            }
        }
        Ok(Value::Map(out))
    }

    fn structure(&mut self, schema: &Schema) -> Result<Value, DataError> {
        if self.peek() != Some(b'{') {
            return Err(self.err("Structs should be encoded as JSON objects"));
        }
        self.pos += 1;
        let fields = schema.fields();
        let mut values: Vec<Option<Value>> = vec![None; fields.len()];
        let mut next = 0;
        if !self.eat(b'}') {
            loop {
                let key = self.string()?;
                self.expect(b':')?;
                // Fields usually come in schema order: try the next one first.
                let index = if fields.get(next).is_some_and(|f| f.name() == key) {
                    Some(next)
                } else {
                    fields.iter().position(|f| f.name() == key)
                };
                match index {
                    Some(i) => {
                        let v = self
                            .value(Some(fields[i].schema()))
                            .map_err(|e| e.context(format!("field {key}")))?;
                        values[i] = Some(v);
                        next = i + 1;
                    }
                    None => self.skip()?,
                }
                if !self.eat(b',') {
                    break;
                }
            }
            self.expect(b'}')?;
        }
        let values = values
            .into_iter()
            .zip(fields)
            .map(|(v, f)| match v {
                Some(v) => Ok(v),
                None => self.null_for(f.schema()).map_err(|e| e.context(format!("field {}", f.name()))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Struct::from_values(schema.clone(), values).map(Value::Struct).map_err(DataError::new)
    }

    /// Schemaless: objects become string-keyed maps, integers int64, other
    /// numbers float64.
    fn schemaless(&mut self) -> Result<Value, DataError> {
        Ok(match self.peek() {
            Some(b'{') => self.map(None, None)?,
            Some(b'[') => {
                self.pos += 1;
                let mut out = Vec::new();
                if !self.eat(b']') {
                    loop {
                        out.push(self.schemaless()?);
                        if !self.eat(b',') {
                            break;
                        }
                    }
                    self.expect(b']')?;
                }
                Value::Array(out)
            }
            Some(b'"') => Value::String(self.string()?.into_owned()),
            Some(b't' | b'f') => Value::Boolean(self.boolean()?),
            Some(b'n') => {
                self.literal("null")?;
                Value::Null
            }
            Some(_) => {
                let save = self.pos;
                let (text, integral) = self.number()?;
                if integral {
                    self.pos = save;
                    Value::Int64(self.long()?)
                } else {
                    Value::Float64(text.parse().map_err(|_| self.err("invalid number"))?)
                }
            }
            None => return Err(self.err("unexpected end of JSON")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SchemaBuilder;

    fn read(text: &str, schema: &Schema) -> Result<Value, DataError> {
        parse_payload(text.as_bytes(), Some(schema), true)
    }

    #[test]
    fn integers_convert_like_jackson() {
        // intValue() keeps the low bits; fractions truncate.
        assert_eq!(read("300", &Schema::of(SchemaType::Int8)).unwrap(), Value::Int8(44));
        assert_eq!(read("4294967297", &Schema::of(SchemaType::Int32)).unwrap(), Value::Int32(1));
        assert_eq!(read("2.9", &Schema::of(SchemaType::Int64)).unwrap(), Value::Int64(2));
        assert_eq!(read("1e2", &Schema::of(SchemaType::Float32)).unwrap(), Value::Float32(100.0));
        assert_eq!(read("\"NaN\"", &Schema::of(SchemaType::Float64)).map(|v| v.kind()), Ok("float64"));
        // Date and Time want a JSON int, Timestamp an integral number.
        assert!(read("1.5", &SchemaBuilder::date().build()).is_err());
        assert!(read("4294967296", &SchemaBuilder::time().build()).is_err());
        assert_eq!(read("-1", &SchemaBuilder::timestamp().build()).unwrap(), Value::Timestamp(-1));
    }

    #[test]
    fn type_mismatches_and_bad_json_fail() {
        assert!(read("\"1\"", &Schema::of(SchemaType::Int32)).is_err());
        assert!(read("1", &Schema::of(SchemaType::Boolean)).is_err());
        assert!(read("\"a\nb\"", &Schema::of(SchemaType::String)).is_err());
        assert!(read("\"abc", &Schema::of(SchemaType::String)).is_err());
        assert!(read("[1,", &SchemaBuilder::array(Schema::of(SchemaType::Int64)).build()).is_err());
        assert!(parse_payload(b"\xff", None, true).is_err());
        assert!(parse_payload(b"1 2", None, true).is_err());
    }

    #[test]
    fn skip_passes_over_any_value() {
        let text = br#"{"a":[1,{"b":"}\"]"},[],{}],"c":true} 7"#;
        let mut r = Reader::new(text, true).unwrap();
        r.skip().unwrap();
        assert_eq!(r.value(None).unwrap(), Value::Int64(7));
        r.end().unwrap();
    }

    #[test]
    fn big_integers_without_schema_wrap_to_int64() {
        assert_eq!(parse_payload(b"18446744073709551617", None, true).unwrap(), Value::Int64(1));
        assert_eq!(parse_payload(b"-0.5e1", None, true).unwrap(), Value::Float64(-5.0));
    }
}

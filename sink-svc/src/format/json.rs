//! Confluent's `JsonFormat`: each record's value, as Kafka's JsonConverter
//! writes it with schemas disabled, on a line of its own.

use hydrate_common::connect::GzipLevel;
use hydrate_common::record::{JsonConverter, JsonConverterConfig, Record, Schema, SchemaType, Struct, Value};

use super::compress::Output;
use super::{FormatError, FormatOptions, RecordWriter};

/// Writes newline-delimited JSON payloads.
pub(super) struct JsonWriter {
    out: Output,
    converter: JsonConverter,
    excluded: Vec<String>,
    /// The fields written for the last struct schema seen, when fields are excluded.
    projection: Option<Projection>,
    /// One line, reused: encoding allocates nothing once it has grown.
    line: Vec<u8>,
    records: u64,
}

/// The fields of one struct schema that are written.
struct Projection {
    schema: Schema,
    /// Index in the struct, and `"name":` as Jackson writes it.
    fields: Vec<(usize, Vec<u8>)>,
}

impl JsonWriter {
    pub(super) fn new(
        options: &FormatOptions,
        gzip: Option<GzipLevel>,
        out: Box<dyn std::io::Write + Send>,
    ) -> Self {
        // The converter Confluent's JsonFormat configures: schemas off, its decimal format.
        let converter = JsonConverter::new(JsonConverterConfig {
            schemas_enable: false,
            decimal_format: options.json_decimal_format,
            replace_null_with_default: true,
        });
        Self {
            out: Output::new(out, gzip),
            converter,
            excluded: options.excluded_fields.clone(),
            projection: None,
            line: Vec::with_capacity(256),
            records: 0,
        }
    }

    /// Encodes `record` into `self.line` (without the newline).
    fn encode(&mut self, record: &Record) -> Result<(), FormatError> {
        let value = &record.value.value;
        let schema = record.value.schema.as_ref().or_else(|| value.as_struct().map(Struct::schema));
        let bad = |e: hydrate_common::record::DataError| FormatError::Record(e.to_string());
        if !self.excluded.is_empty() {
            match (value, schema) {
                (Value::Struct(s), Some(schema)) => return self.encode_projected(schema, s),
                (Value::Map(entries), None) => {
                    let kept = entries
                        .iter()
                        .filter(|(k, _)| !k.as_str().is_some_and(|k| self.excluded.iter().any(|e| e == k)))
                        .cloned()
                        .collect();
                    self.converter.write(None, &Value::Map(kept), &mut self.line).map_err(bad)?;
                    return Ok(());
                }
                _ => {}
            }
        }
        // Jackson writes a schemaless null (a tombstone) as `null`.
        if !self.converter.write(schema, value, &mut self.line).map_err(bad)? {
            self.line.extend_from_slice(b"null");
        }
        Ok(())
    }

    /// A struct without the excluded fields.
    fn encode_projected(&mut self, schema: &Schema, value: &Struct) -> Result<(), FormatError> {
        if !(value.schema().ptr_eq(schema) || value.schema() == schema) {
            return Err(FormatError::Record("the struct's schema is not the record's value schema".into()));
        }
        let cached = self.projection.as_ref().is_some_and(|p| p.schema.ptr_eq(schema) || &p.schema == schema);
        if !cached {
            self.projection = Some(self.project(schema)?);
        }
        let Some(projection) = &self.projection else {
            return Err(FormatError::Encode("projection missing".into()));
        };
        self.line.push(b'{');
        for (i, (index, name)) in projection.fields.iter().enumerate() {
            if i > 0 {
                self.line.push(b',');
            }
            self.line.extend_from_slice(name);
            let field = &schema.fields()[*index];
            let v = value.values().get(*index).unwrap_or(&Value::Null);
            self.converter
                .write(Some(field.schema()), v, &mut self.line)
                .map_err(|e| FormatError::Record(format!("field {}: {e}", field.name())))?;
        }
        self.line.push(b'}');
        Ok(())
    }

    fn project(&self, schema: &Schema) -> Result<Projection, FormatError> {
        let string = Schema::of(SchemaType::String);
        let mut fields = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            if self.excluded.iter().any(|e| e == field.name()) {
                continue;
            }
            let mut name = Vec::with_capacity(field.name().len() + 3);
            self.converter
                .write(Some(&string), &Value::String(field.name().to_owned()), &mut name)
                .map_err(|e| FormatError::Encode(e.to_string()))?;
            name.push(b':');
            fields.push((field.index(), name));
        }
        Ok(Projection { schema: schema.clone(), fields })
    }
}

impl RecordWriter for JsonWriter {
    fn append(&mut self, record: &Record) -> Result<(), FormatError> {
        self.line.clear();
        self.encode(record)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.records += 1;
        Ok(())
    }

    fn fits(&mut self, record: &Record) -> Result<(), FormatError> {
        self.line.clear();
        self.encode(record)
    }

    fn buffered_bytes(&self) -> usize {
        self.out.buffered_bytes()
    }

    fn flush(&mut self) -> Result<(), FormatError> {
        Ok(self.out.flush()?)
    }

    fn records(&self) -> u64 {
        self.records
    }

    fn finish(self: Box<Self>) -> Result<(), FormatError> {
        Ok(self.out.finish()?)
    }
}

#[cfg(test)]
mod tests {
    use hydrate_common::connect::{DecimalFormat, Format};
    use hydrate_common::record::{Decimal, SchemaAndValue, SchemaBuilder};

    use super::super::compress::tests::{SharedBuf, gunzip};
    use super::super::open_writer;
    use super::*;

    pub(crate) fn address_schema() -> Schema {
        SchemaBuilder::struct_()
            .name("address")
            .field("address_id", Schema::of(SchemaType::Int32))
            .field("address", Schema::of(SchemaType::String))
            .field("address2", Schema::optional_of(SchemaType::String))
            .field("district", Schema::of(SchemaType::String))
            .field("city_id", Schema::of(SchemaType::Int16))
            .field("postal_code", Schema::optional_of(SchemaType::String))
            .field("phone", Schema::of(SchemaType::String))
            .field("last_update", SchemaBuilder::timestamp().build())
            .build()
    }

    pub(crate) fn address_100() -> Record {
        let schema = address_schema();
        let values = vec![
            Value::Int32(100),
            "1308 Arecibo Way".into(),
            "".into(),
            "Georgia".into(),
            Value::Int16(41),
            "30695".into(),
            "6171054059".into(),
            Value::Timestamp(1_139_996_730_000),
        ];
        let value = Struct::from_values(schema.clone(), values).unwrap();
        Record::new("pagila.public.address", SchemaAndValue::new(schema, Value::Struct(value)))
    }

    fn options(gzip: Option<GzipLevel>, excluded: &[&str], decimals: DecimalFormat) -> FormatOptions {
        FormatOptions {
            format: Format::Json { gzip },
            json_decimal_format: decimals,
            excluded_fields: excluded.iter().map(|s| s.to_string()).collect(),
            row_group_rows: 0,
            spill_dir: None,
        }
    }

    fn write(options: &FormatOptions, records: &[Record]) -> Vec<u8> {
        let buf = SharedBuf::default();
        let mut w = open_writer(options, None, Box::new(buf.clone())).unwrap();
        for r in records {
            w.append(r).unwrap();
        }
        assert_eq!(w.records(), records.len() as u64);
        w.finish().unwrap();
        buf.bytes()
    }

    const ADDRESS_100: &str = r#"{"address_id":100,"address":"1308 Arecibo Way","address2":"","district":"Georgia","city_id":41,"postal_code":"30695","phone":"6171054059","last_update":1139996730000}"#;

    #[test]
    fn pagila_address_is_the_bare_payload_one_per_line() {
        let out = write(&options(None, &[], DecimalFormat::Base64), &[address_100(), address_100()]);
        assert_eq!(String::from_utf8(out).unwrap(), format!("{ADDRESS_100}\n{ADDRESS_100}\n"));
    }

    #[test]
    fn gzip_holds_the_same_lines() {
        let out = write(&options(Some(GzipLevel(None)), &[], DecimalFormat::Base64), &[address_100()]);
        assert_eq!(gunzip(&out), format!("{ADDRESS_100}\n").as_bytes());
    }

    #[test]
    fn excluded_fields_are_left_out_of_structs_and_maps() {
        let opts = options(None, &["district", "phone"], DecimalFormat::Base64);
        let map = Value::Map(vec![("phone".into(), "1".into()), ("a".into(), Value::Int64(2))]);
        let schemaless = Record::new("t", SchemaAndValue::schemaless(map));
        let out = String::from_utf8(write(&opts, &[address_100(), schemaless])).unwrap();
        assert_eq!(
            out,
            "{\"address_id\":100,\"address\":\"1308 Arecibo Way\",\"address2\":\"\",\"city_id\":41,\
             \"postal_code\":\"30695\",\"last_update\":1139996730000}\n{\"a\":2}\n"
        );
    }

    #[test]
    fn decimals_dates_nulls_and_schemaless_values() {
        let schema = SchemaBuilder::struct_()
            .field("price", SchemaBuilder::decimal(2).build())
            .field("day", SchemaBuilder::date().build())
            .field("note", Schema::optional_of(SchemaType::String))
            .build();
        let s = Struct::from_values(
            schema.clone(),
            vec![Value::Decimal(Decimal::from_i128(-1250, 2)), Value::Date(13194), Value::Null],
        )
        .unwrap();
        let rec = Record::new("t", SchemaAndValue::new(schema, Value::Struct(s)));
        let numeric = write(&options(None, &[], DecimalFormat::Numeric), std::slice::from_ref(&rec));
        assert_eq!(String::from_utf8(numeric).unwrap(), "{\"price\":-12.50,\"day\":13194,\"note\":null}\n");
        let base64 = write(&options(None, &[], DecimalFormat::Base64), &[rec]);
        assert_eq!(String::from_utf8(base64).unwrap(), "{\"price\":\"+x4=\",\"day\":13194,\"note\":null}\n");
        let tombstone = Record::new("t", SchemaAndValue::NULL);
        let text = Record::new("t", SchemaAndValue::schemaless("a\"b".into()));
        let out = write(&options(None, &[], DecimalFormat::Base64), &[tombstone, text]);
        assert_eq!(String::from_utf8(out).unwrap(), "null\n\"a\\\"b\"\n");
    }

    #[test]
    fn a_bad_record_writes_nothing_and_the_writer_goes_on() {
        let buf = SharedBuf::default();
        let mut w =
            open_writer(&options(None, &[], DecimalFormat::Base64), None, Box::new(buf.clone())).unwrap();
        let schema = Schema::of(SchemaType::Int32);
        let bad = Record::new("t", SchemaAndValue::new(schema, "not a number".into()));
        assert!(matches!(w.append(&bad), Err(FormatError::Record(_))));
        w.append(&address_100()).unwrap();
        assert_eq!(w.records(), 1);
        w.finish().unwrap();
        assert_eq!(buf.bytes(), format!("{ADDRESS_100}\n").as_bytes());
    }
}

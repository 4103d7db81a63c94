//! Kafka bytes to Connect data with the connector's key and value
//! converters (`JsonConverter` with or without schemas, `StringConverter`).

use hydrate_common::connect::ConverterSettings;
use hydrate_common::record::{JsonConverter, Schema, SchemaAndValue, SchemaType, Value};

/// One configured converter.
#[derive(Debug)]
pub enum Converter {
    /// `org.apache.kafka.connect.json.JsonConverter`.
    Json(JsonConverter),
    /// `org.apache.kafka.connect.storage.StringConverter`.
    String,
}

impl Converter {
    /// The converter `settings` describe.
    pub fn new(settings: &ConverterSettings) -> Converter {
        match JsonConverter::from_settings(settings) {
            Some(json) => Converter::Json(json),
            None => Converter::String,
        }
    }

    /// `toConnectData` of a key or value (`None`: null).
    pub fn to_connect(&self, bytes: Option<&[u8]>) -> Result<SchemaAndValue, String> {
        match self {
            Converter::Json(json) => json.to_connect(bytes).map_err(|e| e.to_string()),
            Converter::String => match bytes {
                None => Ok(SchemaAndValue::NULL),
                Some(bytes) => std::str::from_utf8(bytes)
                    .map(|s| SchemaAndValue::new(Schema::optional_of(SchemaType::String), Value::from(s)))
                    .map_err(|e| format!("not UTF-8: {e}")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hydrate_common::connect::DecimalFormat;

    #[test]
    fn json_with_and_without_envelopes_and_strings() {
        let with = Converter::new(&ConverterSettings::Json {
            schemas_enable: true,
            decimal_format: DecimalFormat::Base64,
            replace_null_with_default: true,
        });
        let read =
            with.to_connect(Some(br#"{"schema":{"type":"int32","optional":false},"payload":100}"#)).unwrap();
        assert_eq!(read.value, Value::Int32(100));
        assert!(with.to_connect(Some(b"{not json")).is_err());
        assert!(with.to_connect(None).unwrap().value.is_null());
        let without = Converter::new(&ConverterSettings::Json {
            schemas_enable: false,
            decimal_format: DecimalFormat::Base64,
            replace_null_with_default: true,
        });
        assert!(without.to_connect(Some(br#"{"a":1}"#)).unwrap().schema.is_none());
        let string = Converter::new(&ConverterSettings::String);
        assert_eq!(string.to_connect(Some(b"x")).unwrap().value, Value::from("x"));
    }
}

//! Confluent's `TimeBasedPartitioner` (and its Daily and Hourly presets):
//! the record's time, floored to `partition.duration.ms` in `timezone`,
//! written with the Joda-style `path.format`.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use hydrate_common::connect::TimestampSource;
use hydrate_common::record::{Record, Value};

use super::joda::PathFormat;
use super::zone::Zone;
use super::{PartitionError, Partitioner, lookup};

/// Time partitions.
#[derive(Debug)]
pub struct TimeBasedPartitioner {
    format: PathFormat,
    duration_ms: i64,
    zone: Zone,
    timestamp: TimestampSource,
}

impl TimeBasedPartitioner {
    /// A partitioner for these settings; an error names the key that is wrong.
    pub fn new(
        path_format: &str,
        duration_ms: i64,
        locale: &str,
        timezone: &str,
        timestamp: TimestampSource,
    ) -> Result<Self, PartitionError> {
        if duration_ms <= 0 {
            return Err(PartitionError::Config("partition.duration.ms: must be positive".into()));
        }
        let english = locale.is_empty() || locale.get(..2).is_some_and(|l| l.eq_ignore_ascii_case("en"));
        let format = PathFormat::parse(path_format, english).map_err(PartitionError::Config)?;
        let zone = Zone::parse(timezone).map_err(PartitionError::Config)?;
        Ok(Self { format, duration_ms, zone, timestamp })
    }

    /// The record's time per `timestamp.extractor`.
    fn extract(&self, record: &Record, now_ms: i64) -> Result<i64, PartitionError> {
        match &self.timestamp {
            TimestampSource::Wallclock => Ok(now_ms),
            TimestampSource::Record => record.timestamp.ok_or_else(|| {
                PartitionError::Record("the record has no timestamp (timestamp.extractor=Record)".into())
            }),
            TimestampSource::RecordField(name) => {
                let (value, _) = lookup::field(record, name)?;
                field_time(value).map_err(|why| PartitionError::Record(format!("field {name}: {why}")))
            }
        }
    }

    /// Confluent's `getPartition`: floor in local time, back to UTC the Joda way.
    fn bucket(&self, timestamp: i64) -> Option<i64> {
        let local = self.zone.utc_to_local(timestamp)?;
        // Java's long division truncates toward zero, as Rust's does.
        self.zone.local_to_utc(local / self.duration_ms * self.duration_ms)
    }
}

/// A time field as Confluent's `RecordFieldTimestampExtractor` reads it: a
/// Timestamp, epoch milliseconds as a number, or an ISO-8601 string.
fn field_time(value: &Value) -> Result<i64, String> {
    match value {
        Value::Timestamp(ms) | Value::Int64(ms) => Ok(*ms),
        Value::Int32(n) => Ok(i64::from(*n)),
        Value::Int16(n) => Ok(i64::from(*n)),
        Value::Int8(n) => Ok(i64::from(*n)),
        Value::Date(days) => Ok(i64::from(*days) * 86_400_000),
        Value::String(text) => {
            parse_iso(text).ok_or_else(|| format!("{text:?} is not an ISO-8601 date-time"))
        }
        other => Err(format!("{} is not a time (Timestamp, number or ISO-8601 string)", other.kind())),
    }
}

/// Joda's `ISODateTimeFormat.dateTimeParser`, for the forms found in
/// practice: a date, optionally a time, optionally an offset (UTC if none).
fn parse_iso(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    let with_offset = match text.strip_suffix('Z') {
        Some(rest) => format!("{rest}+00:00"),
        None => text.to_owned(),
    };
    for f in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%:z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(t) = DateTime::parse_from_str(&with_offset, f) {
            return Some(t.timestamp_millis());
        }
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, f) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

impl Partitioner for TimeBasedPartitioner {
    fn encode(&self, record: &Record, now_ms: i64) -> Result<String, PartitionError> {
        let timestamp = self.extract(record, now_ms)?;
        let out_of_range = || PartitionError::Record(format!("timestamp {timestamp} is out of range"));
        let bucket = self.bucket(timestamp).ok_or_else(out_of_range)?;
        let fields = self.zone.local_fields(bucket).ok_or_else(out_of_range)?;
        let mut out = String::with_capacity(48);
        self.format.format(&fields, bucket, &self.zone, &mut out);
        Ok(out)
    }

    fn fields(&self) -> &[String] {
        &[]
    }

    fn record_time(&self, record: &Record, now_ms: i64) -> Option<i64> {
        self.extract(record, now_ms).ok()
    }
}

#[cfg(test)]
mod tests {
    use hydrate_common::record::{Schema, SchemaAndValue, SchemaBuilder, SchemaType, Struct};

    use super::*;

    const HOURLY: &str = "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH";
    const DAILY: &str = "'year'=YYYY/'month'=MM/'day'=dd";

    fn ms(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp_millis()
    }

    fn at(rfc3339: &str) -> Record {
        let mut r = Record::new("t", SchemaAndValue::NULL);
        r.timestamp = Some(ms(rfc3339));
        r
    }

    fn partitioner(format: &str, duration_ms: i64, zone: &str) -> TimeBasedPartitioner {
        TimeBasedPartitioner::new(format, duration_ms, "en-US", zone, TimestampSource::Record).unwrap()
    }

    #[test]
    fn hourly_and_daily_in_utc_and_in_a_zone() {
        let hourly = partitioner(HOURLY, 3_600_000, "UTC");
        assert_eq!(
            hourly.encode(&at("2026-11-26T00:52:40Z"), 0).unwrap(),
            "year=2026/month=11/day=26/hour=00"
        );
        let daily = partitioner(DAILY, 86_400_000, "Asia/Kolkata");
        // 20:00Z is already the 26th in India (+05:30).
        assert_eq!(daily.encode(&at("2026-11-25T20:00:00Z"), 0).unwrap(), "year=2026/month=11/day=26");
        assert_eq!(daily.encode(&at("2026-11-25T18:29:59Z"), 0).unwrap(), "year=2026/month=11/day=25");
        // Fifteen-minute buckets.
        let quarter = partitioner("HH'h'mm", 900_000, "UTC");
        assert_eq!(quarter.encode(&at("2026-11-26T10:44:59Z"), 0).unwrap(), "10h30");
        assert!(hourly.fields().is_empty());
        assert_eq!(hourly.record_time(&at("2026-11-26T00:00:00Z"), 5), Some(ms("2026-11-26T00:00:00Z")));
    }

    #[test]
    fn dst_transitions_floor_as_confluent_does() {
        let ny = partitioner(HOURLY, 3_600_000, "America/New_York");
        // Both 01:30s of the fall-back night are hour 01.
        assert_eq!(ny.encode(&at("2026-11-01T05:30:00Z"), 0).unwrap(), "year=2026/month=11/day=01/hour=01");
        assert_eq!(ny.encode(&at("2026-11-01T06:30:00Z"), 0).unwrap(), "year=2026/month=11/day=01/hour=01");
        assert_eq!(ny.bucket(ms("2026-11-01T06:30:00Z")), Some(ms("2026-11-01T05:00:00Z")));
        // Spring forward: 03:30 EDT is hour 03.
        assert_eq!(ny.encode(&at("2026-03-08T07:30:00Z"), 0).unwrap(), "year=2026/month=03/day=08/hour=03");
        // São Paulo skipped midnight on 2018-11-04: the day starts at 01:00.
        let sp = partitioner(HOURLY, 86_400_000, "America/Sao_Paulo");
        assert_eq!(sp.encode(&at("2018-11-04T14:00:00Z"), 0).unwrap(), "year=2018/month=11/day=04/hour=01");
        // Two-hour buckets across Paris's gap (02:00-03:00 on 2026-03-29).
        let paris = partitioner(HOURLY, 7_200_000, "Europe/Paris");
        assert_eq!(
            paris.encode(&at("2026-03-29T01:30:00Z"), 0).unwrap(),
            "year=2026/month=03/day=29/hour=03"
        );
    }

    #[test]
    fn wallclock_record_and_record_field_extractors() {
        let wall =
            TimeBasedPartitioner::new(DAILY, 86_400_000, "en", "UTC", TimestampSource::Wallclock).unwrap();
        assert_eq!(
            wall.encode(&Record::default(), ms("2026-01-02T03:04:05Z")).unwrap(),
            "year=2026/month=01/day=02"
        );
        let record = partitioner(DAILY, 86_400_000, "UTC");
        assert!(
            matches!(record.encode(&Record::default(), 0), Err(PartitionError::Record(m)) if m.contains("timestamp"))
        );
        assert_eq!(record.record_time(&Record::default(), 0), None);

        let schema = SchemaBuilder::struct_()
            .field("last_update", SchemaBuilder::timestamp().build())
            .field("epoch", Schema::of(SchemaType::Int64))
            .field("iso", Schema::of(SchemaType::String))
            .field("flag", Schema::of(SchemaType::Boolean))
            .build();
        let values = vec![
            Value::Timestamp(1_139_996_730_000),
            Value::Int64(ms("2020-05-06T00:00:00Z")),
            "2021-07-08T23:30:00-02:00".into(),
            Value::Boolean(true),
        ];
        let s = Struct::from_values(schema.clone(), values).unwrap();
        let rec = Record::new("t", SchemaAndValue::new(schema, Value::Struct(s)));
        let by = |field: &str| {
            TimeBasedPartitioner::new(
                DAILY,
                86_400_000,
                "en",
                "UTC",
                TimestampSource::RecordField(field.into()),
            )
            .unwrap()
            .encode(&rec, 0)
        };
        assert_eq!(by("last_update").unwrap(), "year=2006/month=02/day=15");
        assert_eq!(by("epoch").unwrap(), "year=2020/month=05/day=06");
        assert_eq!(by("iso").unwrap(), "year=2021/month=07/day=09");
        assert!(matches!(by("flag"), Err(PartitionError::Record(m)) if m.starts_with("field flag")));
        assert!(matches!(by("missing"), Err(PartitionError::Record(m)) if m.contains("missing")));
        let map = Value::Map(vec![("ts".into(), "2022-01-02".into())]);
        let p = TimeBasedPartitioner::new(
            DAILY,
            86_400_000,
            "en",
            "UTC",
            TimestampSource::RecordField("ts".into()),
        )
        .unwrap();
        assert_eq!(
            p.encode(&Record::new("t", SchemaAndValue::schemaless(map)), 0).unwrap(),
            "year=2022/month=01/day=02"
        );
    }

    #[test]
    fn iso_strings_in_the_usual_forms() {
        assert_eq!(parse_iso("2026-11-26T01:02:03.456Z"), Some(ms("2026-11-26T01:02:03.456Z")));
        assert_eq!(parse_iso("2026-11-26T01:02Z"), Some(ms("2026-11-26T01:02:00Z")));
        assert_eq!(parse_iso("2026-11-26T01:02:03+0100"), Some(ms("2026-11-26T00:02:03Z")));
        assert_eq!(parse_iso("2026-11-26T01:02:03"), Some(ms("2026-11-26T01:02:03Z")));
        assert_eq!(parse_iso("2026-11-26"), Some(ms("2026-11-26T00:00:00Z")));
        assert_eq!(parse_iso("yesterday"), None);
    }

    #[test]
    fn bad_settings_name_their_key() {
        let err = |format: &str, duration, locale: &str, zone: &str| {
            TimeBasedPartitioner::new(format, duration, locale, zone, TimestampSource::Wallclock)
                .unwrap_err()
                .to_string()
        };
        assert!(err(DAILY, 86_400_000, "en", "Nowhere/City").starts_with("timezone"));
        assert!(err("YYYY/qq", 86_400_000, "en", "UTC").starts_with("path.format"));
        assert!(err(DAILY, 0, "en", "UTC").starts_with("partition.duration.ms"));
        assert!(err("MMMM", 86_400_000, "fr-FR", "UTC").starts_with("locale"));
    }
}

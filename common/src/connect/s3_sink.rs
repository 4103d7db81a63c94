//! The S3 sink connector's checked configuration, and its cross-key rules.

use std::time::Duration;

use super::plugins::s3_sink as keys;
use super::secrets::Secret;
use super::values::{Problems, Values, millis};

/// The sink's checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct S3SinkConfig {
    /// Which topics to consume.
    pub topics: TopicSelection,
    /// Records per object.
    pub flush_size: u32,
    /// Commit when an object's records span this much record time.
    pub rotate_interval: Option<Duration>,
    /// Commit open objects on this wall-clock schedule (aligned in `timezone`).
    pub rotate_schedule_interval: Option<Duration>,
    /// Bucket.
    pub bucket: String,
    /// Region.
    pub region: String,
    /// S3-compatible endpoint (`store.url`); `None` for AWS.
    pub endpoint: Option<String>,
    /// Path-style bucket addressing.
    pub path_style_access: bool,
    /// Key prefix of all objects.
    pub topics_dir: String,
    /// Between directories.
    pub directory_delim: String,
    /// Between topic, partition and offset in names.
    pub file_delim: String,
    /// Digits of the start offset in names.
    pub offset_zero_pad_width: u32,
    /// Multipart part size in bytes.
    pub part_size: u32,
    /// Object format.
    pub format: Format,
    /// How decimals are written in JSON.
    pub json_decimal_format: DecimalFormat,
    /// How objects are partitioned into paths.
    pub partitioner: Partitioner,
    /// Also write the partition fields inside objects (Kafka Connect does).
    pub partition_field_in_file: bool,
    /// `timezone`, when set.
    pub timezone: Option<String>,
    /// `schema.compatibility`.
    pub schema_compatibility: SchemaCompatibility,
    /// What happens to records with a null value.
    pub null_values: NullValueBehavior,
    /// Also write keys (in this format).
    pub store_keys: Option<Format>,
    /// Also write headers (in this format).
    pub store_headers: Option<Format>,
    /// Server-side encryption.
    pub encryption: Encryption,
    /// Canned ACL.
    pub acl_canned: Option<String>,
    /// Static credentials; `None` uses the AWS SDK's default chain.
    pub credentials: Option<StaticCredentials>,
    /// Retries of a failed S3 request.
    pub part_retries: u32,
    /// First wait before retrying an S3 request.
    pub s3_retry_backoff: Duration,
    /// Wait before retrying a batch after a transient failure.
    pub retry_backoff: Duration,
    /// Send `Expect: 100-continue`.
    pub expect_continue: bool,
}

/// `topics` or `topics.regex`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicSelection {
    /// These topics.
    List(Vec<String>),
    /// Topics whose whole name matches this regular expression.
    Regex(String),
}

/// Object format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// Newline-delimited JSON, optionally gzip-compressed.
    Json { gzip: Option<GzipLevel> },
    /// Parquet with a codec.
    Parquet { codec: ParquetCodec },
    /// Raw bytes with a separator.
    ByteArray { gzip: Option<GzipLevel>, extension: String, separator: Option<String> },
}

/// A gzip level; `None` inside is the library default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GzipLevel(pub Option<u32>);

/// `parquet.codec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParquetCodec {
    /// Uncompressed.
    None,
    /// Snappy.
    Snappy,
    /// Gzip.
    Gzip,
    /// Zstandard.
    Zstd,
    /// LZ4.
    Lz4,
}

/// `json.decimal.format` / the JSON converter's `decimal.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalFormat {
    /// Base64 of the unscaled bytes.
    Base64,
    /// A JSON number.
    Numeric,
}

/// Where in time a record falls, for time partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampSource {
    /// Processing time.
    Wallclock,
    /// The Kafka record timestamp.
    Record,
    /// A field of the record value.
    RecordField(String),
}

/// Path partitioning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partitioner {
    /// `partition=<kafka partition>`.
    Default,
    /// `field=value/...` for these fields.
    Field { fields: Vec<String> },
    /// Time partitions.
    Time {
        /// Joda-style directory pattern.
        path_format: String,
        /// Length of a partition.
        duration: Duration,
        /// Locale, e.g. `en-US`.
        locale: String,
        /// Time zone.
        timezone: String,
        /// Where time comes from.
        timestamp: TimestampSource,
    },
}

/// `schema.compatibility`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaCompatibility {
    /// A new object on any schema change.
    None,
    /// Backward.
    Backward,
    /// Forward.
    Forward,
    /// Full.
    Full,
}

impl SchemaCompatibility {
    /// The configuration value.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Backward => "BACKWARD",
            Self::Forward => "FORWARD",
            Self::Full => "FULL",
        }
    }
}

/// `behavior.on.null.values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NullValueBehavior {
    /// Skip them.
    Ignore,
    /// Fail the task.
    Fail,
    /// Write them (as keys) under `tombstone.encoded.partition`.
    Write {
        /// The directory tombstones go to.
        partition: String,
    },
}

/// Server-side encryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// None requested.
    None,
    /// SSE-S3 (AES256).
    Aes256,
    /// SSE-KMS, with a key id or the account default.
    Kms { key_id: Option<String> },
    /// SSE-C with this key.
    CustomerKey(Secret),
}

/// `aws.access.key.id` with `aws.secret.access.key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    /// Access key id (not secret by itself).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: Secret,
}

fn format_of(class: &str) -> &'static str {
    [keys::JSON_FORMAT, keys::PARQUET_FORMAT, keys::BYTE_ARRAY_FORMAT, keys::AVRO_FORMAT]
        .into_iter()
        .find(|c| *c == class || c.rsplit('.').next() == Some(class))
        .unwrap_or(keys::AVRO_FORMAT)
}

/// Builds the sink config, reporting contradictions between keys.
pub(crate) fn build(v: &Values, p: &mut Problems) -> Option<S3SinkConfig> {
    let topics = topics(v, p);
    let format = format(v, p);
    let partitioner = partitioner(v, p);
    let positive = |name: &str| v.number(name).map(|ms| (ms > 0).then(|| millis(ms)));
    let rotate_schedule_interval = positive("rotate.schedule.interval.ms");
    let timezone = v.non_empty("timezone");
    if matches!(rotate_schedule_interval, Some(Some(_))) && timezone.is_none() && !v.opaque("timezone") {
        p.key(
            "timezone",
            "must be set when rotate.schedule.interval.ms is used (the schedule is aligned in it)",
        );
    }
    let null_values = v.string("behavior.on.null.values").map(|b| match b.to_ascii_lowercase().as_str() {
        "ignore" => NullValueBehavior::Ignore,
        "write" => NullValueBehavior::Write {
            partition: v.string("tombstone.encoded.partition").unwrap_or_default(),
        },
        _ => NullValueBehavior::Fail,
    });
    if matches!(null_values, Some(NullValueBehavior::Write { .. }))
        && v.flag("store.kafka.keys") == Some(false)
    {
        p.key(
            "store.kafka.keys",
            "must be true when behavior.on.null.values is write (tombstones are written as keys)",
        );
    }
    let side_format = |flag: &str, class_key: &str, p: &mut Problems| -> Option<Option<Format>> {
        if !v.flag(flag)? {
            return Some(None);
        }
        let works = if flag == "store.kafka.keys" {
            "JsonFormat, ParquetFormat or ByteArrayFormat"
        } else {
            "JsonFormat or ParquetFormat"
        };
        match format_of(&v.string(class_key)?) {
            keys::AVRO_FORMAT => {
                let why = if v.given(class_key) {
                    "Hydrate cannot write AvroFormat"
                } else {
                    "is AvroFormat when not set (as in Kafka Connect), which Hydrate cannot write"
                };
                p.key(class_key, format!("{why}; set it to {works} when {flag} is true"));
                None
            }
            keys::BYTE_ARRAY_FORMAT if flag == "store.kafka.headers" => {
                p.key(
                    class_key,
                    format!(
                        "ByteArrayFormat writes raw bytes, and headers are a list of key-value pairs; \
                         set it to {works}"
                    ),
                );
                None
            }
            class => configured(class, v).map(Some),
        }
    };
    let store_keys = side_format("store.kafka.keys", "keys.format.class", p);
    let store_headers = side_format("store.kafka.headers", "headers.format.class", p);
    if v.flag("hive.integration") == Some(true) {
        p.key(
            "hive.integration",
            "Hydrate does not sync a Hive metastore; use a Glue crawler or Athena DDL over the same layout",
        );
    }
    let credentials = match (v.non_empty("aws.access.key.id"), v.secret("aws.secret.access.key")) {
        (Some(id), Some(secret)) => {
            Some(Some(StaticCredentials { access_key_id: id, secret_access_key: secret }))
        }
        (None, None) if !v.given("aws.access.key.id") && !v.given("aws.secret.access.key") => Some(None),
        (Some(_), None) if !v.opaque("aws.secret.access.key") => {
            p.key("aws.secret.access.key", "must be set together with aws.access.key.id");
            None
        }
        (None, Some(_)) if !v.opaque("aws.access.key.id") => {
            p.key("aws.access.key.id", "must be set together with aws.secret.access.key");
            None
        }
        _ => None,
    };
    let endpoint = v.non_empty("store.url");
    if let Some(url) = &endpoint
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        p.key("store.url", "must be an http:// or https:// URL");
    }
    let encryption = match v.string("s3.ssea.name")?.as_str() {
        "AES256" => Encryption::Aes256,
        "aws:kms" => Encryption::Kms { key_id: v.non_empty("s3.sse.kms.key.id") },
        _ => match v.secret("s3.sse.customer.key") {
            Some(key) if !key.expose().is_empty() => Encryption::CustomerKey(key),
            _ => Encryption::None,
        },
    };
    let decimal = |name: &str| {
        v.string(name).map(|d| {
            if d.eq_ignore_ascii_case("NUMERIC") { DecimalFormat::Numeric } else { DecimalFormat::Base64 }
        })
    };
    let schema_compatibility =
        v.string("schema.compatibility").map(|s| match s.to_ascii_uppercase().as_str() {
            "BACKWARD" => SchemaCompatibility::Backward,
            "FORWARD" => SchemaCompatibility::Forward,
            "FULL" => SchemaCompatibility::Full,
            _ => SchemaCompatibility::None,
        });
    let unsigned = |name: &str| v.number(name).and_then(|n| u32::try_from(n).ok());
    Some(S3SinkConfig {
        topics: topics?,
        flush_size: unsigned("flush.size")?,
        rotate_interval: positive("rotate.interval.ms")?,
        rotate_schedule_interval: rotate_schedule_interval?,
        bucket: v.string("s3.bucket.name")?,
        region: v.string("s3.region")?,
        endpoint,
        path_style_access: v.flag("s3.path.style.access.enabled")?,
        topics_dir: v.string("topics.dir")?,
        directory_delim: v.string("directory.delim")?,
        file_delim: v.string("file.delim")?,
        offset_zero_pad_width: unsigned("filename.offset.zero.pad.width")?,
        part_size: unsigned("s3.part.size")?,
        format: format?,
        json_decimal_format: decimal("json.decimal.format")?,
        partitioner: partitioner?,
        partition_field_in_file: v.flag("partition.field.in.file")?,
        timezone,
        schema_compatibility: schema_compatibility?,
        null_values: null_values?,
        store_keys: store_keys?,
        store_headers: store_headers?,
        encryption,
        acl_canned: v.string("s3.acl.canned"),
        credentials: credentials?,
        part_retries: unsigned("s3.part.retries")?,
        s3_retry_backoff: millis(v.number("s3.retry.backoff.ms")?),
        retry_backoff: millis(v.number("retry.backoff.ms")?),
        expect_continue: v.flag("s3.http.send.expect.continue")?,
    })
}

fn topics(v: &Values, p: &mut Problems) -> Option<TopicSelection> {
    match (v.given("topics"), v.given("topics.regex")) {
        (true, true) => {
            p.key("topics.regex", "cannot be used together with topics: give one of them");
            None
        }
        (false, false) => {
            p.key("topics", "missing: a sink needs topics (a list) or topics.regex");
            None
        }
        (true, false) => Some(TopicSelection::List(v.list("topics")?)),
        (false, true) => {
            let regex = v.string("topics.regex")?;
            if let Err(e) = regex::Regex::new(&regex) {
                p.key("topics.regex", format!("is not a valid regular expression: {e}"));
                return None;
            }
            Some(TopicSelection::Regex(regex))
        }
    }
}

fn format(v: &Values, p: &mut Problems) -> Option<Format> {
    let class = format_of(&v.string("format.class")?);
    let gzip = v.string("s3.compression.type").map(|c| c == "gzip");
    if class == keys::AVRO_FORMAT {
        p.key(
            "format.class",
            "Hydrate writes JsonFormat, ParquetFormat and ByteArrayFormat; AvroFormat is not supported",
        );
        return None;
    }
    let parquet_sidecar =
        [("store.kafka.keys", "keys.format.class"), ("store.kafka.headers", "headers.format.class")]
            .iter()
            .any(|(flag, class_key)| {
                v.flag(flag) == Some(true)
                    && v.string(class_key).is_some_and(|c| format_of(&c) == keys::PARQUET_FORMAT)
            });
    if class != keys::PARQUET_FORMAT && !parquet_sidecar && v.given("parquet.codec") {
        p.key("parquet.codec", "applies to ParquetFormat only; use s3.compression.type for JSON and bytes");
    }
    if class == keys::PARQUET_FORMAT && gzip == Some(true) {
        p.key(
            "s3.compression.type",
            "gzip applies to JsonFormat and ByteArrayFormat; compress Parquet with parquet.codec",
        );
    }
    configured(class, v)
}

/// The format `class` names with the compression and ByteArrayFormat keys
/// applied: Kafka Connect configures the key and header writers from the
/// same keys as the value writer.
fn configured(class: &str, v: &Values) -> Option<Format> {
    let level = v.number("s3.compression.level").map(|l| GzipLevel(u32::try_from(l).ok()));
    let gzip = if v.string("s3.compression.type")? == "gzip" { Some(level?) } else { None };
    Some(match class {
        keys::PARQUET_FORMAT => Format::Parquet {
            codec: match v.string("parquet.codec")?.as_str() {
                "none" => ParquetCodec::None,
                "gzip" => ParquetCodec::Gzip,
                "zstd" => ParquetCodec::Zstd,
                "lz4" => ParquetCodec::Lz4,
                _ => ParquetCodec::Snappy,
            },
        },
        keys::BYTE_ARRAY_FORMAT => Format::ByteArray {
            gzip,
            extension: v.string("format.bytearray.extension")?,
            separator: v.string("format.bytearray.separator"),
        },
        _ => Format::Json { gzip },
    })
}

fn partitioner(v: &Values, p: &mut Problems) -> Option<Partitioner> {
    let class = v.string("partitioner.class")?;
    let short = class.rsplit('.').next().unwrap_or(&class).to_owned();
    let mut require = |name: &str, ok: bool| {
        if !ok && !v.opaque(name) {
            p.key(name, format!("is required with {short}"));
        }
    };
    match short.as_str() {
        "FieldPartitioner" => {
            let fields = v.list("partition.field.name");
            require("partition.field.name", fields.as_ref().is_none_or(|f| !f.is_empty()));
            Some(Partitioner::Field { fields: fields.filter(|f| !f.is_empty())? })
        }
        "TimeBasedPartitioner" | "DailyPartitioner" | "HourlyPartitioner" => {
            let (path_format, duration) = match short.as_str() {
                "DailyPartitioner" => (Some("'year'=YYYY/'month'=MM/'day'=dd".to_owned()), Some(86_400_000)),
                "HourlyPartitioner" => {
                    (Some("'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH".to_owned()), Some(3_600_000))
                }
                _ => {
                    let path_format = v.non_empty("path.format");
                    require("path.format", path_format.is_some());
                    let duration = v.number("partition.duration.ms").filter(|d| *d > 0);
                    require("partition.duration.ms", duration.is_some());
                    (path_format, duration)
                }
            };
            let locale = v.non_empty("locale");
            require("locale", locale.is_some());
            let timezone = v.non_empty("timezone");
            require("timezone", timezone.is_some());
            let timestamp = match v.string("timestamp.extractor")?.as_str() {
                "Record" => TimestampSource::Record,
                "RecordField" => {
                    let field = v.non_empty("timestamp.field");
                    if field.is_none() && !v.opaque("timestamp.field") {
                        p.key("timestamp.field", "is required with the RecordField timestamp extractor");
                    }
                    TimestampSource::RecordField(field?)
                }
                _ => TimestampSource::Wallclock,
            };
            Some(Partitioner::Time {
                path_format: path_format?,
                duration: millis(duration?),
                locale: locale?,
                timezone: timezone?,
                timestamp,
            })
        }
        _ => Some(Partitioner::Default),
    }
}

//! Keys of Confluent's S3 sink connector: `S3SinkConnectorConfig` with
//! `StorageSinkConnectorConfig`, `StorageCommonConfig`, `PartitionerConfig`
//! and `HiveConfig`, plus Hydrate's own `partition.field.in.file`.

use crate::connect::def::{Check, ConfigKeyDef as K, ConfigType as T, Importance as I, Value};

/// Kafka Connect's class name.
pub const CLASS: &str = "io.confluent.connect.s3.S3SinkConnector";

/// Format classes.
pub const JSON_FORMAT: &str = "io.confluent.connect.s3.format.json.JsonFormat";
/// Parquet output.
pub const PARQUET_FORMAT: &str = "io.confluent.connect.s3.format.parquet.ParquetFormat";
/// Raw bytes output.
pub const BYTE_ARRAY_FORMAT: &str = "io.confluent.connect.s3.format.bytearray.ByteArrayFormat";
/// Avro output (recognised, not supported).
pub const AVRO_FORMAT: &str = "io.confluent.connect.s3.format.avro.AvroFormat";
const FORMATS: &[&str] = &[JSON_FORMAT, PARQUET_FORMAT, BYTE_ARRAY_FORMAT, AVRO_FORMAT];

/// Partitioner classes.
pub const DEFAULT_PARTITIONER: &str = "io.confluent.connect.storage.partitioner.DefaultPartitioner";
/// Partitions by record fields.
pub const FIELD_PARTITIONER: &str = "io.confluent.connect.storage.partitioner.FieldPartitioner";
/// Partitions by time with a path format.
pub const TIME_BASED_PARTITIONER: &str = "io.confluent.connect.storage.partitioner.TimeBasedPartitioner";
/// Daily time partitions.
pub const DAILY_PARTITIONER: &str = "io.confluent.connect.storage.partitioner.DailyPartitioner";
/// Hourly time partitions.
pub const HOURLY_PARTITIONER: &str = "io.confluent.connect.storage.partitioner.HourlyPartitioner";
const PARTITIONERS: &[&str] =
    &[DEFAULT_PARTITIONER, FIELD_PARTITIONER, TIME_BASED_PARTITIONER, DAILY_PARTITIONER, HOURLY_PARTITIONER];

/// The smallest part S3 accepts in a multipart upload (5 MiB).
pub const MIN_PART_SIZE: i64 = 5 * 1024 * 1024;

const CONNECTOR: &str = "Connector";
const STORAGE: &str = "Storage";
const PARTITIONER: &str = "Partitioner";
const S3: &str = "S3";
const KEYS_HEADERS: &str = "Keys and Headers";
const HIVE: &str = "Hive";

/// Class-typed keys whose value may be given by full or simple name.
fn one_of_classes(value: &Value, classes: &[&str]) -> Result<(), String> {
    match value {
        Value::Str(v) if classes.iter().any(|c| c == v || c.rsplit('.').next() == Some(v)) => Ok(()),
        _ => Err(format!("must be one of: {}", classes.join(", "))),
    }
}

fn format_class(value: &Value) -> Result<(), String> {
    one_of_classes(value, FORMATS)
}

fn partitioner_class(value: &Value) -> Result<(), String> {
    one_of_classes(value, PARTITIONERS)
}

/// AWS region names are lower-case words and digits joined by dashes; an
/// S3-compatible store may use any such name.
fn region(value: &Value) -> Result<(), String> {
    match value {
        Value::Str(r)
            if !r.is_empty()
                && r.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') =>
        {
            Ok(())
        }
        _ => Err("must be an AWS region name such as us-east-1".into()),
    }
}

fn optional_time_zone(value: &Value) -> Result<(), String> {
    match value {
        Value::Str(tz) if tz.is_empty() => Ok(()),
        v => crate::connect::plugins::time_zone(v),
    }
}

/// The connector's keys (its sink keys `topics`/`topics.regex` are common).
pub static KEYS: &[K] = &[
    // StorageSinkConnectorConfig
    K::new(
        "format.class",
        T::Class,
        I::High,
        CONNECTOR,
        "Output format: JsonFormat (newline-delimited JSON), ParquetFormat or ByteArrayFormat \
         (full io.confluent.connect.s3.format... class names).",
    )
    .required()
    .check(Check::Custom(format_class)),
    K::new(
        "flush.size",
        T::Int,
        I::High,
        CONNECTOR,
        "Number of records per object: an object is committed when it holds this many.",
    )
    .required()
    .check(Check::AtLeast(1)),
    K::new(
        "rotate.interval.ms",
        T::Long,
        I::High,
        CONNECTOR,
        "Commit an object once its records span this many ms of record time; -1 disables.",
    )
    .default("-1")
    .check(Check::AtLeast(-1)),
    K::new(
        "rotate.schedule.interval.ms",
        T::Long,
        I::Medium,
        CONNECTOR,
        "Commit open objects every this many ms of wall-clock time (aligned in timezone); \
         -1 disables. Needs timezone.",
    )
    .default("-1")
    .check(Check::AtLeast(-1)),
    K::new("schema.cache.size", T::Int, I::Low, CONNECTOR, "Kafka Connect's Avro schema cache size.")
        .default("1000")
        .ignored(),
    K::new(
        "retry.backoff.ms",
        T::Long,
        I::Low,
        CONNECTOR,
        "Time in ms to wait before retrying a batch after a transient failure.",
    )
    .default("5000")
    .check(Check::AtLeast(0)),
    K::new(
        "shutdown.timeout.ms",
        T::Long,
        I::Medium,
        CONNECTOR,
        "Kafka Connect's wait for Hive updates at shutdown.",
    )
    .default("3000")
    .ignored(),
    K::new(
        "filename.offset.zero.pad.width",
        T::Int,
        I::Low,
        CONNECTOR,
        "Digits the start offset in object names is zero-padded to.",
    )
    .default("10")
    .check(Check::AtLeast(0)),
    K::new(
        "append.late.data",
        T::Boolean,
        I::Low,
        CONNECTOR,
        "Kafka Connect's late-data switch of some time-based partitioners.",
    )
    .default("false")
    .ignored(),
    K::new(
        "parquet.codec",
        T::String,
        I::Low,
        CONNECTOR,
        "Compression of Parquet objects: none, snappy, gzip, zstd or lz4. ParquetFormat only.",
    )
    .default("snappy")
    .check(Check::OneOf(&["none", "snappy", "gzip", "zstd", "lz4"])),
    K::new("avro.codec", T::String, I::Low, CONNECTOR, "Compression of Avro objects.")
        .default("null")
        .ignored(),
    K::new(
        "enhanced.avro.schema.support",
        T::Boolean,
        I::Low,
        CONNECTOR,
        "Avro schema option of Kafka Connect's converters.",
    )
    .default("true")
    .ignored(),
    K::new(
        "connect.meta.data",
        T::Boolean,
        I::Low,
        CONNECTOR,
        "Avro schema option of Kafka Connect's converters.",
    )
    .default("true")
    .ignored(),
    K::new(
        "schema.compatibility",
        T::String,
        I::High,
        CONNECTOR,
        "How a schema change affects open objects: NONE starts a new object on any change; \
         BACKWARD, FORWARD and FULL project records onto the newest compatible schema.",
    )
    .default("NONE")
    .check(Check::OneOfIgnoreCase(&["NONE", "BACKWARD", "FORWARD", "FULL"])),
    // StorageCommonConfig
    K::new(
        "storage.class",
        T::Class,
        I::High,
        STORAGE,
        "Kafka Connect's storage implementation; Hydrate always writes to S3.",
    )
    .default("io.confluent.connect.s3.storage.S3Storage")
    .ignored(),
    K::new("topics.dir", T::String, I::High, STORAGE, "Top-level directory (key prefix) for objects.")
        .default("topics"),
    K::new(
        "store.url",
        T::String,
        I::High,
        STORAGE,
        "Endpoint of an S3-compatible store, e.g. http://127.0.0.1:9000; unset uses AWS (or \
         AWS_ENDPOINT_URL).",
    ),
    K::new("directory.delim", T::String, I::Medium, STORAGE, "Delimiter between directories.")
        .default("/")
        .check(Check::NonEmpty),
    K::new(
        "file.delim",
        T::String,
        I::Medium,
        STORAGE,
        "Delimiter between topic, partition and offset in object names.",
    )
    .default("+")
    .check(Check::NonEmpty),
    // PartitionerConfig
    K::new(
        "partitioner.class",
        T::Class,
        I::High,
        PARTITIONER,
        "Partitioner: DefaultPartitioner (partition=N), FieldPartitioner (field=value), \
         TimeBasedPartitioner, DailyPartitioner or HourlyPartitioner.",
    )
    .default(DEFAULT_PARTITIONER)
    .check(Check::Custom(partitioner_class)),
    K::new(
        "partition.field.name",
        T::List,
        I::Medium,
        PARTITIONER,
        "Record fields FieldPartitioner partitions by.",
    )
    .default(""),
    K::new(
        "partition.field.in.file",
        T::Boolean,
        I::Medium,
        PARTITIONER,
        "Hydrate: also write the partition fields inside each object. Off by default, which \
         keeps Glue and Athena from seeing duplicate columns; true behaves like Kafka Connect.",
    )
    .default("false"),
    K::new(
        "partition.duration.ms",
        T::Long,
        I::Medium,
        PARTITIONER,
        "Length of a time partition in ms (TimeBasedPartitioner).",
    )
    .default("-1")
    .check(Check::AtLeast(-1)),
    K::new(
        "path.format",
        T::String,
        I::Medium,
        PARTITIONER,
        "Joda-style pattern of time partition directories, e.g. 'year'=YYYY/'month'=MM/'day'=dd.",
    )
    .default(""),
    K::new("locale", T::String, I::Medium, PARTITIONER, "Locale for time partitions, e.g. en-US.")
        .default(""),
    K::new(
        "timezone",
        T::String,
        I::Medium,
        PARTITIONER,
        "Time zone for time partitions and scheduled rotation, e.g. UTC or Europe/Paris.",
    )
    .default("")
    .check(Check::Custom(optional_time_zone)),
    K::new(
        "timestamp.extractor",
        T::String,
        I::Medium,
        PARTITIONER,
        "Where time partitions take time from: Wallclock, Record (Kafka timestamp) or \
         RecordField (timestamp.field).",
    )
    .default("Wallclock")
    .check(Check::OneOf(&["Wallclock", "Record", "RecordField"])),
    K::new(
        "timestamp.field",
        T::String,
        I::Medium,
        PARTITIONER,
        "Record field holding the time for the RecordField extractor.",
    )
    .default("timestamp"),
    // S3SinkConnectorConfig
    K::new("s3.bucket.name", T::String, I::High, S3, "The bucket.").required().check(Check::NonEmpty),
    K::new("s3.region", T::String, I::Medium, S3, "AWS region of the bucket.")
        .default("us-west-2")
        .check(Check::Custom(region)),
    K::new(
        "s3.path.style.access.enabled",
        T::Boolean,
        I::Low,
        S3,
        "Address the bucket in the path (https://host/bucket) rather than the host name.",
    )
    .default("true"),
    K::new("s3.part.size", T::Int, I::High, S3, "Part size in bytes of multipart uploads (at least 5 MiB).")
        .default("26214400")
        .check(Check::Between(MIN_PART_SIZE, i32::MAX as i64)),
    K::new("s3.wan.mode", T::Boolean, I::Medium, S3, "Use S3 Transfer Acceleration endpoints.")
        .default("false")
        .ignored(),
    K::new(
        "s3.credentials.provider.class",
        T::Class,
        I::Low,
        S3,
        "Kafka Connect's AWS credentials provider; Hydrate uses the AWS SDK's default chain \
         unless aws.access.key.id and aws.secret.access.key are set.",
    )
    .default("com.amazonaws.auth.DefaultAWSCredentialsProviderChain")
    .ignored(),
    K::new("aws.access.key.id", T::String, I::High, S3, "AWS access key id.").default(""),
    K::new(
        "aws.secret.access.key",
        T::Password,
        I::High,
        S3,
        "AWS secret access key; may be a reference such as ${env:AWS_SECRET_ACCESS_KEY}.",
    ),
    K::new("s3.ssea.name", T::String, I::Low, S3, "Server-side encryption: AES256, aws:kms or empty.")
        .default("")
        .check(Check::OneOf(&["", "AES256", "aws:kms"])),
    K::new("s3.sse.customer.key", T::Password, I::Low, S3, "Customer-provided key for SSE-C."),
    K::new("s3.sse.kms.key.id", T::String, I::Low, S3, "KMS key id used with aws:kms encryption.")
        .default(""),
    K::new("s3.acl.canned", T::String, I::Low, S3, "Canned ACL applied to written objects.").check(
        Check::OneOf(&[
            "private",
            "public-read",
            "public-read-write",
            "authenticated-read",
            "log-delivery-write",
            "bucket-owner-read",
            "bucket-owner-full-control",
            "aws-exec-read",
        ]),
    ),
    K::new(
        "s3.compression.type",
        T::String,
        I::Low,
        S3,
        "Compression of JSON and ByteArray objects: none or gzip.",
    )
    .default("none")
    .check(Check::OneOf(&["none", "gzip"])),
    K::new("s3.compression.level", T::Int, I::Low, S3, "gzip level, -1 for the default, 0 to 9.")
        .default("-1")
        .check(Check::Between(-1, 9)),
    K::new(
        "json.decimal.format",
        T::String,
        I::Medium,
        S3,
        "How JsonFormat writes decimals: BASE64 or NUMERIC.",
    )
    .default("BASE64")
    .check(Check::OneOfIgnoreCase(&["BASE64", "NUMERIC"])),
    K::new("s3.part.retries", T::Int, I::Medium, S3, "Retries of a failed S3 request.")
        .default("3")
        .check(Check::AtLeast(0)),
    K::new(
        "s3.retry.backoff.ms",
        T::Long,
        I::Low,
        S3,
        "Initial wait in ms before retrying a failed S3 request; doubles on each retry.",
    )
    .default("200")
    .check(Check::AtLeast(0)),
    K::new(
        "s3.http.send.expect.continue",
        T::Boolean,
        I::Low,
        S3,
        "Send Expect: 100-continue with part uploads.",
    )
    .default("true"),
    K::new("format.bytearray.extension", T::String, I::Low, S3, "Object name extension of ByteArrayFormat.")
        .default(".bin"),
    K::new(
        "format.bytearray.separator",
        T::String,
        I::Low,
        S3,
        "Separator between ByteArrayFormat records; default a newline.",
    ),
    K::new(
        "behavior.on.null.values",
        T::String,
        I::Low,
        S3,
        "Records with a null value (tombstones): ignore, fail, or write (to tombstone.encoded.partition, \
         needs store.kafka.keys).",
    )
    .default("fail")
    .check(Check::OneOfIgnoreCase(&["ignore", "fail", "write"])),
    K::new("tombstone.encoded.partition", T::String, I::Low, S3, "Directory tombstones are written to.")
        .default("tombstone"),
    K::new("s3.proxy.url", T::String, I::Low, S3, "Proxy for S3 requests.").default("").ignored(),
    K::new("s3.proxy.user", T::String, I::Low, S3, "Proxy user.").ignored(),
    K::new("s3.proxy.password", T::Password, I::Low, S3, "Proxy password.").ignored(),
    K::new("s3.object.tagging", T::Boolean, I::Low, S3, "Tag objects with offsets and record count.")
        .default("false")
        .ignored(),
    K::new("s3.object.tagging.key.value.pairs", T::List, I::Low, S3, "Extra object tags.")
        .default("")
        .ignored(),
    K::new("s3.object.behavior.on.tagging.error", T::String, I::Low, S3, "Tagging failures: ignore or fail.")
        .default("ignore")
        .ignored(),
    K::new("s3.send.digest", T::Boolean, I::Low, S3, "Send MD5 digests with part uploads.")
        .default("false")
        .ignored(),
    K::new(
        "s3.elastic.buffer.enable",
        T::Boolean,
        I::Low,
        S3,
        "Kafka Connect's growable part buffer; Hydrate bounds memory itself.",
    )
    .default("false")
    .ignored(),
    K::new("s3.elastic.buffer.init.capacity", T::Int, I::Low, S3, "Initial elastic buffer size.")
        .default("131072")
        .ignored(),
    K::new(
        "s3.schema.partition.affix.type",
        T::String,
        I::Low,
        S3,
        "Put the record schema name before or after the topic in paths.",
    )
    .default("NONE")
    .check(Check::OneOf(&["NONE"])),
    // Keys and headers
    K::new(
        "store.kafka.keys",
        T::Boolean,
        I::Low,
        KEYS_HEADERS,
        "Also write record keys, in their own objects.",
    )
    .default("false"),
    K::new(
        "store.kafka.headers",
        T::Boolean,
        I::Low,
        KEYS_HEADERS,
        "Also write record headers, in their own objects.",
    )
    .default("false"),
    K::new(
        "keys.format.class",
        T::Class,
        I::Low,
        KEYS_HEADERS,
        "Format of key objects: JsonFormat, ParquetFormat or ByteArrayFormat (Hydrate cannot write the \
         AvroFormat default, so set it with store.kafka.keys).",
    )
    .default(AVRO_FORMAT)
    .check(Check::Custom(format_class)),
    K::new(
        "headers.format.class",
        T::Class,
        I::Low,
        KEYS_HEADERS,
        "Format of header objects: JsonFormat or ParquetFormat (Hydrate cannot write the AvroFormat \
         default, so set it with store.kafka.headers).",
    )
    .default(AVRO_FORMAT)
    .check(Check::Custom(format_class)),
    K::new(
        "table.name.format",
        T::String,
        I::Low,
        CONNECTOR,
        "A JDBC sink key that configs copied between sinks often carry; no effect on S3.",
    )
    .ignored(),
    // HiveConfig
    K::new(
        "hive.integration",
        T::Boolean,
        I::High,
        HIVE,
        "Sync a Hive metastore; Hydrate does not (Glue crawlers or Athena DDL read its layout).",
    )
    .default("false"),
    K::new("hive.metastore.uris", T::String, I::High, HIVE, "Hive metastore URIs.").default("").ignored(),
    K::new("hive.conf.dir", T::String, I::High, HIVE, "Hive configuration directory.").default("").ignored(),
    K::new("hive.home", T::String, I::High, HIVE, "Hive home directory.").default("").ignored(),
    K::new("hive.database", T::String, I::High, HIVE, "Hive database.").default("default").ignored(),
];

//! Object names, exactly as Confluent's S3 sink makes them:
//! `<topics.dir>/<topic>/<encoded partition>/<topic>+<kafka partition>+<start offset, zero-padded><ext>`,
//! with `directory.delim` between directories and `file.delim` inside names.

use hydrate_common::connect::S3SinkConfig;

/// Makes the names of one connector's objects.
#[derive(Debug, Clone)]
pub struct Naming {
    topics_dir: String,
    directory_delim: String,
    file_delim: String,
    pad_width: usize,
    extension: String,
}

impl Naming {
    /// Names for `config` with the format's `extension` (`.json`, `.gz.parquet`, ...).
    pub fn new(config: &S3SinkConfig, extension: String) -> Naming {
        Naming {
            topics_dir: config.topics_dir.clone(),
            directory_delim: config.directory_delim.clone(),
            file_delim: config.file_delim.clone(),
            pad_width: config.offset_zero_pad_width as usize,
            extension,
        }
    }

    /// The key of the object of `topic`'s Kafka `partition` under directory
    /// `encoded` whose first record has offset `start`.
    pub fn object_key(&self, topic: &str, encoded: &str, partition: i32, start: i64) -> String {
        self.key(topic, encoded, partition, start, &self.extension)
    }

    /// The key of the keys or headers object beside that object: the same
    /// name with `suffix` (`.keys.json`, ...) for the value's extension.
    pub fn sidecar_key(
        &self,
        topic: &str,
        encoded: &str,
        partition: i32,
        start: i64,
        suffix: &str,
    ) -> String {
        self.key(topic, encoded, partition, start, suffix)
    }

    fn key(&self, topic: &str, encoded: &str, partition: i32, start: i64, ext: &str) -> String {
        let (d, f) = (&self.directory_delim, &self.file_delim);
        let name = format!("{topic}{f}{partition}{f}{start:0width$}{ext}", width = self.pad_width);
        let dir = format!("{topic}{d}{encoded}");
        if self.topics_dir.is_empty() {
            format!("{dir}{d}{name}")
        } else {
            format!("{}{d}{dir}{d}{name}", self.topics_dir)
        }
    }

    /// The key of the checkpoint of one Kafka partition of `connector`. It
    /// sits under `_hydrate/`, a directory name Hive-style readers skip.
    pub fn checkpoint_key(&self, connector: &str, topic: &str, partition: i32) -> String {
        let f = &self.file_delim;
        let name = format!("_hydrate/{connector}/{topic}{f}{partition}.json");
        if self.topics_dir.is_empty() { name } else { format!("{}/{name}", self.topics_dir) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naming(topics_dir: &str, delim: &str, pad: usize) -> Naming {
        Naming {
            topics_dir: topics_dir.into(),
            directory_delim: delim.into(),
            file_delim: "+".into(),
            pad_width: pad,
            extension: ".json".into(),
        }
    }

    #[test]
    fn names_match_confluents() {
        let n = naming("topics", "/", 10);
        assert_eq!(
            n.object_key("pagila.public.address", "partition=0", 0, 600),
            "topics/pagila.public.address/partition=0/pagila.public.address+0+0000000600.json"
        );
        assert_eq!(
            naming("t", "/", 10).object_key("pagila.query", "country=United States", 0, 3),
            "t/pagila.query/country=United States/pagila.query+0+0000000003.json"
        );
        assert_eq!(
            naming("", "/", 3).object_key("a", "partition=1", 1, 12345),
            "a/partition=1/a+1+12345.json"
        );
        assert_eq!(
            n.sidecar_key("pagila.public.address", "partition=0", 0, 600, ".keys.json"),
            "topics/pagila.public.address/partition=0/pagila.public.address+0+0000000600.keys.json"
        );
        let parquet = Naming { extension: ".snappy.parquet".into(), ..n.clone() };
        assert_eq!(parquet.object_key("t", "g=1", 2, 7), "topics/t/g=1/t+2+0000000007.snappy.parquet");
        assert_eq!(
            parquet.sidecar_key("t", "g=1", 2, 7, ".headers.json.gz"),
            "topics/t/g=1/t+2+0000000007.headers.json.gz"
        );
        assert_eq!(
            n.checkpoint_key("s3", "pagila.public.city", 0),
            "topics/_hydrate/s3/pagila.public.city+0.json"
        );
    }
}

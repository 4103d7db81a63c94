//! Kafka's predicates: `TopicNameMatches`, `HasHeaderKey`, `RecordIsTombstone`.

use regex::Regex;

use super::Record;
use crate::connect::Predicate;

/// A predicate ready to test records.
#[derive(Debug)]
pub(crate) enum CompiledPredicate {
    /// Anchored at both ends: Java's `Matcher.matches` needs the whole name.
    TopicNameMatches(Regex),
    HasHeaderKey(String),
    RecordIsTombstone,
}

impl CompiledPredicate {
    pub(crate) fn new(predicate: &Predicate) -> Result<Self, String> {
        Ok(match predicate {
            Predicate::TopicNameMatches { pattern } => Self::TopicNameMatches(
                Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|e| format!("pattern '{pattern}' does not compile: {e}"))?,
            ),
            Predicate::HasHeaderKey { name } => Self::HasHeaderKey(name.clone()),
            Predicate::RecordIsTombstone => Self::RecordIsTombstone,
        })
    }

    pub(crate) fn test(&self, record: &Record) -> bool {
        match self {
            Self::TopicNameMatches(regex) => regex.is_match(&record.topic),
            Self::HasHeaderKey(name) => record.last_header(name).is_some(),
            Self::RecordIsTombstone => record.is_tombstone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Header, SchemaAndValue, Value};

    fn compile(p: Predicate) -> CompiledPredicate {
        CompiledPredicate::new(&p).unwrap()
    }

    #[test]
    fn topic_name_matches_the_whole_name() {
        let p = compile(Predicate::TopicNameMatches { pattern: "pagila\\..*address".into() });
        assert!(p.test(&Record::new("pagila.public.alt.address", SchemaAndValue::NULL)));
        assert!(!p.test(&Record::new("pagila.public.alt.address2", SchemaAndValue::NULL)));
        assert!(!p.test(&Record::new("x.pagila.address", SchemaAndValue::NULL)));
        // An alternation must not escape the anchors.
        let p = compile(Predicate::TopicNameMatches { pattern: "a|b".into() });
        assert!(p.test(&Record::new("b", SchemaAndValue::NULL)));
        assert!(!p.test(&Record::new("ab", SchemaAndValue::NULL)));
        assert!(CompiledPredicate::new(&Predicate::TopicNameMatches { pattern: "(".into() }).is_err());
    }

    #[test]
    fn header_keys_and_tombstones() {
        let mut r = Record::new("t", SchemaAndValue::schemaless(Value::Int32(1)));
        let has = compile(Predicate::HasHeaderKey { name: "trace".into() });
        let tomb = compile(Predicate::RecordIsTombstone);
        assert!(!has.test(&r));
        assert!(!tomb.test(&r));
        r.headers.push(Header { key: "trace".into(), value: None });
        assert!(has.test(&r), "a header with a null value still exists");
        r.value = SchemaAndValue::NULL;
        assert!(tomb.test(&r));
    }
}

//! `RegexRouter`: renames topics that match a regex (the whole name), with
//! Java's replacement syntax (`$1`, `${name}`, `\$`).

use regex::{Captures, Regex};

use super::Record;

#[derive(Debug)]
pub(crate) struct RegexRouter {
    /// Anchored at both ends, as Java's `Matcher.matches`.
    regex: Regex,
    replacement: String,
}

impl RegexRouter {
    pub(crate) fn new(regex: &str, replacement: &str) -> Result<Self, String> {
        let regex = Regex::new(&format!("^(?:{regex})$"))
            .map_err(|e| format!("regex '{regex}' does not compile: {e}"))?;
        // Expanding against a match of nothing catches syntax errors at start-up.
        let t = Self { regex, replacement: replacement.to_owned() };
        t.check_replacement()?;
        Ok(t)
    }

    pub(crate) fn apply(&self, mut record: Record) -> Result<Record, String> {
        if let Some(caps) = self.regex.captures(&record.topic) {
            record.topic = expand(&self.replacement, &self.regex, Some(&caps))?;
        }
        Ok(record)
    }

    fn check_replacement(&self) -> Result<(), String> {
        expand(&self.replacement, &self.regex, None).map(|_| ())
    }
}

/// Java's `Matcher.appendReplacement` syntax; with `caps` `None` only the
/// syntax and group references are checked.
fn expand(replacement: &str, regex: &Regex, caps: Option<&Captures<'_>>) -> Result<String, String> {
    let group = |index: usize| caps.and_then(|c| c.get(index)).map_or("", |m| m.as_str());
    let group_count = regex.captures_len() - 1;
    let mut out = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().ok_or("character to be escaped is missing")?),
            '$' => match chars.peek() {
                Some('{') => {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    let index = regex
                        .capture_names()
                        .position(|n| n == Some(name.as_str()))
                        .ok_or_else(|| format!("No group with name {{{name}}}"))?;
                    out.push_str(group(index));
                }
                Some(d) if d.is_ascii_digit() => {
                    // Java takes more digits only while the group number stays valid.
                    let mut index = 0usize;
                    let mut first = true;
                    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                        let next = index * 10 + d as usize;
                        if !first && next > group_count {
                            break;
                        }
                        index = next;
                        first = false;
                        chars.next();
                    }
                    if index > group_count {
                        return Err(format!("No group {index}"));
                    }
                    out.push_str(group(index));
                }
                _ => return Err("Illegal group reference".into()),
            },
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SchemaAndValue;

    fn route(regex: &str, replacement: &str, topic: &str) -> String {
        RegexRouter::new(regex, replacement)
            .unwrap()
            .apply(Record::new(topic, SchemaAndValue::NULL))
            .unwrap()
            .topic
    }

    #[test]
    fn whole_name_matches_are_rewritten_java_style() {
        assert_eq!(route("pagila\\.public\\.(.*)", "lake.$1", "pagila.public.address"), "lake.address");
        assert_eq!(
            route("pagila\\.public\\.(.*)", "lake.$1", "x.pagila.public.address"),
            "x.pagila.public.address"
        );
        assert_eq!(route("(?<t>.*)-raw", "${t}_\\$1", "orders-raw"), "orders_$1");
        // `$12` is group 1 then '2' when there is no group 12.
        assert_eq!(route("(a)(b)", "$12", "ab"), "a2");
        assert!(RegexRouter::new("(a)", "$2").unwrap_err().contains("No group 2"));
        assert!(RegexRouter::new("(", "x").is_err());
    }
}

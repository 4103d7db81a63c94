//! Splitting a connector into tasks, as Kafka Connect's connectors do in
//! `taskConfigs(maxTasks)`: a source's tables grouped into at most
//! `tasks.max` tasks (a table never in two), a sink's topic-partitions spread
//! over at most `tasks.max` tasks.

use std::collections::BTreeMap;

use crate::model::{Kind, TaskConfig};

/// Partition counts of the Kafka topics that exist now.
pub type TopicPartitions = BTreeMap<String, u32>;

/// The tasks of a connector with `config`; an error names what is wrong.
pub fn plan_tasks(
    kind: Kind,
    config: &BTreeMap<String, String>,
    topics: &TopicPartitions,
) -> Result<Vec<TaskConfig>, String> {
    let tasks_max = match config.get("tasks.max").map(|v| v.trim()) {
        None => 1,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("tasks.max: `{v}` is not a positive integer"))?,
    };
    let resources = match kind {
        Kind::Source => source_resources(config),
        Kind::Sink => sink_resources(config, topics)?,
    };
    Ok(split(resources, tasks_max))
}

/// Tables named in the config; the query marker in query mode; `*` when the
/// task itself must discover tables (patterns and exclusions), so one task
/// owns them all.
fn source_resources(config: &BTreeMap<String, String>) -> Vec<String> {
    if config.get("query").is_some_and(|q| !q.trim().is_empty()) {
        return vec!["query".to_owned()];
    }
    let listed = ["table.include.list", "table.whitelist"]
        .iter()
        .find_map(|key| config.get(*key).filter(|v| !v.trim().is_empty()));
    match listed {
        Some(list) => {
            let mut tables: Vec<String> =
                list.split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect();
            tables.dedup();
            tables
        }
        None => vec!["*".to_owned()],
    }
}

/// `topic-partition` names of the subscribed topics that exist now.
fn sink_resources(
    config: &BTreeMap<String, String>,
    topics: &TopicPartitions,
) -> Result<Vec<String>, String> {
    let wanted: Vec<&String> =
        if let Some(pattern) = config.get("topics.regex").filter(|v| !v.trim().is_empty()) {
            // Kafka matches the whole topic name.
            let regex = regex::Regex::new(&format!("^(?:{})$", pattern.trim()))
                .map_err(|e| format!("topics.regex: {e}"))?;
            topics.keys().filter(|t| !t.starts_with("__") && regex.is_match(t)).collect()
        } else {
            let listed: Vec<&str> = config
                .get("topics")
                .map(|v| v.split(',').map(str::trim).filter(|t| !t.is_empty()).collect())
                .unwrap_or_default();
            topics.keys().filter(|t| listed.contains(&t.as_str())).collect()
        };
    Ok(wanted.into_iter().flat_map(|topic| (0..topics[topic]).map(move |p| format!("{topic}-{p}"))).collect())
}

/// Round-robin into at most `tasks_max` groups, none empty.
fn split(resources: Vec<String>, tasks_max: usize) -> Vec<TaskConfig> {
    let count = tasks_max.min(resources.len());
    let mut tasks: Vec<TaskConfig> =
        (0..count).map(|t| TaskConfig { task: t as u32, resources: Vec::new() }).collect();
    for (i, resource) in resources.into_iter().enumerate() {
        tasks[i % count].resources.push(resource);
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn source_tables_are_grouped_never_split() {
        let c = config(&[("tasks.max", "2"), ("table.whitelist", "address, city, country")]);
        let tasks = plan_tasks(Kind::Source, &c, &TopicPartitions::new()).unwrap();
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[0].resources, ["address", "country"]);
        assert_eq!(tasks[1].resources, ["city"]);
        let one =
            plan_tasks(Kind::Source, &config(&[("table.whitelist", "address")]), &TopicPartitions::new())
                .unwrap();
        assert_eq!(one.len(), 1, "tasks.max defaults to 1");
        let query = plan_tasks(
            Kind::Source,
            &config(&[("tasks.max", "4"), ("query", "SELECT 1")]),
            &TopicPartitions::new(),
        )
        .unwrap();
        assert_eq!(query.len(), 1);
    }

    #[test]
    fn sink_regex_matches_whole_names_and_spreads_partitions() {
        let topics: TopicPartitions = [
            ("pagila.public.address".to_owned(), 2),
            ("pagila.public.alt.address".to_owned(), 1),
            ("xpagila.public.city".to_owned(), 1),
            ("__consumer_offsets".to_owned(), 50),
        ]
        .into();
        let c = config(&[("tasks.max", "2"), ("topics.regex", "pagila.public.(.*)")]);
        let tasks = plan_tasks(Kind::Sink, &c, &topics).unwrap();
        let all: Vec<&String> = tasks.iter().flat_map(|t| &t.resources).collect();
        assert_eq!(all.len(), 3);
        assert!(!all.iter().any(|r| r.starts_with("xpagila")));
        let listed =
            plan_tasks(Kind::Sink, &config(&[("topics", "pagila.public.alt.address,missing")]), &topics)
                .unwrap();
        assert_eq!(listed[0].resources, ["pagila.public.alt.address-0"]);
        assert!(plan_tasks(Kind::Sink, &config(&[("topics", "missing")]), &topics).unwrap().is_empty());
        assert!(plan_tasks(Kind::Sink, &config(&[("tasks.max", "0"), ("topics", "a")]), &topics).is_err());
    }
}

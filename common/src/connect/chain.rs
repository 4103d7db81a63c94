//! The `transforms` and `predicates` alias lists and every key under
//! `transforms.<alias>.` and `predicates.<alias>.`.

use std::collections::BTreeMap;

use super::def::{ConfigKeyDef, PluginDef, PluginKind};
use super::plugins::{self, common};
use super::suggest::did_you_mean;
use super::transforms::{self, PredicateSpec, TransformSpec};
use super::validate::Described;
use super::values::{Problems, Values};

/// Checks the transform chain and builds it; `None` when it has problems.
pub(crate) fn analyze(
    config: &BTreeMap<String, String>,
    connector: &Values,
    is_secret: &dyn Fn(&str) -> bool,
    problems: &mut Problems,
    described: &mut Described,
) -> Option<Vec<TransformSpec>> {
    let predicate_aliases = aliases(connector, "predicates", problems);
    let transform_aliases = aliases(connector, "transforms", problems);

    let mut predicates = BTreeMap::new();
    let mut complete = true;
    for alias in &predicate_aliases {
        let prefix = format!("predicates.{alias}.");
        let Some((plugin, values)) = alias_values(
            config,
            &prefix,
            alias,
            PluginKind::Predicate,
            &predicate_aliases,
            is_secret,
            problems,
            described,
        ) else {
            complete = false;
            continue;
        };
        match transforms::build_predicate(plugin, &values) {
            Some(predicate) => {
                predicates.insert(alias.clone(), PredicateSpec { alias: alias.clone(), predicate });
            }
            None => complete = false,
        }
    }

    let mut chain = Vec::new();
    for alias in &transform_aliases {
        let prefix = format!("transforms.{alias}.");
        let Some((plugin, values)) = alias_values(
            config,
            &prefix,
            alias,
            PluginKind::Transformation,
            &transform_aliases,
            is_secret,
            problems,
            described,
        ) else {
            complete = false;
            continue;
        };
        let predicate = match values.non_empty("predicate") {
            Some(name) => match predicates.get(&name) {
                Some(spec) => Some(spec.clone()),
                None => {
                    if !predicate_aliases.contains(&name) {
                        problems.key(
                            values.key("predicate"),
                            format!(
                                "names predicate '{name}', which is not declared in predicates{}",
                                did_you_mean(&name, predicate_aliases.iter().map(String::as_str))
                            ),
                        );
                    }
                    complete = false;
                    None
                }
            },
            None => None,
        };
        let negate = values.flag("negate");
        match (transforms::build_transform(plugin, alias, &values, problems), negate) {
            (Some(transform), Some(negate)) => {
                chain.push(TransformSpec { alias: alias.clone(), transform, predicate, negate })
            }
            _ => complete = false,
        }
    }

    // Keys under an alias that is not declared.
    for (family, declared) in [("transforms", &transform_aliases), ("predicates", &predicate_aliases)] {
        let family_prefix = format!("{family}.");
        let strays: Vec<&String> =
            config.keys().filter(|k| k.starts_with(&family_prefix) && !described.contains_key(*k)).collect();
        for key in strays {
            let rest = &key[family_prefix.len()..];
            let alias = rest.split('.').next().unwrap_or(rest);
            problems.key(
                key.clone(),
                format!(
                    "'{alias}' is not listed in {family}{}",
                    did_you_mean(alias, declared.iter().map(String::as_str))
                ),
            );
            described.insert(key.clone(), (None, false));
            complete = false;
        }
    }
    complete.then_some(chain)
}

/// The aliases of a list key, reporting duplicates.
fn aliases(connector: &Values, key: &str, problems: &mut Problems) -> Vec<String> {
    let list = connector.list(key).unwrap_or_default();
    let mut seen = Vec::new();
    for alias in list {
        if seen.contains(&alias) {
            problems.key(key, format!("alias '{alias}' is listed twice"));
        } else {
            seen.push(alias);
        }
    }
    seen
}

/// Resolves an alias's `type` and parses its keys. Every given key under
/// `prefix` (longest declared alias wins, since aliases may contain dots)
/// ends up in `described`.
#[allow(clippy::too_many_arguments)]
fn alias_values<'a>(
    config: &'a BTreeMap<String, String>,
    prefix: &str,
    alias: &str,
    kind: PluginKind,
    declared: &[String],
    is_secret: &dyn Fn(&str) -> bool,
    problems: &mut Problems,
    described: &mut Described,
) -> Option<(&'static PluginDef, Values<'a>)> {
    let family = if kind == PluginKind::Predicate { "predicates" } else { "transforms" };
    let what = if kind == PluginKind::Predicate { "predicate" } else { "transform" };
    let alias_keys: &'static [ConfigKeyDef] = if kind == PluginKind::Predicate {
        common::PREDICATE_ALIAS_KEYS
    } else {
        common::TRANSFORM_ALIAS_KEYS
    };
    let own_keys: Vec<&String> = config
        .keys()
        .filter(|k| k.starts_with(prefix))
        .filter(|k| {
            // A longer declared alias sharing this prefix owns the key.
            !declared
                .iter()
                .any(|other| other.len() > alias.len() && k.starts_with(&format!("{family}.{other}.")))
        })
        .collect();
    let type_key = format!("{prefix}type");
    let class = config.get(&type_key).map(|c| c.trim()).unwrap_or("");
    let plugin = plugins::find(class, &[kind]);
    match (class.is_empty(), plugin) {
        (true, _) => problems.key(
            &type_key,
            format!("{what} '{alias}' needs a type, one of: {}", plugins::class_names(&[kind])),
        ),
        (false, None) => problems.key(
            &type_key,
            format!("unknown {what} class {class}; Hydrate supports: {}", plugins::class_names(&[kind])),
        ),
        _ => {}
    }
    let Some(plugin) = plugin else {
        // Without a known type the other keys cannot be judged.
        for key in own_keys {
            described.insert(
                key.clone(),
                (alias_keys.iter().find(|d| format!("{prefix}{}", d.name) == *key), false),
            );
        }
        return None;
    };
    let defs: Vec<&'static ConfigKeyDef> = alias_keys.iter().chain(plugin.keys).collect();
    let values = Values::parse(config, prefix, defs.clone(), is_secret, problems);
    for def in &defs {
        described.insert(format!("{prefix}{}", def.name), (Some(*def), def.ignored));
    }
    for key in own_keys {
        if described.contains_key(key) {
            continue;
        }
        let sub = &key[prefix.len()..];
        problems.key(
            key.clone(),
            format!(
                "unknown key of {} '{alias}' ({}){}",
                what,
                plugin.short_name(),
                did_you_mean(sub, defs.iter().map(|d| d.name))
            ),
        );
        described.insert(key.clone(), (None, false));
    }
    Some((plugin, values))
}

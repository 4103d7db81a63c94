//! Reading Kafka Connect JSON files for `apply` and `validate`: which
//! connector each file is for, and a local parse so that a typo is reported
//! with its file, line and column before anything is sent.

use std::path::{Path, PathBuf};

use hydrate_common::connect::{ConnectorInput, parse_connector_json, validate_connector_name};

use crate::error::{CliError, Result};

/// One connector configuration to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The connector's name.
    pub name: String,
    /// The file's text, sent as is so the server's line/column errors match
    /// the file.
    pub json: String,
}

/// Where a connector's name comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameSource<'a> {
    /// A single file: `--name`, else the file's own `name`.
    File {
        /// `--name`, if given.
        flag: Option<&'a str>,
    },
    /// A file in a directory: `NAME.json` holds connector NAME.
    Directory {
        /// The file name without `.json`.
        stem: &'a str,
    },
}

/// Reads what `apply -f PATH` names: one file, or every `*.json` file of a
/// directory (not recursive, sorted, dotfiles skipped). Every file is checked
/// before any is returned, and all problems are reported together.
pub fn load_apply(path: &Path, name_flag: Option<&str>) -> Result<Vec<ConfigFile>> {
    let metadata =
        std::fs::metadata(path).map_err(|source| CliError::Read { path: path.to_owned(), source })?;
    if !metadata.is_dir() {
        return Ok(vec![load_file(path, NameSource::File { flag: name_flag })?]);
    }
    if name_flag.is_some() {
        return Err(CliError::Usage(
            "--name applies to a single file; in a directory, NAME.json holds connector NAME".into(),
        ));
    }
    let files = json_files_in(path)?;
    if files.is_empty() {
        return Err(CliError::Input {
            path: path.to_owned(),
            message: "no *.json files in this directory".into(),
        });
    }
    let total = files.len();
    let (loaded, failures): (Vec<_>, Vec<_>) = files
        .iter()
        .map(|file| {
            // json_files_in only returns names ending in ".json".
            let stem = file_stem(file).unwrap_or_default();
            load_file(file, NameSource::Directory { stem: &stem })
        })
        .partition(Result::is_ok);
    if failures.is_empty() {
        Ok(loaded.into_iter().filter_map(Result::ok).collect())
    } else {
        Err(CliError::Partial { total, failures: failures.into_iter().filter_map(Result::err).collect() })
    }
}

/// Reads a file for `validate`, checking it parses.
pub fn load_validate(path: &Path) -> Result<String> {
    let json = read(path)?;
    parse(path, &json)?;
    Ok(json)
}

fn load_file(path: &Path, source: NameSource<'_>) -> Result<ConfigFile> {
    let json = read(path)?;
    let input = parse(path, &json)?;
    let name = connector_name(source, &input)
        .map_err(|message| CliError::Input { path: path.to_owned(), message })?;
    Ok(ConfigFile { path: path.to_owned(), name, json })
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read { path: path.to_owned(), source })
}

fn parse(path: &Path, json: &str) -> Result<ConnectorInput> {
    parse_connector_json(json).map_err(|e| CliError::Input { path: path.to_owned(), message: e.to_string() })
}

/// Decides the connector's name; the file may name it too, and then must
/// agree (the server would refuse a mismatch anyway).
pub fn connector_name(source: NameSource<'_>, input: &ConnectorInput) -> Result<String, String> {
    let in_file = input.name.as_deref().or(input.config.get("name").map(String::as_str));
    let (name, from) = match (source, in_file) {
        (NameSource::Directory { stem }, _) => (stem, "the file name"),
        (NameSource::File { flag: Some(flag) }, _) => (flag, "--name"),
        (NameSource::File { flag: None }, Some(own)) => (own, "the file"),
        (NameSource::File { flag: None }, None) => {
            return Err("the file names no connector: add a \"name\" key or pass --name NAME".into());
        }
    };
    if let Some(own) = in_file
        && own != name
    {
        return Err(format!("the file names connector `{own}` but {from} says `{name}`"));
    }
    validate_connector_name(name).map_err(|e| format!("{from}: {e}"))?;
    Ok(name.to_owned())
}

/// The `*.json` files directly in `dir`, sorted by name.
pub fn json_files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let read_error = |source| CliError::Read { path: dir.to_owned(), source };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let path = entry.path();
        let visible = !entry.file_name().to_string_lossy().starts_with('.');
        if visible && file_stem(&path).is_some() && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// `pg-source` for `dir/pg-source.json`; `None` unless the name ends in
/// `.json`.
pub fn file_stem(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    name.strip_suffix(".json").filter(|stem| !stem.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn input(outer: Option<&str>, inner: Option<&str>) -> ConnectorInput {
        let mut config = BTreeMap::from([("tasks.max".to_owned(), "1".to_owned())]);
        if let Some(inner) = inner {
            config.insert("name".into(), inner.into());
        }
        ConnectorInput { name: outer.map(str::to_owned), config }
    }

    #[test]
    fn directory_files_are_named_by_their_stem() {
        let dir = NameSource::Directory { stem: "pg-source" };
        assert_eq!(connector_name(dir, &input(None, None)).unwrap(), "pg-source");
        assert_eq!(connector_name(dir, &input(Some("pg-source"), None)).unwrap(), "pg-source");
        let err = connector_name(dir, &input(None, Some("other"))).unwrap_err();
        assert_eq!(err, "the file names connector `other` but the file name says `pg-source`");
    }

    #[test]
    fn single_files_use_the_flag_or_their_own_name() {
        let flag = NameSource::File { flag: Some("pg") };
        assert_eq!(connector_name(flag, &input(None, None)).unwrap(), "pg");
        assert!(connector_name(flag, &input(Some("x"), None)).is_err());
        let none = NameSource::File { flag: None };
        assert_eq!(connector_name(none, &input(Some("a"), None)).unwrap(), "a");
        assert_eq!(connector_name(none, &input(None, Some("b"))).unwrap(), "b");
        assert!(connector_name(none, &input(None, None)).unwrap_err().contains("--name"));
    }

    #[test]
    fn names_are_checked_locally() {
        let dir = NameSource::Directory { stem: "my connector" };
        let err = connector_name(dir, &input(None, None)).unwrap_err();
        assert!(err.starts_with("the file name: a connector name allows only"), "{err}");
    }

    #[test]
    fn stems_need_a_json_suffix() {
        assert_eq!(file_stem(Path::new("d/pg.source.json")).as_deref(), Some("pg.source"));
        assert_eq!(file_stem(Path::new("d/pg.JSON")), None);
        assert_eq!(file_stem(Path::new("d/.json")), None);
        assert_eq!(file_stem(Path::new("d/readme.md")), None);
    }
}

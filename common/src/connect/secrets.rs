//! Secrets: a type that never prints its value, which keys hold secrets,
//! redaction for API responses, and config-provider references
//! (`${env:NAME}`, `${file:/path:key}`) resolved where a task runs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::def::{ConfigType, PluginDef, PluginKind};
use super::plugins;

/// What redacted values read as.
pub const HIDDEN: &str = "[hidden]";

/// A secret value. Its `Debug` and `Display` print `[hidden]`, so it can sit
/// in any struct that is logged; `expose` is the only way to the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send it (a database
    /// login, an S3 signature). Never log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(HIDDEN)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(HIDDEN)
    }
}

/// True when `key` holds a secret: a PASSWORD key of the plugin (or of the
/// common connector keys), or a key whose name says so wherever it appears
/// (`sasl.jaas.config`, `*password`, `*secret`, `*.basic.auth.user.info`).
pub fn is_secret_key(plugin: Option<&PluginDef>, key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    let by_name = lower.ends_with("sasl.jaas.config")
        || lower.ends_with("password")
        || lower.ends_with("secret")
        || lower.ends_with("basic.auth.user.info");
    let by_type =
        |p: &PluginDef| p.config_keys().iter().any(|k| k.name == key && k.ty == ConfigType::Password);
    by_name || plugin.is_some_and(by_type)
}

/// The config with every secret value replaced by `[hidden]`, except values
/// that are only a config-provider reference (the reference is not the
/// secret). Passwords inside URLs are hidden too. The plugin is found from
/// `connector.class`; unknown classes still get name-based redaction.
pub fn redact(config: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let plugin = config
        .get("connector.class")
        .and_then(|class| plugins::find(class.trim(), &[PluginKind::Source, PluginKind::Sink]));
    config.iter().map(|(key, value)| (key.clone(), redact_value(plugin, key, value))).collect()
}

/// One value as `redact` shows it.
pub(crate) fn redact_value(plugin: Option<&PluginDef>, key: &str, value: &str) -> String {
    if is_pure_reference(value) {
        value.to_owned()
    } else if is_secret_key(plugin, key) {
        HIDDEN.to_owned()
    } else {
        mask_url_password(value).unwrap_or_else(|| value.to_owned())
    }
}

/// Hides the password of `scheme://user:password@host` and of `password=`
/// query parameters; `None` when there is none.
fn mask_url_password(value: &str) -> Option<String> {
    let mut out = value.to_owned();
    let mut changed = false;
    if let Some(start) = out.find("://").map(|i| i + 3) {
        let authority_end = out[start..].find(['/', '?', '#']).map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..authority_end].rfind('@').map(|i| start + i)
            && let Some(colon) = out[start..at].find(':').map(|i| start + i)
        {
            out.replace_range(colon + 1..at, HIDDEN);
            changed = true;
        }
    }
    for param in ["password=", "sslpassword="] {
        let mut from = 0;
        while let Some(found) = out[from..].find(param).map(|i| from + i) {
            let boundary = found == 0 || matches!(out.as_bytes()[found - 1], b'?' | b'&' | b';');
            let value_start = found + param.len();
            let value_end = out[value_start..].find(['&', ';', '#']).map_or(out.len(), |i| value_start + i);
            if boundary && !is_pure_reference(&out[value_start..value_end]) {
                out.replace_range(value_start..value_end, HIDDEN);
                changed = true;
            }
            from = value_start.min(out.len());
        }
    }
    changed.then_some(out)
}

/// A config-provider reference: `${provider:path:key}` or `${provider:key}`,
/// Kafka's `ConfigTransformer` syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `env` or `file` (the providers Hydrate has).
    pub provider: String,
    /// The file for `file`; none for `env`.
    pub path: Option<String>,
    /// The variable or the properties key.
    pub key: String,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "${{{}:{}:{}}}", self.provider, path, self.key),
            None => write!(f, "${{{}:{}}}", self.provider, self.key),
        }
    }
}

/// The references in a value, with their byte ranges. Like Kafka, text in
/// `${...}` without a colon (e.g. `${topic}`) is not a reference.
pub fn find_references(value: &str) -> Vec<(std::ops::Range<usize>, Reference)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = value[from..].find("${").map(|i| from + i) {
        let Some(end) = value[start..].find('}').map(|i| start + i) else {
            break;
        };
        let inner = &value[start + 2..end];
        if let Some((provider, rest)) = inner.split_once(':') {
            let (path, key) = match rest.split_once(':') {
                Some((path, key)) => (Some(path.to_owned()), key),
                None => (None, rest),
            };
            found.push((
                start..end + 1,
                Reference { provider: provider.to_owned(), path, key: key.to_owned() },
            ));
        }
        from = end + 1;
    }
    found
}

/// True when the whole value (trimmed) is exactly one reference.
pub fn is_pure_reference(value: &str) -> bool {
    let trimmed = value.trim();
    matches!(find_references(trimmed).as_slice(), [(range, _)] if range.len() == trimmed.len())
}

/// Checks a reference's provider and shape, without resolving it.
pub(crate) fn check_reference(reference: &Reference) -> Result<(), String> {
    match (reference.provider.as_str(), &reference.path) {
        ("env", None) if !reference.key.is_empty() => Ok(()),
        ("env", _) => Err(format!("{reference}: env references take a variable name only, as ${{env:NAME}}")),
        ("file", Some(path)) if !path.is_empty() && !reference.key.is_empty() => Ok(()),
        ("file", _) => {
            Err(format!("{reference}: file references need a path and a key, as ${{file:/path:key}}"))
        }
        (other, _) => {
            Err(format!("{reference}: unknown config provider '{other}' (Hydrate has env and file)"))
        }
    }
}

/// Why a reference could not be resolved. Messages name the key and the
/// reference, never a value.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The reference is malformed or names an unknown provider.
    #[error("{key}: {reason}")]
    Invalid {
        /// The config key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The environment variable is not set.
    #[error("{key}: {reference}: environment variable {name} is not set")]
    MissingEnv {
        /// The config key.
        key: String,
        /// The reference as written.
        reference: String,
        /// The variable.
        name: String,
    },
    /// The properties file could not be read.
    #[error("{key}: {reference}: cannot read {path}: {source}")]
    File {
        /// The config key.
        key: String,
        /// The reference as written.
        reference: String,
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The properties file has no such key.
    #[error("{key}: {reference}: {path} has no key '{file_key}'")]
    MissingFileKey {
        /// The config key.
        key: String,
        /// The reference as written.
        reference: String,
        /// The file.
        path: String,
        /// The key looked for.
        file_key: String,
    },
}

/// Where references are looked up: the process environment and files. The
/// worker uses [`SystemResolver`]; tests use a fake.
pub trait ReferenceResolver {
    /// The environment variable, if set.
    fn env(&self, name: &str) -> Option<String>;
    /// The whole content of a file.
    fn read_file(&self, path: &Path) -> std::io::Result<String>;
}

/// Resolves against the real environment and file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl ReferenceResolver for SystemResolver {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// The config with every reference replaced by its value, wherever in a
/// value it appears (as Kafka's `ConfigTransformer` does). Each file is read
/// once.
pub fn resolve_references(
    config: &BTreeMap<String, String>,
    resolver: &dyn ReferenceResolver,
) -> Result<BTreeMap<String, String>, ResolveError> {
    let mut files: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut resolved = BTreeMap::new();
    for (key, value) in config {
        let mut out = String::with_capacity(value.len());
        let mut last = 0;
        for (range, reference) in find_references(value) {
            check_reference(&reference)
                .map_err(|reason| ResolveError::Invalid { key: key.clone(), reason })?;
            out.push_str(&value[last..range.start]);
            out.push_str(&lookup(key, &reference, resolver, &mut files)?);
            last = range.end;
        }
        out.push_str(&value[last..]);
        resolved.insert(key.clone(), out);
    }
    Ok(resolved)
}

fn lookup(
    key: &str,
    reference: &Reference,
    resolver: &dyn ReferenceResolver,
    files: &mut BTreeMap<String, BTreeMap<String, String>>,
) -> Result<String, ResolveError> {
    let Some(path) = &reference.path else {
        return resolver.env(&reference.key).ok_or_else(|| ResolveError::MissingEnv {
            key: key.to_owned(),
            reference: reference.to_string(),
            name: reference.key.clone(),
        });
    };
    if !files.contains_key(path) {
        let text = resolver.read_file(Path::new(path)).map_err(|source| ResolveError::File {
            key: key.to_owned(),
            reference: reference.to_string(),
            path: path.clone(),
            source,
        })?;
        files.insert(path.clone(), parse_properties(&text));
    }
    files.get(path).and_then(|props| props.get(&reference.key)).cloned().ok_or_else(|| {
        ResolveError::MissingFileKey {
            key: key.to_owned(),
            reference: reference.to_string(),
            path: path.clone(),
            file_key: reference.key.clone(),
        }
    })
}

/// Parses a Java `.properties` file: `#`/`!` comments, `=`, `:` or blank as
/// separator, backslash line continuations and escapes.
pub(crate) fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut props = BTreeMap::new();
    let mut logical = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!')) {
            continue;
        }
        // An odd number of trailing backslashes continues the line.
        let trailing = line.chars().rev().take_while(|&c| c == '\\').count();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continue;
        }
        logical.push_str(line);
        let (k, v) = split_property(&logical);
        props.insert(unescape(k), unescape(v));
        logical.clear();
    }
    if !logical.is_empty() {
        let (k, v) = split_property(&logical);
        props.insert(unescape(k), unescape(v));
    }
    props
}

fn split_property(line: &str) -> (&str, &str) {
    const BLANK: [char; 3] = [' ', '\t', '\x0c'];
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' => return (&line[..i], line[i + 1..].trim_start_matches(BLANK)),
            ' ' | '\t' | '\x0c' => {
                // `key = value`: blanks, then at most one separator.
                let rest = line[i..].trim_start_matches(BLANK);
                let rest = rest.strip_prefix(['=', ':']).unwrap_or(rest);
                return (&line[..i], rest.trim_start_matches(BLANK));
            }
            _ => {}
        }
    }
    (line, "")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded) => out.push(decoded),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;
    impl ReferenceResolver for Fake {
        fn env(&self, name: &str) -> Option<String> {
            (name == "PG_PASSWORD").then(|| "from-env".to_owned())
        }
        fn read_file(&self, path: &Path) -> std::io::Result<String> {
            match path.to_str() {
                Some("/etc/hydrate/db.properties") => {
                    Ok("# db\npassword = from-file\nuser:hydrate\nlong=a\\\n  b\n".into())
                }
                _ => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")),
            }
        }
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hydrate-secret");
        assert_eq!(format!("{s} {s:?}"), "[hidden] [hidden]");
        assert_eq!(s.expose(), "hydrate-secret");
    }

    #[test]
    fn secret_keys_by_type_and_name() {
        let jdbc = plugins::find("JdbcSourceConnector", &[PluginKind::Source]);
        let s3 = plugins::find("S3SinkConnector", &[PluginKind::Sink]);
        assert!(is_secret_key(jdbc, "connection.password"));
        assert!(is_secret_key(s3, "aws.secret.access.key"));
        assert!(is_secret_key(s3, "s3.sse.customer.key"));
        assert!(is_secret_key(None, "producer.override.sasl.jaas.config"));
        assert!(is_secret_key(None, "value.converter.basic.auth.user.info"));
        assert!(is_secret_key(None, "client.secret"));
        assert!(!is_secret_key(jdbc, "connection.user"));
        assert!(!is_secret_key(s3, "aws.access.key.id"));
    }

    #[test]
    fn redacts_secrets_but_shows_references() {
        let config = map(&[
            ("connector.class", "io.confluent.connect.jdbc.JdbcSourceConnector"),
            ("connection.password", "hydrate-secret"),
            ("connection.url", "postgres://u:hydrate-secret@h/db?sslmode=require&password=hydrate-secret"),
            ("connection.user", "hydrate"),
        ]);
        let out = redact(&config);
        assert_eq!(out["connection.password"], "[hidden]");
        assert_eq!(out["connection.url"], "postgres://u:[hidden]@h/db?sslmode=require&password=[hidden]");
        assert_eq!(out["connection.user"], "hydrate");
        let refs = map(&[
            ("connector.class", "JdbcSourceConnector"),
            ("connection.password", "${env:PG_PASSWORD}"),
            ("other.password", "${file:/etc/hydrate/db.properties:password}"),
            ("mixed.password", "x${env:PG_PASSWORD}"),
        ]);
        let out = redact(&refs);
        assert_eq!(out["connection.password"], "${env:PG_PASSWORD}");
        assert_eq!(out["other.password"], "${file:/etc/hydrate/db.properties:password}");
        assert_eq!(out["mixed.password"], "[hidden]");
    }

    #[test]
    fn parses_references_like_kafka() {
        let refs = find_references("a${env:X}b${file:/p/q.properties:k}${topic}");
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].1, Reference { provider: "env".into(), path: None, key: "X".into() });
        assert_eq!(refs[1].1.path.as_deref(), Some("/p/q.properties"));
        assert_eq!(refs[1].1.to_string(), "${file:/p/q.properties:k}");
        assert!(is_pure_reference(" ${env:X} "));
        assert!(!is_pure_reference("${topic}"));
        assert!(check_reference(&find_references("${vault:a:b}")[0].1).is_err());
        assert!(check_reference(&find_references("${file:k}")[0].1).is_err());
    }

    #[test]
    fn resolves_env_and_file_references() {
        let config = map(&[
            ("connection.password", "${env:PG_PASSWORD}"),
            ("a", "${file:/etc/hydrate/db.properties:password}"),
            ("b", "u=${file:/etc/hydrate/db.properties:user};l=${file:/etc/hydrate/db.properties:long}"),
            ("c", "${topic}"),
        ]);
        let out = resolve_references(&config, &Fake).unwrap();
        assert_eq!(out["connection.password"], "from-env");
        assert_eq!(out["a"], "from-file");
        assert_eq!(out["b"], "u=hydrate;l=ab");
        assert_eq!(out["c"], "${topic}");
    }

    #[test]
    fn resolution_errors_name_key_and_reference() {
        let err = resolve_references(&map(&[("k.password", "${env:NOPE}")]), &Fake).unwrap_err();
        assert_eq!(err.to_string(), "k.password: ${env:NOPE}: environment variable NOPE is not set");
        let err = resolve_references(&map(&[("k", "${file:/nope:x}")]), &Fake).unwrap_err();
        assert!(err.to_string().starts_with("k: ${file:/nope:x}: cannot read /nope"), "{err}");
        let err =
            resolve_references(&map(&[("k", "${file:/etc/hydrate/db.properties:x}")]), &Fake).unwrap_err();
        assert!(err.to_string().contains("has no key 'x'"), "{err}");
        assert!(!err.to_string().contains("from-file"));
        let err = resolve_references(&map(&[("k", "${vault:a:b}")]), &Fake).unwrap_err();
        assert!(err.to_string().contains("unknown config provider 'vault'"), "{err}");
    }

    #[test]
    fn properties_syntax() {
        let p = parse_properties("! c\na=1\nb : 2\nc 3\nd\\ e=4\nf=\\u0041\\tx\n  g = h = i\n");
        assert_eq!(p["a"], "1");
        assert_eq!(p["b"], "2");
        assert_eq!(p["c"], "3");
        assert_eq!(p["d e"], "4");
        assert_eq!(p["f"], "A\tx");
        assert_eq!(p["g"], "h = i");
    }
}

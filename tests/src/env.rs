//! The local stack's endpoints, read from `.dev/env`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context;

/// Endpoints and credentials of the running local stack.
#[derive(Debug, Clone)]
pub struct StackEnv {
    vars: HashMap<String, String>,
}

impl StackEnv {
    /// The stack's environment, read once per test binary from `.dev/env`
    /// (or the file named by `HYDRATE_ENV_FILE`). Variables already set in
    /// the process environment take precedence.
    ///
    /// Panics with instructions when the stack is not up: every integration
    /// test needs it, and a clear message beats a connection refused.
    pub fn get() -> &'static StackEnv {
        static ENV: OnceLock<StackEnv> = OnceLock::new();
        ENV.get_or_init(|| {
            hydrate_common::tls::install_crypto_provider();
            match Self::load() {
                Ok(env) => env,
                Err(err) => panic!("{err:#}\nstart the local stack first: scripts/up"),
            }
        })
    }

    fn load() -> anyhow::Result<StackEnv> {
        let path = match std::env::var_os("HYDRATE_ENV_FILE") {
            Some(path) => PathBuf::from(path),
            None => repo_root().join(".dev/env"),
        };
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut vars = parse_env_file(&text);
        for (key, value) in vars.iter_mut() {
            if let Ok(set) = std::env::var(key) {
                *value = set;
            }
        }
        Ok(StackEnv { vars })
    }

    /// One variable; panics naming it when `.dev/env` lacks it.
    pub fn var(&self, key: &str) -> &str {
        match self.vars.get(key) {
            Some(value) => value,
            None => panic!("{key} is not set in .dev/env; rerun scripts/up"),
        }
    }

    /// `KAFKA_BOOTSTRAP_SERVERS` (PLAINTEXT listener).
    pub fn kafka_bootstrap(&self) -> &str {
        self.var("KAFKA_BOOTSTRAP_SERVERS")
    }

    /// `PG_URL`, the libpq URL of the `pagila` database as role `hydrate`.
    pub fn pg_url(&self) -> &str {
        self.var("PG_URL")
    }

    /// `ETCD_ENDPOINTS`, comma-separated.
    pub fn etcd_endpoints(&self) -> Vec<String> {
        self.var("ETCD_ENDPOINTS").split(',').map(str::to_owned).collect()
    }

    /// `S3_BUCKET`.
    pub fn s3_bucket(&self) -> &str {
        self.var("S3_BUCKET")
    }
}

/// Parses `KEY=value` lines; blank lines and `#` comments are skipped and one
/// level of single or double quotes around a value is removed.
pub fn parse_env_file(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line.split_once('=')?;
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            Some((key.trim().to_owned(), unquoted.to_owned()))
        })
        .collect()
}

/// The repository's root (the parent of this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The shared folder beside the repository (the seed configs, Pagila), or
/// `HYDRATE_SHARED`.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("HYDRATE_SHARED").map(PathBuf::from).unwrap_or_else(|| repo_root().join("../shared"))
}

/// The text of a file under the shared folder, e.g. `seed/connectors/x.json`.
pub fn shared_file(relative: &str) -> String {
    let path = shared_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_env_lines_quotes_and_comments() {
        let vars = parse_env_file(
            "# header\n\nPG_URL=postgresql://h:p@127.0.0.1:1/db\nexport A=\"x y\"\nB='z'\nC=a=b\n",
        );
        assert_eq!(vars["PG_URL"], "postgresql://h:p@127.0.0.1:1/db");
        assert_eq!(vars["A"], "x y");
        assert_eq!(vars["B"], "z");
        assert_eq!(vars["C"], "a=b");
        assert_eq!(vars.len(), 4);
    }
}

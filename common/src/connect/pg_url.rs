//! PostgreSQL connection URLs: the JDBC form Kafka Connect configs carry
//! (`jdbc:postgresql://host:port/db?params`) and libpq's
//! (`postgres://user:password@host:port/db?params`).

use std::collections::BTreeMap;

use super::secrets::Secret;

/// One server of a (possibly multi-host) URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgHost {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port; 5432 when not given.
    pub port: u16,
}

/// libpq / pgJDBC `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS if the server insists.
    Allow,
    /// TLS when the server offers it (the default).
    Prefer,
    /// TLS, without certificate checks.
    Require,
    /// TLS, certificate signed by a trusted CA.
    VerifyCa,
    /// TLS, certificate and host name checked.
    VerifyFull,
}

/// A parsed connection URL. The password, if the URL holds one, is a
/// [`Secret`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgUrl {
    /// The servers, in order.
    pub hosts: Vec<PgHost>,
    /// The database; `None` means the user's name, as with pgJDBC and libpq.
    pub database: Option<String>,
    /// `user` from the URL.
    pub user: Option<String>,
    /// `password` from the URL.
    pub password: Option<Secret>,
    /// `sslmode` (pgJDBC's `ssl=true` alone means verify-full).
    pub ssl_mode: SslMode,
    /// Every other parameter, e.g. `connectTimeout`, `options`.
    pub params: BTreeMap<String, String>,
}

/// Parses a PostgreSQL URL. Errors never repeat the URL, which may hold a
/// password.
pub fn parse_pg_url(url: &str) -> Result<PgUrl, String> {
    let url = url.trim();
    let not_postgres = || {
        let scheme: String =
            url.split(':').take(if url.starts_with("jdbc:") { 2 } else { 1 }).collect::<Vec<_>>().join(":");
        format!(
            "Hydrate supports PostgreSQL only: expected jdbc:postgresql://host:port/database or \
             postgres://host:port/database, got a '{scheme}:' URL"
        )
    };
    let (authority_and_path, libpq) = if let Some(rest) = url.strip_prefix("jdbc:postgresql:") {
        (rest, false)
    } else if let Some(rest) = url.strip_prefix("postgresql:").or_else(|| url.strip_prefix("postgres:")) {
        (rest, true)
    } else {
        return Err(not_postgres());
    };
    let (main, query) = match authority_and_path.split_once('?') {
        Some((m, q)) => (m, q),
        None => (authority_and_path, ""),
    };
    let mut user = None;
    let mut password = None;
    let (hosts, database) = if let Some(rest) = main.strip_prefix("//") {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let hosts_part = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) if libpq => {
                let (u, p) = match userinfo.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (userinfo, None),
                };
                user = Some(decode(u)?).filter(|u| !u.is_empty());
                password = p.map(|p| decode(p).map(Secret::new)).transpose()?;
                hosts
            }
            Some(_) => return Err(
                "user and password go in connection.user / connection.password, not before '@' in a JDBC URL"
                    .into(),
            ),
            None => authority,
        };
        (parse_hosts(hosts_part)?, path)
    } else if libpq {
        return Err(not_postgres());
    } else {
        // jdbc:postgresql:database
        (vec![PgHost { host: "localhost".into(), port: 5432 }], main.trim_start_matches('/'))
    };
    let database = Some(decode(database)?).filter(|d| !d.is_empty());

    let mut params = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.insert(decode(k)?, decode(v)?);
    }
    if let Some(u) = params.remove("user") {
        user = Some(u);
    }
    if let Some(p) = params.remove("password") {
        password = Some(Secret::new(p));
    }
    let ssl = params.remove("ssl");
    let ssl_mode = match params.remove("sslmode").as_deref() {
        Some("disable") => SslMode::Disable,
        Some("allow") => SslMode::Allow,
        Some("prefer") => SslMode::Prefer,
        Some("require") => SslMode::Require,
        Some("verify-ca") => SslMode::VerifyCa,
        Some("verify-full") => SslMode::VerifyFull,
        Some(other) => {
            return Err(format!(
                "sslmode '{other}' is not one of disable, allow, prefer, require, verify-ca, verify-full"
            ));
        }
        None if ssl.as_deref() == Some("true") => SslMode::VerifyFull,
        None => SslMode::Prefer,
    };
    Ok(PgUrl { hosts, database, user, password, ssl_mode, params })
}

fn parse_hosts(hosts: &str) -> Result<Vec<PgHost>, String> {
    if hosts.is_empty() {
        return Ok(vec![PgHost { host: "localhost".into(), port: 5432 }]);
    }
    hosts
        .split(',')
        .map(|h| {
            let (host, port) = if let Some(rest) = h.strip_prefix('[') {
                let (ip, after) = rest.split_once(']').ok_or("unclosed '[' in an IPv6 host")?;
                (ip, after.strip_prefix(':'))
            } else {
                match h.rsplit_once(':') {
                    Some((host, port)) => (host, Some(port)),
                    None => (h, None),
                }
            };
            if host.is_empty() {
                return Err("a host name is empty".to_owned());
            }
            let port = match port {
                Some(p) => p
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("port '{p}' is not a number from 1 to 65535"))?,
                None => 5432,
            };
            Ok(PgHost { host: decode(host)?, port })
        })
        .collect()
}

/// Percent-decoding of URL parts.
fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or("malformed %-escape")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "%-escapes do not decode to UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jdbc_url_of_the_seed() {
        let url = parse_pg_url("jdbc:postgresql://127.0.0.1:5432/pagila").unwrap();
        assert_eq!(url.hosts, vec![PgHost { host: "127.0.0.1".into(), port: 5432 }]);
        assert_eq!(url.database.as_deref(), Some("pagila"));
        assert_eq!(url.ssl_mode, SslMode::Prefer);
        assert_eq!(url.user, None);
    }

    #[test]
    fn jdbc_params_multi_host_and_ipv6() {
        let url = parse_pg_url(
            "jdbc:postgresql://a,b:6543,[::1]:7/db?sslmode=require&user=u&password=p%40ss&connectTimeout=5",
        )
        .unwrap();
        assert_eq!(url.hosts.len(), 3);
        assert_eq!(url.hosts[1], PgHost { host: "b".into(), port: 6543 });
        assert_eq!(url.hosts[2], PgHost { host: "::1".into(), port: 7 });
        assert_eq!(url.ssl_mode, SslMode::Require);
        assert_eq!(url.user.as_deref(), Some("u"));
        assert_eq!(url.password.as_ref().map(Secret::expose), Some("p@ss"));
        assert_eq!(url.params.get("connectTimeout").map(String::as_str), Some("5"));
        assert_eq!(parse_pg_url("jdbc:postgresql://h/db?ssl=true").unwrap().ssl_mode, SslMode::VerifyFull);
        assert_eq!(parse_pg_url("jdbc:postgresql:pagila").unwrap().database.as_deref(), Some("pagila"));
    }

    #[test]
    fn libpq_url_with_password() {
        let url = parse_pg_url("postgres://hydrate:hydrate-secret@localhost/pagila").unwrap();
        assert_eq!(url.user.as_deref(), Some("hydrate"));
        assert_eq!(url.password.as_ref().map(Secret::expose), Some("hydrate-secret"));
        assert!(!format!("{url:?}").contains("hydrate-secret"));
        assert_eq!(url.hosts[0].port, 5432);
    }

    #[test]
    fn other_databases_and_bad_urls() {
        let err = parse_pg_url("jdbc:mysql://u:hydrate-secret@h/db").unwrap_err();
        assert!(err.contains("PostgreSQL only") && err.contains("'jdbc:mysql:'"), "{err}");
        assert!(!err.contains("hydrate-secret"));
        assert!(parse_pg_url("jdbc:postgresql://h:99999/db").unwrap_err().contains("99999"));
        assert!(parse_pg_url("jdbc:postgresql://h/db?sslmode=maybe").is_err());
        assert!(parse_pg_url("jdbc:postgresql://u:p@h/db").is_err());
    }
}

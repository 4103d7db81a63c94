//! Bearer-token authentication and roles.
//!
//! Tokens come from configuration (each role a comma-separated list, usually
//! from a Kubernetes secret). The interceptor resolves the caller's role and
//! stores it in the request; each RPC then asks for the role it needs.

use std::collections::HashMap;
use std::sync::Arc;

use tonic::{Request, Status};

use crate::error::Error;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads connectors, statuses, plugins.
    Viewer,
    /// A data-plane worker: registers, takes leases, reports status.
    Worker,
    /// Everything, including changes.
    Admin,
}

/// The role a request was authenticated with, stored in its extensions.
#[derive(Debug, Clone, Copy)]
pub struct Caller(pub Role);

/// Token to role. Empty means authentication is off (explicitly configured).
#[derive(Clone, Default)]
pub struct Tokens {
    by_token: Arc<HashMap<String, Role>>,
    disabled: bool,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the tokens themselves.
        f.debug_struct("Tokens")
            .field("count", &self.by_token.len())
            .field("disabled", &self.disabled)
            .finish()
    }
}

impl Tokens {
    /// Tokens per role, each a comma-separated list. Fails when no token is
    /// given at all and authentication was not explicitly disabled.
    pub fn new(admin: &str, viewer: &str, worker: &str, disabled: bool) -> Result<Tokens, String> {
        let mut by_token = HashMap::new();
        for (list, role) in [(viewer, Role::Viewer), (worker, Role::Worker), (admin, Role::Admin)] {
            for token in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                if token.len() < 16 {
                    return Err(format!("a {role:?} token is shorter than 16 characters"));
                }
                if by_token.insert(token.to_owned(), role).is_some() {
                    return Err("the same token is given for two roles".into());
                }
            }
        }
        if by_token.is_empty() && !disabled {
            return Err("no API tokens configured: set HYDRATE_ADMIN_TOKENS (and optionally \
                        HYDRATE_VIEWER_TOKENS, HYDRATE_WORKER_TOKENS), or pass --insecure-no-auth"
                .into());
        }
        Ok(Tokens { by_token: Arc::new(by_token), disabled })
    }

    /// The role of a bearer token.
    fn role_of(&self, token: &str) -> Option<Role> {
        // Compare every token in constant time, so timing reveals nothing.
        let mut found = None;
        for (known, role) in self.by_token.iter() {
            if constant_time_eq(known.as_bytes(), token.as_bytes()) {
                found = Some(*role);
            }
        }
        found
    }

    /// A tonic interceptor that authenticates each request.
    pub fn interceptor(&self) -> impl Fn(Request<()>) -> Result<Request<()>, Status> + Clone + use<> {
        let tokens = self.clone();
        move |mut request: Request<()>| {
            let role = if tokens.disabled {
                Role::Admin
            } else {
                let header = request.metadata().get("authorization").ok_or_else(|| {
                    Status::unauthenticated("missing bearer token (authorization: Bearer <token>)")
                })?;
                let token = header
                    .to_str()
                    .ok()
                    .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
                    .ok_or_else(|| Status::unauthenticated("authorization must be `Bearer <token>`"))?;
                tokens.role_of(token.trim()).ok_or_else(|| Status::unauthenticated("unknown bearer token"))?
            };
            request.extensions_mut().insert(Caller(role));
            Ok(request)
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Fails unless the request's caller may act as `needed`. Admin may do
/// anything; a viewer only reads; a worker only uses the worker service.
pub fn require<T>(request: &Request<T>, needed: Role) -> Result<(), Error> {
    let Some(Caller(role)) = request.extensions().get::<Caller>().copied() else {
        return Err(Error::Unauthenticated("request was not authenticated".into()));
    };
    let allowed = match needed {
        Role::Viewer => matches!(role, Role::Viewer | Role::Admin),
        Role::Worker => matches!(role, Role::Worker | Role::Admin),
        Role::Admin => role == Role::Admin,
    };
    if allowed {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!("a {role:?} token may not do this; it needs {needed:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(token: Option<&str>) -> Request<()> {
        let mut r = Request::new(());
        if let Some(t) = token {
            r.metadata_mut().insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        r
    }

    #[test]
    fn roles_from_tokens() {
        let tokens = Tokens::new("admin-token-0123456789", "viewer-token-0123456789", "", false).unwrap();
        let check = tokens.interceptor();
        let admin = check(request(Some("admin-token-0123456789"))).unwrap();
        assert!(require(&admin, Role::Admin).is_ok());
        let viewer = check(request(Some("viewer-token-0123456789"))).unwrap();
        assert!(require(&viewer, Role::Viewer).is_ok());
        assert!(matches!(require(&viewer, Role::Admin), Err(Error::PermissionDenied(_))));
        assert!(matches!(require(&viewer, Role::Worker), Err(Error::PermissionDenied(_))));
        assert_eq!(check(request(None)).unwrap_err().code(), tonic::Code::Unauthenticated);
        assert_eq!(
            check(request(Some("nope-nope-nope-nope"))).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
    }

    #[test]
    fn refuses_no_tokens_unless_disabled_and_never_prints_them() {
        assert!(Tokens::new("", "", "", false).is_err());
        assert!(Tokens::new("short", "", "", false).is_err());
        let tokens = Tokens::new("admin-token-0123456789", "", "", false).unwrap();
        assert!(!format!("{tokens:?}").contains("admin-token"));
        let open = Tokens::new("", "", "", true).unwrap();
        assert!(require(&open.interceptor()(request(None)).unwrap(), Role::Admin).is_ok());
    }
}

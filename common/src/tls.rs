//! Process-wide TLS set-up.

/// Installs aws-lc-rs as the process's rustls crypto provider.
///
/// The AWS SDK, tonic and etcd-client all use rustls; when more than one
/// provider is compiled in, rustls refuses to pick one and panics at the first
/// TLS handshake. Call this once at start, before any client is built.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

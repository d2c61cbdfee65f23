//! Encryption at rest for the API server, compatible with upstream
//! Kubernetes' `--encryption-provider-config`.
//!
//! Load an [`EncryptionConfig`], ask it for the [`Transformer`] of a
//! group/resource, and run every value through [`Transformer::encrypt`] before
//! it goes to storage and [`Transformer::decrypt`] after it comes back. The
//! stored bytes use upstream's formats (`k8s:enc:aescbc:v1:<key>:…`,
//! `k8s:enc:aesgcm:v1:<key>:…`, `k8s:enc:secretbox:v1:<key>:…`), so data written
//! by either implementation can be read by the other. KMS providers are
//! rejected because they need an external gRPC plugin.
#![forbid(unsafe_code)]

mod config;
mod error;
mod transformer;

pub use config::EncryptionConfig;
pub use error::{Error, Result};
pub use transformer::{Transformer, ENCRYPTED_PREFIX};

#[cfg(test)]
mod tests;

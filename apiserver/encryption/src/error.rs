//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading an `EncryptionConfiguration` or
/// transforming a value. Messages follow upstream's wording where one exists so
/// operators can match them against Kubernetes documentation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file could not be read.
    #[error("error opening encryption provider configuration file {path:?}: {source}")]
    ReadConfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The configuration file exists but has no content.
    #[error("encryption provider configuration file {path:?} is empty")]
    EmptyConfig { path: PathBuf },

    /// The bytes are not a well-formed `EncryptionConfiguration` document.
    #[error("error while parsing encryption provider configuration: {0}")]
    Decode(String),

    /// The document is well-formed but not `apiserver.config.k8s.io/v1 EncryptionConfiguration`.
    #[error("got unexpected config type: {api_version}, Kind={kind}")]
    UnexpectedKind { api_version: String, kind: String },

    /// Field validation failed; each entry is one upstream-style field error.
    #[error("{}", format_aggregate(.0))]
    Invalid(Vec<String>),

    /// A resource can never be reached because an earlier `*.group` or `*.*` rule wins.
    #[error("resource {resource:?} is masked by earlier rule {rule:?}")]
    Masked { resource: String, rule: String },

    /// KMS needs a gRPC plugin, which this build does not implement.
    #[error("kms provider {name:?} is not supported by this build; use aescbc, aesgcm, secretbox or identity")]
    KmsUnsupported { name: String },

    /// Stored data carries no prefix that any configured provider recognises.
    #[error("no matching prefix found")]
    NoMatchingPrefix,

    /// The provider prefix matched but none of its key names did.
    #[error("no matching key was found for the provided {provider} transformer")]
    NoMatchingKey { provider: &'static str },

    /// Plaintext-only reading was asked to return data that is encrypted.
    #[error("identity transformer tried to read encrypted data")]
    IdentityEncrypted,

    /// Ciphertext is too short to hold the nonce/IV (and tag).
    #[error("the stored data was shorter than the required size")]
    ShortData,

    /// AES-CBC ciphertext is not a whole number of blocks.
    #[error("the stored data is not a multiple of the block size")]
    InvalidBlockSize,

    /// AES-CBC plaintext is empty or its padding length is impossible.
    #[error("invalid PKCS7 data (empty or not padded)")]
    InvalidPkcs7Data,

    /// AES-CBC padding bytes are inconsistent (wrong key or corrupt data).
    #[error("invalid padding on input")]
    InvalidPkcs7Padding,

    /// Authenticated decryption failed: wrong key, wrong etcd key, or tampering.
    #[error("{provider}: message authentication failed")]
    AuthFailed { provider: &'static str },

    /// The cipher refused to encrypt (only possible for absurdly large inputs).
    #[error("{provider}: encryption failed")]
    EncryptFailed { provider: &'static str },

    /// The operating system's random source failed, so no safe nonce/IV exists.
    #[error("unable to read sufficient random bytes")]
    Random,

    /// Several providers matched and all failed; reported together like upstream.
    #[error("{}", format_aggregate(.0))]
    Aggregate(Vec<Error>),
}

/// Crate-wide result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Upstream's aggregate format: a lone error prints bare, several print as `[a, b]`.
fn format_aggregate<T: std::fmt::Display>(items: &[T]) -> String {
    match items {
        [one] => one.to_string(),
        many => {
            let parts: Vec<String> = many.iter().map(ToString::to_string).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

impl Error {
    /// Collapse a list the way upstream's `errors.Reduce` does, so a single
    /// failure keeps its own variant and callers can match on it.
    pub(crate) fn reduce(mut errs: Vec<Error>) -> Error {
        if errs.len() == 1 {
            if let Some(e) = errs.pop() {
                return e;
            }
        }
        Error::Aggregate(errs)
    }
}

//! What kube-apiserver and the kubelet share for `exec`, `attach` and `port-forward`:
//! proxying an HTTP/1.1 upgrade to a backend and relaying bytes both ways (upstream's
//! `UpgradeAwareHandler` with `UpgradeRequired`).

#![forbid(unsafe_code)]

pub mod proxy;
pub mod spdy;
pub mod translate;

/// What can go wrong while proxying; the texts are upstream's, for the caller's Status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("error sending request: {0}")]
    Send(String),
    #[error("invalid upgrade response: status code {0}")]
    InvalidUpgradeResponse(u16),
    #[error("error reading backend response: {0}")]
    Read(String),
}

//! What every daemon shares, so that none writes it again: upstream's common flags, the
//! kube-rs client (rate limited, identified), shared informers over kube-runtime watchers,
//! rate-limited work queues, leader election on a Lease, core/v1 Event recording, the secure
//! port with delegated authentication and authorization, logging and signal handling.

pub mod client;
pub mod events;
pub mod eventsv1;
pub mod flags;
pub mod httpget;
pub mod informer;
pub mod leader;
pub mod metrics;
pub mod serving;
pub mod workqueue;

pub use informer::{Change, Informer, InformerFactory};
pub use workqueue::WorkQueue;

/// Errors that stop a daemon from starting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

/// Logs to stderr at klog's verbosity: `-v=0..3` info, `4..5` debug, `6+` trace. `RUST_LOG`
/// overrides.
pub fn init_logging(verbosity: u8) {
    let level = match verbosity {
        0..=3 => "info",
        4..=5 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},hyper=info,rustls=info,tower=info,h2=info"))
    });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        .try_init();
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => futures::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => tracing::info!("received SIGTERM, shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("received SIGINT, shutting down"),
    }
}

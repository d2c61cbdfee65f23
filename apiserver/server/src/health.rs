//! `/healthz`, `/livez`, `/readyz`: named checks, per-check sub-paths and `?verbose`, in
//! upstream's output format.

use crate::ApiServer;
use std::time::Duration;

pub struct Check {
    pub name: &'static str,
    pub ok: bool,
}

/// Runs the checks an endpoint has.
pub async fn run_checks(st: &ApiServer, endpoint: &str) -> Vec<Check> {
    let etcd_ok = tokio::time::timeout(Duration::from_secs(2), st.backend.store.current_revision())
        .await
        .is_ok_and(|r| r.is_ok());
    let bootstrapped = st.bootstrapped.load(std::sync::atomic::Ordering::Relaxed);
    let mut checks =
        vec![Check { name: "ping", ok: true }, Check { name: "log", ok: true }, Check { name: "etcd", ok: etcd_ok }];
    if endpoint == "readyz" {
        checks.push(Check { name: "etcd-readiness", ok: etcd_ok });
        checks.push(Check { name: "informer-sync", ok: true });
    }
    checks.push(Check { name: "poststarthook/start-apiextensions-informers", ok: true });
    checks.push(Check { name: "poststarthook/bootstrap-controller", ok: bootstrapped });
    checks.push(Check { name: "poststarthook/start-service-ip-repair-controllers", ok: true });
    checks.push(Check {
        name: "poststarthook/scheduling/bootstrap-system-priority-classes",
        ok: st.priority_bootstrapped.load(std::sync::atomic::Ordering::Relaxed),
    });
    checks.push(Check {
        name: "poststarthook/rbac/bootstrap-roles",
        ok: st.rbac_bootstrapped.load(std::sync::atomic::Ordering::Relaxed),
    });
    if endpoint == "readyz" {
        checks.push(Check { name: "shutdown", ok: true });
    }
    checks
}

/// Renders a health endpoint: (status code, body).
pub async fn render(
    st: &ApiServer,
    endpoint: &str,
    sub: Option<&str>,
    verbose: bool,
    exclude: &[String],
) -> (u16, String) {
    let checks = run_checks(st, endpoint).await;
    if let Some(name) = sub {
        return match checks.iter().find(|c| c.name == name) {
            Some(c) if c.ok => (200, "ok".into()),
            Some(c) => (500, format!("internal server error: {} failed", c.name)),
            None => (404, "404 page not found\n".into()),
        };
    }
    let mut out = String::new();
    let mut failed = false;
    for c in &checks {
        if exclude.iter().any(|e| e == c.name) {
            out.push_str(&format!("[+]{} excluded: ok\n", c.name));
            continue;
        }
        if c.ok {
            out.push_str(&format!("[+]{} ok\n", c.name));
        } else {
            failed = true;
            out.push_str(&format!("[-]{} failed: reason withheld\n", c.name));
        }
    }
    if failed {
        out.push_str(&format!("{endpoint} check failed"));
        return (500, out);
    }
    if verbose {
        out.push_str(&format!("{endpoint} check passed\n"));
        (200, out)
    } else {
        (200, "ok".into())
    }
}

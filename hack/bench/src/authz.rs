//! Authorization and token cost: `list pods` latency under RBAC with many RoleBindings and
//! ClusterRoles (a certificate user resolved through RBAC vs the admin, whom system:masters
//! lets through before any authorizer), and service-account JWT verification throughput
//! (every request with a token never seen before).

use crate::{ms, pct};
use serde_json::json;
use std::time::{Duration, Instant};

pub struct Opts {
    pub bindings: usize,
    pub roles: usize,
    pub requests: usize,
    pub tokens: usize,
}

async fn create(c: &reqwest::Client, url: &str, body: serde_json::Value) {
    let r = c.post(url).json(&body).send().await.expect("create");
    let code = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    assert!(code == 201 || code == 409, "create at {url}: {code} {text}");
}

async fn parallel<F, Fut>(n: usize, width: usize, f: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::StreamExt;
    futures::stream::iter((0..n).map(f)).buffer_unordered(width).collect::<Vec<()>>().await;
}

/// Latency of `n` sequential GETs of `url` with client `c`.
async fn latencies(c: &reqwest::Client, url: &str, n: usize, token: Option<&str>) -> Vec<Duration> {
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let mut req = c.get(url);
        if let Some(tok) = token {
            req = req.bearer_auth(tok);
        }
        let r = req.send().await.expect("get");
        let code = r.status().as_u16();
        let _ = r.bytes().await;
        assert_eq!(code, 200, "GET {url}");
        lat.push(t.elapsed());
    }
    lat.sort();
    lat
}

pub async fn run(o: &Opts, admin: &reqwest::Client, user: &reqwest::Client, anon: &reqwest::Client, base: &str) {
    let ns = "authz";
    let rbac = format!("{base}/apis/rbac.authorization.k8s.io/v1");
    create(admin, &format!("{base}/api/v1/namespaces"), json!({"metadata": {"name": ns}})).await;
    let t = Instant::now();
    parallel(o.roles, 16, |i| {
        let url = format!("{rbac}/clusterroles");
        async move {
            create(admin, &url, json!({"metadata": {"name": format!("bench-role-{i:04}")},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": [format!("cm-{i}")]}]}))
            .await
        }
    })
    .await;
    parallel(o.bindings, 16, |i| {
        let url = format!("{rbac}/namespaces/{ns}/rolebindings");
        let role = format!("bench-role-{:04}", i % o.roles.max(1));
        async move {
            create(admin, &url, json!({"metadata": {"name": format!("bench-rb-{i:05}")},
                "subjects": [{"kind": "User", "name": format!("user-{i}"), "apiGroup": "rbac.authorization.k8s.io"},
                             {"kind": "Group", "name": format!("group-{}", i % 50), "apiGroup": "rbac.authorization.k8s.io"}],
                "roleRef": {"kind": "ClusterRole", "name": role, "apiGroup": "rbac.authorization.k8s.io"}}))
            .await
        }
    })
    .await;
    create(
        admin,
        &format!("{rbac}/namespaces/{ns}/roles"),
        json!({"metadata": {"name": "pod-reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]}),
    )
    .await;
    create(
        admin,
        &format!("{rbac}/namespaces/{ns}/rolebindings"),
        json!({"metadata": {"name": "readers"},
        "subjects": [{"kind": "User", "name": "bench-user", "apiGroup": "rbac.authorization.k8s.io"},
                     {"kind": "ServiceAccount", "name": "reader", "namespace": ns}],
        "roleRef": {"kind": "Role", "name": "pod-reader", "apiGroup": "rbac.authorization.k8s.io"}}),
    )
    .await;
    create(admin, &format!("{base}/api/v1/namespaces/{ns}/serviceaccounts"), json!({"metadata": {"name": "reader"}}))
        .await;
    println!(
        "authz: created {} ClusterRoles and {} RoleBindings in {:.1} s",
        o.roles,
        o.bindings,
        t.elapsed().as_secs_f64()
    );
    let url = format!("{base}/api/v1/namespaces/{ns}/pods");
    // The user's binding must be visible before measuring.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = user.get(&url).send().await.expect("get");
        if r.status().as_u16() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "bench-user never got access: {}", r.status());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = latencies(admin, &url, 50, None).await;
    let a = latencies(admin, &url, o.requests, None).await;
    let u = latencies(user, &url, o.requests, None).await;
    println!(
        "list pods, {} requests each: admin (system:masters) p50 {} p99 {}; RBAC user (among {} bindings, {} cluster roles) p50 {} p99 {}",
        o.requests,
        ms(pct(&a, 0.5)),
        ms(pct(&a, 0.99)),
        o.bindings,
        o.roles,
        ms(pct(&u, 0.5)),
        ms(pct(&u, 0.99))
    );

    // Service-account tokens: issue many, then use each once.
    let mut tokens = Vec::with_capacity(o.tokens);
    for _ in 0..o.tokens {
        let r = admin
            .post(format!("{base}/api/v1/namespaces/{ns}/serviceaccounts/reader/token"))
            .json(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}))
            .send()
            .await
            .expect("token");
        let v: serde_json::Value = r.json().await.expect("token json");
        tokens.push(v["status"]["token"].as_str().expect("token").to_string());
    }
    let cached = latencies(anon, &url, o.requests, Some(&tokens[0])).await;
    let t = Instant::now();
    let lat = std::sync::Mutex::new(Vec::with_capacity(tokens.len()));
    parallel(tokens.len(), 32, |i| {
        let (url, tok, lat) = (url.clone(), tokens[i].clone(), &lat);
        async move {
            let s = Instant::now();
            let r = anon.get(&url).bearer_auth(&tok).send().await.expect("get");
            assert_eq!(r.status().as_u16(), 200);
            let _ = r.bytes().await;
            lat.lock().unwrap_or_else(|p| p.into_inner()).push(s.elapsed());
        }
    })
    .await;
    let took = t.elapsed();
    let mut fresh = lat.into_inner().unwrap_or_default();
    fresh.sort();
    println!(
        "service-account tokens: same token p50 {} p99 {}; {} distinct tokens from 32 connections: {:.0} requests/s, p50 {} p99 {}",
        ms(pct(&cached, 0.5)),
        ms(pct(&cached, 0.99)),
        tokens.len(),
        tokens.len() as f64 / took.as_secs_f64(),
        ms(pct(&fresh, 0.5)),
        ms(pct(&fresh, 0.99))
    );
}

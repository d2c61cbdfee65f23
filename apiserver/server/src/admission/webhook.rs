//! MutatingAdmissionWebhook and ValidatingAdmissionWebhook: the admissionregistration.k8s.io/v1
//! configurations are matched against each write (rules, scope, namespaceSelector,
//! objectSelector), and each matching webhook is sent an AdmissionReview v1 over HTTPS. Mutating
//! webhooks answer JSON patches; a refusal or a failed call under `failurePolicy: Fail` stops the
//! write with upstream's messages.

use super::Operation;
use crate::error::{ApiError, ApiResult};
use crate::rest::Ctx;
use api_types::json::Ptr;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One webhook of a configuration, as the dispatcher needs it.
#[derive(Debug, Clone)]
struct Hook {
    name: String,
    config: String,
    rules: Vec<Value>,
    failure_fail: bool,
    match_exact: bool,
    namespace_selector: Option<api_types::selector::LabelSelector>,
    object_selector: Option<api_types::selector::LabelSelector>,
    side_effects_ok_on_dry_run: bool,
    timeout: Duration,
    reinvoke: bool,
    url: Result<Target, String>,
    review_v1: bool,
}

#[derive(Debug, Clone)]
struct Target {
    url: String,
    ca_pem: Vec<u8>,
    /// A service reference: its `<name>.<namespace>.svc` host and the endpoint to dial.
    resolve: Option<(String, u16)>,
    service: Option<(String, String)>,
}

/// The webhooks of one configuration resource, parsed at a cache revision.
type Parsed = (i64, Arc<Vec<Hook>>);

/// Parsed configurations, kept until either configuration list changes.
#[derive(Default)]
pub struct Webhooks {
    cache: Mutex<HashMap<&'static str, Parsed>>,
    clients: Mutex<HashMap<String, reqwest::Client>>,
}

fn selector(v: Option<&Value>) -> Option<api_types::selector::LabelSelector> {
    let v = v.filter(|v| v.is_object())?;
    Some(api_types::selector::LabelSelector::from_api(v).unwrap_or_else(|_| {
        // An unparsable selector matches nothing, as upstream fails closed on it.
        api_types::selector::LabelSelector(vec![api_types::selector::Requirement {
            key: String::new(),
            op: api_types::selector::Op::In,
            values: vec![],
        }])
    }))
}

fn parse_hook(config: &str, h: &Value, mutating: bool) -> Hook {
    let s = |k: &str| h.get(k).and_then(Value::as_str).unwrap_or("");
    let cc = h.get("clientConfig").cloned().unwrap_or(Value::Null);
    let ca_pem = cc
        .get("caBundle")
        .and_then(Value::as_str)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .unwrap_or_default();
    let url = match (cc.get("url").and_then(Value::as_str), cc.get("service").filter(|s| s.is_object())) {
        (Some(u), _) => Ok(Target { url: u.to_string(), ca_pem, resolve: None, service: None }),
        (None, Some(svc)) => {
            let name = svc.get("name").and_then(Value::as_str).unwrap_or("").to_string();
            let ns = svc.get("namespace").and_then(Value::as_str).unwrap_or("").to_string();
            let port = svc.get("port").and_then(Value::as_u64).unwrap_or(443) as u16;
            let path = svc.get("path").and_then(Value::as_str).unwrap_or("");
            let host = format!("{name}.{ns}.svc");
            Ok(Target {
                url: format!("https://{host}:{port}{path}"),
                ca_pem,
                resolve: Some((host, port)),
                service: Some((ns, name)),
            })
        }
        _ => Err("webhook has neither url nor service".to_string()),
    };
    let versions: Vec<&str> = h
        .get("admissionReviewVersions")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    Hook {
        name: s("name").to_string(),
        config: config.to_string(),
        rules: h.get("rules").and_then(Value::as_array).cloned().unwrap_or_default(),
        failure_fail: s("failurePolicy") != "Ignore",
        match_exact: s("matchPolicy") == "Exact",
        namespace_selector: selector(h.get("namespaceSelector")),
        object_selector: selector(h.get("objectSelector")),
        side_effects_ok_on_dry_run: matches!(s("sideEffects"), "None" | "NoneOnDryRun"),
        timeout: Duration::from_secs(h.get("timeoutSeconds").and_then(Value::as_u64).unwrap_or(10).clamp(1, 30)),
        reinvoke: mutating && s("reinvocationPolicy") == "IfNeeded",
        url,
        review_v1: versions.is_empty() || versions.contains(&"v1"),
    }
}

impl Webhooks {
    fn hooks(&self, st: &crate::ApiServer, plural: &'static str) -> Arc<Vec<Hook>> {
        let Some(rd) = api_types::lookup("admissionregistration.k8s.io", "v1", plural) else { return Arc::default() };
        let cacher = st.backend.cacher(rd);
        let rv = cacher.revision();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, hooks)) = cache.get(plural) {
            if *at == rv && rv > 0 {
                return hooks.clone();
            }
        }
        let (objs, _) = cacher.snapshot(&|_| true);
        let mutating = plural.starts_with("mutating");
        let mut hooks = Vec::new();
        // Configurations run in name order, their webhooks in their listed order.
        let mut configs: Vec<Value> = objs.iter().map(|o| o.value()).collect();
        configs.sort_by(|a, b| {
            a.ptr("/metadata/name").and_then(Value::as_str).cmp(&b.ptr("/metadata/name").and_then(Value::as_str))
        });
        for c in &configs {
            let cname = c.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("");
            for h in c.get("webhooks").and_then(Value::as_array).into_iter().flatten() {
                hooks.push(parse_hook(cname, h, mutating));
            }
        }
        let hooks = Arc::new(hooks);
        cache.insert(plural, (rv, hooks.clone()));
        hooks
    }

    fn client(&self, h: &Hook, t: &Target, dial: Option<std::net::SocketAddr>) -> Result<reqwest::Client, String> {
        let key = format!(
            "{}/{}/{}/{:?}",
            h.config,
            h.name,
            base64::engine::general_purpose::STANDARD.encode(&t.ca_pem),
            dial
        );
        if let Some(c) = self.clients.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(c.clone());
        }
        let mut b = reqwest::Client::builder().use_rustls_tls().timeout(h.timeout);
        if !t.ca_pem.is_empty() {
            for cert in
                reqwest::Certificate::from_pem_bundle(&t.ca_pem).map_err(|e| format!("invalid caBundle: {e}"))?
            {
                b = b.add_root_certificate(cert);
            }
        }
        if let (Some((host, _)), Some(addr)) = (&t.resolve, dial) {
            b = b.resolve(host, addr);
        }
        let c = b.build().map_err(|e| e.to_string())?;
        self.clients.lock().unwrap_or_else(|p| p.into_inner()).insert(key, c.clone());
        Ok(c)
    }
}

fn op_str(op: Operation) -> &'static str {
    match op {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
    }
}

fn list_has(v: &Value, key: &str, want: &str) -> bool {
    v.get(key).and_then(Value::as_array).is_some_and(|a| a.iter().any(|x| x == "*" || x == want))
}

/// Whether a rule covers this request (operations, group, version, resource/subresource, scope).
fn rule_matches(rule: &Value, ctx: &Ctx<'_>, op: Operation, exact: bool) -> bool {
    if !list_has(rule, "operations", op_str(op)) || !list_has(rule, "apiGroups", ctx.rd.group) {
        return false;
    }
    // Equivalent matching would also accept other versions of the resource; every resource
    // here is served in one version per group, so both policies compare the version.
    let _ = exact;
    if !list_has(rule, "apiVersions", ctx.rd.version) {
        return false;
    }
    let sub = ctx.info.subresource.as_str();
    let res = ctx.rd.plural;
    let resource_ok = rule.get("resources").and_then(Value::as_array).is_some_and(|a| {
        a.iter().filter_map(Value::as_str).any(|r| {
            let (rr, rs) = r.split_once('/').unwrap_or((r, ""));
            let res_match = rr == "*" || rr == res;
            let sub_match = if sub.is_empty() { !r.contains('/') } else { rs == "*" || rs == sub };
            res_match && sub_match
        })
    });
    if !resource_ok {
        return false;
    }
    match rule.get("scope").and_then(Value::as_str).unwrap_or("*") {
        "Cluster" => !ctx.rd.namespaced,
        "Namespaced" => ctx.rd.namespaced,
        _ => true,
    }
}

async fn applies(h: &Hook, ctx: &Ctx<'_>, op: Operation, obj: Option<&Value>, old: Option<&Value>) -> bool {
    if !h.rules.iter().any(|r| rule_matches(r, ctx, op, h.match_exact)) {
        return false;
    }
    if let Some(sel) = &h.object_selector {
        let matches = |o: Option<&Value>| o.is_some_and(|o| sel.matches(&api_types::selector::labels_of(o)));
        if !sel.is_empty() && !matches(obj) && !matches(old) {
            return false;
        }
    }
    if let Some(sel) = &h.namespace_selector {
        if !sel.is_empty() {
            let is_ns = ctx.rd.group.is_empty() && ctx.rd.plural == "namespaces";
            let labels = if is_ns {
                obj.or(old).map(api_types::selector::labels_of)
            } else if ctx.rd.namespaced {
                crate::backend::lookup(ctx.st, "", "namespaces", "", &ctx.info.namespace)
                    .await
                    .map(|n| api_types::selector::labels_of(&n))
            } else {
                return true;
            };
            if !labels.is_some_and(|l| sel.matches(&l)) {
                return false;
            }
        }
    }
    true
}

/// The AdmissionReview v1 request for this write.
fn review(ctx: &Ctx<'_>, op: Operation, obj: Option<&Value>, old: Option<&Value>, uid: &str, dry_run: bool) -> Value {
    let name = obj.or(old).and_then(|o| o.ptr("/metadata/name")).and_then(Value::as_str).unwrap_or(&ctx.info.name);
    let (kind_group, kind_version, kind) = match ctx.info.subresource.as_str() {
        "" => (ctx.rd.group, ctx.rd.version, ctx.rd.kind),
        sub => ctx.rd.subresource(sub).map(|s| (s.group, s.version, s.kind)).unwrap_or((
            ctx.rd.group,
            ctx.rd.version,
            ctx.rd.kind,
        )),
    };
    let gvk = json!({"group": kind_group, "version": kind_version, "kind": kind});
    let gvr = json!({"group": ctx.rd.group, "version": ctx.rd.version, "resource": ctx.rd.plural});
    let options_kind = match op {
        Operation::Create => "CreateOptions",
        Operation::Update => "UpdateOptions",
        Operation::Delete => "DeleteOptions",
    };
    let mut req = json!({
        "uid": uid,
        "kind": gvk, "resource": gvr,
        "requestKind": gvk, "requestResource": gvr,
        "name": name,
        "operation": op_str(op),
        "userInfo": ctx.user.to_json(),
        "object": obj.cloned().unwrap_or(Value::Null),
        "oldObject": old.cloned().unwrap_or(Value::Null),
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": options_kind},
    });
    if !ctx.info.subresource.is_empty() {
        req["subResource"] = json!(ctx.info.subresource);
        req["requestSubResource"] = json!(ctx.info.subresource);
    }
    if ctx.rd.namespaced {
        req["namespace"] = json!(ctx.info.namespace);
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
}

/// What one call concluded.
enum Verdict {
    Allowed { patch: Option<Vec<u8>> },
    Denied(ApiError),
}

async fn call(ctx: &Ctx<'_>, hooks: &Webhooks, h: &Hook, body: &Value, uid: &str) -> Result<Verdict, String> {
    if !h.review_v1 {
        return Err("webhook does not accept v1 AdmissionReview".into());
    }
    let t = h.url.clone()?;
    let dial = match &t.service {
        Some((ns, name)) => {
            Some(service_endpoint(ctx, ns, name, t.resolve.as_ref().map(|r| r.1).unwrap_or(443)).await?)
        }
        None => None,
    };
    let client = hooks.client(h, &t, dial)?;
    let resp = client.post(&t.url).json(body).send().await.map_err(|e| {
        let mut msg = format!("failed to call webhook: Post {}: {e}", crate::auth::go_quote(&t.url));
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        msg
    })?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| format!("failed to call webhook: {e}"))?;
    if !status.is_success() {
        return Err(format!("failed to call webhook: the server responded with the status code {}", status.as_u16()));
    }
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| format!("failed to decode the webhook response: {e}"))?;
    let r = v.get("response").ok_or("webhook response was absent")?;
    let got = r.get("uid").and_then(Value::as_str).unwrap_or("");
    if got != uid {
        return Err(format!(
            "expected response.uid={}, got {}",
            crate::auth::go_quote(uid),
            crate::auth::go_quote(got)
        ));
    }
    if let Some(w) = r.get("warnings").and_then(Value::as_array) {
        let mut ws = ctx.warnings.lock().unwrap_or_else(|p| p.into_inner());
        ws.extend(w.iter().filter_map(Value::as_str).map(String::from));
    }
    if r.get("allowed").and_then(Value::as_bool) != Some(true) {
        return Ok(Verdict::Denied(denied(&h.name, r.get("status"))));
    }
    let patch = match r.get("patch").and_then(Value::as_str) {
        Some(p) => {
            if r.get("patchType").and_then(Value::as_str) != Some("JSONPatch") {
                return Err(format!("unsupported patch type {:?}", r.get("patchType")));
            }
            Some(base64::engine::general_purpose::STANDARD.decode(p).map_err(|e| format!("invalid patch: {e}"))?)
        }
        None => None,
    };
    Ok(Verdict::Allowed { patch })
}

/// The endpoint behind a webhook service: a ready address of its EndpointSlices (the apiserver
/// has no route to cluster IPs of its own), on the port the service port maps to.
async fn service_endpoint(ctx: &Ctx<'_>, ns: &str, name: &str, port: u16) -> Result<std::net::SocketAddr, String> {
    let svc = crate::backend::lookup(ctx.st, "", "services", ns, name)
        .await
        .ok_or_else(|| format!("service {} not found", crate::auth::go_quote(&format!("{ns}/{name}"))))?;
    let sp = svc
        .ptr("/spec/ports")
        .and_then(Value::as_array)
        .and_then(|ps| ps.iter().find(|p| p.get("port").and_then(Value::as_u64) == Some(port as u64)))
        .cloned()
        .ok_or_else(|| format!("no service port {port} found for service {name:?}"))?;
    let port_name = sp.get("name").and_then(Value::as_str).unwrap_or("").to_string();
    let slices = crate::backend::cached_in_namespace(ctx.st, "discovery.k8s.io", "endpointslices", ns, &|o| {
        o.labels.get("kubernetes.io/service-name").map(String::as_str) == Some(name)
    });
    for s in slices {
        let target = s
            .get("ports")
            .and_then(Value::as_array)
            .and_then(|ps| ps.iter().find(|p| p.get("name").and_then(Value::as_str).unwrap_or("") == port_name))
            .and_then(|p| p.get("port").and_then(Value::as_u64));
        for e in s.get("endpoints").and_then(Value::as_array).into_iter().flatten() {
            if e.ptr("/conditions/ready").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            if let (Some(ip), Some(p)) = (e.ptr("/addresses/0").and_then(Value::as_str), target) {
                if let Ok(ip) = ip.parse::<std::net::IpAddr>() {
                    return Ok(std::net::SocketAddr::new(ip, p as u16));
                }
            }
        }
    }
    Err(format!("service {} has no ready endpoints", crate::auth::go_quote(&format!("{ns}/{name}"))))
}

/// Upstream's `ToStatusErr`.
fn denied(name: &str, status: Option<&Value>) -> ApiError {
    let by = format!("admission webhook {} denied the request", crate::auth::go_quote(name));
    let s = status.cloned().unwrap_or(json!({}));
    let code = s.get("code").and_then(Value::as_u64).unwrap_or(0).max(400) as u16;
    let message = s.get("message").and_then(Value::as_str).unwrap_or("");
    let reason = s.get("reason").and_then(Value::as_str).unwrap_or("");
    let message = if !message.is_empty() {
        format!("{by}: {message}")
    } else if !reason.is_empty() {
        format!("{by}: {reason}")
    } else {
        format!("{by} without explanation")
    };
    ApiError::Raw(code, reason.to_string(), message, s.get("details").cloned())
}

/// A failed call: refused under `Fail`, skipped under `Ignore`.
fn failed(h: &Hook, err: String) -> ApiResult<()> {
    if h.failure_fail {
        Err(ApiError::Internal(format!("failed calling webhook {}: {err}", crate::auth::go_quote(&h.name))))
    } else {
        tracing::warn!(webhook = %h.name, error = %err, "failed calling webhook, failing open");
        Ok(())
    }
}

/// A dry run may only reach webhooks without side effects.
fn dry_run_allowed(h: &Hook, dry_run: bool) -> ApiResult<()> {
    if dry_run && !h.side_effects_ok_on_dry_run {
        return Err(ApiError::BadRequest(format!(
            "admission webhook {} does not support dry run",
            crate::auth::go_quote(&h.name)
        )));
    }
    Ok(())
}

fn exempt(ctx: &Ctx<'_>) -> bool {
    // Webhooks never intercept their own configuration objects.
    ctx.rd.group == "admissionregistration.k8s.io"
}

/// MutatingAdmissionWebhook.
pub async fn mutate(ctx: &Ctx<'_>, op: Operation, obj: &mut Value, old: Option<&Value>) -> ApiResult<()> {
    if exempt(ctx) {
        return Ok(());
    }
    let st = ctx.st;
    let hooks = st.webhooks.hooks(st, "mutatingwebhookconfigurations");
    if hooks.is_empty() {
        return Ok(());
    }
    let dry_run = ctx.q.get("dryRun").is_some();
    let mut reinvoke: Vec<&Hook> = Vec::new();
    let mut changed_after: bool;
    for round in 0..2 {
        changed_after = false;
        let list: Vec<&Hook> = if round == 0 { hooks.iter().collect() } else { std::mem::take(&mut reinvoke) };
        if list.is_empty() {
            break;
        }
        for h in list {
            if !applies(h, ctx, op, Some(obj), old).await {
                continue;
            }
            dry_run_allowed(h, dry_run)?;
            let uid = uuid::Uuid::new_v4().to_string();
            let body = review(ctx, op, Some(obj), old, &uid, dry_run);
            match call(ctx, &st.webhooks, h, &body, &uid).await {
                Ok(Verdict::Denied(e)) => return Err(e),
                Ok(Verdict::Allowed { patch: Some(p) }) => {
                    let patch: json_patch::Patch = serde_json::from_slice(&p).map_err(|e| {
                        ApiError::Internal(format!("webhook {} returned an invalid patch: {e}", h.name))
                    })?;
                    let before = obj.clone();
                    json_patch::patch(obj, &patch)
                        .map_err(|e| ApiError::Internal(format!("JSON patch of webhook {} failed: {e}", h.name)))?;
                    if *obj != before {
                        changed_after = true;
                    }
                }
                Ok(Verdict::Allowed { patch: None }) => {}
                Err(e) => failed(h, e)?,
            }
            if round == 0 && h.reinvoke {
                reinvoke.push(h);
            }
        }
        if !changed_after {
            break;
        }
    }
    Ok(())
}

/// ValidatingAdmissionWebhook.
pub async fn validate(ctx: &Ctx<'_>, op: Operation, obj: Option<&Value>, old: Option<&Value>) -> ApiResult<()> {
    if exempt(ctx) {
        return Ok(());
    }
    let st = ctx.st;
    let hooks = st.webhooks.hooks(st, "validatingwebhookconfigurations");
    let dry_run = ctx.q.get("dryRun").is_some();
    for h in hooks.iter() {
        if !applies(h, ctx, op, obj, old).await {
            continue;
        }
        dry_run_allowed(h, dry_run)?;
        let uid = uuid::Uuid::new_v4().to_string();
        let body = review(ctx, op, obj, old, &uid, dry_run);
        match call(ctx, &st.webhooks, h, &body, &uid).await {
            Ok(Verdict::Denied(e)) => return Err(e),
            Ok(Verdict::Allowed { .. }) => {}
            Err(e) => failed(h, e)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denial_messages() {
        let e = denied("deny.example.com", Some(&json!({"code": 403, "message": "no way"})));
        let (code, s) = e.to_status();
        assert_eq!(code, 403);
        assert_eq!(s["message"], "admission webhook \"deny.example.com\" denied the request: no way");
        let (code, s) = denied("x", None).to_status();
        assert_eq!(code, 400);
        assert_eq!(s["message"], "admission webhook \"x\" denied the request without explanation");
    }
}

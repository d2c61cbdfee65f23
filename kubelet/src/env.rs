//! A container's environment as upstream's makeEnvironmentVariables builds it: `envFrom`
//! sources, then `env` in order (`$(VAR)` expanded against what came before and the Service
//! variables, `valueFrom` resolved), then the Service variables not already set.

use crate::pod;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret, Service};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Where `valueFrom` and `envFrom` look things up.
pub trait Sources {
    /// The ConfigMap, `Ok(None)` when it does not exist.
    fn config_map(
        &self,
        ns: &str,
        name: &str,
    ) -> impl std::future::Future<Output = Result<Option<Arc<ConfigMap>>, String>> + Send;
    fn secret(
        &self,
        ns: &str,
        name: &str,
    ) -> impl std::future::Future<Output = Result<Option<Arc<Secret>>, String>> + Send;
}

/// `my-svc` -> `MY_SVC`.
fn env_name(s: &str) -> String {
    s.to_uppercase().replace('-', "_")
}

/// The Service variables of `services`, as upstream's envvars.FromServices.
pub fn service_env(services: &[Arc<Service>]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for svc in services {
        let Some(spec) = &svc.spec else { continue };
        let ip = spec.cluster_ip.clone().unwrap_or_default();
        if ip.is_empty() || ip == "None" {
            continue;
        }
        let ports = spec.ports.clone().unwrap_or_default();
        let Some(first) = ports.first() else { continue };
        let prefix = env_name(svc.metadata.name.as_deref().unwrap_or(""));
        out.push((format!("{prefix}_SERVICE_HOST"), ip.clone()));
        out.push((format!("{prefix}_SERVICE_PORT"), first.port.to_string()));
        for p in &ports {
            if let Some(n) = p.name.as_deref().filter(|n| !n.is_empty()) {
                out.push((format!("{prefix}_SERVICE_PORT_{}", env_name(n)), p.port.to_string()));
            }
        }
        let host = if ip.contains(':') { format!("[{ip}]") } else { ip.clone() };
        for (i, p) in ports.iter().enumerate() {
            let proto = p.protocol.clone().unwrap_or_else(|| "TCP".into());
            let lower = proto.to_lowercase();
            let url = format!("{lower}://{host}:{}", p.port);
            if i == 0 {
                out.push((format!("{prefix}_PORT"), url.clone()));
            }
            let pp = format!("{prefix}_PORT_{}_{}", p.port, proto.to_uppercase());
            out.push((pp.clone(), url));
            out.push((format!("{pp}_PROTO"), lower));
            out.push((format!("{pp}_PORT"), p.port.to_string()));
            out.push((format!("{pp}_ADDR"), ip.clone()));
        }
    }
    out
}

/// The Services whose variables a pod gets: those of its namespace when `enableServiceLinks`
/// (default true), and the `kubernetes` Service of `default` always.
pub fn services_for(p: &Pod, all: &[Arc<Service>]) -> Vec<Arc<Service>> {
    let ns = pod::namespace(p);
    let links = p.spec.as_ref().and_then(|s| s.enable_service_links).unwrap_or(true);
    let mut by_name: BTreeMap<String, Arc<Service>> = BTreeMap::new();
    for s in all {
        let name = s.metadata.name.clone().unwrap_or_default();
        let sns = s.metadata.namespace.as_deref().unwrap_or("");
        if sns == "default" && name == "kubernetes" {
            by_name.entry(name).or_insert_with(|| s.clone());
        } else if sns == ns && links {
            by_name.insert(name, s.clone());
        }
    }
    by_name.into_values().collect()
}

/// `metadata.labels['x']` and friends, for `fieldRef`.
pub fn field_value(p: &Pod, path: &str, pod_ips: &[String], host_ips: &[String]) -> Result<String, String> {
    let m = &p.metadata;
    let spec = p.spec.clone().unwrap_or_default();
    let sub = |prefix: &str| path.strip_prefix(prefix).and_then(|r| r.strip_suffix("']")).map(str::to_string);
    if let Some(k) = sub("metadata.labels['") {
        return Ok(m.labels.as_ref().and_then(|l| l.get(&k).cloned()).unwrap_or_default());
    }
    if let Some(k) = sub("metadata.annotations['") {
        return Ok(m.annotations.as_ref().and_then(|l| l.get(&k).cloned()).unwrap_or_default());
    }
    let fmt_map = |m: &Option<BTreeMap<String, String>>| {
        m.iter().flatten().map(|(k, v)| format!("{k}=\"{v}\"")).collect::<Vec<_>>().join("\n")
    };
    Ok(match path {
        "metadata.name" => m.name.clone().unwrap_or_default(),
        "metadata.namespace" => m.namespace.clone().unwrap_or_default(),
        "metadata.uid" => m.uid.clone().unwrap_or_default(),
        "metadata.labels" => fmt_map(&m.labels),
        "metadata.annotations" => fmt_map(&m.annotations),
        "spec.nodeName" => spec.node_name.unwrap_or_default(),
        "spec.serviceAccountName" => spec.service_account_name.unwrap_or_default(),
        "status.hostIP" => host_ips.first().cloned().unwrap_or_default(),
        "status.hostIPs" => host_ips.join(","),
        "status.podIP" => pod_ips.first().cloned().unwrap_or_default(),
        "status.podIPs" => pod_ips.join(","),
        other => return Err(format!("unsupported fieldPath: {other}")),
    })
}

/// `resourceFieldRef`: the container's limit or request in units of `divisor` (rounded up);
/// an unset limit reads as the node's allocatable.
pub fn resource_value(
    c: &Container,
    resource: &str,
    divisor: Option<&str>,
    allocatable: &BTreeMap<String, String>,
) -> Result<String, String> {
    let res = c.resources.clone().unwrap_or_default();
    let (kind, name) =
        resource.split_once('.').ok_or_else(|| format!("unsupported container resource : {resource:?}"))?;
    let limits = res.limits.unwrap_or_default();
    let requests = res.requests.unwrap_or_default();
    let q = match kind {
        "limits" => limits.get(name).map(|q| q.0.clone()).or_else(|| allocatable.get(name).cloned()),
        "requests" => requests.get(name).or(limits.get(name)).map(|q| q.0.clone()).or_else(|| {
            // No request: memory and storage read 0, cpu reads 0 (as upstream: an unset request).
            Some("0".into())
        }),
        _ => None,
    }
    .ok_or_else(|| format!("unsupported container resource : {resource:?}"))?;
    let v = crate::quantity::milli(&q).ok_or_else(|| format!("invalid quantity {q:?}"))? as i128;
    let d = crate::quantity::milli(divisor.filter(|d| !d.is_empty()).unwrap_or("1")).unwrap_or(1000).max(1) as i128;
    Ok(((v + d - 1) / d).to_string())
}

/// Everything env needs besides the sources: the pod's IPs, the node's allocatable, Services.
#[derive(Clone, Copy)]
pub struct EnvInputs<'a> {
    pub pod_ips: &'a [String],
    pub host_ips: &'a [String],
    pub allocatable: &'a BTreeMap<String, String>,
    pub services: &'a [Arc<Service>],
}

/// The container's environment; the error is the CreateContainerConfigError message. Every
/// key of an `envFrom` source is taken as it is, as upstream does since names were relaxed.
pub async fn environment(
    p: &Pod,
    c: &Container,
    src: &impl Sources,
    inp: &EnvInputs<'_>,
) -> Result<Vec<(String, String)>, String> {
    let ns = pod::namespace(p);
    let service_vars: HashMap<String, String> = service_env(&services_for(p, inp.services)).into_iter().collect();
    let mut order: Vec<String> = Vec::new();
    let mut env: HashMap<String, String> = HashMap::new();
    let set = |order: &mut Vec<String>, env: &mut HashMap<String, String>, k: String, v: String| {
        if env.insert(k.clone(), v).is_none() {
            order.push(k);
        }
    };
    for from in c.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.config_map_ref {
            let optional = r.optional.unwrap_or(false);
            match src.config_map(ns, &r.name).await? {
                Some(cm) => {
                    for (k, v) in cm.data.iter().flatten() {
                        set(&mut order, &mut env, format!("{prefix}{k}"), v.clone());
                    }
                }
                None if optional => {}
                None => return Err(format!("configmap \"{}\" not found", r.name)),
            }
        }
        if let Some(r) = &from.secret_ref {
            let optional = r.optional.unwrap_or(false);
            match src.secret(ns, &r.name).await? {
                Some(s) => {
                    for (k, v) in s.data.iter().flatten() {
                        set(&mut order, &mut env, format!("{prefix}{k}"), String::from_utf8_lossy(&v.0).to_string());
                    }
                }
                None if optional => {}
                None => return Err(format!("secret \"{}\" not found", r.name)),
            }
        }
    }
    for e in c.env.iter().flatten() {
        let value = if let Some(v) = e.value.as_deref().filter(|v| !v.is_empty()) {
            let mut lookup = service_vars.clone();
            for (k, v) in &env {
                lookup.insert(k.clone(), v.clone());
            }
            pod::expand(v, &lookup)
        } else if let Some(from) = &e.value_from {
            if let Some(f) = &from.field_ref {
                field_value(p, &f.field_path, inp.pod_ips, inp.host_ips)?
            } else if let Some(r) = &from.resource_field_ref {
                let target = match r.container_name.as_deref().filter(|n| !n.is_empty()) {
                    Some(n) => p
                        .spec
                        .iter()
                        .flat_map(|s| s.containers.iter().chain(s.init_containers.iter().flatten()))
                        .find(|x| x.name == n)
                        .ok_or_else(|| format!("cannot find container {n:?} in pod"))?,
                    None => c,
                };
                resource_value(target, &r.resource, r.divisor.as_ref().map(|d| d.0.as_str()), inp.allocatable)?
            } else if let Some(r) = &from.config_map_key_ref {
                let optional = r.optional.unwrap_or(false);
                match src.config_map(ns, &r.name).await? {
                    Some(cm) => match cm.data.as_ref().and_then(|d| d.get(&r.key)) {
                        Some(v) => v.clone(),
                        None if optional => continue,
                        None => return Err(format!("couldn't find key {} in ConfigMap {ns}/{}", r.key, r.name)),
                    },
                    None if optional => continue,
                    None => return Err(format!("configmap \"{}\" not found", r.name)),
                }
            } else if let Some(r) = &from.secret_key_ref {
                let optional = r.optional.unwrap_or(false);
                match src.secret(ns, &r.name).await? {
                    Some(s) => match s.data.as_ref().and_then(|d| d.get(&r.key)) {
                        Some(v) => String::from_utf8_lossy(&v.0).to_string(),
                        None if optional => continue,
                        None => return Err(format!("couldn't find key {} in Secret {ns}/{}", r.key, r.name)),
                    },
                    None if optional => continue,
                    None => return Err(format!("secret \"{}\" not found", r.name)),
                }
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        set(&mut order, &mut env, e.name.clone(), value);
    }
    let mut out: Vec<(String, String)> = order.iter().map(|k| (k.clone(), env[k].clone())).collect();
    let mut svc: Vec<(String, String)> = service_vars.into_iter().filter(|(k, _)| !env.contains_key(k)).collect();
    svc.sort();
    out.extend(svc);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct NoSources;
    impl Sources for NoSources {
        async fn config_map(&self, _: &str, name: &str) -> Result<Option<Arc<ConfigMap>>, String> {
            Ok((name == "cfg").then(|| {
                Arc::new(serde_json::from_value(json!({"data": {"color": "blue", "1bad": "x", "size": "L"}})).unwrap())
            }))
        }
        async fn secret(&self, _: &str, _: &str) -> Result<Option<Arc<Secret>>, String> {
            Ok(None)
        }
    }

    fn svc(ns: &str, name: &str, ip: &str, ports: serde_json::Value) -> Arc<Service> {
        Arc::new(
            serde_json::from_value(
                json!({"metadata": {"name": name, "namespace": ns}, "spec": {"clusterIP": ip, "ports": ports}}),
            )
            .unwrap(),
        )
    }

    #[test]
    fn service_variables_as_upstream() {
        let s = svc(
            "d",
            "redis-primary",
            "10.0.0.11",
            json!([{"port": 6379, "name": "redis"}, {"port": 9121, "protocol": "UDP"}]),
        );
        let env: HashMap<_, _> = service_env(&[s]).into_iter().collect();
        assert_eq!(env["REDIS_PRIMARY_SERVICE_HOST"], "10.0.0.11");
        assert_eq!(env["REDIS_PRIMARY_SERVICE_PORT"], "6379");
        assert_eq!(env["REDIS_PRIMARY_SERVICE_PORT_REDIS"], "6379");
        assert_eq!(env["REDIS_PRIMARY_PORT"], "tcp://10.0.0.11:6379");
        assert_eq!(env["REDIS_PRIMARY_PORT_6379_TCP"], "tcp://10.0.0.11:6379");
        assert_eq!(env["REDIS_PRIMARY_PORT_6379_TCP_PROTO"], "tcp");
        assert_eq!(env["REDIS_PRIMARY_PORT_6379_TCP_PORT"], "6379");
        assert_eq!(env["REDIS_PRIMARY_PORT_6379_TCP_ADDR"], "10.0.0.11");
        assert_eq!(env["REDIS_PRIMARY_PORT_9121_UDP"], "udp://10.0.0.11:9121");
        let headless = svc("d", "h", "None", json!([{"port": 1}]));
        assert!(service_env(&[headless]).is_empty());
    }

    #[test]
    fn service_links_follow_enable_service_links() {
        let all = vec![
            svc("default", "kubernetes", "10.96.0.1", json!([{"port": 443, "name": "https"}])),
            svc("d", "web", "10.0.0.2", json!([{"port": 80}])),
            svc("other", "db", "10.0.0.3", json!([{"port": 5432}])),
        ];
        let p: Pod =
            serde_json::from_value(json!({"metadata": {"namespace": "d"}, "spec": {"containers": []}})).unwrap();
        let names: Vec<_> = services_for(&p, &all).iter().map(|s| s.metadata.name.clone().unwrap()).collect();
        assert_eq!(names, ["kubernetes", "web"]);
        let p: Pod = serde_json::from_value(
            json!({"metadata": {"namespace": "d"}, "spec": {"enableServiceLinks": false, "containers": []}}),
        )
        .unwrap();
        let names: Vec<_> = services_for(&p, &all).iter().map(|s| s.metadata.name.clone().unwrap()).collect();
        assert_eq!(names, ["kubernetes"]);
    }

    #[tokio::test]
    async fn env_resolves_references_in_order() {
        let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "d", "labels": {"app": "x"}},
        "spec": {"nodeName": "n1", "containers": [{"name": "c",
            "resources": {"limits": {"memory": "64Mi"}},
            "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
            "env": [
                {"name": "A", "value": "a"},
                {"name": "B", "value": "$(A)-$(CFG_color)-$(MISSING)"},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": true}}}
            ]}]}}))
        .unwrap();
        let c = p.spec.as_ref().unwrap().containers[0].clone();
        let alloc: BTreeMap<String, String> = [("cpu".to_string(), "2".to_string())].into_iter().collect();
        let inp = EnvInputs { pod_ips: &["10.244.0.9".into()], host_ips: &[], allocatable: &alloc, services: &[] };
        let env = environment(&p, &c, &NoSources, &inp).await.unwrap();
        let m: HashMap<_, _> = env.iter().cloned().collect();
        assert_eq!(m["CFG_color"], "blue");
        assert_eq!(m["CFG_1bad"], "x");
        assert_eq!(m["B"], "a-blue-$(MISSING)");
        assert_eq!(m["NODE"], "n1");
        assert_eq!(m["APP"], "x");
        assert_eq!(m["IP"], "10.244.0.9");
        assert_eq!(m["MEM"], "64");
        assert_eq!(m["CPU"], "2");
        assert!(!m.contains_key("OPT"));
        assert_eq!(env[0].0, "CFG_1bad");
    }

    #[tokio::test]
    async fn missing_sources_are_config_errors() {
        let mk = |env: serde_json::Value| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"containers": [{"name": "c", "env": env}]}})).unwrap()
        };
        let alloc = BTreeMap::new();
        let inp = EnvInputs { pod_ips: &[], host_ips: &[], allocatable: &alloc, services: &[] };
        let p = mk(json!([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}]));
        let c = p.spec.as_ref().unwrap().containers[0].clone();
        assert_eq!(environment(&p, &c, &NoSources, &inp).await.unwrap_err(), "configmap \"absent\" not found");
        let p = mk(json!([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]));
        let c = p.spec.as_ref().unwrap().containers[0].clone();
        assert_eq!(environment(&p, &c, &NoSources, &inp).await.unwrap_err(), "couldn't find key k in ConfigMap d/cfg");
        let p = mk(json!([{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]));
        let c = p.spec.as_ref().unwrap().containers[0].clone();
        assert_eq!(environment(&p, &c, &NoSources, &inp).await.unwrap_err(), "secret \"s\" not found");
    }
}

//! Classifies a request from its method and path, as upstream's `RequestInfoFactory` does:
//! resource requests get verb, group, version, namespace, resource, subresource and name.

use http::Method;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    pub is_resource: bool,
    pub path: String,
    /// get, list, watch, create, update, patch, delete, deletecollection (resource requests),
    /// or the lower-cased HTTP method (non-resource requests).
    pub verb: String,
    /// `api` or `apis`.
    pub api_prefix: String,
    pub group: String,
    pub version: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// Path segments after the resource part (for proxy-like subresources).
    pub rest: Vec<String>,
    /// The `fieldSelector` of a list or watch (authorizers may narrow on it).
    pub field_selector: String,
}

impl RequestInfo {
    /// The name authorizers see: a list or watch narrowed to one `metadata.name` by its field
    /// selector names that object, as upstream's RequestInfoFactory sets it.
    pub fn authz_name(&self) -> String {
        if !self.name.is_empty() || !matches!(self.verb.as_str(), "list" | "watch") || self.field_selector.is_empty() {
            return self.name.clone();
        }
        api_types::selector::FieldSelector::parse(&self.field_selector)
            .ok()
            .and_then(|f| f.required_value("metadata.name").map(String::from))
            .filter(|n| !n.is_empty() && n != "." && n != ".." && !n.contains('/') && !n.contains('%'))
            .unwrap_or_default()
    }
}

fn query_flag(query: Option<&str>, key: &str) -> bool {
    query
        .map(|q| {
            q.split('&').any(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                k == key && crate::codec::parse_bool(v) == Some(true)
            })
        })
        .unwrap_or(false)
}

pub fn parse(method: &Method, path: &str, query: Option<&str>) -> RequestInfo {
    let mut info = RequestInfo { path: path.to_string(), verb: method.as_str().to_lowercase(), ..Default::default() };
    let segs: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let mut parts: &[&str] = &segs;
    match parts.first() {
        Some(&"api") if parts.len() >= 2 => {
            info.api_prefix = "api".into();
            info.version = parts[1].to_string();
            parts = &parts[2..];
        }
        Some(&"apis") if parts.len() >= 3 => {
            info.api_prefix = "apis".into();
            info.group = parts[1].to_string();
            info.version = parts[2].to_string();
            parts = &parts[3..];
        }
        _ => return info,
    }
    if parts.is_empty() {
        return info;
    }
    info.is_resource = true;
    let mut watch_path = false;
    if parts[0] == "watch" {
        watch_path = true;
        parts = &parts[1..];
    }
    if parts.first() == Some(&"namespaces") && parts.len() > 1 {
        info.namespace = parts[1].to_string();
        // /namespaces/<ns>/status and /finalize are subresources of the namespace itself.
        if parts.len() > 2 && !matches!(parts[2], "status" | "finalize") {
            parts = &parts[2..];
        }
    }
    if let Some(r) = parts.first() {
        info.resource = r.to_string();
    }
    if parts.len() >= 2 {
        info.name = parts[1].to_string();
    }
    if parts.len() >= 3 {
        info.subresource = parts[2].to_string();
    }
    if parts.len() > 3 {
        info.rest = parts[3..].iter().map(|s| s.to_string()).collect();
    }
    if info.resource == "namespaces" && info.name.is_empty() && !info.namespace.is_empty() {
        info.name = info.namespace.clone();
    }
    if info.resource == "namespaces" {
        info.namespace = if parts.first() == Some(&"namespaces") { info.name.clone() } else { info.namespace.clone() };
    }
    info.verb = match *method {
        Method::GET | Method::HEAD => {
            if watch_path || query_flag(query, "watch") {
                "watch".into()
            } else if info.name.is_empty() {
                "list".into()
            } else {
                "get".into()
            }
        }
        Method::POST => "create".into(),
        Method::PUT => "update".into(),
        Method::PATCH => "patch".into(),
        Method::DELETE => {
            if info.name.is_empty() {
                "deletecollection".into()
            } else {
                "delete".into()
            }
        }
        _ => method.as_str().to_lowercase(),
    };
    if matches!(info.verb.as_str(), "list" | "watch") {
        info.field_selector = query
            .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "fieldSelector"))
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        let i = parse(&Method::GET, "/api/v1/namespaces/default/pods/p1/log", None);
        assert_eq!(
            (i.verb.as_str(), i.namespace.as_str(), i.resource.as_str(), i.name.as_str(), i.subresource.as_str()),
            ("get", "default", "pods", "p1", "log")
        );
        let i = parse(&Method::GET, "/apis/apps/v1/deployments", Some("watch=true"));
        assert_eq!((i.verb.as_str(), i.group.as_str(), i.resource.as_str()), ("watch", "apps", "deployments"));
        let i = parse(&Method::GET, "/api/v1/watch/namespaces/kube-system/configmaps", None);
        assert_eq!(
            (i.verb.as_str(), i.namespace.as_str(), i.resource.as_str()),
            ("watch", "kube-system", "configmaps")
        );
        let i = parse(&Method::PUT, "/api/v1/namespaces/foo/finalize", None);
        assert_eq!(
            (i.resource.as_str(), i.name.as_str(), i.subresource.as_str(), i.namespace.as_str()),
            ("namespaces", "foo", "finalize", "foo")
        );
        let i = parse(&Method::GET, "/api/v1/namespaces", None);
        assert_eq!((i.verb.as_str(), i.resource.as_str(), i.namespace.as_str()), ("list", "namespaces", ""));
        let i = parse(&Method::DELETE, "/api/v1/namespaces/x/configmaps", None);
        assert_eq!(i.verb, "deletecollection");
        let i = parse(&Method::GET, "/api/v1/nodes", Some("fieldSelector=metadata.name%3Dnode1&watch=1"));
        assert_eq!((i.verb.as_str(), i.name.as_str(), i.authz_name().as_str()), ("watch", "", "node1"));
        let i = parse(&Method::GET, "/healthz", None);
        assert!(!i.is_resource);
        let i = parse(&Method::GET, "/apis/apps/v1", None);
        assert!(!i.is_resource);
    }
}

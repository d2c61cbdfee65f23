//! The operations of every resource, as upstream's OpenAPI lists them, rendered for v3
//! (`parameters` with `schema`, `requestBody`, `content`) and v2 (`type`, `in: body`).

use crate::schema::{kind_definition, V3_PREFIX};
use api_types::ResourceDef;
use serde_json::{json, Map, Value};

#[derive(Clone)]
pub(crate) struct Param {
    name: &'static str,
    location: &'static str,
    ty: &'static str,
    description: String,
    required: bool,
}

fn q(name: &'static str, ty: &'static str, description: &str) -> Param {
    Param { name, location: "query", ty, description: description.into(), required: false }
}

pub(crate) struct Op {
    path: String,
    method: &'static str,
    operation_id: String,
    description: String,
    action: &'static str,
    gvk: Value,
    tag: String,
    params: Vec<Param>,
    path_params: Vec<Param>,
    body: Option<String>,
    response: Option<String>,
    extra_codes: &'static [u16],
}

impl Op {
    pub(crate) fn referenced(&self, out: &mut Vec<String>) {
        out.extend(self.body.iter().cloned());
        out.extend(self.response.iter().cloned());
    }
}

const DRY_RUN: &str = "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed";
const FIELD_MANAGER: &str = "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.";
const FIELD_VALIDATION: &str = "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.";

fn write_params() -> Vec<Param> {
    vec![
        q("dryRun", "string", DRY_RUN),
        q("fieldManager", "string", FIELD_MANAGER),
        q("fieldValidation", "string", FIELD_VALIDATION),
    ]
}

fn list_params() -> Vec<Param> {
    vec![
        q("allowWatchBookmarks", "boolean", "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored."),
        q("continue", "string", "The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize."),
        q("fieldSelector", "string", "A selector to restrict the list of returned objects by their fields. Defaults to everything."),
        q("labelSelector", "string", "A selector to restrict the list of returned objects by their labels. Defaults to everything."),
        q("limit", "integer", "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results."),
        q("resourceVersion", "string", "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset"),
        q("resourceVersionMatch", "string", "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset"),
        q("sendInitialEvents", "boolean", "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection. Once all such events have been sent, a synthetic \"Bookmark\" event  will be sent. The bookmark will report the ResourceVersion (RV) corresponding to the set of objects, and be marked with `\"k8s.io/initial-events-end\": \"true\"` annotation."),
        q("timeoutSeconds", "integer", "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity."),
        q("watch", "boolean", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion."),
    ]
}

fn delete_params() -> Vec<Param> {
    vec![
        q("dryRun", "string", DRY_RUN),
        q("gracePeriodSeconds", "integer", "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately."),
        q("orphanDependents", "boolean", "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed from the object's finalizers list. Either this field or PropagationPolicy may be set, but not both."),
        q("propagationPolicy", "string", "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground."),
    ]
}

fn camel(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// `Apps`, `Core`, `RbacAuthorization`, `FlowcontrolApiserver` (upstream's operation ids).
fn group_id(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    group.trim_end_matches(".k8s.io").split('.').map(camel).collect()
}

fn tag(group: &str, version: &str) -> String {
    let g = group_id(group);
    let mut c = g.chars();
    let g = match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => g,
    };
    format!("{g}_{version}")
}

fn path_param(name: &'static str, description: String) -> Param {
    Param { name, location: "path", ty: "string", description, required: true }
}

fn pretty() -> Param {
    q("pretty", "string", "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).")
}

/// Every operation of one group-version.
pub(crate) fn operations(group: &str, version: &str) -> Vec<Op> {
    let mut ops = Vec::new();
    for rd in api_types::resources().iter().filter(|r| r.group == group && r.version == version) {
        resource_ops(rd, &mut ops);
    }
    ops
}

fn resource_ops(rd: &'static ResourceDef, ops: &mut Vec<Op>) {
    let Some(def) = kind_definition(rd.group, rd.version, rd.kind) else { return };
    let def = def.to_string();
    let list_def = kind_definition(rd.group, rd.version, &format!("{}List", rd.kind)).map(str::to_string);
    let prefix =
        if rd.group.is_empty() { format!("/api/{}", rd.version) } else { format!("/apis/{}/{}", rd.group, rd.version) };
    let gid = group_id(rd.group);
    let ver = camel(rd.version);
    let ns = if rd.namespaced { "Namespaced" } else { "" };
    let gvk = json!({"group": rd.group, "kind": rd.kind, "version": rd.version});
    let tag = tag(rd.group, rd.version);
    let coll = if rd.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", rd.plural)
    } else {
        format!("{prefix}/{}", rd.plural)
    };
    let item = format!("{coll}/{{name}}");
    let ns_param = || path_param("namespace", "object name and auth scope, such as for teams and projects".into());
    let name_param = || path_param("name", format!("name of the {}", rd.kind));
    let coll_params = || if rd.namespaced { vec![ns_param(), pretty()] } else { vec![pretty()] };
    let item_params =
        || if rd.namespaced { vec![name_param(), ns_param(), pretty()] } else { vec![name_param(), pretty()] };
    let op = |path: &str, method: &'static str, verb: &str, action: &'static str, desc: String| Op {
        path: path.to_string(),
        method,
        operation_id: format!("{verb}{gid}{ver}{ns}{}", rd.kind),
        description: desc,
        action,
        gvk: gvk.clone(),
        tag: tag.clone(),
        params: Vec::new(),
        path_params: Vec::new(),
        body: None,
        response: None,
        extra_codes: &[],
    };
    let k = rd.kind;
    if rd.has_verb("create") {
        let mut o = op(&coll, "post", "create", "post", format!("create a {k}"));
        o.params = write_params();
        o.path_params = coll_params();
        o.body = Some(def.clone());
        o.response = Some(def.clone());
        o.extra_codes = &[201, 202];
        ops.push(o);
    }
    // Review kinds and bindings have nothing but create.
    if !rd.is_stored() {
        return;
    }
    if rd.has_verb("list") {
        let mut o = op(&coll, "get", "list", "list", format!("list or watch objects of kind {k}"));
        o.params = list_params();
        o.path_params = coll_params();
        o.response = list_def.clone();
        ops.push(o);
        if rd.namespaced {
            let mut o = op(
                &format!("{prefix}/{}", rd.plural),
                "get",
                "list",
                "list",
                format!("list or watch objects of kind {k}"),
            );
            o.operation_id = format!("list{gid}{ver}{k}ForAllNamespaces");
            o.params = list_params();
            o.path_params = vec![pretty()];
            o.response = list_def.clone();
            ops.push(o);
        }
    }
    if rd.has_verb("deletecollection") {
        let mut o = op(&coll, "delete", "deleteCollection", "deletecollection", format!("delete collection of {k}"));
        let mut p = delete_params();
        p.extend(list_params().into_iter().filter(|x| x.name != "watch" && x.name != "allowWatchBookmarks"));
        o.params = p;
        o.path_params = coll_params();
        o.body = Some("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions".into());
        o.response = Some("io.k8s.apimachinery.pkg.apis.meta.v1.Status".into());
        ops.push(o);
    }
    if rd.has_verb("get") {
        let mut o = op(&item, "get", "read", "get", format!("read the specified {k}"));
        o.path_params = item_params();
        o.response = Some(def.clone());
        ops.push(o);
    }
    if rd.has_verb("update") {
        let mut o = op(&item, "put", "replace", "put", format!("replace the specified {k}"));
        o.params = write_params();
        o.path_params = item_params();
        o.body = Some(def.clone());
        o.response = Some(def.clone());
        o.extra_codes = &[201];
        ops.push(o);
    }
    if rd.has_verb("patch") {
        let mut o = op(&item, "patch", "patch", "patch", format!("partially update the specified {k}"));
        let mut p = write_params();
        p.push(q("force", "boolean", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests."));
        o.params = p;
        o.path_params = item_params();
        o.body = Some("io.k8s.apimachinery.pkg.apis.meta.v1.Patch".into());
        o.response = Some(def.clone());
        o.extra_codes = &[201];
        ops.push(o);
    }
    if rd.has_verb("delete") {
        let mut o = op(&item, "delete", "delete", "delete", format!("delete a {k}"));
        o.params = delete_params();
        o.path_params = item_params();
        o.body = Some("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions".into());
        o.response = Some(if api_types::kinds::returns_deleted_object(rd) {
            def.clone()
        } else {
            "io.k8s.apimachinery.pkg.apis.meta.v1.Status".into()
        });
        o.extra_codes = &[202];
        ops.push(o);
    }
    for sub in rd.subresources.iter().filter(|s| s.name == "status" || s.name == "scale") {
        let sub_def = if sub.name == "scale" {
            match kind_definition(sub.group, sub.version, sub.kind) {
                Some(d) => d.to_string(),
                None => continue,
            }
        } else {
            def.clone()
        };
        let path = format!("{item}/{}", sub.name);
        let sk = camel(sub.name);
        let sub_gvk = json!({"group": sub.group, "kind": sub.kind, "version": sub.version});
        for verb in sub.verbs {
            let (method, id, action, desc) = match *verb {
                "get" => ("get", "read", "get", format!("read {} of the specified {k}", sub.name)),
                "update" => ("put", "replace", "put", format!("replace {} of the specified {k}", sub.name)),
                "patch" => ("patch", "patch", "patch", format!("partially update {} of the specified {k}", sub.name)),
                _ => continue,
            };
            let mut o = op(&path, method, id, action, desc);
            o.operation_id = format!("{id}{gid}{ver}{ns}{k}{sk}");
            o.gvk = sub_gvk.clone();
            o.path_params = item_params();
            o.response = Some(sub_def.clone());
            match method {
                "put" => {
                    o.params = write_params();
                    o.body = Some(sub_def.clone());
                    o.extra_codes = &[201];
                }
                "patch" => {
                    let mut p = write_params();
                    p.push(q("force", "boolean", "Force is going to \"force\" Apply requests."));
                    o.params = p;
                    o.body = Some("io.k8s.apimachinery.pkg.apis.meta.v1.Patch".into());
                    o.extra_codes = &[201];
                }
                _ => {}
            }
            ops.push(o);
        }
    }
}

const PATCH_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];
const MEDIA: &[&str] = &["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];

fn v3_param(p: &Param) -> Value {
    let mut schema = json!({"type": p.ty, "uniqueItems": true});
    if p.location == "path" {
        schema = json!({"type": "string", "uniqueItems": true});
    }
    let mut v = json!({"description": p.description, "in": p.location, "name": p.name, "schema": schema});
    if p.required {
        v["required"] = json!(true);
    }
    v
}

fn v2_param(p: &Param) -> Value {
    let mut v =
        json!({"description": p.description, "in": p.location, "name": p.name, "type": p.ty, "uniqueItems": true});
    if p.required {
        v["required"] = json!(true);
    }
    v
}

fn v3_content(def: &str, types: &[&str]) -> Value {
    let mut c = Map::new();
    for t in types {
        c.insert(t.to_string(), json!({"schema": {"$ref": format!("{V3_PREFIX}{def}")}}));
    }
    Value::Object(c)
}

pub(crate) fn render_v3(ops: &[Op]) -> Value {
    let mut paths = Map::new();
    for o in ops {
        let entry = paths.entry(o.path.clone()).or_insert_with(|| json!({}));
        let mut op = json!({
            "description": o.description,
            "operationId": o.operation_id,
            "responses": {"401": {"description": "Unauthorized"}},
            "tags": [o.tag],
            "x-kubernetes-action": o.action,
            "x-kubernetes-group-version-kind": o.gvk,
        });
        if !o.params.is_empty() {
            op["parameters"] = Value::Array(o.params.iter().map(v3_param).collect());
        }
        if let Some(b) = &o.body {
            let types: Vec<&str> = if o.method == "patch" { PATCH_TYPES.to_vec() } else { MEDIA.to_vec() };
            op["requestBody"] = json!({"content": v3_content(b, &types), "required": o.method != "delete"});
        }
        if let Some(r) = &o.response {
            let content = v3_content(r, MEDIA);
            op["responses"]["200"] = json!({"content": content, "description": "OK"});
            for code in o.extra_codes {
                let d = match code {
                    201 => "Created",
                    202 => "Accepted",
                    _ => "OK",
                };
                op["responses"][code.to_string()] = json!({"content": v3_content(r, MEDIA), "description": d});
            }
        }
        entry[o.method] = op;
        if !o.path_params.is_empty() {
            entry["parameters"] = Value::Array(o.path_params.iter().map(v3_param).collect());
        }
    }
    Value::Object(paths)
}

pub(crate) fn render_v2(ops: &[Op]) -> Value {
    let mut paths = Map::new();
    for o in ops {
        let entry = paths.entry(o.path.clone()).or_insert_with(|| json!({}));
        let mut params: Vec<Value> = o.params.iter().map(v2_param).collect();
        if let Some(b) = &o.body {
            params.insert(0, json!({"in": "body", "name": "body", "required": o.method != "delete", "schema": {"$ref": format!("#/definitions/{b}")}}));
        }
        let mut op = json!({
            "consumes": if o.method == "patch" { PATCH_TYPES.to_vec() } else { vec!["*/*"] },
            "description": o.description,
            "operationId": o.operation_id,
            "produces": MEDIA,
            "responses": {"401": {"description": "Unauthorized"}},
            "schemes": ["https"],
            "tags": [o.tag],
            "x-kubernetes-action": o.action,
            "x-kubernetes-group-version-kind": o.gvk,
        });
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if let Some(r) = &o.response {
            op["responses"]["200"] = json!({"description": "OK", "schema": {"$ref": format!("#/definitions/{r}")}});
            for code in o.extra_codes {
                op["responses"][code.to_string()] = json!({"description": if *code == 201 { "Created" } else { "Accepted" }, "schema": {"$ref": format!("#/definitions/{r}")}});
            }
        }
        entry[o.method] = op;
        if !o.path_params.is_empty() {
            entry["parameters"] = Value::Array(o.path_params.iter().map(v2_param).collect());
        }
    }
    Value::Object(paths)
}

//! Volumes, persistent volume claims and their sources.

use super::*;
use crate::json::Ptr;

pub(crate) const FILE_MODE_ERR: &str = "must be a number between 0 and 0777 (octal), both inclusive";

pub(crate) fn validate_mode(v: &Value, key: &str, p: &P) -> Errs {
    match int(v, key) {
        Some(m) if !(0..=0o777).contains(&m) => vec![inv_raw(&p.child(key), m, FILE_MODE_ERR)],
        _ => vec![],
    }
}

pub(crate) fn validate_key_to_path(kp: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    if st(kp, "key").is_empty() {
        errs.push(req(&p.child("key"), ""));
    }
    let path = st(kp, "path");
    if path.is_empty() {
        errs.push(req(&p.child("path"), ""));
    }
    errs.extend(validate_local_non_reserved_path(path, &p.child("path")));
    errs.extend(validate_mode(kp, "mode", p));
    errs
}

pub(crate) static VALID_VOLUME_DOWNWARD_API_FIELDS: &[&str] =
    &["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"];
pub(crate) static VALID_ENV_DOWNWARD_API_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
pub(crate) static VALID_CONTAINER_RESOURCE_FIELDS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

pub(crate) fn split_maybe_subscripted(fp: &str) -> Option<(&str, &str)> {
    let s = fp.strip_suffix("']")?;
    let (a, b) = s.split_once("['")?;
    if a.is_empty() {
        return None;
    }
    Some((a, b))
}

pub(crate) fn validate_object_field_selector(fs: &Value, expressions: &[&str], p: &P) -> Errs {
    let api_version = st(fs, "apiVersion");
    let fp = st(fs, "fieldPath");
    if api_version.is_empty() {
        return vec![req(&p.child("apiVersion"), "")];
    }
    if fp.is_empty() {
        return vec![req(&p.child("fieldPath"), "")];
    }
    // podshelper.ConvertDownwardAPIFieldLabel
    let converted: Result<String, String> = if api_version != "v1" {
        Err(format!("unsupported pod version: {api_version}"))
    } else if let Some((path, _)) = split_maybe_subscripted(fp) {
        match path {
            "metadata.annotations" | "metadata.labels" => Ok(fp.to_string()),
            _ => Err(format!("field label does not support subscript: {fp}")),
        }
    } else {
        match fp {
            "metadata.annotations"
            | "metadata.labels"
            | "metadata.name"
            | "metadata.namespace"
            | "metadata.uid"
            | "spec.nodeName"
            | "spec.restartPolicy"
            | "spec.serviceAccountName"
            | "spec.schedulerName"
            | "status.phase"
            | "status.hostIP"
            | "status.hostIPs"
            | "status.podIP"
            | "status.podIPs" => Ok(fp.to_string()),
            "spec.host" => Ok("spec.nodeName".to_string()),
            _ => Err(format!("field label not supported: {fp}")),
        }
    };
    let internal = match converted {
        Ok(s) => s,
        Err(e) => return vec![inv(&p.child("fieldPath"), fp, format!("error converting fieldPath: {e}"))],
    };
    if let Some((path, subscript)) = split_maybe_subscripted(&internal) {
        match path {
            "metadata.annotations" => qualified_name_errs(&subscript.to_lowercase(), p),
            "metadata.labels" => qualified_name_errs(subscript, p),
            _ => vec![inv(p, path, "does not support subscript")],
        }
    } else if !expressions.contains(&internal.as_str()) {
        vec![unsup(&p.child("fieldPath"), &internal, expressions)]
    } else {
        vec![]
    }
}

pub(crate) fn validate_container_resource_field_selector(fs: &Value, p: &P, volume: bool) -> Errs {
    let mut errs = Vec::new();
    let resource = st(fs, "resource");
    if volume && st(fs, "containerName").is_empty() {
        errs.push(req(&p.child("containerName"), ""));
    } else if resource.is_empty() {
        errs.push(req(&p.child("resource"), ""));
    } else if !VALID_CONTAINER_RESOURCE_FIELDS.contains(&resource)
        && !resource.starts_with("requests.hugepages-")
        && !resource.starts_with("limits.hugepages-")
    {
        errs.push(unsup(&p.child("resource"), resource, VALID_CONTAINER_RESOURCE_FIELDS));
    }
    if let Some(d) = fs.get("divisor").filter(|d| !d.is_null()) {
        if let Ok(q) = quantity_of(d) {
            if !q.is_zero() {
                let ds = q.canonical();
                let mem_like = ["1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"];
                let dp = p.child("divisor");
                match resource {
                    "limits.cpu" | "requests.cpu" if ds != "1m" && ds != "1" => {
                        errs.push(inv(
                            &dp,
                            resource,
                            "only divisor's values 1m and 1 are supported with the cpu resource",
                        ));
                    }
                    "limits.memory" | "requests.memory" if !mem_like.contains(&ds.as_str()) => {
                        errs.push(inv(&dp, resource, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource"));
                    }
                    "limits.ephemeral-storage" | "requests.ephemeral-storage" if !mem_like.contains(&ds.as_str()) => {
                        errs.push(inv(&dp, resource, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource"));
                    }
                    _ => {}
                }
                if (resource.starts_with("requests.hugepages-") || resource.starts_with("limits.hugepages-"))
                    && !mem_like.contains(&ds.as_str())
                {
                    errs.push(inv(&dp, resource, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the hugepages resource"));
                }
            }
        }
    }
    errs
}

pub(crate) fn validate_downward_api_volume_file(file: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    let path = st(file, "path");
    if path.is_empty() {
        errs.push(req(&p.child("path"), ""));
    }
    errs.extend(validate_local_non_reserved_path(path, &p.child("path")));
    if has(file, "fieldRef") {
        errs.extend(validate_object_field_selector(
            g(file, "fieldRef"),
            VALID_VOLUME_DOWNWARD_API_FIELDS,
            &p.child("fieldRef"),
        ));
        if has(file, "resourceFieldRef") {
            errs.push(inv(p, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"));
        }
    } else if has(file, "resourceFieldRef") {
        errs.extend(validate_container_resource_field_selector(
            g(file, "resourceFieldRef"),
            &p.child("resourceFieldRef"),
            true,
        ));
    } else {
        errs.push(req(p, "one of fieldRef and resourceFieldRef is required"));
    }
    errs.extend(validate_mode(file, "mode", p));
    errs
}

pub(crate) fn validate_projected(src: &Value, p: &P) -> Errs {
    let mut errs = validate_mode(src, "defaultMode", p);
    let mut all_paths: HashSet<String> = HashSet::new();
    for (i, s) in arr(src, "sources").iter().enumerate() {
        let sp = p.child("sources").index(i);
        let mut n = 0;
        for kind in ["secret", "configMap"] {
            if has(s, kind) {
                n += 1;
                let kp = sp.child(kind);
                let o = g(s, kind);
                let name = st(o, "name");
                if name.is_empty() {
                    errs.push(req(&kp.child("name"), ""));
                }
                for (j, item) in arr(o, "items").iter().enumerate() {
                    errs.extend(validate_key_to_path(item, &kp.child("items").index(j)));
                    let ip = st(item, "path");
                    if !ip.is_empty() && !all_paths.insert(ip.to_string()) {
                        errs.push(inv(p, name, "conflicting duplicate paths"));
                    }
                }
            }
        }
        if has(s, "downwardAPI") {
            n += 1;
            let dp = sp.child("downwardAPI");
            for file in arr(g(s, "downwardAPI"), "items") {
                errs.extend(validate_downward_api_volume_file(file, &dp));
                let fp = st(file, "path");
                if !fp.is_empty() && !all_paths.insert(fp.to_string()) {
                    errs.push(inv(p, fp, "conflicting duplicate paths"));
                }
            }
        }
        if has(s, "serviceAccountToken") {
            n += 1;
            let t = g(s, "serviceAccountToken");
            let tp = sp.child("serviceAccountToken");
            let exp = int0(t, "expirationSeconds");
            if exp < 600 {
                errs.push(inv_raw(
                    &tp.child("expirationSeconds"),
                    exp,
                    "may not specify a duration less than 10 minutes",
                ));
            }
            if exp > 1 << 32 {
                errs.push(inv_raw(
                    &tp.child("expirationSeconds"),
                    exp,
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
            let path = st(t, "path");
            if path.is_empty() {
                errs.push(req(&p.child("path"), ""));
            } else {
                errs.extend(validate_local_non_reserved_path(path, &p.child("path")));
            }
        }
        if has(s, "clusterTrustBundle") {
            n += 1;
            let c = g(s, "clusterTrustBundle");
            let cp = sp.child("clusterTrustBundle");
            let using_name = has(c, "name");
            let using_signer = has(c, "signerName");
            if using_name && using_signer {
                errs.push(inv_raw(
                    &cp,
                    go_struct("&core.ClusterTrustBundleProjection", c),
                    "only one of name and signerName may be used",
                ));
            } else if using_name {
                if st(c, "name").is_empty() {
                    errs.push(req(&cp.child("name"), "must be a valid object name"));
                }
                if has(c, "labelSelector") {
                    errs.push(inv_raw(
                        &cp.child("labelSelector"),
                        go_selector(g(c, "labelSelector")),
                        "labelSelector must be unset if name is specified",
                    ));
                }
            } else if using_signer {
                let sn = st(c, "signerName");
                if sn.is_empty() {
                    errs.push(req(&cp.child("signerName"), "must be a valid signer name"));
                }
                errs.extend(validate_signer_name(&cp.child("signerName"), sn));
                errs.extend(validate_label_selector(g(c, "labelSelector"), &cp.child("labelSelector"), false));
            } else {
                errs.push(req(&cp, "either name or signerName must be specified"));
            }
            let path = st(c, "path");
            if path.is_empty() {
                errs.push(req(&cp.child("path"), ""));
            }
            errs.extend(validate_local_non_reserved_path(path, &cp.child("path")));
            if !all_paths.insert(path.to_string()) {
                errs.push(inv(p, path, "conflicting duplicate paths"));
            }
        }
        if n > 1 {
            errs.push(forb(&sp, "may not specify more than 1 volume type per source"));
        }
    }
    errs
}

pub(crate) static ISCSI_IQN: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"iqn\.\d{4}-\d{2}\.([[:alnum:]-.]+)(:[^,;*&$|\s]+)$").expect("static regex"));
pub(crate) static ISCSI_EUI: Lazy<Regex> = Lazy::new(|| Regex::new(r"^eui.[[:alnum:]]{16}$").expect("static regex"));
pub(crate) static ISCSI_NAA: Lazy<Regex> = Lazy::new(|| Regex::new(r"^naa.[[:alnum:]]{32}$").expect("static regex"));

pub(crate) fn iqn_format_ok(v: &str) -> bool {
    if v.starts_with("iqn") {
        ISCSI_IQN.is_match(v)
    } else if v.starts_with("eui") {
        ISCSI_EUI.is_match(v)
    } else if v.starts_with("naa") {
        ISCSI_NAA.is_match(v)
    } else {
        true
    }
}

pub(crate) fn validate_iscsi(src: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    if st(src, "targetPortal").is_empty() {
        errs.push(req(&p.child("targetPortal"), ""));
    }
    let iqn = st(src, "iqn");
    if iqn.is_empty() {
        errs.push(req(&p.child("iqn"), ""));
    } else if !iqn.starts_with("iqn") && !iqn.starts_with("eui") && !iqn.starts_with("naa") {
        errs.push(inv(&p.child("iqn"), iqn, "must be valid format starting with iqn, eui, or naa"));
    } else if !iqn_format_ok(iqn) {
        errs.push(inv(&p.child("iqn"), iqn, "must be valid format"));
    }
    let lun = int0(src, "lun");
    if !(0..=255).contains(&lun) {
        errs.push(inv_raw(&p.child("lun"), lun, inclusive_range(0, 255)));
    }
    if (flag(src, "chapAuthDiscovery") || flag(src, "chapAuthSession")) && !has(src, "secretRef") {
        errs.push(req(&p.child("secretRef"), ""));
    }
    if let Some(init) = src.get("initiatorName").and_then(Value::as_str) {
        if !init.starts_with("iqn") && !init.starts_with("eui") && !init.starts_with("naa") {
            errs.push(inv(&p.child("initiatorname"), init, "must be valid format starting with iqn, eui, or naa"));
        }
        if !iqn_format_ok(init) {
            errs.push(inv(&p.child("initiatorname"), init, "must be valid format"));
        }
    }
    errs
}

/// The `Forbidden` path names upstream uses per volume source (quirks included), in check order.
pub(crate) const VOLUME_SOURCES: &[(&str, &str)] = &[
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];

pub(crate) fn validate_csi_driver_name(name: &str, p: &P) -> Errs {
    let mut errs = Vec::new();
    if name.is_empty() {
        errs.push(req(p, ""));
    }
    if name.len() > 63 {
        errs.push(too_long(p, 63));
    }
    for msg in is_dns1123_subdomain(&name.to_lowercase()) {
        errs.push(inv(p, name, msg));
    }
    errs
}

pub(crate) fn validate_one_volume_source(
    key: &str,
    src: &Value,
    p: &P,
    vp: &P,
    vol_name: &str,
    pod_name: Option<&str>,
    is_pod: bool,
) -> Errs {
    let mut errs = Vec::new();
    let required = |errs: &mut Errs, field: &str| {
        if st(src, field).is_empty() {
            errs.push(req(&p.child(field), ""));
        }
    };
    match key {
        "emptyDir" => {
            if let Some(Ok(q)) = src.get("sizeLimit").filter(|v| !v.is_null()).map(quantity_of) {
                if q.sign() < 0 {
                    errs.push(forb(&p.child("sizeLimit"), "SizeLimit field must be a valid resource quantity"));
                }
            }
        }
        "hostPath" => {
            let hp = st(src, "path");
            if hp.is_empty() {
                errs.push(req(&p.child("path"), ""));
                return errs;
            }
            errs.extend(validate_path_no_backsteps(hp, &p.child("path")));
            if let Some(t) = src.get("type").and_then(Value::as_str) {
                let ok = [
                    "",
                    "DirectoryOrCreate",
                    "Directory",
                    "FileOrCreate",
                    "File",
                    "Socket",
                    "CharDevice",
                    "BlockDevice",
                ];
                if !ok.contains(&t) {
                    errs.push(unsup(
                        &p.child("type"),
                        t,
                        &[
                            "",
                            "BlockDevice",
                            "CharDevice",
                            "Directory",
                            "DirectoryOrCreate",
                            "File",
                            "FileOrCreate",
                            "Socket",
                        ],
                    ));
                }
            }
        }
        "gitRepo" => {
            required(&mut errs, "repository");
            errs.extend(validate_local_descending_path(st(src, "directory"), &p.child("directory")));
        }
        "gcePersistentDisk" | "awsElasticBlockStore" => {
            let (pp, id) = if key == "gcePersistentDisk" {
                (vp.child("persistentDisk"), "pdName")
            } else {
                (p.clone(), "volumeID")
            };
            if st(src, id).is_empty() {
                errs.push(req(&pp.child(id), ""));
            }
            let part = int0(src, "partition");
            if !(0..=255).contains(&part) {
                errs.push(inv_raw(&pp.child("partition"), part, inclusive_range(1, 255)));
            }
        }
        "secret" => {
            required(&mut errs, "secretName");
            errs.extend(validate_mode(src, "defaultMode", p));
            for (i, kp) in arr(src, "items").iter().enumerate() {
                errs.extend(validate_key_to_path(kp, &p.child("items").index(i)));
            }
        }
        "configMap" => {
            required(&mut errs, "name");
            errs.extend(validate_mode(src, "defaultMode", p));
            for (i, kp) in arr(src, "items").iter().enumerate() {
                errs.extend(validate_key_to_path(kp, &p.child("items").index(i)));
            }
        }
        "nfs" => {
            required(&mut errs, "server");
            required(&mut errs, "path");
            let np = st(src, "path");
            if !np.starts_with('/') {
                errs.push(inv(&p.child("path"), np, "must be an absolute path"));
            }
        }
        "iscsi" => errs.extend(validate_iscsi(src, p)),
        "glusterfs" => {
            required(&mut errs, "endpoints");
            required(&mut errs, "path");
        }
        "flocker" => {
            let name = st(src, "datasetName");
            let uuid = st(src, "datasetUUID");
            if name.is_empty() && uuid.is_empty() {
                errs.push(req(p, "one of datasetName and datasetUUID is required"));
            }
            if !name.is_empty() && !uuid.is_empty() {
                errs.push(inv(p, "resource", "datasetName and datasetUUID can not be specified simultaneously"));
            }
            if name.contains('/') {
                errs.push(inv(&p.child("datasetName"), name, "must not contain '/'"));
            }
        }
        "persistentVolumeClaim" => required(&mut errs, "claimName"),
        "rbd" => {
            if arr(src, "monitors").is_empty() {
                errs.push(req(&p.child("monitors"), ""));
            }
            required(&mut errs, "image");
        }
        "cinder" => {
            required(&mut errs, "volumeID");
            if has(src, "secretRef") && st(g(src, "secretRef"), "name").is_empty() {
                errs.push(req(&p.child("secretRef").child("name"), ""));
            }
        }
        "cephfs" if arr(src, "monitors").is_empty() => errs.push(req(&p.child("monitors"), "")),
        "quobyte" => {
            let registry = st(src, "registry");
            if registry.is_empty() {
                errs.push(req(&p.child("registry"), "must be a host:port pair or multiple pairs separated by commas"));
            } else if st(src, "tenant").len() >= 65 {
                errs.push(req(&p.child("tenant"), "must be a UUID and may not exceed a length of 64 characters"));
            } else {
                for pair in registry.split(',') {
                    let ok = match pair.rsplit_once(':') {
                        Some((h, _)) if h.starts_with('[') => h.ends_with(']'),
                        Some((h, _)) => !h.contains(':'),
                        None => false,
                    };
                    if !ok {
                        errs.push(inv(
                            &p.child("registry"),
                            registry,
                            "must be a host:port pair or multiple pairs separated by commas",
                        ));
                    }
                }
            }
            required(&mut errs, "volume");
        }
        "downwardAPI" => {
            errs.extend(validate_mode(src, "defaultMode", p));
            for file in arr(src, "items") {
                errs.extend(validate_downward_api_volume_file(file, p));
            }
        }
        "fc" => {
            let wwns = arr(src, "targetWWNs");
            let wwids = arr(src, "wwids");
            if wwns.is_empty() && wwids.is_empty() {
                errs.push(req(&p.child("targetWWNs"), "must specify either targetWWNs or wwids, but not both"));
            }
            if !wwns.is_empty() && !wwids.is_empty() {
                errs.push(inv_raw(
                    &p.child("targetWWNs"),
                    go_str_slice(src.get("targetWWNs")),
                    "targetWWNs and wwids can not be specified simultaneously",
                ));
            }
            if !wwns.is_empty() {
                match int(src, "lun") {
                    None => errs.push(req(&p.child("lun"), "lun is required if targetWWNs is specified")),
                    Some(l) if !(0..=255).contains(&l) => {
                        errs.push(inv_raw(&p.child("lun"), l, inclusive_range(0, 255)))
                    }
                    _ => {}
                }
            }
        }
        "flexVolume" => {
            required(&mut errs, "driver");
            for (k, _) in smap(src, "options") {
                let ns = k.split_once('/').map(|(a, _)| a).unwrap_or(k);
                let normalized = format!(".{}", ns.to_lowercase());
                if normalized.ends_with(".kubernetes.io") || normalized.ends_with(".k8s.io") {
                    errs.push(inv(&p.child("options").key(k), k, "kubernetes.io and k8s.io namespaces are reserved"));
                }
            }
        }
        "azureFile" => {
            required(&mut errs, "secretName");
            required(&mut errs, "shareName");
        }
        "vsphereVolume" => required(&mut errs, "volumePath"),
        "photonPersistentDisk" => required(&mut errs, "pdID"),
        "portworxVolume" => required(&mut errs, "volumeID"),
        "azureDisk" => {
            required(&mut errs, "diskName");
            let uri = st(src, "diskURI");
            if uri.is_empty() {
                errs.push(req(&p.child("diskURI"), ""));
            }
            if let Some(cm) = src.get("cachingMode").and_then(Value::as_str) {
                if !["None", "ReadOnly", "ReadWrite"].contains(&cm) {
                    errs.push(unsup(&p.child("cachingMode"), cm, &["None", "ReadOnly", "ReadWrite"]));
                }
            }
            if let Some(kind) = src.get("kind").and_then(Value::as_str) {
                if !["Dedicated", "Managed", "Shared"].contains(&kind) {
                    errs.push(unsup(&p.child("kind"), kind, &["Dedicated", "Managed", "Shared"]));
                }
                if kind == "Managed" && !uri.starts_with("/subscriptions/") {
                    errs.push(unsup(&p.child("diskURI"), uri, &["/subscriptions/{sub-id}/resourcegroups/{group-name}/providers/microsoft.compute/disks/{disk-id}"]));
                }
                if kind != "Managed" && !uri.starts_with("https://") {
                    errs.push(unsup(
                        &p.child("diskURI"),
                        uri,
                        &["https://{account-name}.blob.core.windows.net/{container-name}/{disk-name}.vhd"],
                    ));
                }
            }
        }
        "storageos" => {
            let vn = st(src, "volumeName");
            if vn.is_empty() {
                errs.push(req(&p.child("volumeName"), ""));
            } else {
                errs.extend(dns_label_errs(vn, &p.child("volumeName")));
            }
            let vns = st(src, "volumeNamespace");
            if !vns.is_empty() {
                errs.extend(dns_label_errs(vns, &p.child("volumeNamespace")));
            }
            if has(src, "secretRef") && st(g(src, "secretRef"), "name").is_empty() {
                errs.push(req(&p.child("secretRef").child("name"), ""));
            }
        }
        "projected" => errs.extend(validate_projected(src, p)),
        "scaleIO" => {
            required(&mut errs, "gateway");
            required(&mut errs, "system");
            required(&mut errs, "volumeName");
        }
        "csi" => {
            errs.extend(validate_csi_driver_name(st(src, "driver"), &p.child("driver")));
            if has(src, "nodePublishSecretRef") {
                let n = st(g(src, "nodePublishSecretRef"), "name");
                if n.is_empty() {
                    errs.push(req(&p.child("nodePublishSecretRef").child("name"), ""));
                } else {
                    for msg in is_dns1123_subdomain(n) {
                        errs.push(inv(&p.child("name"), n, msg));
                    }
                }
            }
        }
        "ephemeral" => {
            let t = g(src, "volumeClaimTemplate");
            if t.is_null() {
                errs.push(req(&p.child("volumeClaimTemplate"), ""));
            } else {
                let tp = p.child("volumeClaimTemplate");
                errs.extend(validate_template_object_meta(g(t, "metadata"), &tp.child("metadata")));
                errs.extend(validate_pvc_spec(g(t, "spec"), &tp.child("spec")));
                if let Some(pod) = pod_name.filter(|n| !n.is_empty()) {
                    if !vol_name.is_empty() {
                        let pvc = format!("{pod}-{vol_name}");
                        for msg in is_dns1123_subdomain(&pvc) {
                            errs.push(inv(
                                &vp.child("name"),
                                vol_name,
                                format!("PVC name {}: {}", go_quote(&pvc), msg),
                            ));
                        }
                    }
                }
            }
        }
        "image" => {
            if is_pod && st(src, "reference").is_empty() {
                errs.push(req(&p.child("reference"), ""));
            }
            errs.extend(validate_pull_policy(st(src, "pullPolicy"), &p.child("pullPolicy")));
        }
        _ => {}
    }
    errs
}

/// `validateVolumeSource`: exactly one source, each validated. `p` is the volume's path.
pub(crate) fn validate_volume_source(vol: &Value, p: &P, vol_name: &str, pod_name: Option<&str>, is_pod: bool) -> Errs {
    let mut errs = Vec::new();
    let mut n = 0;
    for (key, forbidden_name) in VOLUME_SOURCES {
        if !has(vol, key) {
            continue;
        }
        if n > 0 {
            errs.push(forb(&p.child(forbidden_name), "may not specify more than 1 volume type"));
        } else {
            n += 1;
            let child = if *key == "cephfs" { "cephfs" } else { key };
            errs.extend(validate_one_volume_source(key, g(vol, key), &p.child(child), p, vol_name, pod_name, is_pod));
        }
        if *key == "iscsi" {
            let src = g(vol, key);
            if has(src, "initiatorName") && vol_name.len() + 1 + st(src, "targetPortal").len() > 64 {
                errs.push(inv(
                    &p.child("name"),
                    vol_name,
                    "Total length of <volume name>:<iscsi.targetPortal> must be under 64 characters if iscsi.initiatorName is specified.",
                ));
            }
        }
    }
    if n == 0 {
        errs.push(req(p, "must specify a volume type"));
    }
    errs
}

pub(crate) fn validate_volumes<'a>(
    vols: &'a [Value],
    pod_name: Option<&str>,
    p: &P,
    is_pod: bool,
) -> (HashMap<String, &'a Value>, Errs) {
    let mut errs = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    let mut created_pvcs: HashSet<String> = HashSet::new();
    if let Some(pod) = pod_name.filter(|n| !n.is_empty()) {
        for v in vols {
            if has(v, "ephemeral") {
                created_pvcs.insert(format!("{pod}-{}", st(v, "name")));
            }
        }
    }
    let mut out = HashMap::new();
    for (i, vol) in vols.iter().enumerate() {
        let ip = p.index(i);
        let np = ip.child("name");
        let name = st(vol, "name");
        let mut el = validate_volume_source(vol, &ip, name, pod_name, is_pod);
        if name.is_empty() {
            el.push(req(&np, ""));
        } else {
            el.extend(dns_label_errs(name, &np));
        }
        if names.contains(name) {
            el.push(dup(&np, name));
        }
        if el.is_empty() {
            names.insert(name.to_string());
            out.insert(name.to_string(), vol);
        } else {
            errs.extend(el);
        }
        if has(vol, "persistentVolumeClaim") {
            let claim = st(g(vol, "persistentVolumeClaim"), "claimName");
            if created_pvcs.contains(claim) {
                errs.push(inv(
                    &ip.child("persistentVolumeClaim").child("claimName"),
                    claim,
                    "must not reference a PVC that gets created for an ephemeral volume",
                ));
            }
        }
    }
    (out, errs)
}

/// `ValidateTemplateObjectMeta`: only labels and annotations may be set.
pub(crate) fn validate_template_object_meta(meta: &Value, p: &P) -> Errs {
    let mut errs = validate_annotations(g(meta, "annotations"), &p.child("annotations"));
    errs.extend(validate_label_map(g(meta, "labels"), &p.child("labels")));
    const FIELDS: &[(&str, &str)] = &[
        ("name", "name"),
        ("generateName", "generateName"),
        ("namespace", "namespace"),
        ("selfLink", "selfLink"),
        ("uid", "uID"),
        ("resourceVersion", "resourceVersion"),
        ("generation", "generation"),
        ("creationTimestamp", "creationTimestamp"),
        ("deletionTimestamp", "deletionTimestamp"),
        ("deletionGracePeriodSeconds", "deletionGracePeriodSeconds"),
        ("ownerReferences", "ownerReferences"),
        ("finalizers", "finalizers"),
        ("managedFields", "managedFields"),
    ];
    for (k, go_name) in FIELDS {
        if is_set(g(meta, k)) {
            errs.push(forb(&p.child(go_name), "cannot be set"));
        }
    }
    errs
}

/// Whether a JSON value differs from its Go zero value.
pub(crate) fn is_set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => o.values().any(is_set),
    }
}

pub(crate) const ACCESS_MODES: &[&str] = &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];

/// `ValidatePersistentVolumeClaimSpec` (defaults for a plain create).
pub(crate) fn validate_pvc_spec(spec: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    let modes = slist(spec, "accessModes");
    if modes.is_empty() {
        errs.push(req(&p.child("accessModes"), "at least 1 access mode is required"));
    }
    if has(spec, "selector") {
        errs.extend(validate_label_selector(g(spec, "selector"), &p.child("selector"), false));
    }
    let (mut rwop, mut other) = (false, false);
    for m in &modes {
        if !ACCESS_MODES.contains(m) {
            errs.push(unsup(&p.child("accessModes"), m, ACCESS_MODES));
        }
        if *m == "ReadWriteOncePod" {
            rwop = true;
        } else if ACCESS_MODES.contains(m) {
            other = true;
        }
    }
    if rwop && other {
        errs.push(forb(&p.child("accessModes"), "may not use ReadWriteOncePod with other access modes"));
    }
    let sp = p.child("resources").key("storage");
    match g(g(g(spec, "resources"), "requests"), "storage") {
        Value::Null => errs.push(req(&sp, "")),
        v => match quantity_of(v) {
            Ok(q) if q.sign() <= 0 => errs.push(inv(&sp, &q.canonical(), "must be greater than zero")),
            Ok(_) => {}
            Err(s) => errs.push(inv(&sp, &s, QUANTITY_FORMAT_ERR)),
        },
    }
    let sc = st(spec, "storageClassName");
    if !sc.is_empty() {
        for msg in is_dns1123_subdomain(sc) {
            errs.push(inv(&p.child("storageClassName"), sc, msg));
        }
    }
    if let Some(vm) = spec.get("volumeMode").and_then(Value::as_str) {
        if vm != "Block" && vm != "Filesystem" {
            errs.push(unsup(&p.child("volumeMode"), vm, &["Block", "Filesystem"]));
        }
    }
    for key in ["dataSource", "dataSourceRef"] {
        let ds = g(spec, key);
        if ds.is_null() {
            continue;
        }
        let dp = p.child(key);
        if st(ds, "name").is_empty() {
            errs.push(req(&dp.child("name"), ""));
        }
        let kind = st(ds, "kind");
        if kind.is_empty() {
            errs.push(req(&dp.child("kind"), ""));
        }
        let group = st(ds, "apiGroup");
        if group.is_empty() && kind != "PersistentVolumeClaim" {
            errs.push(inv(&dp, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"));
        }
        if !group.is_empty() {
            errs.extend(dns_subdomain_errs(group, &dp.child("apiGroup")));
        }
        if key == "dataSourceRef" {
            let ns = st(ds, "namespace");
            if !ns.is_empty() {
                for msg in is_dns1123_label(ns) {
                    errs.push(inv(&dp.child("namespace"), ns, msg));
                }
            }
        }
    }
    let ds = g(spec, "dataSource");
    let dsr = g(spec, "dataSourceRef");
    if !st(dsr, "namespace").is_empty() {
        if !ds.is_null() {
            errs.push(inv_raw(
                p,
                p.child("dataSource"),
                "may not be specified when dataSourceRef.namespace is specified",
            ));
        }
    } else if !ds.is_null()
        && !dsr.is_null()
        && (g(ds, "apiGroup") != g(dsr, "apiGroup")
            || st(ds, "kind") != st(dsr, "kind")
            || st(ds, "name") != st(dsr, "name"))
    {
        errs.push(inv_raw(p, p.child("dataSource"), "must match dataSourceRef"));
    }
    if let Some(vac) = spec.get("volumeAttributesClassName").and_then(Value::as_str) {
        if !vac.is_empty() {
            for msg in is_dns1123_subdomain(vac) {
                errs.push(inv(&p.child("volumeAttributesClassName"), vac, msg));
            }
        }
    }
    errs
}

pub(crate) fn validate_pvc_update(new: &Value, old: &Value) -> Errs {
    let (ns, os) = (g(new, "spec"), g(old, "spec"));
    let sp = P::new("spec");
    let mut errs = validate_pvc_spec(ns, &sp);
    let mut n = ns.clone();
    let mut o = os.clone();
    if st(os, "volumeName").is_empty() {
        if let Some(m) = o.as_object_mut() {
            m.insert("volumeName".into(), g(ns, "volumeName").clone());
        }
    }
    let bound = st(g(new, "status"), "phase") == "Bound";
    if bound {
        if let Some(req_map) = n.pointer_mut("/resources/requests").and_then(Value::as_object_mut) {
            match os.ptr("/resources/requests/storage") {
                Some(v) => {
                    req_map.insert("storage".into(), v.clone());
                }
                None => {
                    req_map.remove("storage");
                }
            }
        }
        if let Some(m) = n.as_object_mut() {
            match os.get("volumeAttributesClassName") {
                Some(v) if ns.get("volumeAttributesClassName").is_some_and(|x| !x.is_null()) => {
                    m.insert("volumeAttributesClassName".into(), v.clone());
                }
                _ => {}
            }
        }
    }
    // The beta storage-class annotation upgrade path: setting storageClassName from nil.
    if os.get("storageClassName").is_none_or(Value::is_null) && ns.get("storageClassName").is_some_and(|v| !v.is_null())
    {
        if let Some(m) = n.as_object_mut() {
            m.remove("storageClassName");
        }
    }
    if !sem_eq(&n, &o) {
        errs.push(forb(
            &sp,
            format!(
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{}",
                spec_diff(&o, &n, "core.PersistentVolumeClaimSpec")
            ),
        ));
    }
    let size = |s: &Value| s.ptr("/resources/requests/storage").and_then(|v| quantity_of(v).ok());
    if let (Some(new_size), Some(old_size)) = (size(ns), size(os)) {
        if new_size.cmp(&old_size) == Ordering::Less {
            let status_size = g(g(old, "status"), "capacity")
                .get("storage")
                .and_then(|v| quantity_of(v).ok())
                .unwrap_or(Quantity::ZERO);
            if new_size.cmp(&status_size) != Ordering::Greater {
                errs.push(forb(&path("spec.resources.requests.storage"), "field can not be less than status.capacity"));
            }
        }
    }
    errs.extend(immutable_field(g(ns, "volumeMode"), g(os, "volumeMode"), &P::new("volumeMode"), render_scalar));
    errs
}

//! Loading and validating `EncryptionConfiguration` files
//! (`--encryption-provider-config`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::transformer::{Kind, NamedKey, Provider, Transformer};

const API_VERSION: &str = "apiserver.config.k8s.io/v1";
const KIND: &str = "EncryptionConfiguration";

// ---- wire types (strict, like upstream's strict decoder) -------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConfig {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    resources: Vec<RawResourceConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResourceConfig {
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    providers: Vec<RawProvider>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    #[serde(default)]
    aesgcm: Option<RawKeys>,
    #[serde(default)]
    aescbc: Option<RawKeys>,
    #[serde(default)]
    secretbox: Option<RawKeys>,
    #[serde(default)]
    identity: Option<RawIdentity>,
    /// Accepted loosely: its only use is to say that KMS is unsupported.
    #[serde(default)]
    kms: Option<serde_json::Value>,
}

impl RawProvider {
    /// Set provider fields in upstream's precedence order, for error messages.
    fn present(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.kms.is_some() {
            v.push("kms");
        }
        if self.aesgcm.is_some() {
            v.push("aesgcm");
        }
        if self.aescbc.is_some() {
            v.push("aescbc");
        }
        if self.secretbox.is_some() {
            v.push("secretbox");
        }
        if self.identity.is_some() {
            v.push("identity");
        }
        v
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    #[serde(default)]
    keys: Vec<RawKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    #[serde(default)]
    name: String,
    #[serde(default)]
    secret: String,
}

impl fmt::Debug for RawKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawKey").field("name", &self.name).field("secret", &"REDACTED").finish()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {}

// ---- group/resource handling --------------------------------------------

/// A `resource.group` pair; `""` is the core group and `"*"` a wildcard.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct GroupResource {
    group: String,
    resource: String,
}

impl GroupResource {
    /// Same split as apimachinery's `ParseGroupResource`: everything before the
    /// first dot is the resource, so `secrets`, `secrets.` and `*.` are core.
    fn parse(s: &str) -> GroupResource {
        match s.split_once('.') {
            Some((resource, group)) => GroupResource { group: group.to_owned(), resource: resource.to_owned() },
            None => GroupResource { group: String::new(), resource: s.to_owned() },
        }
    }

    fn new(group: &str, resource: &str) -> GroupResource {
        GroupResource { group: group.to_owned(), resource: resource.to_owned() }
    }

    fn any() -> GroupResource {
        GroupResource::new("*", "*")
    }

    /// How the rule is spelled in the YAML, for error messages.
    fn yaml(&self) -> String {
        if self.group.is_empty() {
            if self.resource == "*" {
                "*.".to_owned()
            } else {
                self.resource.clone()
            }
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

// ---- validation -----------------------------------------------------------

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn required(path: &str, detail: &str) -> String {
    format!("{path}: Required value: {detail}")
}

fn invalid(path: &str, value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {value}: {detail}")
}

fn list_value(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_default()
}

const ONE_PROVIDER_ERR: &str =
    "more than one provider specified in a single element, should split into different list elements";
const NO_PROVIDER_ERR: &str =
    "provider does not contain any of the expected providers: KMS, AESGCM, AESCBC, Secretbox, Identity";
const OVERLAP_ERR: &str = "using overlapping resources such as 'secrets' and '*.' in the same resource list is not allowed as they will be masked";
const DUPLICATE_RESOURCE_ERR: &str = "the same resource cannot be specified multiple times";

/// Upstream's `ValidateEncryptionConfiguration` (reload=false), minus KMS field
/// checks (KMS is rejected separately), plus unique key names per provider.
fn validate(c: &RawConfig) -> Vec<String> {
    let mut errs = Vec::new();
    if c.resources.is_empty() {
        errs.push(required("resources", "at least one resources is required"));
        return errs;
    }
    for (i, conf) in c.resources.iter().enumerate() {
        let r = format!("resources[{i}].resources");
        let p = format!("resources[{i}].providers");
        if conf.resources.is_empty() {
            errs.push(required(&r, &format!("at least one {r} is required")));
        }
        validate_resource_overlap(&conf.resources, &r, &mut errs);
        validate_resource_names(&conf.resources, &r, &mut errs);
        if conf.providers.is_empty() {
            errs.push(required(&p, &format!("at least one {p} is required")));
        }
        for (j, provider) in conf.providers.iter().enumerate() {
            let path = format!("{p}[{j}]");
            let present = provider.present();
            let value = serde_json::to_string(&present).unwrap_or_default();
            if present.is_empty() {
                errs.push(invalid(&path, "{}", NO_PROVIDER_ERR));
                continue;
            }
            if present.len() > 1 {
                errs.push(invalid(&path, &value, ONE_PROVIDER_ERR));
                continue;
            }
            for (kind, keys) in [
                (Kind::AesGcm, &provider.aesgcm),
                (Kind::AesCbc, &provider.aescbc),
                (Kind::Secretbox, &provider.secretbox),
            ] {
                if let Some(keys) = keys {
                    let kp = format!("{path}.{}.keys", kind.config_name());
                    validate_keys(&keys.keys, &kp, kind.key_sizes(), &mut errs);
                }
            }
        }
    }
    errs
}

fn validate_resource_overlap(resources: &[String], path: &str, errs: &mut Vec<String>) {
    if resources.len() < 2 {
        return;
    }
    let grs: Vec<GroupResource> = resources.iter().map(|r| GroupResource::parse(r)).collect();
    let any = GroupResource::any();
    let (mut overlap, mut duplicate) = (false, false);
    for (i, r1) in grs.iter().enumerate() {
        for (j, r2) in grs.iter().enumerate() {
            if i == j {
                continue;
            }
            if r1 == r2 && !duplicate {
                duplicate = true;
                continue;
            }
            if overlap {
                continue;
            }
            if *r1 == any {
                overlap = true;
                continue;
            }
            if r1.group != r2.group {
                continue;
            }
            if r1.resource == "*" || r2.resource == "*" {
                overlap = true;
            }
        }
    }
    let value = list_value(resources);
    if duplicate {
        errs.push(invalid(path, &value, DUPLICATE_RESOURCE_ERR));
    }
    if overlap {
        errs.push(invalid(path, &value, OVERLAP_ERR));
    }
}

fn validate_resource_names(resources: &[String], path: &str, errs: &mut Vec<String>) {
    for (j, res) in resources.iter().enumerate() {
        let jj = format!("{path}[{j}]");
        let v = quote(res);
        let gr = GroupResource::parse(res);
        let detail = if res.to_lowercase() != *res {
            "resource name should not contain capital letters"
        } else if res == "*" {
            "use '*.' to encrypt all the resources from core API group or *.* to encrypt all resources"
        } else if matches!(res.as_str(), "apiserveripinfo" | "serviceipallocations" | "servicenodeportallocations") {
            "resources which do not have REST API/s cannot be encrypted"
        } else if gr.group == "events.k8s.io" {
            "'*.events.k8s.io' objects are stored using the 'events' API group in etcd. Use 'events' instead in the config file"
        } else if gr.group == "extensions" {
            "'extensions' group has been removed and cannot be used for encryption"
        } else if gr.group == "*" && gr.resource != "*" {
            "encrypting the same resource across groups is not supported"
        } else {
            continue;
        };
        errs.push(invalid(&jj, &v, detail));
    }
}

fn validate_keys(keys: &[RawKey], path: &str, sizes: &[usize], errs: &mut Vec<String>) {
    if keys.is_empty() {
        errs.push(required(path, "at least one keys is required"));
        return;
    }
    let mut seen = HashSet::new();
    for (i, key) in keys.iter().enumerate() {
        let kp = format!("{path}[{i}]");
        if key.name.is_empty() {
            errs.push(required(&format!("{kp}.name"), "name is a mandatory field for a key"));
        } else if !seen.insert(key.name.as_str()) {
            errs.push(format!("{kp}.name: Duplicate value: {}", quote(&key.name)));
        }
        let sp = format!("{kp}.secret");
        if key.secret.is_empty() {
            errs.push(required(&sp, "secret is a mandatory field for a key"));
            continue;
        }
        match decode_secret(&key.secret) {
            None => errs.push(invalid(&sp, "\"REDACTED\"", "secrets must be base64 encoded")),
            Some(raw) if !sizes.contains(&raw.len()) => {
                let expected: Vec<String> = sizes.iter().map(ToString::to_string).collect();
                errs.push(invalid(
                    &sp,
                    "\"REDACTED\"",
                    &format!(
                        "secret is not of the expected length, got {}, expected one of [{}]",
                        raw.len(),
                        expected.join(" ")
                    ),
                ));
            }
            Some(_) => {}
        }
    }
}

/// Standard padded base64, as Go's `base64.StdEncoding` requires.
fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(secret).ok()
}

// ---- the loaded configuration --------------------------------------------

/// A validated encryption configuration, resolved to one [`Transformer`] per
/// configured group/resource.
#[derive(Debug, Clone)]
pub struct EncryptionConfig {
    transformers: HashMap<GroupResource, Arc<Transformer>>,
}

impl EncryptionConfig {
    /// Read and parse the file passed as `--encryption-provider-config`.
    pub fn load(path: impl AsRef<Path>) -> Result<EncryptionConfig> {
        let path = path.as_ref();
        let data = std::fs::read(path).map_err(|source| Error::ReadConfig { path: path.to_owned(), source })?;
        if data.is_empty() {
            return Err(Error::EmptyConfig { path: path.to_owned() });
        }
        EncryptionConfig::parse(&data)
    }

    /// Parse a YAML or JSON `EncryptionConfiguration` document.
    pub fn parse(data: &[u8]) -> Result<EncryptionConfig> {
        let raw = decode(data)?;
        if raw.api_version != API_VERSION || raw.kind != KIND {
            return Err(Error::UnexpectedKind { api_version: raw.api_version, kind: raw.kind });
        }
        let errs = validate(&raw);
        if !errs.is_empty() {
            return Err(Error::Invalid(errs));
        }
        build(raw)
    }

    /// The transformer for `resource` in `group` (`""` = core), or `None` when no
    /// entry covers it, in which case data is stored as plaintext (callers can
    /// use [`Transformer::identity`] to keep upstream's refusal to return
    /// encrypted data). Precedence follows upstream: exact `resource.group`,
    /// then `*.group`, then `*.*`.
    pub fn transformer_for(&self, group: &str, resource: &str) -> Option<Arc<Transformer>> {
        [GroupResource::new(group, resource), GroupResource::new(group, "*"), GroupResource::any()]
            .iter()
            .find_map(|gr| self.transformers.get(gr).cloned())
    }

    /// The rules the config names (wildcards in their YAML spelling, e.g. `*.`,
    /// `*.apps`), sorted; handy for logging what is encrypted at startup.
    pub fn resources(&self) -> BTreeSet<String> {
        self.transformers.keys().map(GroupResource::yaml).collect()
    }
}

fn decode(data: &[u8]) -> Result<RawConfig> {
    // A YAML decoder would turn an empty document into an all-default struct.
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::Decode("encryption provider configuration is empty".to_owned()));
    }
    let looks_json = data.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|&b| b == b'{');
    let parsed = if looks_json {
        serde_json::from_slice::<RawConfig>(data).map_err(|e| e.to_string())
    } else {
        serde_saphyr::from_slice::<RawConfig>(data).map_err(|e| e.to_string())
    };
    parsed.map_err(Error::Decode)
}

fn build(raw: RawConfig) -> Result<EncryptionConfig> {
    let mut by_gr: HashMap<GroupResource, Vec<Arc<Provider>>> = HashMap::new();
    for entry in raw.resources {
        let providers = entry.providers.iter().map(build_provider).collect::<Result<Vec<_>>>()?;
        for resource in &entry.resources {
            let gr = GroupResource::parse(resource);
            // A later rule that an earlier wildcard already covers would never
            // be used; upstream refuses such configs rather than ignore them.
            for rule in [GroupResource::new(&gr.group, "*"), GroupResource::any()] {
                if by_gr.contains_key(&rule) {
                    return Err(Error::Masked { resource: gr.yaml(), rule: rule.yaml() });
                }
            }
            // The same resource in several entries reads with all their
            // providers in order, as upstream does.
            by_gr.entry(gr).or_default().extend(providers.iter().cloned());
        }
    }
    let transformers = by_gr.into_iter().map(|(gr, providers)| (gr, Arc::new(Transformer::new(providers)))).collect();
    Ok(EncryptionConfig { transformers })
}

fn build_provider(p: &RawProvider) -> Result<Arc<Provider>> {
    if let Some(kms) = &p.kms {
        let name = kms.get("name").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
        return Err(Error::KmsUnsupported { name });
    }
    let keyed = [(Kind::AesGcm, &p.aesgcm), (Kind::AesCbc, &p.aescbc), (Kind::Secretbox, &p.secretbox)]
        .into_iter()
        .find_map(|(kind, keys)| keys.as_ref().map(|k| (kind, k)));
    let Some((kind, keys)) = keyed else {
        return Ok(Arc::new(Provider::Identity));
    };
    let mut named = Vec::with_capacity(keys.keys.len());
    for key in &keys.keys {
        // Validation has already checked these; the errors below are unreachable
        // in practice but keep this function total.
        let bad = || Error::Invalid(vec![format!("invalid key {:?}", key.name)]);
        let raw = decode_secret(&key.secret).ok_or_else(bad)?;
        named.push(NamedKey::new(kind, &key.name, &raw).ok_or_else(bad)?);
    }
    Ok(Arc::new(Provider::Keyed { kind, keys: named }))
}

//! Pod volumes on the node: each set up under `<root>/pods/<uid>/volumes/<plugin>/<name>`
//! before the containers start, and kept current on every sync (configMap, secret,
//! downwardAPI and projected contents are swapped in atomically through the `..data` link, as
//! upstream's atomic writer does, so a reader never sees half an update).

use crate::env::Sources;
use crate::pod;
use k8s_openapi::api::core::v1::{Container, KeyToPath, Pod, Volume};
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

pub const DEFAULT_MODE: u32 = 0o644;

/// Files of an atomically written volume: relative path -> (content, mode).
pub type Files = BTreeMap<String, (Vec<u8>, u32)>;

/// The plugin directory name of a volume source, as upstream's (`kubernetes.io~secret`).
pub fn plugin_dir(v: &Volume) -> Option<&'static str> {
    Some(if v.empty_dir.is_some() {
        "kubernetes.io~empty-dir"
    } else if v.config_map.is_some() {
        "kubernetes.io~configmap"
    } else if v.secret.is_some() {
        "kubernetes.io~secret"
    } else if v.downward_api.is_some() {
        "kubernetes.io~downward-api"
    } else if v.projected.is_some() {
        "kubernetes.io~projected"
    } else {
        return None;
    })
}

fn io(p: &Path, e: std::io::Error) -> String {
    format!("{}: {e}", p.display())
}

/// The check `hostPath.type` asks for, with upstream's messages.
pub fn check_host_path(path: &Path, type_: &str) -> Result<(), String> {
    let meta = std::fs::metadata(path);
    let ft = meta.as_ref().map(|m| m.file_type());
    use std::os::unix::fs::FileTypeExt;
    let p = path.display();
    match type_ {
        "" => Ok(()),
        "DirectoryOrCreate" => match ft {
            Ok(t) if t.is_dir() => Ok(()),
            Ok(_) => Err(format!("hostPath type check failed: {p} is not a directory")),
            Err(_) => {
                std::fs::create_dir_all(path).map_err(|e| io(path, e))?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|e| io(path, e))
            }
        },
        "FileOrCreate" => match ft {
            Ok(t) if t.is_file() => Ok(()),
            Ok(_) => Err(format!("hostPath type check failed: {p} is not a file")),
            Err(_) => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
                }
                std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| io(path, e))?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).map_err(|e| io(path, e))
            }
        },
        "Directory" => match ft {
            Ok(t) if t.is_dir() => Ok(()),
            Ok(_) => Err(format!("hostPath type check failed: {p} is not a directory")),
            Err(_) => Err(format!("hostPath type check failed: {p} is not a directory")),
        },
        "File" => match ft {
            Ok(t) if t.is_file() => Ok(()),
            _ => Err(format!("hostPath type check failed: {p} is not a file")),
        },
        "Socket" => match ft {
            Ok(t) if t.is_socket() => Ok(()),
            _ => Err(format!("hostPath type check failed: {p} is not a socket file")),
        },
        "CharDevice" => match ft {
            Ok(t) if t.is_char_device() => Ok(()),
            _ => Err(format!("hostPath type check failed: {p} is not a character device")),
        },
        "BlockDevice" => match ft {
            Ok(t) if t.is_block_device() => Ok(()),
            _ => Err(format!("hostPath type check failed: {p} is not a block device")),
        },
        other => Err(format!("hostPath type check failed: unsupported type {other:?}")),
    }
}

/// A relative path that stays inside its volume (no `..`, not absolute).
pub fn safe_relative(p: &str) -> bool {
    let path = Path::new(p);
    !p.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Whether `dir` is a mount point (per /proc/self/mountinfo).
fn is_mount_point(dir: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else { return false };
    let d = dir.display().to_string();
    info.lines().any(|l| l.split(' ').nth(4) == Some(d.as_str()))
}

/// Mounts a tmpfs on `dir` (secrets never touch the disk; `medium: Memory` emptyDirs).
fn mount_tmpfs(dir: &Path, size: Option<i64>) -> Result<(), String> {
    if is_mount_point(dir) {
        return Ok(());
    }
    let mut cmd = std::process::Command::new("mount");
    cmd.args(["-t", "tmpfs"]);
    if let Some(s) = size.filter(|s| *s > 0) {
        cmd.args(["-o", &format!("size={s}")]);
    }
    let out = cmd.arg("tmpfs").arg(dir).output().map_err(|e| format!("mount: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "mount failed: {}\nMounting command: mount\nMounting arguments: -t tmpfs tmpfs {}\nOutput: {}",
            out.status,
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

fn unmount(dir: &Path) {
    if is_mount_point(dir) {
        let _ = std::process::Command::new("umount").arg(dir).output();
    }
}

/// The timestamped directory name of one payload generation: `..2006_01_02_15_04_05.NNNNNNNNN`.
fn generation_name() -> String {
    let now = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC);
    format!("..{}", now.strftime("%Y_%m_%d_%H_%M_%S.%f"))
}

/// Writes `files` into `dir` atomically: a new generation directory, `..data` switched to it
/// by a rename, top-level links `name -> ..data/name`, the old generation removed. Nothing is
/// written when the content is unchanged.
pub fn write_atomic(dir: &Path, files: &Files, gid: Option<u32>) -> Result<bool, String> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let data = dir.join("..data");
    let old_gen = std::fs::read_link(&data).ok();
    if let Some(old) = &old_gen {
        let base = dir.join(old);
        let same = files.iter().all(|(rel, (content, mode))| {
            let p = base.join(rel);
            let want = if gid.is_some() { mode | 0o440 } else { *mode };
            std::fs::read(&p).ok().as_ref() == Some(content)
                && std::fs::metadata(&p).map(|m| m.permissions().mode() & 0o7777).ok() == Some(want)
        }) && count_files(&base) == files.len();
        if same {
            return Ok(false);
        }
    }
    let gen = generation_name();
    let gen_dir = dir.join(&gen);
    std::fs::create_dir(&gen_dir).map_err(|e| io(&gen_dir, e))?;
    std::fs::set_permissions(&gen_dir, std::fs::Permissions::from_mode(0o755)).map_err(|e| io(&gen_dir, e))?;
    for (rel, (content, mode)) in files {
        let p = gen_dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::write(&p, content).map_err(|e| io(&p, e))?;
        // With an fsGroup the group owns the file and may read it (the read-only mask).
        let mode = if gid.is_some() { mode | 0o440 } else { *mode };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).map_err(|e| io(&p, e))?;
        if let Some(g) = gid {
            std::os::unix::fs::lchown(&p, None, Some(g)).map_err(|e| io(&p, e))?;
        }
    }
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&gen, &tmp).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, &data).map_err(|e| io(&data, e))?;
    // Top-level names point through ..data; names that left the payload go.
    let tops: std::collections::BTreeSet<String> =
        files.keys().filter_map(|k| k.split('/').next().map(str::to_string)).collect();
    for t in &tops {
        let link = dir.join(t);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(format!("..data/{t}"), &link).map_err(|e| io(&link, e))?;
        }
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("..") {
                if name != "..data" && name != gen {
                    let _ = std::fs::remove_dir_all(e.path());
                }
                continue;
            }
            if !tops.contains(&name) && e.file_type().map(|t| t.is_symlink()).unwrap_or(false) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(true)
}

fn count_files(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    rd.flatten()
        .map(|e| if e.file_type().map(|t| t.is_dir()).unwrap_or(false) { count_files(&e.path()) } else { 1 })
        .sum()
}

/// Selects `items` of `data` (all keys when none), each with its mode; a missing key is an
/// error unless `optional`.
fn project(
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&Vec<KeyToPath>>,
    default_mode: u32,
    optional: bool,
    what: &str,
    files: &mut Files,
) -> Result<(), String> {
    match items.filter(|i| !i.is_empty()) {
        None => {
            for (k, v) in data {
                files.insert(k.clone(), (v.clone(), default_mode));
            }
        }
        Some(items) => {
            for it in items {
                if !safe_relative(&it.path) {
                    return Err(format!("invalid path {:?}", it.path));
                }
                match data.get(&it.key) {
                    Some(v) => {
                        files.insert(it.path.clone(), (v.clone(), it.mode.map(|m| m as u32).unwrap_or(default_mode)));
                    }
                    None if optional => {}
                    None if what == "secret" => return Err(format!("references non-existent secret key: {}", it.key)),
                    None => return Err(format!("configmap references non-existent config key: {}", it.key)),
                }
            }
        }
    }
    Ok(())
}

fn mode(m: Option<i32>) -> u32 {
    m.map(|m| m as u32 & 0o7777).unwrap_or(DEFAULT_MODE)
}

/// Files of a downwardAPI projection.
fn downward_files(
    p: &Pod,
    items: &[k8s_openapi::api::core::v1::DownwardAPIVolumeFile],
    default_mode: u32,
    allocatable: &BTreeMap<String, String>,
    files: &mut Files,
) -> Result<(), String> {
    for it in items {
        if !safe_relative(&it.path) {
            return Err(format!("invalid path {:?}", it.path));
        }
        let value = if let Some(f) = &it.field_ref {
            crate::env::field_value(p, &f.field_path, &[], &[])?
        } else if let Some(r) = &it.resource_field_ref {
            let name = r.container_name.clone().unwrap_or_default();
            let c = p
                .spec
                .iter()
                .flat_map(|s| s.containers.iter().chain(s.init_containers.iter().flatten()))
                .find(|c| c.name == name)
                .ok_or_else(|| format!("cannot find container {name:?} in pod"))?;
            crate::env::resource_value(c, &r.resource, r.divisor.as_ref().map(|d| d.0.as_str()), allocatable)?
        } else {
            String::new()
        };
        files.insert(it.path.clone(), (value.into_bytes(), it.mode.map(|m| m as u32).unwrap_or(default_mode)));
    }
    Ok(())
}

/// Issues service account tokens for projected volumes (TokenRequest, bound to the pod).
pub trait Tokens {
    fn token(
        &self,
        p: &Pod,
        audience: &str,
        expiration_seconds: i64,
    ) -> impl std::future::Future<Output = Result<String, String>> + Send;
}

/// Everything the volume setup reads besides the pod.
pub struct VolumeInputs<'a, S: Sources, T: Tokens> {
    pub root_dir: &'a Path,
    pub sources: &'a S,
    pub tokens: &'a T,
    pub allocatable: &'a BTreeMap<String, String>,
    /// PersistentVolumeClaim name -> the path of its bound PersistentVolume on this node.
    pub claims: &'a HashMap<String, PathBuf>,
}

fn config_map_bytes(cm: &k8s_openapi::api::core::v1::ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> =
        cm.data.iter().flatten().map(|(k, v)| (k.clone(), v.clone().into_bytes())).collect();
    for (k, v) in cm.binary_data.iter().flatten() {
        out.insert(k.clone(), v.0.clone());
    }
    out
}

/// Sets up (or refreshes) every volume of the pod; returns each volume's path on the node.
pub async fn setup<S: Sources, T: Tokens>(
    p: &Pod,
    inp: &VolumeInputs<'_, S, T>,
) -> Result<HashMap<String, PathBuf>, (String, String)> {
    let uid = pod::uid(p);
    let ns = pod::namespace(p);
    let spec = p.spec.clone().unwrap_or_default();
    let fs_group = spec.security_context.as_ref().and_then(|s| s.fs_group).map(|g| g as u32);
    let mut out = HashMap::new();
    for v in spec.volumes.iter().flatten() {
        let fail = |e: String| (v.name.clone(), e);
        let dir = match plugin_dir(v) {
            Some(plugin) => inp.root_dir.join("pods").join(uid).join("volumes").join(plugin).join(&v.name),
            None => PathBuf::new(),
        };
        if let Some(ed) = &v.empty_dir {
            let fresh = !dir.exists();
            std::fs::create_dir_all(&dir).map_err(|e| fail(io(&dir, e)))?;
            if ed.medium.as_deref() == Some("Memory") {
                let size = ed.size_limit.as_ref().and_then(|q| crate::quantity::value(&q.0));
                mount_tmpfs(&dir, size).map_err(fail)?;
            }
            if fresh || ed.medium.as_deref() == Some("Memory") {
                let mut m = 0o777;
                if let Some(g) = fs_group {
                    std::os::unix::fs::chown(&dir, None, Some(g)).map_err(|e| fail(io(&dir, e)))?;
                    m |= 0o2000;
                }
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(m)).map_err(|e| fail(io(&dir, e)))?;
            }
        } else if let Some(hp) = &v.host_path {
            let path = PathBuf::from(&hp.path);
            check_host_path(&path, hp.type_.as_deref().unwrap_or("")).map_err(fail)?;
            out.insert(v.name.clone(), path);
            continue;
        } else if let Some(src) = &v.config_map {
            let optional = src.optional.unwrap_or(false);
            let mut files = Files::new();
            match inp.sources.config_map(ns, &src.name).await.map_err(fail)? {
                Some(cm) => project(
                    &config_map_bytes(&cm),
                    src.items.as_ref(),
                    mode(src.default_mode),
                    optional,
                    "configmap",
                    &mut files,
                )
                .map_err(fail)?,
                None if optional => {}
                None => return Err(fail(format!("configmap \"{}\" not found", src.name))),
            }
            write_atomic(&dir, &files, fs_group).map_err(fail)?;
        } else if let Some(src) = &v.secret {
            let name = src.secret_name.clone().unwrap_or_default();
            let optional = src.optional.unwrap_or(false);
            std::fs::create_dir_all(&dir).map_err(|e| fail(io(&dir, e)))?;
            mount_tmpfs(&dir, None).map_err(fail)?;
            let mut files = Files::new();
            match inp.sources.secret(ns, &name).await.map_err(fail)? {
                Some(s) => {
                    let data: BTreeMap<String, Vec<u8>> =
                        s.data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())).collect();
                    project(&data, src.items.as_ref(), mode(src.default_mode), optional, "secret", &mut files)
                        .map_err(fail)?
                }
                None if optional => {}
                None => return Err(fail(format!("secret \"{name}\" not found"))),
            }
            write_atomic(&dir, &files, fs_group).map_err(fail)?;
        } else if let Some(src) = &v.downward_api {
            let mut files = Files::new();
            downward_files(p, src.items.as_deref().unwrap_or(&[]), mode(src.default_mode), inp.allocatable, &mut files)
                .map_err(fail)?;
            write_atomic(&dir, &files, fs_group).map_err(fail)?;
        } else if let Some(src) = &v.projected {
            std::fs::create_dir_all(&dir).map_err(|e| fail(io(&dir, e)))?;
            mount_tmpfs(&dir, None).map_err(fail)?;
            let dm = mode(src.default_mode);
            let mut files = Files::new();
            for s in src.sources.iter().flatten() {
                if let Some(c) = &s.config_map {
                    let optional = c.optional.unwrap_or(false);
                    match inp.sources.config_map(ns, &c.name).await.map_err(fail)? {
                        Some(cm) => {
                            project(&config_map_bytes(&cm), c.items.as_ref(), dm, optional, "configmap", &mut files)
                                .map_err(fail)?
                        }
                        None if optional => {}
                        None => return Err(fail(format!("configmap \"{}\" not found", c.name))),
                    }
                }
                if let Some(c) = &s.secret {
                    let optional = c.optional.unwrap_or(false);
                    match inp.sources.secret(ns, &c.name).await.map_err(fail)? {
                        Some(sec) => {
                            let data: BTreeMap<String, Vec<u8>> =
                                sec.data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())).collect();
                            project(&data, c.items.as_ref(), dm, optional, "secret", &mut files).map_err(fail)?
                        }
                        None if optional => {}
                        None => return Err(fail(format!("secret \"{}\" not found", c.name))),
                    }
                }
                if let Some(d) = &s.downward_api {
                    downward_files(p, d.items.as_deref().unwrap_or(&[]), dm, inp.allocatable, &mut files)
                        .map_err(fail)?;
                }
                if let Some(t) = &s.service_account_token {
                    let exp = t.expiration_seconds.unwrap_or(3600);
                    let token = inp.tokens.token(p, t.audience.as_deref().unwrap_or(""), exp).await.map_err(fail)?;
                    // Tokens are readable by the pod's user only, as upstream (0600 unless fsGroup).
                    let m = if src.default_mode.is_some() { dm } else { 0o600 };
                    files.insert(t.path.clone(), (token.into_bytes(), m));
                }
                if let Some(b) = &s.cluster_trust_bundle {
                    if !b.optional.unwrap_or(false) {
                        return Err(fail("clusterTrustBundle projections are not served by this kubelet".into()));
                    }
                }
            }
            write_atomic(&dir, &files, fs_group).map_err(fail)?;
        } else if let Some(pvc) = &v.persistent_volume_claim {
            let path = inp
                .claims
                .get(&pvc.claim_name)
                .cloned()
                .ok_or_else(|| fail(format!("persistentvolumeclaim \"{}\" not found", pvc.claim_name)))?;
            out.insert(v.name.clone(), path);
            continue;
        } else if v.ephemeral.is_some() {
            let claim = format!("{}-{}", pod::name(p), v.name);
            let path = inp
                .claims
                .get(&claim)
                .cloned()
                .ok_or_else(|| fail(format!("persistentvolumeclaim \"{claim}\" not found")))?;
            out.insert(v.name.clone(), path);
            continue;
        } else {
            return Err(fail("volume type not supported on this node".into()));
        }
        out.insert(v.name.clone(), dir);
    }
    Ok(out)
}

/// The container's mounts: each volumeMount's host path (with subPath or subPathExpr), read-only
/// flag and propagation.
pub fn mounts(
    c: &Container,
    volumes: &HashMap<String, PathBuf>,
    env: &HashMap<String, String>,
) -> Result<Vec<crate::cri::api::Mount>, String> {
    let mut out = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        let base = volumes
            .get(&m.name)
            .ok_or_else(|| format!("cannot find volume {:?} to mount into container {:?}", m.name, c.name))?;
        let sub = match (&m.sub_path, &m.sub_path_expr) {
            (Some(s), _) if !s.is_empty() => Some(s.clone()),
            (_, Some(e)) if !e.is_empty() => Some(pod::expand(e, env)),
            _ => None,
        };
        let host = match sub {
            Some(s) => {
                if !safe_relative(&s) {
                    return Err(format!("subPath {s:?} must not be absolute or contain '..'"));
                }
                let p = base.join(&s);
                if std::fs::symlink_metadata(&p).is_err() {
                    std::fs::create_dir_all(&p).map_err(|e| io(&p, e))?;
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).map_err(|e| io(&p, e))?;
                }
                p
            }
            None => base.clone(),
        };
        let propagation = match m.mount_propagation.as_deref() {
            Some("HostToContainer") => crate::cri::api::MountPropagation::PropagationHostToContainer,
            Some("Bidirectional") => crate::cri::api::MountPropagation::PropagationBidirectional,
            _ => crate::cri::api::MountPropagation::PropagationPrivate,
        };
        out.push(crate::cri::api::Mount {
            container_path: m.mount_path.clone(),
            host_path: host.display().to_string(),
            readonly: m.read_only.unwrap_or(false),
            propagation: propagation as i32,
            ..Default::default()
        });
    }
    Ok(out)
}

/// Unmounts and removes the volumes of a pod that has finished (its directory stays until
/// the pod is deleted).
pub fn teardown_volumes(root_dir: &Path, uid: &str) {
    let vols = root_dir.join("pods").join(uid).join("volumes");
    if !vols.exists() {
        return;
    }
    unmount_all(&vols);
    let _ = std::fs::remove_dir_all(&vols);
}

fn unmount_all(vols: &Path) {
    if let Ok(plugins) = std::fs::read_dir(vols) {
        for plugin in plugins.flatten() {
            if let Ok(rd) = std::fs::read_dir(plugin.path()) {
                for v in rd.flatten() {
                    unmount(&v.path());
                }
            }
        }
    }
}

/// Unmounts and removes the pod's volumes and directory.
pub fn teardown(root_dir: &Path, uid: &str) {
    unmount_all(&root_dir.join("pods").join(uid).join("volumes"));
    let _ = std::fs::remove_dir_all(root_dir.join("pods").join(uid));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_swap_data_and_keep_links() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("v");
        let mut f = Files::new();
        f.insert("a".into(), (b"1".to_vec(), 0o644));
        f.insert("sub/b".into(), (b"2".to_vec(), 0o600));
        assert!(write_atomic(&dir, &f, None).unwrap());
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(dir.join("sub/b")).unwrap(), "2");
        assert_eq!(std::fs::read_link(dir.join("a")).unwrap(), Path::new("..data/a"));
        let gen1 = std::fs::read_link(dir.join("..data")).unwrap();
        assert!(gen1.to_string_lossy().starts_with("..20"), "{gen1:?}");
        assert!(!write_atomic(&dir, &f, None).unwrap(), "unchanged content is not rewritten");
        f.remove("sub/b");
        f.insert("a".into(), (b"3".to_vec(), 0o644));
        assert!(write_atomic(&dir, &f, None).unwrap());
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "3");
        assert!(std::fs::symlink_metadata(dir.join("sub")).is_err(), "a removed key's link goes");
        assert!(!dir.join(&gen1).exists(), "the old generation goes");
    }

    #[test]
    fn host_path_types_are_checked() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("f");
        std::fs::write(&file, "x").unwrap();
        assert_eq!(
            check_host_path(&file, "Directory").unwrap_err(),
            format!("hostPath type check failed: {} is not a directory", file.display())
        );
        assert!(check_host_path(&file, "File").is_ok());
        assert!(check_host_path(d.path(), "File").unwrap_err().ends_with("is not a file"));
        let created = d.path().join("new/dir");
        check_host_path(&created, "DirectoryOrCreate").unwrap();
        assert!(created.is_dir());
        let cf = d.path().join("new/file");
        check_host_path(&cf, "FileOrCreate").unwrap();
        assert!(cf.is_file());
        assert!(check_host_path(&cf, "Socket").unwrap_err().ends_with("is not a socket file"));
        assert!(check_host_path(Path::new("/nonexistent/x"), "").is_ok());
    }

    #[test]
    fn sub_paths_stay_inside() {
        assert!(safe_relative("a/b"));
        assert!(!safe_relative("../a"));
        assert!(!safe_relative("/etc"));
        assert!(!safe_relative("a/../../b"));
    }
}

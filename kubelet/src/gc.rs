//! Garbage collection, as upstream's: dead containers (at most one per pod and container
//! beyond the running one, none for pods that are gone), their sandboxes and log
//! directories every minute; unused images when the image filesystem passes
//! `imageGCHighThresholdPercent` (down to the low threshold, least recently used first, never
//! younger than `imageMinimumGCAge`), or unused longer than `imageMaximumGCAge`, every five
//! minutes. Both run at once on start, and on demand when the eviction manager reclaims disk.

use crate::config::Config;
use crate::cri::{api, Cri};
use crate::worker::{PodState, Pods};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const CONTAINER_GC_PERIOD: Duration = Duration::from_secs(60);
pub const IMAGE_GC_PERIOD: Duration = Duration::from_secs(300);
/// Dead instances kept per container (upstream's `MaxPerPodContainer`).
const MAX_PER_POD_CONTAINER: usize = 1;

struct ImageRecord {
    /// `None`: present when the kubelet started, so old enough for any minimum age.
    first_detected: Option<Instant>,
    last_used: Option<Instant>,
    size: i64,
    pinned: bool,
}

pub struct Gc {
    cfg: Arc<Config>,
    cri: Cri,
    images: Mutex<HashMap<String, ImageRecord>>,
    detected_once: std::sync::atomic::AtomicBool,
}

impl Gc {
    pub fn new(cfg: Arc<Config>, cri: Cri) -> Arc<Gc> {
        Arc::new(Gc { cfg, cri, images: Mutex::new(HashMap::new()), detected_once: Default::default() })
    }

    /// Where the runtime keeps its images (from `ImageFsInfo`).
    pub async fn image_fs_mountpoint(&self) -> Option<PathBuf> {
        let fs = self.cri.image_fs_info().await.ok()?;
        fs.into_iter().find_map(|f| f.fs_id.map(|id| PathBuf::from(id.mountpoint))).filter(|p| p.exists())
    }

    /// Refreshes the image records; returns the IDs of images some container uses.
    async fn detect(&self) -> Result<HashSet<String>, tonic::Status> {
        let images = self.cri.list_images().await?;
        let containers = self.cri.list_containers().await?;
        let mut in_use: HashSet<String> = containers.iter().map(|c| c.image_ref.clone()).collect();
        for c in &containers {
            if let Some(spec) = &c.image {
                in_use.insert(spec.image.clone());
            }
        }
        let sandbox_image = self.cri.sandbox_image().await;
        let now = Instant::now();
        let first = !self.detected_once.swap(true, std::sync::atomic::Ordering::SeqCst);
        let mut recs = self.images.lock().unwrap();
        let present: HashSet<&str> = images.iter().map(|i| i.id.as_str()).collect();
        recs.retain(|id, _| present.contains(id.as_str()));
        let mut used_ids = HashSet::new();
        for img in &images {
            let used = in_use.contains(&img.id) || img.repo_tags.iter().any(|t| in_use.contains(t));
            let rec = recs.entry(img.id.clone()).or_insert(ImageRecord {
                first_detected: if first { None } else { Some(now) },
                last_used: None,
                size: img.size as i64,
                pinned: false,
            });
            rec.size = img.size as i64;
            rec.pinned = img.pinned || sandbox_image.as_ref().is_some_and(|s| img.repo_tags.contains(s));
            if used {
                rec.last_used = Some(now);
                used_ids.insert(img.id.clone());
            }
        }
        Ok(used_ids)
    }

    /// Removes unused images, least recently used first, until `want` bytes are freed.
    /// Images younger than the minimum age (or used more recently than `unused_since`, when
    /// given) are kept.
    async fn free_space(&self, want: i64, unused_since: Option<Instant>) -> Result<i64, tonic::Status> {
        let in_use = self.detect().await?;
        let now = Instant::now();
        let mut candidates: Vec<(String, Option<Instant>, Option<Instant>, i64)> = {
            let recs = self.images.lock().unwrap();
            recs.iter()
                .filter(|(id, r)| !in_use.contains(*id) && !r.pinned)
                .map(|(id, r)| (id.clone(), r.last_used, r.first_detected, r.size))
                .collect()
        };
        candidates.sort_by_key(|c| (c.1, c.2));
        let mut freed = 0;
        for (id, last_used, first_detected, size) in candidates {
            if let Some(since) = unused_since {
                if last_used.is_some_and(|l| l > since) {
                    continue;
                }
            }
            if first_detected.is_some_and(|f| now.duration_since(f) < self.cfg.image_minimum_gc_age) {
                tracing::debug!(image = %id, "Image ID is new");
                continue;
            }
            tracing::info!(image = %id, size, "Removing image to free bytes");
            match self.cri.remove_image(&id).await {
                Ok(()) => {
                    freed += size;
                    self.images.lock().unwrap().remove(&id);
                }
                Err(e) => tracing::warn!(image = %id, "Failed to remove image: {}", e.message()),
            }
            if freed >= want {
                break;
            }
        }
        Ok(freed)
    }

    /// Every unused image that is old enough (the eviction manager's reclaim).
    pub async fn delete_unused_images(&self) {
        if let Err(e) = self.free_space(i64::MAX, None).await {
            tracing::warn!("Failed to delete unused images: {}", e.message());
        }
    }

    /// One round of image garbage collection by age and disk thresholds.
    pub async fn collect_images(&self, pods: &Pods) -> Result<(), String> {
        let max_age = self.cfg.image_maximum_gc_age;
        if !max_age.is_zero() {
            if let Some(since) = Instant::now().checked_sub(max_age) {
                self.free_space(i64::MAX, Some(since)).await.map_err(|e| e.message().to_string())?;
            }
        }
        let Some(mount) = self.image_fs_mountpoint().await else {
            self.detect().await.map_err(|e| e.message().to_string())?;
            return Ok(());
        };
        let Some(fs) = crate::stats::fs(&mount) else { return Ok(()) };
        if fs.capacity <= 0 {
            return Ok(());
        }
        let usage = 100 - (fs.available * 100 / fs.capacity) as i32;
        let (high, low) = (self.cfg.image_gc_high_threshold_percent, self.cfg.image_gc_low_threshold_percent);
        if usage < high {
            self.detect().await.map_err(|e| e.message().to_string())?;
            return Ok(());
        }
        let want = fs.capacity * (100 - low as i64) / 100 - fs.available;
        tracing::info!(
            usage,
            high_threshold = high,
            amount_to_free = want,
            low_threshold = low,
            "Disk usage on image filesystem is over the high threshold, trying to free bytes down to the low threshold"
        );
        let freed = self.free_space(want, None).await.map_err(|e| e.message().to_string())?;
        if freed < want {
            let msg = format!(
                "Failed to garbage collect required amount of images. Attempted to free {want} bytes, but only found {freed} bytes eligible to free."
            );
            pods.node_event("Warning", "FreeDiskSpaceFailed", msg.clone());
            return Err(msg);
        }
        Ok(())
    }

    /// Dead containers and sandboxes, and log directories of pods that are gone. With
    /// `evict_terminated`, also everything of pods that have finished.
    pub async fn collect_containers(&self, pods: &Pods, evict_terminated: bool) -> Result<(), tonic::Status> {
        let sources_ready = pods.sources_ready();
        let containers = self.cri.list_containers().await?;
        let sandboxes = self.cri.list_sandboxes().await?;
        let uid_of = |labels: &HashMap<String, String>| labels.get(crate::pod::LABEL_POD_UID).cloned();
        let remove_everything = |uid: &str| match pods.pod_state(uid) {
            PodState::Deleted => sources_ready,
            PodState::Terminated => evict_terminated,
            PodState::Active => false,
        };
        let mut groups: HashMap<(String, String), Vec<&api::Container>> = HashMap::new();
        for c in containers.iter().filter(|c| c.state != api::ContainerState::ContainerRunning as i32) {
            let Some(uid) = uid_of(&c.labels) else { continue };
            let name = c.metadata.as_ref().map(|m| m.name.clone()).unwrap_or_default();
            groups.entry((uid, name)).or_default().push(c);
        }
        let mut removed: HashSet<&str> = HashSet::new();
        for ((uid, _), mut group) in groups {
            group.sort_by_key(|c| std::cmp::Reverse(c.created_at));
            let keep = if remove_everything(&uid) { 0 } else { MAX_PER_POD_CONTAINER };
            for c in group.into_iter().skip(keep) {
                tracing::debug!(container = %c.id, pod_uid = %uid, "Removing container");
                match self.cri.remove_container(&c.id).await {
                    Ok(()) => {
                        removed.insert(c.id.as_str());
                    }
                    Err(e) => tracing::warn!(container = %c.id, "Failed to remove container: {}", e.message()),
                }
            }
        }
        let with_containers: HashSet<&str> =
            containers.iter().filter(|c| !removed.contains(c.id.as_str())).map(|c| c.pod_sandbox_id.as_str()).collect();
        let mut by_pod: HashMap<String, Vec<&api::PodSandbox>> = HashMap::new();
        for s in &sandboxes {
            if let Some(uid) = uid_of(&s.labels) {
                by_pod.entry(uid).or_default().push(s);
            }
        }
        for (uid, mut list) in by_pod {
            list.sort_by_key(|s| std::cmp::Reverse(s.created_at));
            let keep = if remove_everything(&uid) { 0 } else { 1 };
            for s in list.into_iter().skip(keep) {
                if s.state == api::PodSandboxState::SandboxReady as i32 || with_containers.contains(s.id.as_str()) {
                    continue;
                }
                tracing::debug!(sandbox = %s.id, pod_uid = %uid, "Removing sandbox");
                if let Err(e) = self.cri.remove_sandbox(&s.id).await {
                    tracing::warn!(sandbox = %s.id, "Failed to remove sandbox: {}", e.message());
                }
            }
        }
        if sources_ready {
            let with_sandbox: HashSet<String> = sandboxes.iter().filter_map(|s| uid_of(&s.labels)).collect();
            if let Ok(rd) = std::fs::read_dir(&self.cfg.pod_logs_dir) {
                for e in rd.flatten() {
                    let name = e.file_name().to_string_lossy().to_string();
                    let Some(uid) = name.rsplit('_').next() else { continue };
                    if !with_sandbox.contains(uid) && pods.pod_state(uid) == PodState::Deleted {
                        tracing::debug!(path = %e.path().display(), "Removing pod logs");
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        Ok(())
    }

    /// Every dead container and sandbox of finished pods (the eviction manager's reclaim).
    pub async fn delete_all_unused_containers(&self, pods: &Pods) {
        if let Err(e) = self.collect_containers(pods, true).await {
            tracing::warn!("Failed to delete unused containers: {}", e.message());
        }
    }

    /// The periodic collectors.
    pub async fn run(self: Arc<Self>, pods: Arc<Pods>) {
        let containers = async {
            loop {
                if let Err(e) = self.collect_containers(&pods, false).await {
                    tracing::error!("Container garbage collection failed: {}", e.message());
                }
                tokio::time::sleep(CONTAINER_GC_PERIOD).await;
            }
        };
        let images = async {
            let mut failed_before = false;
            loop {
                match self.collect_images(&pods).await {
                    Ok(()) => failed_before = false,
                    Err(e) if failed_before => {
                        tracing::error!("Image garbage collection failed multiple times in a row: {e}");
                        pods.node_event("Warning", "ImageGCFailed", e);
                    }
                    Err(e) => {
                        tracing::error!(
                            "Image garbage collection failed once. Stats initialization may not have completed yet: {e}"
                        );
                        failed_before = true;
                    }
                }
                tokio::time::sleep(IMAGE_GC_PERIOD).await;
            }
        };
        tokio::join!(containers, images);
    }
}

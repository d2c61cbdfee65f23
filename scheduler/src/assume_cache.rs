//! Objects the scheduler has decided to change but the informer has not shown changed yet
//! (upstream's `assumecache`): VolumeBinding assumes a volume's `claimRef` or a claim's
//! selected node at Reserve, so that the next pod's cycle sees the volume taken before the
//! write at PreBind lands. An assumed copy is dropped once the informer holds a newer
//! resourceVersion, or when the informer no longer has the object.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::Metadata;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub struct AssumeCache<K> {
    /// How errors name the kind (`v1.PersistentVolume`).
    desc: &'static str,
    assumed: Mutex<HashMap<String, Arc<K>>>,
}

fn rv<K: Metadata<Ty = ObjectMeta>>(o: &K) -> i64 {
    api_types::storage::resource_version(o.metadata())
}

impl<K: Metadata<Ty = ObjectMeta>> AssumeCache<K> {
    pub fn new(desc: &'static str) -> Self {
        AssumeCache { desc, assumed: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<K>>> {
        self.assumed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The newest view of `key`, given the informer's copy `api`: the assumed copy unless the
    /// informer has moved past it.
    pub fn get(&self, key: &str, api: Option<Arc<K>>) -> Option<Arc<K>> {
        let mut m = self.lock();
        let Some(api) = api else {
            m.remove(key);
            return None;
        };
        match m.get(key) {
            Some(a) if rv(a.as_ref()) >= rv(api.as_ref()) => Some(a.clone()),
            Some(_) => {
                m.remove(key);
                Some(api)
            }
            None => Some(api),
        }
    }

    /// Records `obj` as the newest version of `key` (the informer's copy is `api`).
    pub fn assume(&self, key: &str, obj: Arc<K>, api: Option<Arc<K>>) -> Result<(), String> {
        let Some(latest) = self.get(key, api) else {
            return Err(format!("could not find {} \"{key}\"", self.desc));
        };
        let (stored, new) = (rv(latest.as_ref()), rv(obj.as_ref()));
        if new < stored {
            return Err(format!("{} \"{key}\" is out of sync (stored: {stored}, assume: {new})", self.desc));
        }
        self.lock().insert(key.to_string(), obj);
        Ok(())
    }

    /// Forgets the assumed copy of `key` (idempotent).
    pub fn restore(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PersistentVolume;

    fn pv(rv: &str, class: &str) -> Arc<PersistentVolume> {
        Arc::new(
            serde_json::from_value(serde_json::json!({"metadata": {"name": "v", "resourceVersion": rv},
                "spec": {"storageClassName": class}}))
            .unwrap(),
        )
    }

    fn class(v: &PersistentVolume) -> &str {
        v.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()).unwrap_or("")
    }

    #[test]
    fn an_assumed_copy_holds_until_the_informer_moves_past_it() {
        let c = AssumeCache::new("v1.PersistentVolume");
        assert_eq!(c.assume("v", pv("5", "x"), None).unwrap_err(), "could not find v1.PersistentVolume \"v\"");
        c.assume("v", pv("5", "assumed"), Some(pv("5", "api"))).unwrap();
        assert_eq!(class(&c.get("v", Some(pv("5", "api"))).unwrap()), "assumed");
        assert_eq!(
            c.assume("v", pv("4", "older"), Some(pv("5", "api"))).unwrap_err(),
            "v1.PersistentVolume \"v\" is out of sync (stored: 5, assume: 4)"
        );
        // The informer's newer version wins and the assumption is gone.
        assert_eq!(class(&c.get("v", Some(pv("6", "api"))).unwrap()), "api");
        assert_eq!(class(&c.get("v", Some(pv("5", "api"))).unwrap()), "api");
        c.assume("v", pv("6", "again"), Some(pv("6", "api"))).unwrap();
        c.restore("v");
        assert_eq!(class(&c.get("v", Some(pv("6", "api"))).unwrap()), "api");
        assert!(c.get("v", None).is_none());
    }
}

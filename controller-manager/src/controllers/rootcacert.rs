//! `root-ca-certificate-publisher-controller`: every namespace has a `kube-root-ca.crt`
//! ConfigMap holding the CA bundle that verifies the apiserver (`--root-ca-file`, else the CA
//! of the controller-manager's kubeconfig), put back when deleted or changed.

use crate::context::Ctx;
use crate::Error;
use base64::Engine;
use component_base::{Change, Informer, WorkQueue};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{ObjectMeta, PostParams};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use std::collections::BTreeMap;

pub const NAME: &str = "kube-root-ca.crt";
const DESCRIPTION_KEY: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

fn pem_of(ders: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for der in ders {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

fn root_ca(ctx: &Ctx) -> Result<String, Error> {
    if let Some(p) = &ctx.opts.root_ca_file {
        return std::fs::read_to_string(p)
            .map_err(|e| Error::Config(format!("error reading root-ca-file at {}: {e}", p.display())));
    }
    if let Some(ders) = &ctx.root_config.root_cert {
        return Ok(pem_of(ders));
    }
    if let Some(p) = &ctx.root_config.root_cert_file {
        return std::fs::read_to_string(p).map_err(|e| Error::Config(format!("{}: {e}", p.display())));
    }
    Err(Error::Config("no root CA: set --root-ca-file or a kubeconfig with certificate-authority".into()))
}

fn wanted(ca: &str) -> (BTreeMap<String, String>, (String, String)) {
    (BTreeMap::from([("ca.crt".to_string(), ca.to_string())]), (DESCRIPTION_KEY.to_string(), DESCRIPTION.to_string()))
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let ca = root_ca(&ctx)?;
    let client = ctx.client("root-ca-cert-publisher").await?;
    let namespaces = ctx.informers.get::<Namespace>();
    // Only the one ConfigMap per namespace matters: watch just those.
    let maps: Informer<ConfigMap> = Informer::new(
        "configmaps/kube-root-ca.crt",
        Api::all(ctx.informers.client().clone()),
        watcher::Config::default().fields(&format!("metadata.name={NAME}")).any_semantic(),
    );
    let queue: WorkQueue<String> = WorkQueue::new("root_ca_cert_publisher");
    let q = queue.clone();
    namespaces.add_handler(move |c| match c {
        Change::Added(ns) | Change::Updated { new: ns, .. } => q.add(ns.name_any()),
        Change::Deleted(_) => {}
    });
    let q = queue.clone();
    maps.add_handler(move |c| match c {
        Change::Updated { new: cm, .. } | Change::Deleted(cm) => q.add(cm.namespace().unwrap_or_default()),
        Change::Added(_) => {}
    });
    maps.start();
    let (ns_inf, cm_inf) = (namespaces.clone(), maps.clone());
    tokio::spawn(async move {
        ns_inf.wait_synced().await;
        cm_inf.wait_synced().await;
        queue.run_workers(1, move |ns: String| {
            let (client, namespaces, maps, ca) = (client.clone(), ns_inf.clone(), cm_inf.clone(), ca.clone());
            async move { sync(&client, &namespaces, &maps, &ca, &ns).await }
        });
    });
    Ok(true)
}

async fn sync(
    client: &kube::Client,
    namespaces: &Informer<Namespace>,
    maps: &Informer<ConfigMap>,
    ca: &str,
    ns: &str,
) -> Result<(), kube::Error> {
    let Some(namespace) = namespaces.get("", ns) else { return Ok(()) };
    if namespace.metadata.deletion_timestamp.is_some() {
        return Ok(());
    }
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let (data, (akey, aval)) = wanted(ca);
    match maps.get(ns, NAME) {
        None => {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(NAME.into()),
                    annotations: Some(BTreeMap::from([(akey, aval)])),
                    ..Default::default()
                },
                data: Some(data),
                ..Default::default()
            };
            match api.create(&PostParams::default(), &cm).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(s))
                    if s.code == 409 || s.code == 403 && s.message.contains("is being terminated") =>
                {
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        Some(cm) => {
            let has_note = cm.annotations().get(&akey) == Some(&aval);
            if cm.data.as_ref() == Some(&data) && cm.binary_data.as_ref().is_none_or(|b| b.is_empty()) && has_note {
                return Ok(());
            }
            let mut fixed = (*cm).clone();
            fixed.data = Some(data);
            fixed.binary_data = None;
            fixed.annotations_mut().insert(akey, aval);
            match api.replace(NAME, &PostParams::default(), &fixed).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                Err(e) => Err(e),
            }
        }
    }
}

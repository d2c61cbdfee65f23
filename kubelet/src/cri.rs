//! The CRI v1 client: RuntimeService and ImageService over the runtime's unix socket. The
//! channel is lazy and reconnects by itself, so a restarted containerd is picked up again.

use crate::Error;
use hyper_util::rt::TokioIo;
pub use k8s_cri::v1 as api;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint, Uri};

/// Both CRI services, cheap to clone (one HTTP/2 connection each).
#[derive(Clone)]
pub struct Cri {
    pub runtime: RuntimeServiceClient<Channel>,
    pub image: ImageServiceClient<Channel>,
    timeout: Duration,
}

fn socket_path(endpoint: &str) -> Result<String, Error> {
    match endpoint.strip_prefix("unix://") {
        Some(p) => Ok(p.to_string()),
        None if endpoint.starts_with('/') => Ok(endpoint.to_string()),
        None => Err(Error::Config(format!(
            "protocol {:?} not supported: the container runtime endpoint must be a unix socket",
            endpoint.split("://").next().unwrap_or("")
        ))),
    }
}

fn channel(endpoint: &str) -> Result<Channel, Error> {
    let path = socket_path(endpoint)?;
    // The URI is a placeholder: the connector dials the socket.
    let ep = Endpoint::try_from("http://[::1]:50051")
        .map_err(|e| Error::Config(e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    Ok(ep.connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
        let path = path.clone();
        async move { Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(path).await?)) }
    })))
}

/// Large responses (ListContainers with thousands of containers, image lists) exceed tonic's
/// 4 MiB default; upstream allows 16 MiB.
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

impl Cri {
    pub fn new(runtime_endpoint: &str, image_endpoint: &str, timeout: Duration) -> Result<Cri, Error> {
        let rt = channel(runtime_endpoint)?;
        let img = if image_endpoint == runtime_endpoint { rt.clone() } else { channel(image_endpoint)? };
        Ok(Cri {
            runtime: RuntimeServiceClient::new(rt).max_decoding_message_size(MAX_MESSAGE),
            image: ImageServiceClient::new(img).max_decoding_message_size(MAX_MESSAGE),
            timeout,
        })
    }

    /// A request with the runtime request timeout.
    pub fn req<T>(&self, msg: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        r.set_timeout(self.timeout);
        r
    }

    /// A request with its own timeout (pulls and stops take longer than ordinary calls).
    pub fn req_with<T>(&self, msg: T, timeout: Duration) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        r.set_timeout(timeout);
        r
    }

    pub async fn version(&self) -> Result<api::VersionResponse, tonic::Status> {
        let mut c = self.runtime.clone();
        Ok(c.version(self.req(api::VersionRequest { version: "v1".into() })).await?.into_inner())
    }

    pub async fn status(&self) -> Result<api::RuntimeStatus, tonic::Status> {
        let mut c = self.runtime.clone();
        let r = c.status(self.req(api::StatusRequest { verbose: false })).await?.into_inner();
        Ok(r.status.unwrap_or_default())
    }

    /// The runtime's sandbox (pause) image, from its verbose status: containerd 1.6 does not
    /// mark it pinned, and no container refers to it, so image GC must be told.
    pub async fn sandbox_image(&self) -> Option<String> {
        let mut c = self.runtime.clone();
        let r = c.status(self.req(api::StatusRequest { verbose: true })).await.ok()?.into_inner();
        let config: serde_json::Value = serde_json::from_str(r.info.get("config")?).ok()?;
        config.get("sandboxImage")?.as_str().map(str::to_string)
    }

    pub async fn update_pod_cidr(&self, cidr: &str) -> Result<(), tonic::Status> {
        let mut c = self.runtime.clone();
        c.update_runtime_config(self.req(api::UpdateRuntimeConfigRequest {
            runtime_config: Some(api::RuntimeConfig {
                network_config: Some(api::NetworkConfig { pod_cidr: cidr.to_string() }),
            }),
        }))
        .await?;
        Ok(())
    }

    pub async fn list_sandboxes(&self) -> Result<Vec<api::PodSandbox>, tonic::Status> {
        let mut c = self.runtime.clone();
        Ok(c.list_pod_sandbox(self.req(api::ListPodSandboxRequest { filter: None })).await?.into_inner().items)
    }

    pub async fn list_containers(&self) -> Result<Vec<api::Container>, tonic::Status> {
        let mut c = self.runtime.clone();
        Ok(c.list_containers(self.req(api::ListContainersRequest { filter: None })).await?.into_inner().containers)
    }

    pub async fn sandbox_status(&self, id: &str) -> Result<Option<api::PodSandboxStatus>, tonic::Status> {
        let mut c = self.runtime.clone();
        let r = c
            .pod_sandbox_status(
                self.req(api::PodSandboxStatusRequest { pod_sandbox_id: id.to_string(), verbose: false }),
            )
            .await;
        match r {
            Ok(r) => Ok(r.into_inner().status),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
            Err(s) => Err(s),
        }
    }

    pub async fn container_status(&self, id: &str) -> Result<Option<api::ContainerStatus>, tonic::Status> {
        let mut c = self.runtime.clone();
        let r = c
            .container_status(self.req(api::ContainerStatusRequest { container_id: id.to_string(), verbose: false }))
            .await;
        match r {
            Ok(r) => Ok(r.into_inner().status),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
            Err(s) => Err(s),
        }
    }

    /// Runs a command in a container and waits for it (`timeout` 0: no limit).
    pub async fn exec_sync(
        &self,
        id: &str,
        cmd: Vec<String>,
        timeout: i64,
    ) -> Result<api::ExecSyncResponse, tonic::Status> {
        let mut c = self.runtime.clone();
        let deadline = if timeout > 0 {
            Duration::from_secs(timeout as u64) + self.timeout
        } else {
            Duration::from_secs(24 * 3600)
        };
        Ok(c.exec_sync(self.req_with(api::ExecSyncRequest { container_id: id.to_string(), cmd, timeout }, deadline))
            .await?
            .into_inner())
    }

    /// The runtime's streaming URL for an exec (CRI `Exec`).
    pub async fn get_exec(&self, r: api::ExecRequest) -> Result<String, tonic::Status> {
        let mut c = self.runtime.clone();
        Ok(c.exec(self.req(r)).await?.into_inner().url)
    }

    /// The runtime's streaming URL for an attach (CRI `Attach`).
    pub async fn get_attach(&self, r: api::AttachRequest) -> Result<String, tonic::Status> {
        let mut c = self.runtime.clone();
        Ok(c.attach(self.req(r)).await?.into_inner().url)
    }

    /// The runtime's streaming URL for a port forward into a sandbox (CRI `PortForward`).
    pub async fn get_port_forward(&self, sandbox: &str, ports: Vec<i32>) -> Result<String, tonic::Status> {
        let mut c = self.runtime.clone();
        let r = api::PortForwardRequest { pod_sandbox_id: sandbox.to_string(), port: ports };
        Ok(c.port_forward(self.req(r)).await?.into_inner().url)
    }

    /// Checkpoints a running container into `location` (CRI `CheckpointContainer`).
    pub async fn checkpoint_container(&self, id: &str, location: &str, timeout: i64) -> Result<(), tonic::Status> {
        let mut c = self.runtime.clone();
        let r =
            api::CheckpointContainerRequest { container_id: id.to_string(), location: location.to_string(), timeout };
        c.checkpoint_container(self.req(r)).await?;
        Ok(())
    }

    pub async fn stop_container(&self, id: &str, grace_secs: i64) -> Result<(), tonic::Status> {
        let mut c = self.runtime.clone();
        let timeout = Duration::from_secs(grace_secs.max(0) as u64) + self.timeout;
        match c
            .stop_container(
                self.req_with(api::StopContainerRequest { container_id: id.to_string(), timeout: grace_secs }, timeout),
            )
            .await
        {
            Err(s) if s.code() != tonic::Code::NotFound => Err(s),
            _ => Ok(()),
        }
    }

    pub async fn remove_container(&self, id: &str) -> Result<(), tonic::Status> {
        let mut c = self.runtime.clone();
        match c.remove_container(self.req(api::RemoveContainerRequest { container_id: id.to_string() })).await {
            Err(s) if s.code() != tonic::Code::NotFound => Err(s),
            _ => Ok(()),
        }
    }

    pub async fn stop_sandbox(&self, id: &str) -> Result<(), tonic::Status> {
        let mut c = self.runtime.clone();
        match c.stop_pod_sandbox(self.req(api::StopPodSandboxRequest { pod_sandbox_id: id.to_string() })).await {
            Err(s) if s.code() != tonic::Code::NotFound => Err(s),
            _ => Ok(()),
        }
    }

    pub async fn remove_sandbox(&self, id: &str) -> Result<(), tonic::Status> {
        let mut c = self.runtime.clone();
        match c.remove_pod_sandbox(self.req(api::RemovePodSandboxRequest { pod_sandbox_id: id.to_string() })).await {
            Err(s) if s.code() != tonic::Code::NotFound => Err(s),
            _ => Ok(()),
        }
    }

    /// The image when the runtime has it (id, size, user).
    pub async fn image(&self, image: &str) -> Result<Option<api::Image>, tonic::Status> {
        let mut c = self.image.clone();
        let r = c
            .image_status(self.req(api::ImageStatusRequest {
                image: Some(api::ImageSpec { image: image.to_string(), ..Default::default() }),
                verbose: false,
            }))
            .await?
            .into_inner();
        Ok(r.image)
    }

    pub async fn pull_image(&self, image: &str, auth: Option<api::AuthConfig>) -> Result<String, tonic::Status> {
        let mut c = self.image.clone();
        let r = c
            .pull_image(self.req_with(
                api::PullImageRequest {
                    image: Some(api::ImageSpec { image: image.to_string(), ..Default::default() }),
                    auth,
                    sandbox_config: None,
                },
                Duration::from_secs(600),
            ))
            .await?
            .into_inner();
        Ok(r.image_ref)
    }

    /// Removes an image; one already gone is not an error.
    pub async fn remove_image(&self, id: &str) -> Result<(), tonic::Status> {
        let mut c = self.image.clone();
        let req =
            api::RemoveImageRequest { image: Some(api::ImageSpec { image: id.to_string(), ..Default::default() }) };
        match c.remove_image(self.req(req)).await {
            Err(s) if s.code() != tonic::Code::NotFound => Err(s),
            _ => Ok(()),
        }
    }

    /// The filesystems holding the runtime's images (its snapshotter's mount point).
    pub async fn image_fs_info(&self) -> Result<Vec<api::FilesystemUsage>, tonic::Status> {
        let mut c = self.image.clone();
        Ok(c.image_fs_info(self.req(api::ImageFsInfoRequest {})).await?.into_inner().image_filesystems)
    }

    /// Every container's stats (writable layer, memory working set).
    pub async fn list_container_stats(&self) -> Result<Vec<api::ContainerStats>, tonic::Status> {
        let mut c = self.runtime.clone();
        Ok(c.list_container_stats(self.req(api::ListContainerStatsRequest { filter: None })).await?.into_inner().stats)
    }

    /// Asks the runtime to reopen a container's log file (after the kubelet rotated it).
    pub async fn reopen_container_log(&self, id: &str) -> Result<(), tonic::Status> {
        let mut c = self.runtime.clone();
        c.reopen_container_log(self.req(api::ReopenContainerLogRequest { container_id: id.to_string() })).await?;
        Ok(())
    }

    pub async fn list_images(&self) -> Result<Vec<api::Image>, tonic::Status> {
        let mut c = self.image.clone();
        Ok(c.list_images(self.req(api::ListImagesRequest { filter: None })).await?.into_inner().images)
    }
}

/// The runtime's condition of `kind` (RuntimeReady, NetworkReady) as upstream formats it when it
/// is not true: `NetworkReady=false reason:NetworkPluginNotReady message:...`.
pub fn condition_problem(status: &api::RuntimeStatus, kind: &str) -> Option<String> {
    match status.conditions.iter().find(|c| c.r#type == kind) {
        Some(c) if c.status => None,
        Some(c) => Some(format!("{}=false reason:{} message:{}", c.r#type, c.reason, c.message)),
        None => Some(format!("{kind}=false reason: message:")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_unix_sockets() {
        assert_eq!(socket_path("unix:///run/containerd/containerd.sock").unwrap(), "/run/containerd/containerd.sock");
        assert_eq!(socket_path("/run/c.sock").unwrap(), "/run/c.sock");
        assert!(socket_path("tcp://127.0.0.1:1").unwrap_err().to_string().contains("not supported"));
    }

    #[test]
    fn runtime_conditions_are_reported_as_upstream() {
        let st = api::RuntimeStatus {
            conditions: vec![
                api::RuntimeCondition { r#type: "RuntimeReady".into(), status: true, ..Default::default() },
                api::RuntimeCondition {
                    r#type: "NetworkReady".into(),
                    status: false,
                    reason: "NetworkPluginNotReady".into(),
                    message: "Network plugin returns error: cni plugin not initialized".into(),
                },
            ],
        };
        assert_eq!(condition_problem(&st, "RuntimeReady"), None);
        assert_eq!(
            condition_problem(&st, "NetworkReady").unwrap(),
            "NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"
        );
    }
}

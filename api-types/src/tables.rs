//! Server-side Table printing (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), as
//! upstream v1.33's kube-apiserver does it: the column definitions and row cells of
//! `pkg/printers/internalversion` (printed with `Wide: true`, as the server always does; kubectl
//! hides priority-1 columns itself), kube-aggregator's APIService convertor, and the default
//! convertor (Name, Created At) for every resource without a printer (Role, ClusterRole,
//! LimitRange, CSIStorageCapacity, CustomResourceDefinition, ...).
//!
//! Objects are read in their served JSON shape; where upstream prints the internal object the
//! fields the internal type would carry are read (e.g. `podIPs` falling back to `podIP`, the
//! events.k8s.io field names of an Event, the autoscaling/v1 CPU target of an HPA). Column
//! descriptions are upstream's, taken from the same API field docs (`SwaggerDoc()`) upstream
//! uses. Nothing here panics on malformed input: missing or mistyped fields print like their
//! zero value.

use crate::meta;
use crate::registry::ResourceDef;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// One column of a Table, as meta.k8s.io/v1 TableColumnDefinition.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: &'static str,
    pub type_: &'static str,
    pub format: &'static str,
    pub description: &'static str,
    pub priority: i32,
}

/// The printer used for a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Printer {
    Default,
    ApiService,
    Pod,
    PodTemplate,
    PodDisruptionBudget,
    ReplicationController,
    ReplicaSet,
    DaemonSet,
    Job,
    CronJob,
    Service,
    Ingress,
    IngressClass,
    StatefulSet,
    Endpoints,
    Node,
    Event,
    Namespace,
    Secret,
    ServiceAccount,
    PersistentVolume,
    PersistentVolumeClaim,
    ComponentStatus,
    Deployment,
    HorizontalPodAutoscaler,
    ConfigMap,
    NetworkPolicy,
    RoleBinding,
    ClusterRoleBinding,
    CertificateSigningRequest,
    Lease,
    StorageClass,
    ControllerRevision,
    ResourceQuota,
    PriorityClass,
    RuntimeClass,
    VolumeAttachment,
    EndpointSlice,
    CsiNode,
    CsiDriver,
    MutatingWebhook,
    ValidatingWebhook,
    ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding,
    FlowSchema,
    PriorityLevelConfiguration,
    ServiceCidr,
    IpAddress,
}

fn printer(rd: &ResourceDef) -> Printer {
    use Printer::*;
    match (rd.group, rd.kind) {
        ("", "Pod") => Pod,
        ("", "PodTemplate") => PodTemplate,
        ("", "ReplicationController") => ReplicationController,
        ("", "Service") => Service,
        ("", "Endpoints") => Endpoints,
        ("", "Node") => Node,
        ("", "Event") | ("events.k8s.io", "Event") => Event,
        ("", "Namespace") => Namespace,
        ("", "Secret") => Secret,
        ("", "ServiceAccount") => ServiceAccount,
        ("", "PersistentVolume") => PersistentVolume,
        ("", "PersistentVolumeClaim") => PersistentVolumeClaim,
        ("", "ComponentStatus") => ComponentStatus,
        ("", "ConfigMap") => ConfigMap,
        ("", "ResourceQuota") => ResourceQuota,
        ("policy", "PodDisruptionBudget") => PodDisruptionBudget,
        ("apps", "ReplicaSet") => ReplicaSet,
        ("apps", "DaemonSet") => DaemonSet,
        ("apps", "StatefulSet") => StatefulSet,
        ("apps", "Deployment") => Deployment,
        ("apps", "ControllerRevision") => ControllerRevision,
        ("batch", "Job") => Job,
        ("batch", "CronJob") => CronJob,
        ("networking.k8s.io", "Ingress") => Ingress,
        ("networking.k8s.io", "IngressClass") => IngressClass,
        ("networking.k8s.io", "NetworkPolicy") => NetworkPolicy,
        ("networking.k8s.io", "ServiceCIDR") => ServiceCidr,
        ("networking.k8s.io", "IPAddress") => IpAddress,
        ("autoscaling", "HorizontalPodAutoscaler") => HorizontalPodAutoscaler,
        ("rbac.authorization.k8s.io", "RoleBinding") => RoleBinding,
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => ClusterRoleBinding,
        ("certificates.k8s.io", "CertificateSigningRequest") => CertificateSigningRequest,
        ("coordination.k8s.io", "Lease") => Lease,
        ("storage.k8s.io", "StorageClass") => StorageClass,
        ("storage.k8s.io", "VolumeAttachment") => VolumeAttachment,
        ("storage.k8s.io", "CSINode") => CsiNode,
        ("storage.k8s.io", "CSIDriver") => CsiDriver,
        ("scheduling.k8s.io", "PriorityClass") => PriorityClass,
        ("node.k8s.io", "RuntimeClass") => RuntimeClass,
        ("discovery.k8s.io", "EndpointSlice") => EndpointSlice,
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => MutatingWebhook,
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => ValidatingWebhook,
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => ValidatingAdmissionPolicy,
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => ValidatingAdmissionPolicyBinding,
        ("flowcontrol.apiserver.k8s.io", "FlowSchema") => FlowSchema,
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration") => PriorityLevelConfiguration,
        ("apiregistration.k8s.io", "APIService") => ApiService,
        // Role, ClusterRole, LimitRange, CSIStorageCapacity (whose store registers the default
        // convertor although a print handler exists), CustomResourceDefinition and everything
        // else: rest.NewDefaultTableConvertor.
        _ => Default,
    }
}

// ---------------------------------------------------------------------------------------------
// Column definitions
// ---------------------------------------------------------------------------------------------

const fn col(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column { name, type_, format: "", description, priority: 0 }
}

const fn wide(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column { name, type_, format: "", description, priority: 1 }
}

const NAME: Column = Column { name: "Name", type_: "string", format: "name", description: D_NAME, priority: 0 };
const AGE: Column = col("Age", "string", D_CREATED);
const CONTAINERS: Column = wide("Containers", "string", "Names of each container in the template.");
const IMAGES: Column = wide("Images", "string", "Images referenced by each container in the template.");
const WEBHOOKS: Column =
    col("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration");

/// The columns upstream prints for the resource (priority 1 = only with -o wide). Resources
/// without a dedicated printer get upstream's default: Name (format "name") and Created At
/// (type "date").
pub fn columns(rd: &ResourceDef) -> Vec<Column> {
    use Printer as P;
    match printer(rd) {
        P::Default => vec![NAME, col("Created At", "date", D_CREATED)],
        P::ApiService => vec![
            NAME,
            col("Service", "string", "The reference to the service that hosts this API endpoint."),
            col("Available", "string", "Whether this service is available."),
            AGE,
        ],
        P::Pod => vec![
            NAME,
            col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
            col("Status", "string", "The aggregate status of the containers in this pod."),
            col(
                "Restarts",
                "string",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            AGE,
            wide("IP", "string", D_POD_IP),
            wide("Node", "string", D_POD_NODE_NAME),
            wide("Nominated Node", "string", D_POD_NOMINATED),
            wide("Readiness Gates", "string", D_POD_READINESS_GATES),
        ],
        P::PodTemplate => vec![
            NAME,
            col("Containers", "string", "Names of each container in the template."),
            col("Images", "string", "Images referenced by each container in the template."),
            col("Pod Labels", "string", "The labels for the pod template."),
        ],
        P::PodDisruptionBudget => vec![
            NAME,
            col("Min Available", "string", "The minimum number of pods that must be available."),
            col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
            col("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
            AGE,
        ],
        P::ReplicationController => vec![
            NAME,
            col("Desired", "integer", D_RC_SPEC_REPLICAS),
            col("Current", "integer", D_RC_STATUS_REPLICAS),
            col("Ready", "integer", D_RC_READY),
            AGE,
            CONTAINERS,
            IMAGES,
            wide("Selector", "string", D_RC_SELECTOR),
        ],
        P::ReplicaSet => vec![
            NAME,
            col("Desired", "integer", D_RS_SPEC_REPLICAS),
            col("Current", "integer", D_RS_STATUS_REPLICAS),
            col("Ready", "integer", D_RS_READY),
            AGE,
            CONTAINERS,
            IMAGES,
            wide("Selector", "string", D_RS_SELECTOR),
        ],
        P::DaemonSet => vec![
            NAME,
            col("Desired", "integer", D_DS_DESIRED),
            col("Current", "integer", D_DS_CURRENT),
            col("Ready", "integer", D_DS_READY),
            col("Up-to-date", "integer", D_DS_UPDATED),
            col("Available", "integer", D_DS_AVAILABLE),
            col("Node Selector", "string", D_POD_NODE_SELECTOR),
            AGE,
            CONTAINERS,
            IMAGES,
            wide("Selector", "string", D_DS_SELECTOR),
        ],
        P::Job => vec![
            NAME,
            col("Status", "string", "Status of the job."),
            col("Completions", "string", D_JOB_SUCCEEDED),
            col("Duration", "string", "Time required to complete the job."),
            AGE,
            CONTAINERS,
            IMAGES,
            wide("Selector", "string", D_JOB_SELECTOR),
        ],
        P::CronJob => vec![
            NAME,
            col("Schedule", "string", D_CJ_SCHEDULE),
            col("Timezone", "string", D_CJ_TIMEZONE),
            col("Suspend", "boolean", D_CJ_SUSPEND),
            col("Active", "integer", D_CJ_ACTIVE),
            col("Last Schedule", "string", D_CJ_LAST),
            AGE,
            CONTAINERS,
            IMAGES,
            wide("Selector", "string", D_JOB_SELECTOR),
        ],
        P::Service => vec![
            NAME,
            col("Type", "string", D_SVC_TYPE),
            col("Cluster-IP", "string", D_SVC_CLUSTER_IP),
            col("External-IP", "string", D_SVC_EXTERNAL_IPS),
            col("Port(s)", "string", D_SVC_PORTS),
            AGE,
            wide("Selector", "string", D_SVC_SELECTOR),
        ],
        P::Ingress => vec![
            NAME,
            col(
                "Class",
                "string",
                "The name of the IngressClass resource that should be used for additional configuration",
            ),
            col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
            col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
            col("Ports", "string", "Ports of TLS configurations that open"),
            AGE,
        ],
        P::IngressClass => vec![
            NAME,
            col("Controller", "string", "Controller that is responsible for handling this class"),
            col("Parameters", "string", "A reference to a resource with additional parameters"),
            AGE,
        ],
        P::StatefulSet => vec![
            NAME,
            col("Ready", "string", "Number of the pod with ready state"),
            AGE,
            CONTAINERS,
            IMAGES,
        ],
        P::Endpoints => vec![NAME, col("Endpoints", "string", D_EP_SUBSETS), AGE],
        P::Node => vec![
            NAME,
            col("Status", "string", "The status of the node"),
            col("Roles", "string", "The roles of the node"),
            AGE,
            col("Version", "string", D_NODE_KUBELET),
            wide("Internal-IP", "string", D_NODE_ADDRESSES),
            wide("External-IP", "string", D_NODE_ADDRESSES),
            wide("OS-Image", "string", D_NODE_OS_IMAGE),
            wide("Kernel-Version", "string", D_NODE_KERNEL),
            wide("Container-Runtime", "string", D_NODE_CRI),
        ],
        P::Event => vec![
            col("Last Seen", "string", D_EV_LAST),
            col("Type", "string", D_EV_TYPE),
            col("Reason", "string", D_EV_REASON),
            col("Object", "string", D_EV_OBJECT),
            wide("Subobject", "string", D_EV_SUBOBJECT),
            wide("Source", "string", D_EV_SOURCE),
            col("Message", "string", D_EV_MESSAGE),
            wide("First Seen", "string", D_EV_FIRST),
            wide("Count", "string", D_EV_COUNT),
            Column { name: "Name", type_: "string", format: "name", description: D_NAME, priority: 1 },
        ],
        P::Namespace => vec![NAME, col("Status", "string", "The status of the namespace"), AGE],
        P::Secret => vec![NAME, col("Type", "string", D_SECRET_TYPE), col("Data", "string", D_SECRET_DATA), AGE],
        P::ServiceAccount => vec![NAME, col("Secrets", "string", D_SA_SECRETS), AGE],
        P::PersistentVolume => vec![
            NAME,
            col("Capacity", "string", D_PV_CAPACITY),
            col("Access Modes", "string", D_PV_ACCESS),
            col("Reclaim Policy", "string", D_PV_RECLAIM),
            col("Status", "string", D_PV_PHASE),
            col("Claim", "string", D_PV_CLAIM),
            col("StorageClass", "string", "StorageClass of the pv"),
            col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
            col("Reason", "string", D_PV_REASON),
            AGE,
            wide("VolumeMode", "string", D_PV_MODE),
        ],
        P::PersistentVolumeClaim => vec![
            NAME,
            col("Status", "string", D_PVC_PHASE),
            col("Volume", "string", D_PVC_VOLUME),
            col("Capacity", "string", D_PVC_CAPACITY),
            col("Access Modes", "string", D_PVC_ACCESS),
            col("StorageClass", "string", "StorageClass of the pvc"),
            col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
            AGE,
            wide("VolumeMode", "string", D_PVC_MODE),
        ],
        P::ComponentStatus => vec![
            NAME,
            col("Status", "string", "Status of the component conditions"),
            col("Message", "string", "Message of the component conditions"),
            col("Error", "string", "Error of the component conditions"),
        ],
        P::Deployment => vec![
            NAME,
            col("Ready", "string", "Number of the pod with ready state"),
            col("Up-to-date", "string", D_DEP_UPDATED),
            col("Available", "string", D_DEP_AVAILABLE),
            AGE,
            CONTAINERS,
            IMAGES,
            wide("Selector", "string", D_DEP_SELECTOR),
        ],
        P::HorizontalPodAutoscaler => vec![
            NAME,
            col("Reference", "string", D_HPA_REF),
            col("Targets", "string", D_HPA_METRICS),
            col("MinPods", "string", D_HPA_MIN),
            col("MaxPods", "string", D_HPA_MAX),
            col("Replicas", "string", D_HPA_CURRENT),
            AGE,
        ],
        P::ConfigMap => vec![NAME, col("Data", "string", D_CM_DATA), AGE],
        P::NetworkPolicy => vec![NAME, col("Pod-Selector", "string", D_NP_POD_SELECTOR), AGE],
        P::RoleBinding => vec![
            NAME,
            col("Role", "string", D_RB_ROLE),
            AGE,
            wide("Users", "string", "Users in the roleBinding"),
            wide("Groups", "string", "Groups in the roleBinding"),
            wide("ServiceAccounts", "string", "ServiceAccounts in the roleBinding"),
        ],
        P::ClusterRoleBinding => vec![
            NAME,
            col("Role", "string", D_CRB_ROLE),
            AGE,
            wide("Users", "string", "Users in the clusterRoleBinding"),
            wide("Groups", "string", "Groups in the clusterRoleBinding"),
            wide("ServiceAccounts", "string", "ServiceAccounts in the clusterRoleBinding"),
        ],
        P::CertificateSigningRequest => vec![
            NAME,
            AGE,
            col("SignerName", "string", D_CSR_SIGNER),
            col("Requestor", "string", D_CSR_REQUEST),
            col("RequestedDuration", "string", D_CSR_EXPIRATION),
            col("Condition", "string", D_CSR_CONDITIONS),
        ],
        P::Lease => vec![NAME, col("Holder", "string", D_LEASE_HOLDER), AGE],
        P::StorageClass => vec![
            NAME,
            col("Provisioner", "string", D_SC_PROVISIONER),
            col("ReclaimPolicy", "string", D_SC_RECLAIM),
            col("VolumeBindingMode", "string", D_SC_BINDING),
            col("AllowVolumeExpansion", "string", D_SC_EXPANSION),
            AGE,
        ],
        P::ControllerRevision => vec![
            NAME,
            col("Controller", "string", "Controller of the object"),
            col("Revision", "string", D_CR_REVISION),
            AGE,
        ],
        P::ResourceQuota => vec![
            NAME,
            col(
                "Request",
                "string",
                "Request represents a minimum amount of cpu/memory that a container may consume.",
            ),
            col(
                "Limit",
                "string",
                "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
            ),
            AGE,
        ],
        P::PriorityClass => vec![
            NAME,
            col("Value", "integer", D_PC_VALUE),
            col("Global-Default", "boolean", D_PC_DEFAULT),
            AGE,
            col("PreemptionPolicy", "string", D_PC_PREEMPTION),
        ],
        // upstream takes the Handler description from ObjectMeta's docs, which have no
        // "handler" entry: it is empty.
        P::RuntimeClass => vec![NAME, col("Handler", "string", ""), AGE],
        P::VolumeAttachment => vec![
            NAME,
            Column { name: "Attacher", type_: "string", format: "name", description: D_VA_ATTACHER, priority: 0 },
            col("PV", "string", D_VA_PV),
            col("Node", "string", D_VA_NODE),
            col("Attached", "boolean", D_VA_ATTACHED),
            AGE,
        ],
        P::EndpointSlice => vec![
            NAME,
            col("AddressType", "string", D_EPS_ADDRESS_TYPE),
            col("Ports", "string", D_EPS_PORTS),
            col("Endpoints", "string", D_EPS_ENDPOINTS),
            AGE,
        ],
        P::CsiNode => vec![
            NAME,
            col("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
            AGE,
        ],
        P::CsiDriver => vec![
            NAME,
            col("AttachRequired", "boolean", D_CSID_ATTACH),
            col("PodInfoOnMount", "boolean", D_CSID_PODINFO),
            col("StorageCapacity", "boolean", D_CSID_CAPACITY),
            col("TokenRequests", "string", D_CSID_TOKENS),
            col("RequiresRepublish", "boolean", D_CSID_REPUBLISH),
            col("Modes", "string", D_CSID_MODES),
            AGE,
        ],
        P::MutatingWebhook | P::ValidatingWebhook => vec![NAME, WEBHOOKS, AGE],
        P::ValidatingAdmissionPolicy => vec![
            NAME,
            col(
                "Validations",
                "integer",
                "Validations indicates the number of validation rules defined in this configuration",
            ),
            col("ParamKind", "string", "ParamKind specifies the kind of resources used to parameterize this policy"),
            AGE,
        ],
        P::ValidatingAdmissionPolicyBinding => vec![
            NAME,
            col(
                "PolicyName",
                "string",
                "PolicyName indicates the policy definition which the policy binding binded to",
            ),
            col("ParamRef", "string", "ParamRef indicates the param resource which sets the configration param"),
            AGE,
        ],
        P::FlowSchema => vec![
            NAME,
            col("PriorityLevel", "string", D_FS_PL),
            col("MatchingPrecedence", "string", D_FS_PRECEDENCE),
            col("DistinguisherMethod", "string", D_FS_DISTINGUISHER),
            AGE,
            col("MissingPL", "string", "references a broken or non-existent PriorityLevelConfiguration"),
        ],
        P::PriorityLevelConfiguration => vec![
            NAME,
            col("Type", "string", D_PL_TYPE),
            col("NominalConcurrencyShares", "string", D_PL_NCS),
            col("Queues", "string", D_PL_QUEUES),
            col("HandSize", "string", D_PL_HANDSIZE),
            col("QueueLengthLimit", "string", D_PL_QLL),
            AGE,
        ],
        P::ServiceCidr => vec![NAME, col("CIDRs", "string", D_SCIDR_CIDRS), AGE],
        // Upstream defines no Age column for IPAddress although its rows carry an age cell.
        P::IpAddress => vec![NAME, col("ParentRef", "string", D_IPA_PARENT)],
    }
}

// ---------------------------------------------------------------------------------------------
// Cells
// ---------------------------------------------------------------------------------------------

/// The cells of one object's row, in column order. `now` is the server's current time (for
/// AGE-style cells, which upstream renders as strings like "5m", "3h2m", "2d" via
/// duration.HumanDuration / translateTimestampSince; "<unknown>" when the timestamp is missing).
///
/// Like upstream, an IPAddress row has one cell more (its age) than its columns.
pub fn cells(rd: &ResourceDef, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    use Printer as P;
    let p = Ctx { o: obj, now };
    match printer(rd) {
        P::Default => vec![json!(p.name()), json!(created_at(obj))],
        P::ApiService => p.api_service(),
        P::Pod => p.pod(),
        P::PodTemplate => p.pod_template(),
        P::PodDisruptionBudget => p.pdb(),
        P::ReplicationController => p.replication_controller(),
        P::ReplicaSet => p.replica_set(),
        P::DaemonSet => p.daemon_set(),
        P::Job => p.job(),
        P::CronJob => p.cron_job(),
        P::Service => p.service(),
        P::Ingress => p.ingress(),
        P::IngressClass => p.ingress_class(),
        P::StatefulSet => p.stateful_set(),
        P::Endpoints => vec![json!(p.name()), json!(format_endpoints(obj)), json!(p.age())],
        P::Node => p.node(),
        P::Event => p.event(),
        P::Namespace => vec![json!(p.name()), json!(str_at(obj, "/status/phase")), json!(p.age())],
        P::Secret => p.secret(),
        P::ServiceAccount => {
            vec![json!(p.name()), json!(arr_at(obj, "/secrets").len()), json!(p.age())]
        }
        P::PersistentVolume => p.persistent_volume(),
        P::PersistentVolumeClaim => p.persistent_volume_claim(),
        P::ComponentStatus => p.component_status(),
        P::Deployment => p.deployment(),
        P::HorizontalPodAutoscaler => p.hpa(),
        P::ConfigMap => {
            let n = map_at(obj, "/data").map_or(0, Map::len) + map_at(obj, "/binaryData").map_or(0, Map::len);
            vec![json!(p.name()), json!(n), json!(p.age())]
        }
        P::NetworkPolicy => {
            vec![json!(p.name()), json!(format_label_selector(at(obj, "/spec/podSelector"))), json!(p.age())]
        }
        P::RoleBinding | P::ClusterRoleBinding => p.role_binding(),
        P::CertificateSigningRequest => p.csr(),
        P::Lease => vec![json!(p.name()), json!(str_at(obj, "/spec/holderIdentity")), json!(p.age())],
        P::StorageClass => p.storage_class(),
        P::ControllerRevision => p.controller_revision(),
        P::ResourceQuota => p.resource_quota(),
        P::PriorityClass => vec![
            json!(p.name()),
            json!(int_at(obj, "/value")),
            json!(bool_at(obj, "/globalDefault")),
            json!(p.age()),
            json!(str_at(obj, "/preemptionPolicy")),
        ],
        P::RuntimeClass => vec![json!(p.name()), json!(str_at(obj, "/handler")), json!(p.age())],
        P::VolumeAttachment => vec![
            json!(p.name()),
            json!(str_at(obj, "/spec/attacher")),
            json!(str_at(obj, "/spec/source/persistentVolumeName")),
            json!(str_at(obj, "/spec/nodeName")),
            json!(bool_at(obj, "/status/attached")),
            json!(p.age()),
        ],
        P::EndpointSlice => p.endpoint_slice(),
        P::CsiNode => vec![json!(p.name()), json!(arr_at(obj, "/spec/drivers").len()), json!(p.age())],
        P::CsiDriver => p.csi_driver(),
        P::MutatingWebhook | P::ValidatingWebhook => {
            vec![json!(p.name()), json!(arr_at(obj, "/webhooks").len()), json!(p.age())]
        }
        P::ValidatingAdmissionPolicy => p.validating_admission_policy(),
        P::ValidatingAdmissionPolicyBinding => p.validating_admission_policy_binding(),
        P::FlowSchema => p.flow_schema(),
        P::PriorityLevelConfiguration => p.priority_level(),
        P::ServiceCidr => {
            let cidrs: Vec<&str> = arr_at(obj, "/spec/cidrs").iter().map(as_str).collect();
            vec![json!(p.name()), json!(cidrs.join(",")), json!(p.age())]
        }
        P::IpAddress => p.ip_address(),
    }
}

/// The row's `conditions` (meta.k8s.io/v1 TableRowCondition), which upstream sets only for
/// pods that have completed (phase Succeeded or Failed); `None` when the row has none.
pub fn row_conditions(rd: &ResourceDef, obj: &Value) -> Option<Value> {
    if printer(rd) != Printer::Pod {
        return None;
    }
    match str_at(obj, "/status/phase") {
        "Succeeded" => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Succeeded",
            "message": "The pod has completed successfully."
        }])),
        "Failed" => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."
        }])),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// JSON access that never fails
// ---------------------------------------------------------------------------------------------

fn as_str(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// A JSON pointer lookup without `Value::pointer`'s per-token allocation (our pointers are
/// static and need no `~` unescaping); rows are computed for thousands of objects per list.
fn at<'a>(v: &'a Value, ptr: &str) -> Option<&'a Value> {
    ptr.split('/').skip(1).try_fold(v, |v, k| match v {
        Value::Object(m) => m.get(k),
        Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    at(v, ptr).map_or("", as_str)
}

/// A string field that is present (a Go pointer that is not nil).
fn opt_str_at<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    at(v, ptr).and_then(Value::as_str)
}

fn arr_at<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    at(v, ptr).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn map_at<'a>(v: &'a Value, ptr: &str) -> Option<&'a Map<String, Value>> {
    at(v, ptr).and_then(Value::as_object)
}

fn to_int(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_u64().map(|u| i64::try_from(u).unwrap_or(i64::MAX)))
        .or_else(|| v.as_f64().map(|f| f as i64))
}

fn opt_int_at(v: &Value, ptr: &str) -> Option<i64> {
    at(v, ptr).and_then(to_int)
}

fn int_at(v: &Value, ptr: &str) -> i64 {
    opt_int_at(v, ptr).unwrap_or(0)
}

fn opt_bool_at(v: &Value, ptr: &str) -> Option<bool> {
    at(v, ptr).and_then(Value::as_bool)
}

fn bool_at(v: &Value, ptr: &str) -> bool {
    opt_bool_at(v, ptr).unwrap_or(false)
}

/// A field that is set (not absent, not null): a non-nil Go pointer.
fn is_set(v: &Value, ptr: &str) -> bool {
    at(v, ptr).is_some_and(|x| !x.is_null())
}

/// A map value rendered as a string (label maps should hold strings only).
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

/// A metav1.Time / MicroTime; `None` is Go's zero time (missing, null, unparsable, or the zero
/// instant itself).
fn time_at(v: &Value, ptr: &str) -> Option<DateTime<Utc>> {
    let s = at(v, ptr)?.as_str()?;
    let t = DateTime::parse_from_rfc3339(s.trim()).ok()?.with_timezone(&Utc);
    if t.format("%Y-%m-%dT%H:%M:%S%.f").to_string() == "0001-01-01T00:00:00" {
        return None;
    }
    Some(t)
}

/// duration.HumanDuration of `nanos` nanoseconds.
pub fn human_duration(nanos: i128) -> String {
    const S: i128 = 1_000_000_000;
    let seconds = nanos / S; // truncates toward zero, as Go's int(d.Seconds()) does
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = nanos / (60 * S);
    if minutes < 10 {
        let s = seconds % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = nanos / (3600 * S);
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        return format!("{hours}h{m}m");
    } else if hours < 48 {
        return format!("{hours}h");
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        return format!("{}d{}h", hours / 24, h);
    } else if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        return format!("{}y{}d", hours / 24 / 365, dy);
    }
    format!("{}y", hours / 24 / 365)
}

fn nanos_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i128 {
    let d = to.signed_duration_since(from);
    i128::from(d.num_seconds()) * 1_000_000_000 + i128::from(d.subsec_nanos())
}

/// translateTimestampSince.
fn since(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match t {
        None => "<unknown>".into(),
        Some(t) => human_duration(nanos_between(t, now)),
    }
}

/// The default convertor's Created At cell: RFC 3339 in UTC (Go's zero time when unset).
fn created_at(obj: &Value) -> String {
    match time_at(obj, "/metadata/creationTimestamp") {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => "0001-01-01T00:00:00Z".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers shared by printers
// ---------------------------------------------------------------------------------------------

/// labels.FormatLabels: "k=v" pairs sorted as strings, or "<none>".
fn format_labels(m: Option<&Value>) -> String {
    let mut pairs: Vec<String> = match m.and_then(Value::as_object) {
        Some(m) => m.iter().map(|(k, v)| format!("{k}={}", plain(v))).collect(),
        None => Vec::new(),
    };
    pairs.sort();
    if pairs.is_empty() {
        "<none>".into()
    } else {
        pairs.join(",")
    }
}

/// metav1.LabelSelectorAsSelector(sel).String(): `Ok("")` for a nil or empty selector, `Err`
/// when the selector does not convert (bad operator, key or value).
fn label_selector_string(sel: Option<&Value>) -> Result<String, ()> {
    let sel = match sel {
        Some(Value::Object(m)) => m,
        _ => return Ok(String::new()),
    };
    let labels = sel.get("matchLabels").and_then(Value::as_object);
    let exprs = sel.get("matchExpressions").and_then(Value::as_array);
    if labels.map_or(0, Map::len) + exprs.map_or(0, Vec::len) == 0 {
        return Ok(String::new());
    }
    let valid_key = |k: &str| meta::is_qualified_name(k).is_empty();
    let valid_value = |v: &str| meta::is_valid_label_value(v).is_empty();
    let mut reqs: Vec<(String, String)> = Vec::new();
    for (k, v) in labels.into_iter().flatten() {
        let v = v.as_str().ok_or(())?;
        if !valid_key(k) || !valid_value(v) {
            return Err(());
        }
        reqs.push((k.clone(), format!("{k}={v}")));
    }
    for e in exprs.into_iter().flatten() {
        let key = e.get("key").map_or("", as_str);
        let mut values: Vec<&str> = Vec::new();
        for v in e.get("values").and_then(Value::as_array).into_iter().flatten() {
            values.push(v.as_str().ok_or(())?);
        }
        if !valid_key(key) || !values.iter().all(|v| valid_value(v)) {
            return Err(());
        }
        let text = match e.get("operator").map_or("", as_str) {
            op @ ("In" | "NotIn") => {
                if values.is_empty() {
                    return Err(());
                }
                values.sort_unstable();
                let word = if op == "In" { "in" } else { "notin" };
                format!("{key} {word} ({})", values.join(","))
            }
            "Exists" if values.is_empty() => key.to_string(),
            "DoesNotExist" if values.is_empty() => format!("!{key}"),
            _ => return Err(()),
        };
        reqs.push((key.to_string(), text));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(","))
}

/// metav1.FormatLabelSelector.
fn format_label_selector(sel: Option<&Value>) -> String {
    match label_selector_string(sel) {
        Err(()) => "<error>".into(),
        Ok(s) if s.is_empty() => "<none>".into(),
        Ok(s) => s,
    }
}

/// The generated (gogo-protobuf) `(*metav1.LabelSelector).String()`.
fn label_selector_go_string(sel: &Value) -> String {
    let mut labels = String::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        let mut keys: Vec<&String> = m.keys().collect();
        keys.sort();
        for k in keys {
            labels.push_str(&format!("{k}: {},", m.get(k.as_str()).map(plain).unwrap_or_default()));
        }
    }
    let mut exprs = String::new();
    for e in sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let values: Vec<String> = e.get("values").and_then(Value::as_array).into_iter().flatten().map(plain).collect();
        exprs.push_str(&format!(
            "LabelSelectorRequirement{{Key:{},Operator:{},Values:[{}],}},",
            e.get("key").map(plain).unwrap_or_default(),
            e.get("operator").map(plain).unwrap_or_default(),
            values.join(" ")
        ));
    }
    format!(
        "&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )
}

/// layoutContainerCells: comma-joined names and images.
fn container_cells(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| c.get("name").map_or("", as_str)).collect();
    let images: Vec<&str> = containers.iter().map(|c| c.get("image").map_or("", as_str)).collect();
    (names.join(","), images.join(","))
}

/// listWithMoreString.
fn list_with_more(list: &[String], more: bool, count: usize, max: usize) -> String {
    let ret = list.join(",");
    if more {
        return format!("{ret} + {} more...", count.saturating_sub(max));
    }
    if ret.is_empty() {
        "<unset>".into()
    } else {
        ret
    }
}

/// intstr.IntOrString.String().
fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => to_int(other).unwrap_or(0).to_string(),
    }
}

/// net.JoinHostPort.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The unique, sorted ingress IPs/hostnames of a load balancer status (the server prints wide,
/// so nothing is truncated).
fn load_balancer_ingress(status: &Value, ptr: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for i in arr_at(status, ptr) {
        let ip = i.get("ip").map_or("", as_str);
        let host = i.get("hostname").map_or("", as_str);
        if !ip.is_empty() {
            out.push(ip);
        } else if !host.is_empty() {
            out.push(host);
        }
    }
    out.sort_unstable();
    out.dedup();
    out.join(",")
}

/// helper.GetAccessModesAsString.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    let mut out = Vec::new();
    for (mode, short) in
        [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
    {
        if has(mode) {
            out.push(short);
        }
    }
    out.join(",")
}

/// `GroupResource`/`GroupKind` String(): `name` or `name.group`.
fn with_group(name: &str, group: &str) -> String {
    if group.is_empty() {
        name.to_string()
    } else {
        format!("{name}.{group}")
    }
}

/// (*resource.Quantity).String() of a quantity field; `absent` when the field is missing.
fn quantity_at(v: &Value, ptr: &str, absent: &str) -> String {
    match at(v, ptr) {
        None | Some(Value::Null) => absent.to_string(),
        Some(q) => quantity_string(q),
    }
}

fn quantity_string(q: &Value) -> String {
    let s = match q {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    Quantity::parse(&s).map_or(s, |q| q.canonical())
}

// ---------------------------------------------------------------------------------------------
// resource.Quantity canonical form
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QFormat {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

/// `m * 10^e` in the format it was written in.
#[derive(Debug, Clone, Copy)]
struct Quantity {
    m: i128,
    e: i32,
    fmt: QFormat,
}

impl Quantity {
    fn parse(s: &str) -> Option<Quantity> {
        let (neg, rest) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let num_len = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
        let (number, suffix) = rest.split_at(num_len);
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        if frac_part.contains('.') || (int_part.is_empty() && frac_part.is_empty()) {
            return None;
        }
        let mut m: i128 = 0;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            m = m.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        }
        let mut e = -i32::try_from(frac_part.len()).ok()?;
        let (fmt, shift) = match suffix {
            "" => (QFormat::DecimalSi, 0),
            "n" => (QFormat::DecimalSi, -9),
            "u" => (QFormat::DecimalSi, -6),
            "m" => (QFormat::DecimalSi, -3),
            "k" => (QFormat::DecimalSi, 3),
            "M" => (QFormat::DecimalSi, 6),
            "G" => (QFormat::DecimalSi, 9),
            "T" => (QFormat::DecimalSi, 12),
            "P" => (QFormat::DecimalSi, 15),
            "E" => (QFormat::DecimalSi, 18),
            "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {
                let k = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"].iter().position(|x| *x == suffix)? as u32 + 1;
                m = m.checked_mul(1i128.checked_shl(10 * k)?)?;
                (QFormat::BinarySi, 0)
            }
            other => {
                let exp = other.strip_prefix('e').or_else(|| other.strip_prefix('E'))?;
                let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (QFormat::DecimalExponent, exp.parse::<i32>().ok()?)
            }
        };
        e = e.checked_add(shift)?;
        if neg {
            m = -m;
        }
        // ParseQuantity keeps nano precision at most, rounding away from zero.
        if e < -9 {
            let d = 10i128.checked_pow(u32::try_from(-9 - i64::from(e)).ok()?).unwrap_or(i128::MAX);
            let (q, r) = (m / d, m % d);
            m = q + r.signum();
            e = -9;
        }
        if m == 0 {
            e = 0;
        }
        Some(Quantity { m, e, fmt })
    }

    /// The value as an integer, when it is one.
    fn as_integer(&self) -> Option<i128> {
        if self.e >= 0 {
            self.m.checked_mul(10i128.checked_pow(self.e as u32)?)
        } else {
            let d = 10i128.checked_pow(self.e.unsigned_abs())?;
            (self.m % d == 0).then_some(self.m / d)
        }
    }

    /// |value| < 1024.
    fn is_small(&self) -> bool {
        let mag = self.m.unsigned_abs();
        if self.e >= 0 {
            match 10u128.checked_pow(self.e as u32).and_then(|f| mag.checked_mul(f)) {
                Some(v) => v < 1024,
                None => false,
            }
        } else {
            match 10u128.checked_pow(self.e.unsigned_abs()).and_then(|f| f.checked_mul(1024)) {
                Some(limit) => mag < limit,
                None => true,
            }
        }
    }

    /// Quantity.String(): upstream's canonical form.
    fn canonical(&self) -> String {
        if self.m == 0 {
            return "0".into();
        }
        let mut fmt = self.fmt;
        if fmt == QFormat::BinarySi {
            match self.as_integer() {
                Some(mut v) if !self.is_small() => {
                    let mut k = 0;
                    while k < 6 && v % 1024 == 0 {
                        v /= 1024;
                        k += 1;
                    }
                    return format!("{v}{}", ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k]);
                }
                _ => fmt = QFormat::DecimalSi,
            }
        }
        let (mut m, mut e) = (self.m, self.e);
        while m % 10 == 0 {
            m /= 10;
            e += 1;
        }
        let adjust = match e.rem_euclid(3) {
            1 => 1,
            2 => 2,
            _ => 0,
        };
        if adjust > 0 {
            if let Some(x) = m.checked_mul(10i128.pow(adjust)) {
                m = x;
                e -= adjust as i32;
            }
        }
        let suffix = match (fmt, e) {
            (_, 0) => String::new(),
            (QFormat::DecimalSi, -9) => "n".into(),
            (QFormat::DecimalSi, -6) => "u".into(),
            (QFormat::DecimalSi, -3) => "m".into(),
            (QFormat::DecimalSi, 3) => "k".into(),
            (QFormat::DecimalSi, 6) => "M".into(),
            (QFormat::DecimalSi, 9) => "G".into(),
            (QFormat::DecimalSi, 12) => "T".into(),
            (QFormat::DecimalSi, 15) => "P".into(),
            (QFormat::DecimalSi, 18) => "E".into(),
            (_, e) => format!("e{e}"),
        };
        format!("{m}{suffix}")
    }
}

// ---------------------------------------------------------------------------------------------
// The printers
// ---------------------------------------------------------------------------------------------

/// Keeps the later of two Go times (`None` is the zero time).
fn keep_later(cur: &mut Option<DateTime<Utc>>, t: Option<DateTime<Utc>>) {
    if let Some(t) = t {
        if cur.is_none_or(|c| c < t) {
            *cur = Some(t);
        }
    }
}

/// The status of the first condition of `type_` is "True" (false when there is none).
fn condition_true(conditions: &[Value], type_: &str) -> bool {
    conditions
        .iter()
        .find(|c| c.get("type").map_or("", as_str) == type_)
        .is_some_and(|c| c.get("status").map_or("", as_str) == "True")
}

struct Ctx<'a> {
    o: &'a Value,
    now: DateTime<Utc>,
}

impl Ctx<'_> {
    fn name(&self) -> &str {
        str_at(self.o, "/metadata/name")
    }

    fn age(&self) -> String {
        self.since_at("/metadata/creationTimestamp")
    }

    fn since_at(&self, ptr: &str) -> String {
        since(time_at(self.o, ptr), self.now)
    }

    fn deleting(&self) -> bool {
        is_set(self.o, "/metadata/deletionTimestamp")
    }

    fn annotation(&self, key: &str) -> Option<&str> {
        at(self.o, "/metadata/annotations").and_then(|a| a.get(key)).and_then(Value::as_str)
    }

    fn containers(&self, ptr: &str) -> (Value, Value) {
        let (names, images) = container_cells(arr_at(self.o, ptr));
        (json!(names), json!(images))
    }

    fn pod(&self) -> Vec<Value> {
        let o = self.o;
        let init_specs = arr_at(o, "/spec/initContainers");
        let restartable = |name: &str| {
            init_specs
                .iter()
                .rev()
                .find(|c| c.get("name").map_or("", as_str) == name)
                .is_some_and(|c| c.get("restartPolicy").map_or("", as_str) == "Always")
        };
        let total = arr_at(o, "/spec/containers").len()
            + init_specs.iter().filter(|c| c.get("restartPolicy").map_or("", as_str) == "Always").count();
        let mut ready = 0usize;
        let mut restarts: i64 = 0;
        let mut restartable_restarts: i64 = 0;
        let mut last_restart: Option<DateTime<Utc>> = None;
        let mut last_restartable_restart: Option<DateTime<Utc>> = None;

        let phase = str_at(o, "/status/phase");
        let status_reason = str_at(o, "/status/reason");
        let mut reason = if status_reason.is_empty() { phase.to_string() } else { status_reason.to_string() };
        let conditions = arr_at(o, "/status/conditions");
        for c in conditions {
            if c.get("type").map_or("", as_str) == "PodScheduled"
                && c.get("reason").map_or("", as_str) == "SchedulingGated"
            {
                reason = "SchedulingGated".into();
            }
        }

        let mut initializing = false;
        for (i, cs) in arr_at(o, "/status/initContainerStatuses").iter().enumerate() {
            let rc = opt_int_at(cs, "/restartCount").unwrap_or(0);
            restarts += rc;
            let finished = time_at(cs, "/lastState/terminated/finishedAt");
            keep_later(&mut last_restart, finished);
            let name = cs.get("name").map_or("", as_str);
            let is_restartable = restartable(name);
            if is_restartable {
                restartable_restarts += rc;
                keep_later(&mut last_restartable_restart, finished);
            }
            let terminated = at(cs, "/state/terminated").filter(|t| !t.is_null());
            let waiting = at(cs, "/state/waiting").filter(|t| !t.is_null());
            if terminated.is_some_and(|t| int_at(t, "/exitCode") == 0) {
                continue;
            }
            if is_restartable && bool_at(cs, "/started") {
                if bool_at(cs, "/ready") {
                    ready += 1;
                }
                continue;
            }
            if let Some(t) = terminated {
                let r = str_at(t, "/reason");
                reason = if !r.is_empty() {
                    format!("Init:{r}")
                } else if int_at(t, "/signal") != 0 {
                    format!("Init:Signal:{}", int_at(t, "/signal"))
                } else {
                    format!("Init:ExitCode:{}", int_at(t, "/exitCode"))
                };
            } else if let Some(r) =
                waiting.map(|w| str_at(w, "/reason")).filter(|r| !r.is_empty() && *r != "PodInitializing")
            {
                reason = format!("Init:{r}");
            } else {
                reason = format!("Init:{}/{}", i, init_specs.len());
            }
            initializing = true;
            break;
        }

        let initialized = conditions
            .iter()
            .find(|c| c.get("type").map_or("", as_str) == "Initialized")
            .is_some_and(|c| c.get("status").map_or("", as_str) == "True");
        if !initializing || initialized {
            restarts = restartable_restarts;
            last_restart = last_restartable_restart;
            let mut has_running = false;
            for cs in arr_at(o, "/status/containerStatuses").iter().rev() {
                restarts += opt_int_at(cs, "/restartCount").unwrap_or(0);
                keep_later(&mut last_restart, time_at(cs, "/lastState/terminated/finishedAt"));
                let terminated = at(cs, "/state/terminated").filter(|t| !t.is_null());
                let waiting_reason =
                    at(cs, "/state/waiting").filter(|t| !t.is_null()).map_or("", |w| str_at(w, "/reason"));
                if !waiting_reason.is_empty() {
                    reason = waiting_reason.to_string();
                } else if let Some(t) = terminated {
                    let r = str_at(t, "/reason");
                    reason = if !r.is_empty() {
                        r.to_string()
                    } else if int_at(t, "/signal") != 0 {
                        format!("Signal:{}", int_at(t, "/signal"))
                    } else {
                        format!("ExitCode:{}", int_at(t, "/exitCode"))
                    };
                } else if bool_at(cs, "/ready") && is_set(cs, "/state/running") {
                    has_running = true;
                    ready += 1;
                }
            }
            if reason == "Completed" && has_running {
                reason = if condition_true(conditions, "Ready") { "Running" } else { "NotReady" }.into();
            }
        }

        if self.deleting() && status_reason == "NodeLost" {
            reason = "Unknown".into();
        } else if self.deleting() && phase != "Failed" && phase != "Succeeded" {
            reason = "Terminating".into();
        }

        let restarts_str = match last_restart {
            Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), self.now)),
            _ => restarts.to_string(),
        };

        let mut pod_ip = arr_at(o, "/status/podIPs").first().map_or("", |ip| str_at(ip, "/ip"));
        if arr_at(o, "/status/podIPs").is_empty() {
            pod_ip = str_at(o, "/status/podIP");
        }
        let none_if_empty = |s: &str| if s.is_empty() { "<none>".to_string() } else { s.to_string() };
        let gates = arr_at(o, "/spec/readinessGates");
        let readiness_gates = if gates.is_empty() {
            "<none>".to_string()
        } else {
            let true_conditions = gates
                .iter()
                .filter(|g| {
                    let ty = str_at(g, "/conditionType");
                    conditions
                        .iter()
                        .find(|c| c.get("type").map_or("", as_str) == ty)
                        .is_some_and(|c| c.get("status").map_or("", as_str) == "True")
                })
                .count();
            format!("{true_conditions}/{}", gates.len())
        };
        vec![
            json!(self.name()),
            json!(format!("{ready}/{total}")),
            json!(reason),
            json!(restarts_str),
            json!(self.age()),
            json!(none_if_empty(pod_ip)),
            json!(none_if_empty(str_at(o, "/spec/nodeName"))),
            json!(none_if_empty(str_at(o, "/status/nominatedNodeName"))),
            json!(readiness_gates),
        ]
    }

    fn pod_template(&self) -> Vec<Value> {
        let (names, images) = self.containers("/template/spec/containers");
        vec![json!(self.name()), names, images, json!(format_labels(at(self.o, "/template/metadata/labels")))]
    }

    fn pdb(&self) -> Vec<Value> {
        let o = self.o;
        let bound = |ptr: &str| match at(o, ptr) {
            Some(v) if !v.is_null() => int_or_string(v),
            _ => "N/A".to_string(),
        };
        vec![
            json!(self.name()),
            json!(bound("/spec/minAvailable")),
            json!(bound("/spec/maxUnavailable")),
            json!(int_at(o, "/status/disruptionsAllowed")),
            json!(self.age()),
        ]
    }

    fn replication_controller(&self) -> Vec<Value> {
        let o = self.o;
        let (names, images) = self.containers("/spec/template/spec/containers");
        vec![
            json!(self.name()),
            json!(opt_int_at(o, "/spec/replicas").unwrap_or(1)),
            json!(int_at(o, "/status/replicas")),
            json!(int_at(o, "/status/readyReplicas")),
            json!(self.age()),
            names,
            images,
            json!(format_labels(at(o, "/spec/selector"))),
        ]
    }

    fn replica_set(&self) -> Vec<Value> {
        let o = self.o;
        let (names, images) = self.containers("/spec/template/spec/containers");
        vec![
            json!(self.name()),
            json!(opt_int_at(o, "/spec/replicas").unwrap_or(1)),
            json!(int_at(o, "/status/replicas")),
            json!(int_at(o, "/status/readyReplicas")),
            json!(self.age()),
            names,
            images,
            json!(format_label_selector(at(o, "/spec/selector"))),
        ]
    }

    fn daemon_set(&self) -> Vec<Value> {
        let o = self.o;
        let (names, images) = self.containers("/spec/template/spec/containers");
        vec![
            json!(self.name()),
            json!(int_at(o, "/status/desiredNumberScheduled")),
            json!(int_at(o, "/status/currentNumberScheduled")),
            json!(int_at(o, "/status/numberReady")),
            json!(int_at(o, "/status/updatedNumberScheduled")),
            json!(int_at(o, "/status/numberAvailable")),
            json!(format_labels(at(o, "/spec/template/spec/nodeSelector"))),
            json!(self.age()),
            names,
            images,
            json!(format_label_selector(at(o, "/spec/selector"))),
        ]
    }

    fn job(&self) -> Vec<Value> {
        let o = self.o;
        let succeeded = int_at(o, "/status/succeeded");
        let completions = match opt_int_at(o, "/spec/completions") {
            Some(c) => format!("{succeeded}/{c}"),
            None => {
                let parallelism = opt_int_at(o, "/spec/parallelism").unwrap_or(0);
                if parallelism > 1 {
                    format!("{succeeded}/1 of {parallelism}")
                } else {
                    format!("{succeeded}/1")
                }
            }
        };
        let duration = match (time_at(o, "/status/startTime"), time_at(o, "/status/completionTime")) {
            (None, _) => String::new(),
            (Some(start), None) => human_duration(nanos_between(start, self.now)),
            (Some(start), Some(end)) => human_duration(nanos_between(start, end)),
        };
        let conditions = arr_at(o, "/status/conditions");
        let status = if condition_true(conditions, "Complete") {
            "Complete"
        } else if condition_true(conditions, "Failed") {
            "Failed"
        } else if self.deleting() {
            "Terminating"
        } else if condition_true(conditions, "Suspended") {
            "Suspended"
        } else if condition_true(conditions, "FailureTarget") {
            "FailureTarget"
        } else {
            "Running"
        };
        let (names, images) = self.containers("/spec/template/spec/containers");
        vec![
            json!(self.name()),
            json!(status),
            json!(completions),
            json!(duration),
            json!(self.age()),
            names,
            images,
            json!(format_label_selector(at(o, "/spec/selector"))),
        ]
    }

    fn cron_job(&self) -> Vec<Value> {
        let o = self.o;
        let last_schedule = if is_set(o, "/status/lastScheduleTime") {
            self.since_at("/status/lastScheduleTime")
        } else {
            "<none>".to_string()
        };
        let suspend = match opt_bool_at(o, "/spec/suspend") {
            Some(true) => "True",
            Some(false) => "False",
            None => "<unset>",
        };
        let (names, images) = self.containers("/spec/jobTemplate/spec/template/spec/containers");
        vec![
            json!(self.name()),
            json!(str_at(o, "/spec/schedule")),
            json!(opt_str_at(o, "/spec/timeZone").unwrap_or("<none>")),
            json!(suspend),
            json!(arr_at(o, "/status/active").len()),
            json!(last_schedule),
            json!(self.age()),
            names,
            images,
            json!(format_label_selector(at(o, "/spec/jobTemplate/spec/selector"))),
        ]
    }

    fn service(&self) -> Vec<Value> {
        let o = self.o;
        let svc_type = match str_at(o, "/spec/type") {
            "" => "ClusterIP",
            t => t,
        };
        let cluster_ips = arr_at(o, "/spec/clusterIPs");
        let cluster_ip = match cluster_ips.first() {
            Some(ip) => as_str(ip).to_string(),
            None => match str_at(o, "/spec/clusterIP") {
                "" => "<none>".to_string(),
                ip => ip.to_string(),
            },
        };
        let external: Vec<&str> = arr_at(o, "/spec/externalIPs").iter().map(as_str).collect();
        let external_ip = match svc_type {
            "ClusterIP" | "NodePort" => {
                if external.is_empty() {
                    "<none>".to_string()
                } else {
                    external.join(",")
                }
            }
            "LoadBalancer" => {
                let lb = load_balancer_ingress(o, "/status/loadBalancer/ingress");
                if !external.is_empty() {
                    let mut all: Vec<&str> = Vec::new();
                    if !lb.is_empty() {
                        all.extend(lb.split(','));
                    }
                    all.extend(external.iter().copied());
                    all.join(",")
                } else if !lb.is_empty() {
                    lb
                } else {
                    "<pending>".to_string()
                }
            }
            "ExternalName" => str_at(o, "/spec/externalName").to_string(),
            _ => "<unknown>".to_string(),
        };
        let ports: Vec<String> = arr_at(o, "/spec/ports")
            .iter()
            .map(|p| {
                let port = int_at(p, "/port");
                let protocol = match str_at(p, "/protocol") {
                    "" => "TCP",
                    proto => proto,
                };
                match int_at(p, "/nodePort") {
                    np if np > 0 => format!("{port}:{np}/{protocol}"),
                    _ => format!("{port}/{protocol}"),
                }
            })
            .collect();
        let ports = if ports.is_empty() { "<none>".to_string() } else { ports.join(",") };
        vec![
            json!(self.name()),
            json!(svc_type),
            json!(cluster_ip),
            json!(external_ip),
            json!(ports),
            json!(self.age()),
            json!(format_labels(at(o, "/spec/selector"))),
        ]
    }

    fn ingress(&self) -> Vec<Value> {
        let o = self.o;
        let rules = arr_at(o, "/spec/rules");
        let max = 3;
        let mut list: Vec<&str> = Vec::new();
        let mut more = false;
        for rule in rules {
            if list.len() == max {
                more = true;
            }
            let host = str_at(rule, "/host");
            if !more && !host.is_empty() {
                list.push(host);
            }
        }
        let hosts = if list.is_empty() {
            "*".to_string()
        } else if more {
            format!("{} + {} more...", list.join(","), rules.len().saturating_sub(max))
        } else {
            list.join(",")
        };
        let ports = if arr_at(o, "/spec/tls").is_empty() { "80" } else { "80, 443" };
        vec![
            json!(self.name()),
            json!(opt_str_at(o, "/spec/ingressClassName").unwrap_or("<none>")),
            json!(hosts),
            json!(load_balancer_ingress(o, "/status/loadBalancer/ingress")),
            json!(ports),
            json!(self.age()),
        ]
    }

    fn ingress_class(&self) -> Vec<Value> {
        let o = self.o;
        let parameters = match at(o, "/spec/parameters").filter(|p| p.is_object()) {
            Some(p) => {
                let mut s = str_at(p, "/kind").to_string();
                if let Some(g) = opt_str_at(p, "/apiGroup") {
                    s = format!("{s}.{g}");
                }
                format!("{s}/{}", str_at(p, "/name"))
            }
            None => "<none>".to_string(),
        };
        vec![json!(self.name()), json!(str_at(o, "/spec/controller")), json!(parameters), json!(self.age())]
    }

    fn stateful_set(&self) -> Vec<Value> {
        let o = self.o;
        let desired = opt_int_at(o, "/spec/replicas").unwrap_or(1);
        let (names, images) = self.containers("/spec/template/spec/containers");
        vec![
            json!(self.name()),
            json!(format!("{}/{desired}", int_at(o, "/status/readyReplicas"))),
            json!(self.age()),
            names,
            images,
        ]
    }

    fn node(&self) -> Vec<Value> {
        let o = self.o;
        let ready = arr_at(o, "/status/conditions").iter().rev().find(|c| str_at(c, "/type") == "Ready");
        let mut status: Vec<&str> = match ready {
            Some(c) if str_at(c, "/status") == "True" => vec!["Ready"],
            Some(_) => vec!["NotReady"],
            None => vec!["Unknown"],
        };
        if bool_at(o, "/spec/unschedulable") {
            status.push("SchedulingDisabled");
        }
        let mut roles: Vec<String> = Vec::new();
        for (k, v) in map_at(o, "/metadata/labels").into_iter().flatten() {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.push(role.to_string());
                }
            } else if k == "kubernetes.io/role" && !plain(v).is_empty() {
                roles.push(plain(v));
            }
        }
        roles.sort();
        roles.dedup();
        let roles = if roles.is_empty() { "<none>".to_string() } else { roles.join(",") };
        let address = |ty: &str| {
            arr_at(o, "/status/addresses")
                .iter()
                .find(|a| str_at(a, "/type") == ty)
                .map_or("<none>".to_string(), |a| str_at(a, "/address").to_string())
        };
        let info = |f: &str| match str_at(o, &format!("/status/nodeInfo/{f}")) {
            "" => "<unknown>".to_string(),
            s => s.to_string(),
        };
        vec![
            json!(self.name()),
            json!(status.join(",")),
            json!(roles),
            json!(self.age()),
            json!(str_at(o, "/status/nodeInfo/kubeletVersion")),
            json!(address("InternalIP")),
            json!(address("ExternalIP")),
            json!(info("osImage")),
            json!(info("kernelVersion")),
            json!(info("containerRuntimeVersion")),
        ]
    }

    /// Core v1 Events and events.k8s.io/v1 Events (whose fields upstream converts to the core
    /// internal type before printing).
    fn event(&self) -> Vec<Value> {
        let o = self.o;
        let first_of = |a: &str, b: &str| if is_set(o, a) { time_at(o, a) } else { time_at(o, b) };
        let first = match first_of("/firstTimestamp", "/deprecatedFirstTimestamp") {
            Some(t) => since(Some(t), self.now),
            None => self.since_at("/eventTime"),
        };
        let mut last = match first_of("/lastTimestamp", "/deprecatedLastTimestamp") {
            Some(t) => since(Some(t), self.now),
            None => first.clone(),
        };
        let mut count = opt_int_at(o, "/count").or_else(|| opt_int_at(o, "/deprecatedCount")).unwrap_or(0);
        if is_set(o, "/series") {
            last = self.since_at("/series/lastObservedTime");
            count = int_at(o, "/series/count");
        } else if count == 0 {
            count = 1;
        }
        let involved = match at(o, "/involvedObject").filter(|v| v.is_object()) {
            Some(v) => v,
            None => at(o, "/regarding").unwrap_or(&Value::Null),
        };
        let kind = str_at(involved, "/kind").to_lowercase();
        let target = match str_at(involved, "/name") {
            "" => kind,
            name => format!("{kind}/{name}"),
        };
        let first_non_empty =
            |ptrs: &[&str]| ptrs.iter().map(|p| str_at(o, p)).find(|s| !s.is_empty()).unwrap_or("").to_string();
        let component = first_non_empty(&[
            "/source/component",
            "/deprecatedSource/component",
            "/reportingComponent",
            "/reportingController",
        ]);
        let host = first_non_empty(&["/source/host", "/deprecatedSource/host", "/reportingInstance"]);
        let source = if host.is_empty() { component } else { format!("{component}, {host}") };
        let message = match at(o, "/message").and_then(Value::as_str) {
            Some(m) => m,
            None => str_at(o, "/note"),
        };
        vec![
            json!(last),
            json!(str_at(o, "/type")),
            json!(str_at(o, "/reason")),
            json!(target),
            json!(str_at(involved, "/fieldPath")),
            json!(source),
            json!(message.trim()),
            json!(first),
            json!(count),
            json!(self.name()),
        ]
    }

    fn secret(&self) -> Vec<Value> {
        let o = self.o;
        // The v1 -> internal conversion merges stringData into data.
        let mut keys: Vec<&String> = map_at(o, "/data").into_iter().flatten().map(|(k, _)| k).collect();
        keys.extend(map_at(o, "/stringData").into_iter().flatten().map(|(k, _)| k));
        keys.sort();
        keys.dedup();
        vec![json!(self.name()), json!(str_at(o, "/type")), json!(keys.len()), json!(self.age())]
    }

    fn persistent_volume(&self) -> Vec<Value> {
        let o = self.o;
        let claim = match at(o, "/spec/claimRef").filter(|c| c.is_object()) {
            Some(c) => format!("{}/{}", str_at(c, "/namespace"), str_at(c, "/name")),
            None => String::new(),
        };
        let phase = if self.deleting() { "Terminating" } else { str_at(o, "/status/phase") };
        let class = match self.annotation("volume.beta.kubernetes.io/storage-class") {
            Some(c) => c,
            None => str_at(o, "/spec/storageClassName"),
        };
        vec![
            json!(self.name()),
            json!(quantity_at(o, "/spec/capacity/storage", "0")),
            json!(access_modes(arr_at(o, "/spec/accessModes"))),
            json!(str_at(o, "/spec/persistentVolumeReclaimPolicy")),
            json!(phase),
            json!(claim),
            json!(class),
            json!(opt_str_at(o, "/spec/volumeAttributesClassName").unwrap_or("<unset>")),
            json!(str_at(o, "/status/reason")),
            json!(self.age()),
            json!(opt_str_at(o, "/spec/volumeMode").unwrap_or("<unset>")),
        ]
    }

    fn persistent_volume_claim(&self) -> Vec<Value> {
        let o = self.o;
        let phase = if self.deleting() { "Terminating" } else { str_at(o, "/status/phase") };
        let volume = str_at(o, "/spec/volumeName");
        let (capacity, modes) = if volume.is_empty() {
            (String::new(), String::new())
        } else {
            (quantity_at(o, "/status/capacity/storage", "0"), access_modes(arr_at(o, "/status/accessModes")))
        };
        let class = match self.annotation("volume.beta.kubernetes.io/storage-class") {
            Some(c) => c,
            None => str_at(o, "/spec/storageClassName"),
        };
        vec![
            json!(self.name()),
            json!(phase),
            json!(volume),
            json!(capacity),
            json!(modes),
            json!(class),
            json!(opt_str_at(o, "/spec/volumeAttributesClassName").unwrap_or("<unset>")),
            json!(self.age()),
            json!(opt_str_at(o, "/spec/volumeMode").unwrap_or("<unset>")),
        ]
    }

    fn component_status(&self) -> Vec<Value> {
        let healthy = arr_at(self.o, "/conditions").iter().find(|c| str_at(c, "/type") == "Healthy");
        let (status, message, error) = match healthy {
            Some(c) => (
                if str_at(c, "/status") == "True" { "Healthy" } else { "Unhealthy" },
                str_at(c, "/message"),
                str_at(c, "/error"),
            ),
            None => ("Unknown", "", ""),
        };
        vec![json!(self.name()), json!(status), json!(message), json!(error)]
    }

    fn deployment(&self) -> Vec<Value> {
        let o = self.o;
        let desired = opt_int_at(o, "/spec/replicas").unwrap_or(1);
        let selector = label_selector_string(at(o, "/spec/selector")).unwrap_or_else(|()| "<invalid>".into());
        let (names, images) = self.containers("/spec/template/spec/containers");
        vec![
            json!(self.name()),
            json!(format!("{}/{desired}", int_at(o, "/status/readyReplicas"))),
            json!(int_at(o, "/status/updatedReplicas")),
            json!(int_at(o, "/status/availableReplicas")),
            json!(self.age()),
            names,
            images,
            json!(selector),
        ]
    }

    fn hpa(&self) -> Vec<Value> {
        let o = self.o;
        let reference =
            format!("{}/{}", str_at(o, "/spec/scaleTargetRef/kind"), str_at(o, "/spec/scaleTargetRef/name"));
        let min_pods = match opt_int_at(o, "/spec/minReplicas") {
            Some(n) => n.to_string(),
            None => "<unset>".to_string(),
        };
        vec![
            json!(self.name()),
            json!(reference),
            json!(hpa_metrics(o)),
            json!(min_pods),
            json!(int_at(o, "/spec/maxReplicas")),
            json!(int_at(o, "/status/currentReplicas")),
            json!(self.age()),
        ]
    }

    fn role_binding(&self) -> Vec<Value> {
        let o = self.o;
        let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
        for s in arr_at(o, "/subjects") {
            let name = str_at(s, "/name");
            match str_at(s, "/kind") {
                "ServiceAccount" => sas.push(format!("{}/{name}", str_at(s, "/namespace"))),
                "User" => users.push(name.to_string()),
                "Group" => groups.push(name.to_string()),
                _ => {}
            }
        }
        vec![
            json!(self.name()),
            json!(format!("{}/{}", str_at(o, "/roleRef/kind"), str_at(o, "/roleRef/name"))),
            json!(self.age()),
            json!(users.join(", ")),
            json!(groups.join(", ")),
            json!(sas.join(", ")),
        ]
    }

    fn csr(&self) -> Vec<Value> {
        let o = self.o;
        let (mut approved, mut denied, mut failed) = (false, false, false);
        for c in arr_at(o, "/status/conditions") {
            match str_at(c, "/type") {
                "Approved" => approved = true,
                "Denied" => denied = true,
                "Failed" => failed = true,
                _ => {}
            }
        }
        let mut status = if denied {
            "Denied"
        } else if approved {
            "Approved"
        } else {
            "Pending"
        }
        .to_string();
        if failed {
            status.push_str(",Failed");
        }
        if !str_at(o, "/status/certificate").is_empty() {
            status.push_str(",Issued");
        }
        let signer = match str_at(o, "/spec/signerName") {
            "" => "<none>",
            s => s,
        };
        let requested = match opt_int_at(o, "/spec/expirationSeconds") {
            Some(s) => human_duration(i128::from(s) * 1_000_000_000),
            None => "<none>".to_string(),
        };
        vec![
            json!(self.name()),
            json!(self.age()),
            json!(signer),
            json!(str_at(o, "/spec/username")),
            json!(requested),
            json!(status),
        ]
    }

    fn storage_class(&self) -> Vec<Value> {
        let o = self.o;
        let mut name = self.name().to_string();
        if self.annotation("storageclass.kubernetes.io/is-default-class") == Some("true")
            || self.annotation("storageclass.beta.kubernetes.io/is-default-class") == Some("true")
        {
            name.push_str(" (default)");
        }
        vec![
            json!(name),
            json!(str_at(o, "/provisioner")),
            json!(opt_str_at(o, "/reclaimPolicy").unwrap_or("Delete")),
            json!(opt_str_at(o, "/volumeBindingMode").unwrap_or("Immediate")),
            json!(bool_at(o, "/allowVolumeExpansion")),
            json!(self.age()),
        ]
    }

    fn controller_revision(&self) -> Vec<Value> {
        let o = self.o;
        let owner = arr_at(o, "/metadata/ownerReferences").iter().find(|r| bool_at(r, "/controller"));
        let controller = match owner {
            None => "<none>".to_string(),
            Some(r) => {
                let name = str_at(r, "/name");
                let api_version = str_at(r, "/apiVersion");
                let group = match api_version.matches('/').count() {
                    1 if api_version != "/" => api_version.split('/').next().unwrap_or(""),
                    _ => "",
                };
                let kind = str_at(r, "/kind");
                if group.is_empty() && kind.is_empty() {
                    name.to_string()
                } else {
                    format!("{}/{name}", with_group(kind, group).to_lowercase())
                }
            }
        };
        vec![json!(self.name()), json!(controller), json!(int_at(o, "/revision")), json!(self.age())]
    }

    fn resource_quota(&self) -> Vec<Value> {
        let o = self.o;
        let (mut requests, mut limits) = (Vec::new(), Vec::new());
        if let Some(hard) = map_at(o, "/status/hard") {
            // serde_json maps iterate in key order, as upstream sorts the resource names.
            for (resource, hard_q) in hard {
                let used = at(o, "/status/used").and_then(|u| u.get(resource));
                let used = used.filter(|u| !u.is_null()).map_or("0".to_string(), quantity_string);
                let hard_q = if hard_q.is_null() { "0".to_string() } else { quantity_string(hard_q) };
                let entry = format!("{resource}: {used}/{hard_q}");
                let mut pieces = resource.split('.');
                if pieces.next() == Some("limits") && pieces.next().is_some() {
                    limits.push(entry);
                } else {
                    requests.push(entry);
                }
            }
        }
        vec![json!(self.name()), json!(requests.join(", ")), json!(limits.join(", ")), json!(self.age())]
    }

    fn endpoint_slice(&self) -> Vec<Value> {
        let o = self.o;
        let max = 3;
        let (mut ports, mut more, mut count) = (Vec::new(), false, 0);
        for p in arr_at(o, "/ports") {
            if ports.len() < max {
                let num = match opt_int_at(p, "/port") {
                    Some(n) => n.to_string(),
                    None => opt_str_at(p, "/name").unwrap_or("*").to_string(),
                };
                ports.push(num);
            } else if ports.len() == max {
                more = true;
            }
            count += 1;
        }
        let ports = list_with_more(&ports, more, count, max);
        let (mut addrs, mut more, mut count) = (Vec::new(), false, 0);
        for ep in arr_at(o, "/endpoints") {
            for a in arr_at(ep, "/addresses") {
                if addrs.len() < max {
                    addrs.push(as_str(a).to_string());
                } else if addrs.len() == max {
                    more = true;
                }
                count += 1;
            }
        }
        vec![
            json!(self.name()),
            json!(str_at(o, "/addressType")),
            json!(ports),
            json!(list_with_more(&addrs, more, count, max)),
            json!(self.age()),
        ]
    }

    fn csi_driver(&self) -> Vec<Value> {
        let o = self.o;
        let modes: Vec<&str> = arr_at(o, "/spec/volumeLifecycleModes").iter().map(as_str).collect();
        let modes = if modes.is_empty() { "<none>".to_string() } else { modes.join(",") };
        let tokens = match at(o, "/spec/tokenRequests").and_then(Value::as_array) {
            Some(list) => list.iter().map(|t| str_at(t, "/audience")).collect::<Vec<_>>().join(","),
            None => "<unset>".to_string(),
        };
        vec![
            json!(self.name()),
            json!(opt_bool_at(o, "/spec/attachRequired").unwrap_or(true)),
            json!(bool_at(o, "/spec/podInfoOnMount")),
            json!(bool_at(o, "/spec/storageCapacity")),
            json!(tokens),
            json!(bool_at(o, "/spec/requiresRepublish")),
            json!(modes),
            json!(self.age()),
        ]
    }

    fn validating_admission_policy(&self) -> Vec<Value> {
        let o = self.o;
        let param_kind = match at(o, "/spec/paramKind").filter(|p| p.is_object()) {
            Some(p) => format!("{}/{}", str_at(p, "/apiVersion"), str_at(p, "/kind")),
            None => "<unset>".to_string(),
        };
        vec![json!(self.name()), json!(arr_at(o, "/spec/validations").len()), json!(param_kind), json!(self.age())]
    }

    fn validating_admission_policy_binding(&self) -> Vec<Value> {
        let o = self.o;
        let param = match at(o, "/spec/paramRef").filter(|p| p.is_object()) {
            Some(p) => {
                let name = str_at(p, "/name");
                let ns = str_at(p, "/namespace");
                if !name.is_empty() {
                    if ns.is_empty() {
                        format!("*/{name}")
                    } else {
                        format!("{ns}/{name}")
                    }
                } else {
                    match p.get("selector").filter(|s| !s.is_null()) {
                        Some(sel) => label_selector_go_string(sel),
                        None => "<unset>".to_string(),
                    }
                }
            }
            None => "<unset>".to_string(),
        };
        vec![json!(self.name()), json!(str_at(o, "/spec/policyName")), json!(param), json!(self.age())]
    }

    fn flow_schema(&self) -> Vec<Value> {
        let o = self.o;
        let distinguisher = match at(o, "/spec/distinguisherMethod").filter(|d| d.is_object()) {
            Some(d) => str_at(d, "/type").to_string(),
            None => "<none>".to_string(),
        };
        let missing = arr_at(o, "/status/conditions")
            .iter()
            .find(|c| str_at(c, "/type") == "Dangling")
            .map_or("?".to_string(), |c| str_at(c, "/status").to_string());
        vec![
            json!(self.name()),
            json!(str_at(o, "/spec/priorityLevelConfiguration/name")),
            json!(int_at(o, "/spec/matchingPrecedence")),
            json!(distinguisher),
            json!(self.age()),
            json!(missing),
        ]
    }

    fn priority_level(&self) -> Vec<Value> {
        let o = self.o;
        let none = || json!("<none>");
        let (mut ncs, mut queues, mut hand, mut qll) = (none(), none(), none(), none());
        if let Some(l) = at(o, "/spec/limited").filter(|l| l.is_object()) {
            // Unset fields print as upstream's defaults, which the stored object always has.
            ncs = json!(opt_int_at(l, "/nominalConcurrencyShares").unwrap_or(30));
            if let Some(q) = at(l, "/limitResponse/queuing").filter(|q| q.is_object()) {
                queues = json!(opt_int_at(q, "/queues").unwrap_or(64));
                hand = json!(opt_int_at(q, "/handSize").unwrap_or(8));
                qll = json!(opt_int_at(q, "/queueLengthLimit").unwrap_or(50));
            }
        }
        vec![json!(self.name()), json!(str_at(o, "/spec/type")), ncs, queues, hand, qll, json!(self.age())]
    }

    fn ip_address(&self) -> Vec<Value> {
        let o = self.o;
        let parent = match at(o, "/spec/parentRef").filter(|p| p.is_object()) {
            Some(p) => {
                let mut s = with_group(str_at(p, "/resource"), str_at(p, "/group")).to_lowercase();
                let ns = str_at(p, "/namespace");
                if !ns.is_empty() {
                    s = format!("{s}/{ns}");
                }
                format!("{s}/{}", str_at(p, "/name"))
            }
            None => "<none>".to_string(),
        };
        vec![json!(self.name()), json!(parent), json!(self.age())]
    }

    fn api_service(&self) -> Vec<Value> {
        let o = self.o;
        let service = match at(o, "/spec/service").filter(|s| s.is_object()) {
            Some(s) => format!("{}/{}", str_at(s, "/namespace"), str_at(s, "/name")),
            None => "Local".to_string(),
        };
        let available = match arr_at(o, "/status/conditions").iter().find(|c| str_at(c, "/type") == "Available") {
            None => "Unknown".to_string(),
            Some(c) => {
                let status = str_at(c, "/status");
                let reason = str_at(c, "/reason");
                if status == "True" || reason.is_empty() {
                    status.to_string()
                } else {
                    format!("{status} ({reason})")
                }
            }
        };
        vec![json!(self.name()), json!(service), json!(available), json!(self.age())]
    }
}

/// formatEndpoints (all ports).
fn format_endpoints(o: &Value) -> String {
    let subsets = arr_at(o, "/subsets");
    if subsets.is_empty() {
        return "<none>".into();
    }
    let max = 3;
    let (mut list, mut more, mut count) = (Vec::new(), false, 0usize);
    for ss in subsets {
        let addresses = arr_at(ss, "/addresses");
        let ports = arr_at(ss, "/ports");
        if ports.is_empty() {
            count += addresses.len();
            for a in addresses {
                if list.len() == max {
                    more = true;
                    break;
                }
                list.push(str_at(a, "/ip").to_string());
            }
            continue;
        }
        for p in ports {
            count += addresses.len();
            for a in addresses {
                if list.len() == max {
                    more = true;
                    break;
                }
                list.push(join_host_port(str_at(a, "/ip"), int_at(p, "/port")));
            }
        }
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", count.saturating_sub(max))
    } else {
        ret
    }
}

/// formatHPAMetrics over the HPA's metric specs and current statuses (autoscaling/v2 shape, or
/// the CPU target of autoscaling/v1).
fn hpa_metrics(o: &Value) -> String {
    let mut specs: Vec<Value> = arr_at(o, "/spec/metrics").to_vec();
    if specs.is_empty() {
        // autoscaling/v1's CPU target; with none, the CPU 80% upstream's v2 defaulting gives
        // every stored HPA without metrics.
        let target = opt_int_at(o, "/spec/targetCPUUtilizationPercentage").unwrap_or(80);
        specs.push(json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}));
    }
    let mut statuses: Vec<Value> = arr_at(o, "/status/currentMetrics").to_vec();
    if statuses.is_empty() {
        if let Some(current) = opt_int_at(o, "/status/currentCPUUtilizationPercentage") {
            statuses.push(
                json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}),
            );
        }
    }
    let max = 2;
    let mut list: Vec<String> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        // The status entry at the same index, when it carries the metric's source.
        let status = |key: &str| statuses.get(i).and_then(|s| s.get(key)).filter(|v| !v.is_null());
        let quantity = |v: &Value, ptr: &str| quantity_at(v, ptr, "<nil>");
        let entry = match str_at(spec, "/type") {
            t @ ("External" | "Object") => {
                let key = if t == "External" { "external" } else { "object" };
                let target = spec.get(key).and_then(|s| s.get("target")).unwrap_or(&Value::Null);
                if is_set(target, "/averageValue") {
                    let current = status(key)
                        .filter(|s| is_set(s, "/current/averageValue"))
                        .map_or("<unknown>".to_string(), |s| quantity(s, "/current/averageValue"));
                    format!("{current}/{} (avg)", quantity(target, "/averageValue"))
                } else {
                    let current = status(key).map_or("<unknown>".to_string(), |s| quantity(s, "/current/value"));
                    format!("{current}/{}", quantity(target, "/value"))
                }
            }
            "Pods" => {
                let current = status("pods").map_or("<unknown>".to_string(), |s| quantity(s, "/current/averageValue"));
                format!("{current}/{}", quantity(spec, "/pods/target/averageValue"))
            }
            t @ ("Resource" | "ContainerResource") => {
                let key = if t == "Resource" { "resource" } else { "containerResource" };
                let source = spec.get(key).unwrap_or(&Value::Null);
                let name = str_at(source, "/name");
                if is_set(source, "/target/averageValue") {
                    let current = status(key).map_or("<unknown>".to_string(), |s| quantity(s, "/current/averageValue"));
                    format!("{name}: {current}/{}", quantity(source, "/target/averageValue"))
                } else {
                    let current = status(key)
                        .and_then(|s| opt_int_at(s, "/current/averageUtilization"))
                        .map_or("<unknown>".to_string(), |u| format!("{u}%"));
                    let target = opt_int_at(source, "/target/averageUtilization")
                        .map_or("<auto>".to_string(), |u| format!("{u}%"));
                    format!("{name}: {current}/{target}")
                }
            }
            _ => "<unknown type>".to_string(),
        };
        list.push(entry);
    }
    let count = list.len();
    if count > max {
        list.truncate(max);
        return format!("{} + {} more...", list.join(", "), count - max);
    }
    list.join(", ")
}

// ---------------------------------------------------------------------------------------------
// Column descriptions: upstream's API field docs (k8s.io/api and apimachinery v0.33 SwaggerDoc)
// ---------------------------------------------------------------------------------------------

const D_NAME: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const D_CREATED: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const D_POD_IP: &str =
    "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.";
const D_POD_NODE_NAME: &str = "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename";
const D_POD_NOMINATED: &str = "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.";
const D_POD_READINESS_GATES: &str = "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates";
const D_POD_NODE_SELECTOR: &str = "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/";
const D_RC_SPEC_REPLICAS: &str = "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller";
const D_RC_STATUS_REPLICAS: &str = "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller";
const D_RC_READY: &str = "The number of ready replicas for this replication controller.";
const D_RC_SELECTOR: &str = "Selector is a label query over pods that should match the Replicas count. If Selector is empty, it is defaulted to the labels present on the Pod template. Label keys and values that must match in order to be controlled by this replication controller, if empty defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
const D_SVC_TYPE: &str = "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types";
const D_SVC_CLUSTER_IP: &str = "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
const D_SVC_EXTERNAL_IPS: &str = "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.";
const D_SVC_PORTS: &str = "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
const D_SVC_SELECTOR: &str = "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/";
const D_EP_SUBSETS: &str = "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.";
const D_NODE_KUBELET: &str = "Kubelet Version reported by the node.";
const D_NODE_ADDRESSES: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";
const D_NODE_OS_IMAGE: &str = "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).";
const D_NODE_KERNEL: &str = "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).";
const D_NODE_CRI: &str =
    "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).";
const D_EV_LAST: &str = "The time at which the most recent occurrence of this event was recorded.";
const D_EV_TYPE: &str = "Type of this event (Normal, Warning), new types could be added in the future";
const D_EV_REASON: &str = "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.";
const D_EV_OBJECT: &str = "The object that this event is about.";
const D_EV_SUBOBJECT: &str = "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.";
const D_EV_SOURCE: &str = "The component reporting this event. Should be a short machine understandable string.";
const D_EV_MESSAGE: &str = "A human-readable description of the status of this operation.";
const D_EV_FIRST: &str = "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)";
const D_EV_COUNT: &str = "The number of times this event has occurred.";
const D_SECRET_TYPE: &str = "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";
const D_SECRET_DATA: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4";
const D_SA_SECRETS: &str = "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret";
const D_PV_CAPACITY: &str = "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity";
const D_PV_ACCESS: &str = "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes";
const D_PV_RECLAIM: &str = "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming";
const D_PV_PHASE: &str = "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase";
const D_PV_CLAIM: &str = "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding";
const D_PV_REASON: &str = "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.";
const D_PV_MODE: &str = "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.";
const D_PVC_PHASE: &str = "phase represents the current phase of PersistentVolumeClaim.";
const D_PVC_VOLUME: &str = "volumeName is the binding reference to the PersistentVolume backing this claim.";
const D_PVC_CAPACITY: &str = "capacity represents the actual resources of the underlying volume.";
const D_PVC_ACCESS: &str = "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1";
const D_PVC_MODE: &str = "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.";
const D_CM_DATA: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";
const D_RS_SPEC_REPLICAS: &str = "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset";
const D_RS_STATUS_REPLICAS: &str = "Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset";
const D_RS_READY: &str = "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.";
const D_RS_SELECTOR: &str = "Selector is a label query over pods that should match the replica count. If the selector is empty, it is defaulted to the labels present on the pod template. Label keys and values that must match in order to be controlled by this replica set. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
const D_DS_DESIRED: &str = "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
const D_DS_CURRENT: &str = "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
const D_DS_READY: &str = "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.";
const D_DS_UPDATED: &str = "The total number of nodes that are running updated daemon pod";
const D_DS_AVAILABLE: &str = "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)";
const D_DS_SELECTOR: &str = "A label query over pods that are managed by the daemon set. Must match in order to be controlled. If empty, defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
const D_DEP_UPDATED: &str =
    "Total number of non-terminating pods targeted by this deployment that have the desired template spec.";
const D_DEP_AVAILABLE: &str =
    "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.";
const D_DEP_SELECTOR: &str = "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.";
const D_NP_POD_SELECTOR: &str = "Selects the pods to which this NetworkPolicy object applies.  The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods.  In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace.";
const D_JOB_SUCCEEDED: &str = "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.";
const D_JOB_SELECTOR: &str = "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
const D_CJ_SCHEDULE: &str = "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.";
const D_CJ_TIMEZONE: &str = "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones";
const D_CJ_SUSPEND: &str = "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.";
const D_CJ_ACTIVE: &str = "A list of pointers to currently running jobs.";
const D_CJ_LAST: &str = "Information when was the last time the job was successfully scheduled.";
const D_CR_REVISION: &str = "revision indicates the revision of the state represented by Data.";
const D_HPA_REF: &str = "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.";
const D_HPA_METRICS: &str = "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).  The desired replica count is calculated multiplying the ratio between the target value and the current value by the current number of pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for more information about how each type of metric must respond.";
const D_HPA_MIN: &str = "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling is active as long as at least one metric value is available.";
const D_HPA_MAX: &str = "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot be less that minReplicas.";
const D_HPA_CURRENT: &str =
    "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.";
const D_RB_ROLE: &str = "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";
const D_CRB_ROLE: &str = "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";
const D_CSR_SIGNER: &str = "Requested signer for the request. It is a qualified name in the form: `scope-hostname.io/name`. If empty, it will be defaulted:\n 1. If it's a kubelet client certificate, it is assigned\n    \"kubernetes.io/kube-apiserver-client-kubelet\".\n 2. If it's a kubelet serving certificate, it is assigned\n    \"kubernetes.io/kubelet-serving\".\n 3. Otherwise, it is assigned \"kubernetes.io/legacy-unknown\".\nDistribution of trust for signers happens out of band. You can select on this field using `spec.signerName`.";
const D_CSR_REQUEST: &str = "Base64-encoded PKCS#10 CSR data";
const D_CSR_EXPIRATION: &str = "expirationSeconds is the requested duration of validity of the issued certificate. The certificate signer may issue a certificate with a different validity duration so a client must check the delta between the notBefore and and notAfter fields in the issued certificate to determine the actual duration.\n\nThe v1.22+ in-tree implementations of the well-known Kubernetes signers will honor this field as long as the requested duration is not greater than the maximum duration they will honor per the --cluster-signing-duration CLI flag to the Kubernetes controller manager.\n\nCertificate signers may not honor this field for various reasons:\n\n  1. Old signer that is unaware of the field (such as the in-tree\n     implementations prior to v1.22)\n  2. Signer whose configured maximum is shorter than the requested duration\n  3. Signer whose configured minimum is longer than the requested duration\n\nThe minimum valid value for expirationSeconds is 600, i.e. 10 minutes.";
const D_CSR_CONDITIONS: &str = "Conditions applied to the request, such as approval or denial.";
const D_LEASE_HOLDER: &str = "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.";
const D_SC_PROVISIONER: &str = "provisioner indicates the type of the provisioner.";
const D_SC_RECLAIM: &str = "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.";
const D_SC_BINDING: &str = "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.";
const D_SC_EXPANSION: &str = "allowVolumeExpansion shows whether the storage class allow volume expand.";
const D_VA_ATTACHER: &str = "attacher indicates the name of the volume driver that MUST handle this request. This is the name returned by GetPluginName().";
const D_VA_PV: &str = "persistentVolumeName represents the name of the persistent volume to attach.";
const D_VA_NODE: &str = "nodeName represents the node that the volume should be attached to.";
const D_VA_ATTACHED: &str = "attached indicates the volume is successfully attached. This field must only be set by the entity completing the attach operation, i.e. the external-attacher.";
const D_CSID_ATTACH: &str = "attachRequired indicates this CSI volume driver requires an attach operation (because it implements the CSI ControllerPublishVolume() method), and that the Kubernetes attach detach controller should call the attach volume interface which checks the volumeattachment status and waits until the volume is attached before proceeding to mounting. The CSI external-attacher coordinates with CSI volume driver and updates the volumeattachment status when the attach operation is complete. If the CSIDriverRegistry feature gate is enabled and the value is specified to false, the attach operation will be skipped. Otherwise the attach operation will be called.\n\nThis field is immutable.";
const D_CSID_PODINFO: &str = "podInfoOnMount indicates this CSI volume driver requires additional pod information (like podName, podUID, etc.) during mount operations, if set to true. If set to false, pod information will not be passed on mount. Default is false.\n\nThe CSI driver specifies podInfoOnMount as part of driver deployment. If true, Kubelet will pass pod information as VolumeContext in the CSI NodePublishVolume() calls. The CSI driver is responsible for parsing and validating the information passed in as VolumeContext.\n\nThe following VolumeContext will be passed if podInfoOnMount is set to true. This list might grow, but the prefix will be used. \"csi.storage.k8s.io/pod.name\": pod.Name \"csi.storage.k8s.io/pod.namespace\": pod.Namespace \"csi.storage.k8s.io/pod.uid\": string(pod.UID) \"csi.storage.k8s.io/ephemeral\": \"true\" if the volume is an ephemeral inline volume\n                                defined by a CSIVolumeSource, otherwise \"false\"\n\n\"csi.storage.k8s.io/ephemeral\" is a new feature in Kubernetes 1.16. It is only required for drivers which support both the \"Persistent\" and \"Ephemeral\" VolumeLifecycleMode. Other drivers can leave pod info disabled and/or ignore this field. As Kubernetes 1.15 doesn't support this field, drivers can only support one mode when deployed on such a cluster and the deployment determines which mode that is, for example via a command line parameter of the driver.\n\nThis field was immutable in Kubernetes < 1.29 and now is mutable.";
const D_CSID_CAPACITY: &str = "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity that the driver deployment will report by creating CSIStorageCapacity objects with capacity information, if set to true.\n\nThe check can be enabled immediately when deploying a driver. In that case, provisioning new volumes with late binding will pause until the driver deployment has published some suitable CSIStorageCapacity object.\n\nAlternatively, the driver can be deployed with the field unset or false and it can be flipped later when storage capacity information has been published.\n\nThis field was immutable in Kubernetes <= 1.22 and now is mutable.";
const D_CSID_TOKENS: &str = "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for to do necessary authentication. Kubelet will pass the tokens in VolumeContext in the CSI NodePublishVolume calls. The CSI driver should parse and validate the following VolumeContext: \"csi.storage.k8s.io/serviceAccount.tokens\": {\n  \"<audience>\": {\n    \"token\": <token>,\n    \"expirationTimestamp\": <expiration timestamp in RFC3339>,\n  },\n  ...\n}\n\nNote: Audience in each TokenRequest should be different and at most one token is empty string. To receive a new token after expiry, RequiresRepublish can be used to trigger NodePublishVolume periodically.";
const D_CSID_REPUBLISH: &str = "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically called to reflect any possible change in the mounted volume. This field defaults to false.\n\nNote: After a successful initial NodePublishVolume call, subsequent calls to NodePublishVolume should only update the contents of the volume. New mount points will not be seen by a running container.";
const D_CSID_MODES: &str = "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports. The default if the list is empty is \"Persistent\", which is the usage defined by the CSI specification and implemented in Kubernetes via the usual PV/PVC mechanism.\n\nThe other mode is \"Ephemeral\". In this mode, volumes are defined inline inside the pod spec with CSIVolumeSource and their lifecycle is tied to the lifecycle of that pod. A driver has to be aware of this because it is only going to get a NodePublishVolume call for such a volume.\n\nFor more information about implementing this mode, see https://kubernetes-csi.github.io/docs/ephemeral-local-volumes.html A driver can support one or more of these modes and more modes may be added in the future.\n\nThis field is beta. This field is immutable.";
const D_PC_VALUE: &str = "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.";
const D_PC_DEFAULT: &str = "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`. However, if more than one PriorityClasses exists with their `globalDefault` field set to true, the smallest value of such global default PriorityClasses will be used as the default priority.";
const D_PC_PREEMPTION: &str = "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.";
const D_EPS_ADDRESS_TYPE: &str = "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name.";
const D_EPS_PORTS: &str = "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined with a nil port value, it indicates \"all ports\". Each slice may include a maximum of 100 ports.";
const D_EPS_ENDPOINTS: &str =
    "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.";
const D_FS_PL: &str = "`name` is the name of the priority level configuration being referenced Required.";
const D_FS_PRECEDENCE: &str = "`matchingPrecedence` is used to choose among the FlowSchemas that match a given request. The chosen FlowSchema is among those with the numerically lowest (which we take to be logically highest) MatchingPrecedence.  Each MatchingPrecedence value must be ranged in [1,10000]. Note that if the precedence is not specified, it will be set to 1000 as default.";
const D_FS_DISTINGUISHER: &str = "`distinguisherMethod` defines how to compute the flow distinguisher for requests that match this schema. `nil` specifies that the distinguisher is disabled and thus will always be the empty string.";
const D_PL_TYPE: &str = "`type` indicates whether this priority level is subject to limitation on request execution.  A value of `\"Exempt\"` means that requests of this priority level are not subject to a limit (and thus are never queued) and do not detract from the capacity made available to other priority levels.  A value of `\"Limited\"` means that (a) requests of this priority level _are_ subject to limits and (b) some of the server's limited capacity is made available exclusively to this priority level. Required.";
const D_PL_NCS: &str = "`nominalConcurrencyShares` (NCS) contributes to the computation of the NominalConcurrencyLimit (NominalCL) of this level. This is the number of execution seats available at this priority level. This is used both for requests dispatched from this priority level as well as requests dispatched from other priority levels borrowing seats from this level. The server's concurrency limit (ServerCL) is divided among the Limited priority levels in proportion to their NCS values:\n\nNominalCL(i)  = ceil( ServerCL * NCS(i) / sum_ncs ) sum_ncs = sum[priority level k] NCS(k)\n\nBigger numbers mean a larger nominal concurrency limit, at the expense of every other priority level.\n\nIf not specified, this field defaults to a value of 30.\n\nSetting this field to zero supports the construction of a \"jail\" for this priority level that is used to hold some request(s)";
const D_PL_QUEUES: &str = "`queues` is the number of queues for this priority level. The queues exist independently at each apiserver. The value must be positive.  Setting it to 1 effectively precludes shufflesharding and thus makes the distinguisher method of associated flow schemas irrelevant.  This field has a default value of 64.";
const D_PL_HANDSIZE: &str = "`handSize` is a small positive number that configures the shuffle sharding of requests into queues.  When enqueuing a request at this priority level the request's flow identifier (a string pair) is hashed and the hash value is used to shuffle the list of queues and deal a hand of the size specified here.  The request is put into one of the shortest queues in that hand. `handSize` must be no larger than `queues`, and should be significantly smaller (so that a few heavy flows do not saturate most of the queues).  See the user-facing documentation for more extensive guidance on setting this field.  This field has a default value of 8.";
const D_PL_QLL: &str = "`queueLengthLimit` is the maximum number of requests allowed to be waiting in a given queue of this priority level at a time; excess requests are rejected.  This value must be positive.  If not specified, it will be defaulted to 50.";
const D_SCIDR_CIDRS: &str = "CIDRs defines the IP blocks in CIDR notation (e.g. \"192.168.0.0/24\" or \"2001:db8::/64\") from which to assign service cluster IPs. Max of two CIDRs is allowed, one of each IP family. This field is immutable.";
const D_IPA_PARENT: &str =
    "ParentRef references the resource that an IPAddress is attached to. An IPAddress must reference a parent object.";

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
    }

    fn ago(d: Duration) -> String {
        (now() - d).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    fn rd(group: &str, kind: &str) -> &'static ResourceDef {
        crate::resources()
            .iter()
            .find(|r| r.group == group && r.kind == kind)
            .unwrap_or_else(|| panic!("no resource {group}/{kind}"))
    }

    fn names(rd: &ResourceDef) -> Vec<(&'static str, &'static str, i32)> {
        columns(rd).into_iter().map(|c| (c.name, c.type_, c.priority)).collect()
    }

    fn pod(status: Value, extra_meta: Value) -> Value {
        let mut meta = json!({"name": "p", "namespace": "default", "creationTimestamp": ago(Duration::minutes(5))});
        if let (Some(m), Some(e)) = (meta.as_object_mut(), extra_meta.as_object()) {
            m.extend(e.clone());
        }
        json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            "status": status,
        })
    }

    #[test]
    fn pod_columns() {
        let cols = columns(rd("", "Pod"));
        assert_eq!(
            names(rd("", "Pod")),
            vec![
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Status", "string", 0),
                ("Restarts", "string", 0),
                ("Age", "string", 0),
                ("IP", "string", 1),
                ("Node", "string", 1),
                ("Nominated Node", "string", 1),
                ("Readiness Gates", "string", 1),
            ]
        );
        assert_eq!(cols[0].format, "name");
        assert_eq!(cols[0].description, D_NAME);
        assert!(cols[0].description.starts_with("Name must be unique within a namespace."));
        assert!(cols[4].description.starts_with("CreationTimestamp is a timestamp"));
        assert_eq!(cols[1].description, "The aggregate readiness state of this pod for accepting traffic.");
    }

    #[test]
    fn pending_pod() {
        let p = pod(json!({"phase": "Pending"}), json!({}));
        assert_eq!(
            cells(rd("", "Pod"), &p, now()),
            vec![
                json!("p"),
                json!("0/1"),
                json!("Pending"),
                json!("0"),
                json!("5m"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>")
            ]
        );
        assert_eq!(row_conditions(rd("", "Pod"), &p), None);
        // Scheduled, image being pulled.
        let p = pod(
            json!({"phase": "Pending", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}
            ]}),
            json!({}),
        );
        assert_eq!(cells(rd("", "Pod"), &p, now())[2], json!("ContainerCreating"));
    }

    #[test]
    fn running_pod_with_restarts() {
        let mut p = pod(
            json!({
                "phase": "Running",
                "podIP": "10.244.0.5",
                "podIPs": [{"ip": "10.244.0.5"}],
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{
                    "name": "app", "ready": true, "restartCount": 5, "started": true,
                    "state": {"running": {"startedAt": ago(Duration::minutes(3))}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                        "finishedAt": ago(Duration::minutes(3))}}
                }]
            }),
            json!({"creationTimestamp": ago(Duration::hours(3) + Duration::minutes(7))}),
        );
        p["spec"]["nodeName"] = json!("node-1");
        assert_eq!(
            cells(rd("", "Pod"), &p, now()),
            vec![
                json!("p"),
                json!("1/1"),
                json!("Running"),
                json!("5 (3m ago)"),
                json!("3h7m"),
                json!("10.244.0.5"),
                json!("node-1"),
                json!("<none>"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn completed_pod() {
        let p = pod(
            json!({"phase": "Succeeded", "containerStatuses": [{
                "name": "app", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}
            }]}),
            json!({}),
        );
        let c = cells(rd("", "Pod"), &p, now());
        assert_eq!(c[..5], [json!("p"), json!("0/1"), json!("Completed"), json!("0"), json!("5m")]);
        assert_eq!(
            row_conditions(rd("", "Pod"), &p),
            Some(json!([{"type": "Completed", "status": "True", "reason": "Succeeded",
                "message": "The pod has completed successfully."}]))
        );
    }

    #[test]
    fn terminating_pod() {
        let p = pod(
            json!({"phase": "Running", "containerStatuses": [{
                "name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}
            }]}),
            json!({"deletionTimestamp": ago(Duration::seconds(10)), "deletionGracePeriodSeconds": 30}),
        );
        assert_eq!(cells(rd("", "Pod"), &p, now())[..4], [json!("p"), json!("1/1"), json!("Terminating"), json!("0")]);
        // A terminating pod on an unreachable node.
        let p = pod(
            json!({"phase": "Running", "reason": "NodeLost"}),
            json!({"deletionTimestamp": ago(Duration::seconds(10))}),
        );
        assert_eq!(cells(rd("", "Pod"), &p, now())[2], json!("Unknown"));
        // NodeLost without a deletion prints the status reason.
        let p = pod(json!({"phase": "Running", "reason": "NodeLost"}), json!({}));
        assert_eq!(cells(rd("", "Pod"), &p, now())[2], json!("NodeLost"));
        // A terminal pod that is being deleted keeps its status.
        let p = pod(json!({"phase": "Failed"}), json!({"deletionTimestamp": ago(Duration::seconds(1))}));
        assert_eq!(cells(rd("", "Pod"), &p, now())[2], json!("Failed"));
    }

    #[test]
    fn pod_statuses() {
        let r = rd("", "Pod");
        let waiting = |reason: &str, restarts: i64| {
            pod(
                json!({"phase": "Running", "containerStatuses": [{
                    "name": "app", "ready": false, "restartCount": restarts,
                    "state": {"waiting": {"reason": reason}}
                }]}),
                json!({}),
            )
        };
        assert_eq!(cells(r, &waiting("CrashLoopBackOff", 4), now())[2], json!("CrashLoopBackOff"));
        assert_eq!(cells(r, &waiting("CrashLoopBackOff", 4), now())[3], json!("4"));
        assert_eq!(cells(r, &waiting("ErrImagePull", 0), now())[2], json!("ErrImagePull"));

        let mut p = pod(
            json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "init", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}
            ]}),
            json!({}),
        );
        p["spec"]["initContainers"] = json!([{"name": "init", "image": "busybox"}]);
        assert_eq!(cells(r, &p, now())[1..3], [json!("0/1"), json!("Init:0/1")]);
        p["status"]["initContainerStatuses"][0]["state"] = json!({"waiting": {"reason": "CrashLoopBackOff"}});
        p["status"]["initContainerStatuses"][0]["restartCount"] = json!(3);
        assert_eq!(cells(r, &p, now())[2..4], [json!("Init:CrashLoopBackOff"), json!("3")]);
        p["status"]["initContainerStatuses"][0]["state"] = json!({"terminated": {"exitCode": 2}});
        assert_eq!(cells(r, &p, now())[2], json!("Init:ExitCode:2"));
        p["status"]["initContainerStatuses"][0]["state"] = json!({"terminated": {"exitCode": 1, "reason": "Error"}});
        assert_eq!(cells(r, &p, now())[2], json!("Init:Error"));

        // A sidecar (restartable init container) counts towards READY.
        let mut p = pod(
            json!({"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
                "initContainerStatuses": [{"name": "sidecar", "ready": true, "started": true, "restartCount": 1,
                    "state": {"running": {}}}],
                "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]}),
            json!({}),
        );
        p["spec"]["initContainers"] = json!([{"name": "sidecar", "image": "envoy", "restartPolicy": "Always"}]);
        assert_eq!(cells(r, &p, now())[1..4], [json!("2/2"), json!("Running"), json!("1")]);

        // Scheduling gates.
        let p = pod(
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
            json!({}),
        );
        assert_eq!(cells(r, &p, now())[2], json!("SchedulingGated"));
    }

    #[test]
    fn deployment() {
        let r = rd("apps", "Deployment");
        assert_eq!(
            names(r),
            vec![
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Up-to-date", "string", 0),
                ("Available", "string", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
                ("Selector", "string", 1),
            ]
        );
        let d = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(Duration::days(10))},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "tier": "fe"}},
                "template": {"spec": {"containers": [
                    {"name": "nginx", "image": "nginx:1.25"}, {"name": "log", "image": "busybox"}]}}},
            "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
        });
        assert_eq!(
            cells(r, &d, now()),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("10d"),
                json!("nginx,log"),
                json!("nginx:1.25,busybox"),
                json!("app=web,tier=fe")
            ]
        );
    }

    #[test]
    fn node_port_service() {
        let r = rd("", "Service");
        assert_eq!(
            names(r),
            vec![
                ("Name", "string", 0),
                ("Type", "string", 0),
                ("Cluster-IP", "string", 0),
                ("External-IP", "string", 0),
                ("Port(s)", "string", 0),
                ("Age", "string", 0),
                ("Selector", "string", 1),
            ]
        );
        let s = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(Duration::days(3))},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                "selector": {"app": "web"},
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080},
                          {"port": 53, "protocol": "UDP", "nodePort": 30053}]}
        });
        assert_eq!(
            cells(r, &s, now()),
            vec![
                json!("web"),
                json!("NodePort"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80:30080/TCP,53:30053/UDP"),
                json!("3d"),
                json!("app=web")
            ]
        );
        let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIPs": ["10.0.0.1"],
            "ports": [{"port": 443, "protocol": "TCP"}]}});
        assert_eq!(
            cells(r, &lb, now())[1..6],
            [json!("LoadBalancer"), json!("10.0.0.1"), json!("<pending>"), json!("443/TCP"), json!("<unknown>")]
        );
        let headless = json!({"metadata": {"name": "h"}, "spec": {"type": "ClusterIP", "clusterIP": "None",
            "clusterIPs": ["None"]}});
        assert_eq!(cells(r, &headless, now())[2..5], [json!("None"), json!("<none>"), json!("<none>")]);
        assert_eq!(cells(r, &headless, now())[6], json!("<none>"));
    }

    #[test]
    fn node_with_roles() {
        let r = rd("", "Node");
        let n = json!({
            "metadata": {"name": "cp-1", "creationTimestamp": ago(Duration::days(40)), "labels": {
                "node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": "",
                "kubernetes.io/hostname": "cp-1"}},
            "spec": {"unschedulable": true},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}, {"type": "Hostname", "address": "cp-1"}],
                "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                    "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7.0"}}
        });
        assert_eq!(
            cells(r, &n, now()),
            vec![
                json!("cp-1"),
                json!("Ready,SchedulingDisabled"),
                json!("control-plane,worker"),
                json!("40d"),
                json!("v1.33.0"),
                json!("192.168.1.10"),
                json!("<none>"),
                json!("Debian GNU/Linux 12 (bookworm)"),
                json!("6.1.0"),
                json!("containerd://1.7.0")
            ]
        );
        let bare = json!({"metadata": {"name": "n"}});
        assert_eq!(
            cells(r, &bare, now()),
            vec![
                json!("n"),
                json!("Unknown"),
                json!("<none>"),
                json!("<unknown>"),
                json!(""),
                json!("<none>"),
                json!("<none>"),
                json!("<unknown>"),
                json!("<unknown>"),
                json!("<unknown>")
            ]
        );
        let not_ready =
            json!({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        assert_eq!(cells(r, &not_ready, now())[1], json!("NotReady"));
    }

    #[test]
    fn secret() {
        let r = rd("", "Secret");
        assert_eq!(
            names(r),
            vec![("Name", "string", 0), ("Type", "string", 0), ("Data", "string", 0), ("Age", "string", 0)]
        );
        let s = json!({"metadata": {"name": "s", "creationTimestamp": ago(Duration::seconds(42))},
            "type": "Opaque", "data": {"a": "YQ==", "b": "Yg=="}});
        assert_eq!(cells(r, &s, now()), vec![json!("s"), json!("Opaque"), json!(2), json!("42s")]);
    }

    #[test]
    fn job() {
        let r = rd("batch", "Job");
        assert_eq!(
            names(r),
            vec![
                ("Name", "string", 0),
                ("Status", "string", 0),
                ("Completions", "string", 0),
                ("Duration", "string", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
                ("Selector", "string", 1),
            ]
        );
        let j = json!({
            "metadata": {"name": "pi", "creationTimestamp": ago(Duration::minutes(5))},
            "spec": {"completions": 1, "parallelism": 1,
                "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}},
                "template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}]}}},
            "status": {"succeeded": 1, "startTime": ago(Duration::minutes(5)),
                "completionTime": ago(Duration::minutes(4) + Duration::seconds(30)),
                "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}
        });
        assert_eq!(
            cells(r, &j, now()),
            vec![
                json!("pi"),
                json!("Complete"),
                json!("1/1"),
                json!("30s"),
                json!("5m"),
                json!("pi"),
                json!("perl:5.34"),
                json!("batch.kubernetes.io/controller-uid=abc")
            ]
        );
        let running = json!({"metadata": {"name": "r"}, "spec": {"parallelism": 3},
            "status": {"startTime": ago(Duration::minutes(2) + Duration::seconds(5))}});
        assert_eq!(cells(r, &running, now())[1..4], [json!("Running"), json!("0/1 of 3"), json!("2m5s")]);
    }

    #[test]
    fn default_fallback() {
        for (group, kind) in [
            ("rbac.authorization.k8s.io", "Role"),
            ("rbac.authorization.k8s.io", "ClusterRole"),
            ("", "LimitRange"),
            ("storage.k8s.io", "CSIStorageCapacity"),
            ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ] {
            let r = rd(group, kind);
            let cols = columns(r);
            assert_eq!(
                cols,
                vec![
                    Column { name: "Name", type_: "string", format: "name", description: D_NAME, priority: 0 },
                    Column { name: "Created At", type_: "date", format: "", description: D_CREATED, priority: 0 },
                ]
            );
            let o = json!({"metadata": {"name": "x", "creationTimestamp": "2024-01-02T03:04:05+01:00"}});
            assert_eq!(cells(r, &o, now()), vec![json!("x"), json!("2024-01-02T02:04:05Z")]);
            assert_eq!(cells(r, &json!({}), now()), vec![json!(""), json!("0001-01-01T00:00:00Z")]);
        }
    }

    #[test]
    fn events() {
        let r = rd("", "Event");
        assert_eq!(
            names(r),
            vec![
                ("Last Seen", "string", 0),
                ("Type", "string", 0),
                ("Reason", "string", 0),
                ("Object", "string", 0),
                ("Subobject", "string", 1),
                ("Source", "string", 1),
                ("Message", "string", 0),
                ("First Seen", "string", 1),
                ("Count", "string", 1),
                ("Name", "string", 1),
            ]
        );
        let e = json!({"metadata": {"name": "p.1"}, "type": "Normal", "reason": "Scheduled",
            "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{app}"},
            "source": {"component": "kubelet", "host": "node-1"}, "message": " Pulled \n",
            "firstTimestamp": ago(Duration::minutes(10)), "lastTimestamp": ago(Duration::minutes(1)), "count": 3});
        assert_eq!(
            cells(r, &e, now()),
            vec![
                json!("60s"),
                json!("Normal"),
                json!("Scheduled"),
                json!("pod/p"),
                json!("spec.containers{app}"),
                json!("kubelet, node-1"),
                json!("Pulled"),
                json!("10m"),
                json!(3),
                json!("p.1")
            ]
        );
        let e2 = json!({"metadata": {"name": "p.2"}, "type": "Warning", "reason": "Failed",
            "regarding": {"kind": "Node", "name": "n"}, "note": "boom",
            "eventTime": ago(Duration::seconds(30)), "reportingController": "ctl"});
        assert_eq!(
            cells(rd("events.k8s.io", "Event"), &e2, now()),
            vec![
                json!("30s"),
                json!("Warning"),
                json!("Failed"),
                json!("node/n"),
                json!(""),
                json!("ctl"),
                json!("boom"),
                json!("30s"),
                json!(1),
                json!("p.2")
            ]
        );
    }

    #[test]
    fn misc_printers() {
        let ns = json!({"metadata": {"name": "default", "creationTimestamp": ago(Duration::days(400))},
            "status": {"phase": "Active"}});
        assert_eq!(cells(rd("", "Namespace"), &ns, now()), vec![json!("default"), json!("Active"), json!("400d")]);

        let cm = json!({"metadata": {"name": "c"}, "data": {"a": "1"}, "binaryData": {"b": "AA=="}});
        assert_eq!(cells(rd("", "ConfigMap"), &cm, now()), vec![json!("c"), json!(2), json!("<unknown>")]);

        let rb = json!({"metadata": {"name": "rb"}, "roleRef": {"kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
                {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}, {"kind": "User", "name": "bob"}]});
        assert_eq!(
            cells(rd("rbac.authorization.k8s.io", "RoleBinding"), &rb, now()),
            vec![
                json!("rb"),
                json!("ClusterRole/admin"),
                json!("<unknown>"),
                json!("alice, bob"),
                json!("devs"),
                json!("ns/sa")
            ]
        );

        let lease = json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "me"}});
        assert_eq!(cells(rd("coordination.k8s.io", "Lease"), &lease, now())[1], json!("me"));

        let csr = json!({"metadata": {"name": "c"}, "spec": {"signerName": "kubernetes.io/kube-apiserver-client",
            "username": "kubernetes-admin", "expirationSeconds": 86400},
            "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"}});
        assert_eq!(
            cells(rd("certificates.k8s.io", "CertificateSigningRequest"), &csr, now()),
            vec![
                json!("c"),
                json!("<unknown>"),
                json!("kubernetes.io/kube-apiserver-client"),
                json!("kubernetes-admin"),
                json!("24h"),
                json!("Approved,Issued")
            ]
        );

        let pv = json!({"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "1024Mi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "ns", "name": "claim"}, "storageClassName": "fast"},
            "status": {"phase": "Bound"}});
        assert_eq!(
            cells(rd("", "PersistentVolume"), &pv, now()),
            vec![
                json!("pv1"),
                json!("1Gi"),
                json!("RWO,RWX"),
                json!("Retain"),
                json!("Bound"),
                json!("ns/claim"),
                json!("fast"),
                json!("<unset>"),
                json!(""),
                json!("<unknown>"),
                json!("<unset>")
            ]
        );

        let rq = json!({"metadata": {"name": "q"}, "status": {
            "hard": {"pods": "10", "limits.cpu": "2", "requests.memory": "1Gi"},
            "used": {"pods": "1", "limits.cpu": "500m"}}});
        assert_eq!(
            cells(rd("", "ResourceQuota"), &rq, now())[1..3],
            [json!("pods: 1/10, requests.memory: 0/1Gi"), json!("limits.cpu: 500m/2")]
        );

        let sc = json!({"metadata": {"name": "standard", "annotations": {
            "storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "rancher.io/local-path"});
        assert_eq!(
            cells(rd("storage.k8s.io", "StorageClass"), &sc, now()),
            vec![
                json!("standard (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("Immediate"),
                json!(false),
                json!("<unknown>")
            ]
        );

        let hpa = json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "minReplicas": 1, "maxReplicas": 10, "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}}]},
            "status": {"currentReplicas": 2, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12}}}]}});
        assert_eq!(
            cells(rd("autoscaling", "HorizontalPodAutoscaler"), &hpa, now())[1..6],
            [
                json!("Deployment/web"),
                json!("cpu: 12%/50%, memory: <unknown>/100Mi + 1 more..."),
                json!("1"),
                json!(10),
                json!(2)
            ]
        );
        let v1 = json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "maxReplicas": 3, "targetCPUUtilizationPercentage": 70}});
        assert_eq!(
            cells(rd("autoscaling", "HorizontalPodAutoscaler"), &v1, now())[2..4],
            [json!("cpu: <unknown>/70%"), json!("<unset>")]
        );

        let eps = json!({"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}],
            "ports": [{"port": 80}, {"port": 443}]}]});
        assert_eq!(
            cells(rd("", "Endpoints"), &eps, now())[1],
            json!("10.0.0.1:80,[fd00::1]:80,10.0.0.1:443 + 1 more...")
        );

        let slice = json!({"metadata": {"name": "s"}, "addressType": "IPv4", "ports": [{"port": 80}, {"name": "x"}, {}],
            "endpoints": [{"addresses": ["10.0.0.1"]}]});
        assert_eq!(
            cells(rd("discovery.k8s.io", "EndpointSlice"), &slice, now())[1..4],
            [json!("IPv4"), json!("80,x,*"), json!("10.0.0.1")]
        );

        let ip = json!({"metadata": {"name": "10.96.0.1"}, "spec": {"parentRef": {"group": "", "resource": "services",
            "namespace": "default", "name": "kubernetes"}}});
        assert_eq!(
            cells(rd("networking.k8s.io", "IPAddress"), &ip, now()),
            vec![json!("10.96.0.1"), json!("services/default/kubernetes"), json!("<unknown>")]
        );

        let apisvc = json!({"metadata": {"name": "v1.apps"}, "spec": {"group": "apps", "version": "v1"},
            "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Local"}]}});
        assert_eq!(
            cells(rd("apiregistration.k8s.io", "APIService"), &apisvc, now()),
            vec![json!("v1.apps"), json!("Local"), json!("True"), json!("<unknown>")]
        );

        let cr = json!({"metadata": {"name": "web-5d8", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": true}]}, "revision": 2});
        assert_eq!(
            cells(rd("apps", "ControllerRevision"), &cr, now())[1..3],
            [json!("statefulset.apps/web"), json!(2)]
        );

        let pl = json!({"metadata": {"name": "global-default"}, "spec": {"type": "Limited", "limited": {
            "nominalConcurrencyShares": 20, "limitResponse": {"type": "Queue", "queuing": {
                "queues": 128, "handSize": 6, "queueLengthLimit": 50}}}}});
        assert_eq!(
            cells(rd("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"), &pl, now())[1..6],
            [json!("Limited"), json!(20), json!(128), json!(6), json!(50)]
        );
        let exempt = json!({"metadata": {"name": "exempt"}, "spec": {"type": "Exempt", "exempt": {}}});
        assert_eq!(
            cells(rd("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"), &exempt, now())[2],
            json!("<none>")
        );

        let cj = json!({"metadata": {"name": "c"}, "spec": {"schedule": "*/1 * * * *", "suspend": false,
            "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "b"}]}}}}},
            "status": {"active": [{"name": "x"}], "lastScheduleTime": ago(Duration::seconds(20))}});
        assert_eq!(
            cells(rd("batch", "CronJob"), &cj, now()),
            vec![
                json!("c"),
                json!("*/1 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("20s"),
                json!("<unknown>"),
                json!("a"),
                json!("b"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn label_selectors() {
        let sel = json!({"matchLabels": {"b": "2", "a": "1"}, "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "dev"]},
            {"key": "x", "operator": "Exists"},
            {"key": "c", "operator": "DoesNotExist"},
            {"key": "d", "operator": "NotIn", "values": ["q"]}]});
        assert_eq!(format_label_selector(Some(&sel)), "a=1,b=2,!c,d notin (q),env in (dev,prod),x");
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(
            format_label_selector(Some(&json!({"matchExpressions": [{"key": "a", "operator": "Bad"}]}))),
            "<error>"
        );
        assert_eq!(format_label_selector(Some(&json!({"matchLabels": {"a": "bad value"}}))), "<error>");
        assert_eq!(format_labels(Some(&json!({"a": "2", "a.b": "1"}))), "a.b=1,a=2");
        assert_eq!(
            label_selector_go_string(&json!({"matchLabels": {"a": "b"}, "matchExpressions": [
                {"key": "k", "operator": "In", "values": ["x", "y"]}]})),
            "&LabelSelector{MatchLabels:map[string]string{a: b,},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:k,Operator:In,Values:[x y],},},}"
        );
    }

    #[test]
    fn durations() {
        let s = |n: i64| human_duration(i128::from(n) * 1_000_000_000);
        assert_eq!(human_duration(-1_500_000_000), "0s");
        assert_eq!(human_duration(-2_000_000_000), "<invalid>");
        assert_eq!(s(0), "0s");
        assert_eq!(s(119), "119s");
        assert_eq!(s(120), "2m");
        assert_eq!(s(125), "2m5s");
        assert_eq!(s(600), "10m");
        assert_eq!(s(179 * 60 + 59), "179m");
        assert_eq!(s(3 * 3600), "3h");
        assert_eq!(s(3 * 3600 + 2 * 60), "3h2m");
        assert_eq!(s(8 * 3600), "8h");
        assert_eq!(s(47 * 3600), "47h");
        assert_eq!(s(48 * 3600), "2d");
        assert_eq!(s(50 * 3600), "2d2h");
        assert_eq!(s(8 * 86400), "8d");
        assert_eq!(s(2 * 365 * 86400), "2y");
        assert_eq!(s(2 * 365 * 86400 + 86400), "2y1d");
        assert_eq!(s(9 * 365 * 86400), "9y");
        assert_eq!(since(None, now()), "<unknown>");
    }

    #[test]
    fn quantities() {
        let q = |s: &str| quantity_string(&json!(s));
        assert_eq!(q("1Gi"), "1Gi");
        assert_eq!(q("1024Mi"), "1Gi");
        assert_eq!(q("1.5Gi"), "1536Mi");
        assert_eq!(q("0.5Ki"), "512");
        assert_eq!(q("1000"), "1k");
        assert_eq!(q("1500m"), "1500m");
        assert_eq!(q("1.5"), "1500m");
        assert_eq!(q("0.1"), "100m");
        assert_eq!(q("100M"), "100M");
        assert_eq!(q("1e3"), "1e3");
        assert_eq!(q("0"), "0");
        assert_eq!(q("-2Ki"), "-2Ki");
        assert_eq!(q("junk"), "junk");
        assert_eq!(quantity_string(&json!(2)), "2");
    }

    #[test]
    fn every_resource_prints_without_panicking() {
        let garbage = [
            json!({}),
            json!(null),
            json!([1, 2]),
            json!({"metadata": {"name": 5, "creationTimestamp": "yesterday", "labels": [], "deletionTimestamp": 1},
                "spec": {"containers": "x", "ports": [1, {"port": "80"}], "selector": {"matchLabels": 7},
                    "metrics": [{"type": "External"}, {"type": "Object"}, {"type": "Pods"}, {"type": "ContainerResource"}, 3],
                    "replicas": "3", "capacity": {"storage": {}}, "parentRef": {}, "paramRef": {"selector": {}}},
                "status": {"conditions": [null, 1, {"type": 2}], "containerStatuses": [null, {"state": {"terminated": {}}}],
                    "initContainerStatuses": [{}], "hard": {"cpu": null}, "loadBalancer": {"ingress": [{}]}},
                "subsets": [{"addresses": [{}], "ports": [{}]}], "ports": [{}], "endpoints": [{"addresses": [1]}],
                "subjects": [{}], "webhooks": {}, "data": [], "series": {}}),
        ];
        for r in crate::resources() {
            let cols = columns(r);
            assert!(!cols.is_empty());
            for o in &garbage {
                let c = cells(r, o, now());
                if printer(r) == Printer::IpAddress {
                    assert_eq!(c.len(), cols.len() + 1, "{}", r.kind);
                } else {
                    assert_eq!(c.len(), cols.len(), "{}", r.kind);
                }
            }
        }
    }
}

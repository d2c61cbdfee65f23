//! The core ("") group, as `pkg/apis/core/validation`.

use super::*;

mod containers;
mod objects;
mod placement;
mod pod;
mod pod_spec;
mod service;
mod volumes;

pub(crate) use containers::*;
pub(crate) use objects::*;
pub(crate) use placement::*;
pub(crate) use pod::*;
pub(crate) use pod_spec::*;
pub(crate) use service::*;
pub(crate) use volumes::*;

pub use pod::validate_ephemeral_containers_update;
pub use pod_spec::validate_pod_spec;

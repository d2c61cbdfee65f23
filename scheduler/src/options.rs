//! kube-scheduler's command line, with upstream v1.33's names and defaults. Settings also in
//! `--config` come from the file when it has them.

use clap::{ArgAction, Parser};
use component_base::flags::{parse_go_bool, parse_go_duration, DaemonFlags};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "kube-scheduler",
    about = "The Kubernetes scheduler is a control plane process which assigns Pods to Nodes."
)]
pub struct Options {
    #[command(flatten)]
    pub daemon: DaemonFlags,
    /// The path to the configuration file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// DEPRECATED: the maximum time a pod can stay in unschedulablePods.
    #[arg(long, default_value = "5m0s", value_parser = parse_go_duration)]
    pub pod_max_in_unschedulable_pods_duration: Duration,
    /// DEPRECATED: enable profiling via web interface host:port/debug/pprof/ (accepted, unused).
    #[arg(long, default_value = "true", num_args = 0..=1, default_missing_value = "true",
          value_parser = parse_go_bool, action = ArgAction::Set)]
    pub profiling: bool,
}

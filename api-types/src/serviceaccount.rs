//! Names of legacy service-account token tracking, shared by the apiserver (which writes
//! them when a legacy token is used) and the controller-manager's legacy token cleaner
//! (which judges tokens by them).

/// The day a legacy token was last used, on its Secret (`serviceaccount.LastUsedLabelKey`).
pub const LAST_USED_LABEL: &str = "kubernetes.io/legacy-token-last-used";
/// Set by the cleaner: the token no longer authenticates (`serviceaccount.InvalidSinceLabelKey`).
pub const INVALID_SINCE_LABEL: &str = "kubernetes.io/legacy-token-invalid-since";
/// `kube-system/<this>` holds `since`: the day from which the apiserver has tracked use.
pub const TRACKING_CONFIG_MAP: &str = "kube-apiserver-legacy-service-account-token-tracking";

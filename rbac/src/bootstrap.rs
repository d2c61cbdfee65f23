//! Upstream's default bootstrap policy (written by a helper; placeholder).

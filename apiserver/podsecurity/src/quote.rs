//! Go's `%q`, shared with every crate that renders upstream messages.

pub use api_types::go::quote as go_quote;

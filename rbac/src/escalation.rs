//! Privilege-escalation checks (placeholder).

//! Configuration changes (etcd's `confchange` package): validating and
//! applying simple and joint-consensus changes to a copy of the tracker's
//! configuration, and rebuilding a configuration from a `ConfState`.
//!
//! Everything here is all-or-nothing: a [`Changer`] never touches the
//! tracker it was given; it returns a new configuration and progress map
//! which the caller installs, or an error.

mod changer;
mod restore;

pub use changer::Changer;
pub use restore::restore;

use crate::eraftpb::{ConfChangeSingle, ConfChangeType};

/// Describes changes as `ConfChangeAddNode(1) ConfChangeRemoveNode(2)`
/// (etcd's `confchange.Describe`).
pub fn describe(ccs: &[ConfChangeSingle]) -> String {
    let mut out = String::new();
    for cc in ccs {
        if !out.is_empty() {
            out.push(' ');
        }
        match ConfChangeType::try_from(cc.change_type) {
            Ok(t) => out.push_str(t.as_str_name()),
            Err(_) => out.push_str(&cc.change_type.to_string()),
        }
        out.push_str(&format!("({})", cc.node_id));
    }
    out
}

#[cfg(test)]
mod tests;

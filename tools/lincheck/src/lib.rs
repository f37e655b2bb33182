//! Linearizability checking for histories of a key-value store whose keys
//! are registers with put, get and compare-and-set.
//!
//! A history ([`history`]) lists every operation with its invocation and
//! completion time as a client saw them; an operation whose outcome the
//! client never learned (a timeout, a broken connection) has no completion
//! and may have taken effect at any point after its invocation, or never.
//! The history is split per key (each key is an independent register, so
//! the whole is linearizable exactly when every key is) and each part is
//! searched ([`check`]) in the way of Wing & Gong, with Lowe's memoization of
//! (set of operations linearized, register state) as in Porcupine.

#![forbid(unsafe_code)]

pub mod check;
pub mod history;
pub mod model;

pub use check::{check_history, check_key, KeyReport, Outcome};
pub use history::{parse_history, Input, Op, Output, ParseError};

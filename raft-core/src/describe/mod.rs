//! Human-readable descriptions of entries, messages, snapshots and states in
//! the exact formats of the `Describe*` functions of etcd-io/raft's
//! `util.go` (`DescribeEntry`, `DescribeMessage`, `DescribeHardState`,
//! `DescribeConfState`, `DescribeSnapshot`), which etcd's data-driven
//! transcripts print. Used by the conformance runners and for debugging.

use std::fmt::Write as _;

use crate::eraftpb::{
    ConfChangeSingle, ConfChangeType, ConfState, Entry, EntryType, HardState, Message, MessageType,
    Snapshot,
};
use crate::proto_ext::ConfChangeI;

mod go_quote;
mod print_table;

pub use go_quote::{go_is_print, go_quote, push_go_quoted};

use crate::raft::{LOCAL_APPEND_THREAD, LOCAL_APPLY_THREAD};

/// Appends a message endpoint: `None` for 0, `AppendThread`/`ApplyThread`
/// for the local storage threads, otherwise the id in hex.
fn push_target(out: &mut String, id: u64) {
    match id {
        0 => out.push_str("None"),
        LOCAL_APPEND_THREAD => out.push_str("AppendThread"),
        LOCAL_APPLY_THREAD => out.push_str("ApplyThread"),
        _ => {
            let _ = write!(out, "{id:x}");
        }
    }
}

fn push_message_type(out: &mut String, t: i32) {
    match MessageType::try_from(t) {
        Ok(t) => out.push_str(t.as_str_name()),
        // Go prints an unknown enum value as its number.
        Err(_) => {
            let _ = write!(out, "{t}");
        }
    }
}

fn push_entry_type(out: &mut String, t: i32) {
    match EntryType::try_from(t) {
        Ok(t) => out.push_str(t.as_str_name()),
        Err(_) => {
            let _ = write!(out, "{t}");
        }
    }
}

/// A conf change in the protobuf text format of etcd's log lines
/// (`id:1 type:ConfChangeAddNode node_id:2`, `transition:... changes:{...}`).
pub fn describe_conf_change(cc: &ConfChangeI) -> String {
    let mut s = String::new();
    match cc {
        ConfChangeI::V1(c) => {
            let _ = write!(
                s,
                "id:{} type:{} node_id:{}",
                c.id,
                c.change_type().as_str_name(),
                c.node_id
            );
            if let Some(ctx) = &c.context {
                let _ = write!(s, " context:{}", go_quote(ctx));
            }
        }
        ConfChangeI::V2(c) => {
            let _ = write!(s, "transition:{}", c.transition().as_str_name());
            for ch in &c.changes {
                let _ = write!(
                    s,
                    " changes:{{type:{} node_id:{}}}",
                    ch.change_type().as_str_name(),
                    ch.node_id
                );
            }
            if let Some(ctx) = &c.context {
                let _ = write!(s, " context:{}", go_quote(ctx));
            }
        }
    }
    s
}

/// Changes as space-separated `v<id>`, `l<id>`, `r<id>`, `u<id>` tokens
/// (etcd's `ConfChangesToString`).
pub fn conf_changes_to_string(changes: &[ConfChangeSingle]) -> String {
    let mut out = String::new();
    for (i, cc) in changes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(match ConfChangeType::try_from(cc.change_type) {
            Ok(ConfChangeType::ConfChangeAddNode) => "v",
            Ok(ConfChangeType::ConfChangeAddLearnerNode) => "l",
            Ok(ConfChangeType::ConfChangeRemoveNode) => "r",
            Ok(ConfChangeType::ConfChangeUpdateNode) => "u",
            Err(_) => "unknown",
        });
        let _ = write!(out, "{}", cc.node_id);
    }
    out
}

/// Appends the description of `e` (see [`describe_entry`]).
pub fn push_entry(out: &mut String, e: &Entry) {
    let _ = write!(out, "{}/{} ", e.term, e.index);
    push_entry_type(out, e.entry_type);
    if e.entry_type == EntryType::EntryNormal as i32 {
        out.push(' ');
        push_go_quoted(out, e.data());
        return;
    }
    let payload = match ConfChangeI::from_entry(e) {
        Some(Ok(cc)) => conf_changes_to_string(&cc.as_v2().changes),
        Some(Err(err)) => decode_error_text(&err),
        None => String::new(),
    };
    if !payload.is_empty() {
        out.push(' ');
        out.push_str(&payload);
    }
}

fn decode_error_text(err: &crate::Error) -> String {
    match err {
        crate::Error::Decode(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `<term>/<index> <EntryType>[ <payload>]`: the data of a normal entry
/// quoted as Go's `%q`, the changes of a conf-change entry as `v2 l3 r1 u4`
/// tokens (nothing for an empty change list), or the decode error text.
pub fn describe_entry(e: &Entry) -> String {
    let mut out = String::new();
    push_entry(&mut out, e);
    out
}

/// Each entry's description followed by a newline.
pub fn describe_entries(ents: &[Entry]) -> String {
    let mut out = String::new();
    for e in ents {
        push_entry(&mut out, e);
        out.push('\n');
    }
    out
}

/// The description of `m` without indentation (see
/// [`describe_message_with_prefix`]).
pub fn describe_message(m: &Message) -> String {
    describe_message_with_prefix(m, "")
}

/// The description of `m`, each of its lines starting with `prefix`:
/// `<from>-><to> <MsgType> Term:<t> Log:<logTerm>/<index>`, then the
/// rejection, commit, vote, entries, snapshot and responses when present.
/// No trailing newline.
pub fn describe_message_with_prefix(m: &Message, prefix: &str) -> String {
    let mut out = String::new();
    push_message(&mut out, m, prefix);
    out
}

fn push_message(out: &mut String, m: &Message, prefix: &str) {
    out.push_str(prefix);
    push_target(out, m.from);
    out.push_str("->");
    push_target(out, m.to);
    out.push(' ');
    push_message_type(out, m.msg_type);
    let _ = write!(out, " Term:{} Log:{}/{}", m.term, m.log_term, m.index);
    if m.reject {
        let _ = write!(out, " Rejected (Hint: {})", m.reject_hint);
    }
    if m.commit != 0 {
        let _ = write!(out, " Commit:{}", m.commit);
    }
    if m.vote != 0 {
        let _ = write!(out, " Vote:{}", m.vote);
    }
    match m.entries.len() {
        0 => {}
        1 => {
            out.push_str(" Entries:[");
            push_entry(out, &m.entries[0]);
            out.push(']');
        }
        _ => {
            out.push_str(" Entries:[");
            for e in &m.entries {
                out.push('\n');
                out.push_str(prefix);
                out.push_str("  ");
                push_entry(out, e);
            }
            out.push('\n');
            out.push_str(prefix);
            out.push(']');
        }
    }
    if let Some(s) = &m.snapshot {
        if !s.is_empty() {
            out.push('\n');
            out.push_str(prefix);
            out.push_str("  Snapshot: ");
            push_snapshot(out, s);
        }
    }
    if !m.responses.is_empty() {
        out.push_str(" Responses:[");
        let inner = format!("{prefix}  ");
        for r in &m.responses {
            out.push('\n');
            push_message(out, r, &inner);
        }
        out.push('\n');
        out.push_str(prefix);
        out.push(']');
    }
}

/// Appends a Go `%v` rendering of a `[]uint64`: `[1 2 3]`, `[]` when empty.
fn push_id_list(out: &mut String, ids: &[u64]) {
    out.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{id}");
    }
    out.push(']');
}

fn push_conf_state(out: &mut String, cs: &ConfState) {
    out.push_str("Voters:");
    push_id_list(out, &cs.voters);
    out.push_str(" VotersOutgoing:");
    push_id_list(out, &cs.voters_outgoing);
    out.push_str(" Learners:");
    push_id_list(out, &cs.learners);
    out.push_str(" LearnersNext:");
    push_id_list(out, &cs.learners_next);
    let _ = write!(out, " AutoLeave:{}", cs.auto_leave);
}

/// `Voters:[..] VotersOutgoing:[..] Learners:[..] LearnersNext:[..]
/// AutoLeave:<bool>`, lists in their stored order.
pub fn describe_conf_state(cs: &ConfState) -> String {
    let mut out = String::new();
    push_conf_state(&mut out, cs);
    out
}

fn push_snapshot(out: &mut String, s: &Snapshot) {
    let _ = write!(
        out,
        "Index:{} Term:{} ConfState:",
        s.metadata.index, s.metadata.term
    );
    push_conf_state(out, &s.metadata.conf_state);
}

/// `Index:<i> Term:<t> ConfState:<conf state>`.
pub fn describe_snapshot(s: &Snapshot) -> String {
    let mut out = String::new();
    push_snapshot(&mut out, s);
    out
}

/// `Term:<t>[ Vote:<v>] Commit:<c>`, the vote left out when 0 (etcd's
/// `DescribeHardState`; a Ready prints it after `HardState `).
pub fn describe_hard_state(hs: &HardState) -> String {
    let mut out = format!("Term:{}", hs.term);
    if hs.vote != 0 {
        let _ = write!(out, " Vote:{}", hs.vote);
    }
    let _ = write!(out, " Commit:{}", hs.commit);
    out
}

/// Appends `(<ids sorted ascending, hex, space-separated>)`.
fn push_hex_set(out: &mut String, ids: &[u64]) {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    out.push('(');
    for (i, id) in sorted.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{id:x}");
    }
    out.push(')');
}

/// The configuration string of log lines and the confchange transcripts:
/// `voters=(1 2 3)`, `&&(<outgoing>)` when joint, then ` learners=(..)`,
/// ` learners_next=(..)` when non-empty and ` autoleave` when set. Ids are
/// sorted and printed in hex.
pub fn describe_config(cs: &ConfState) -> String {
    let mut out = String::from("voters=");
    push_hex_set(&mut out, &cs.voters);
    if !cs.voters_outgoing.is_empty() {
        out.push_str("&&");
        push_hex_set(&mut out, &cs.voters_outgoing);
    }
    if !cs.learners.is_empty() {
        out.push_str(" learners=");
        push_hex_set(&mut out, &cs.learners);
    }
    if !cs.learners_next.is_empty() {
        out.push_str(" learners_next=");
        push_hex_set(&mut out, &cs.learners_next);
    }
    if cs.auto_leave {
        out.push_str(" autoleave");
    }
    out
}

#[cfg(test)]
mod tests;

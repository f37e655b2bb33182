//! Bounds on terms and log indexes taken from outside the core (peer
//! messages, storage answers, snapshots).
//!
//! The core adds to terms and indexes (`last_index + 1` for a peer's next
//! index, `term + 1` for a campaign, `index + len(entries)`). A value near
//! 2^64 from a malformed message or a broken storage would make that
//! arithmetic wrap: a debug build panics, a release build silently turns a
//! node into a leader that drops every proposal. Values above
//! [`MAX_TERM_OR_INDEX`] are refused where they enter, so the arithmetic
//! inside cannot overflow: a log grows one entry at a time and cannot reach
//! 2^63 entries.

use crate::eraftpb::Message;
use crate::errors::{Error, Result};

/// The largest term or log index the core accepts (2^63 - 1, also the
/// largest value a signed 64-bit integer in another language can hold).
pub const MAX_TERM_OR_INDEX: u64 = i64::MAX as u64;

/// `Err(Error::Invariant)` naming `what` when `v` is above
/// [`MAX_TERM_OR_INDEX`].
pub fn check(what: &str, v: u64) -> Result<()> {
    if v > MAX_TERM_OR_INDEX {
        return Err(Error::Invariant(format!(
            "{what} {v} is beyond the largest accepted term or index {MAX_TERM_OR_INDEX}"
        )));
    }
    Ok(())
}

/// Checks every term and index a message carries: its own fields, its
/// entries and its snapshot. The responses of a local storage message are
/// checked when they are stepped.
pub fn check_message(m: &Message) -> Result<()> {
    // A value is above the bound exactly when its top bit is set (the
    // bound is 2^63 - 1), so one OR over every term and index tells
    // whether any is: a few instructions per entry on the path every
    // message takes. Only then are the fields looked at one by one.
    const _: () = assert!(MAX_TERM_OR_INDEX == u64::MAX >> 1);
    let mut any = m.term | m.log_term | m.index | m.commit | m.reject_hint;
    any |= m.entries.iter().fold(0, |acc, e| acc | e.index | e.term);
    if let Some(s) = &m.snapshot {
        any |= s.metadata.index | s.metadata.term;
    }
    if any <= MAX_TERM_OR_INDEX {
        return Ok(());
    }
    let t = m.msg_type();
    // The message is named only when a value is refused: formatting it for
    // every field of every message stepped was most of a step's cost.
    let field = |name: &str, v: u64| {
        if v <= MAX_TERM_OR_INDEX {
            return Ok(());
        }
        check(&format!("{t:?} from {:x}: {name}", m.from), v)
    };
    field("term", m.term)?;
    field("log term", m.log_term)?;
    field("index", m.index)?;
    field("commit", m.commit)?;
    field("reject hint", m.reject_hint)?;
    for e in &m.entries {
        field("entry index", e.index)?;
        field("entry term", e.term)?;
    }
    if let Some(s) = &m.snapshot {
        field("snapshot index", s.metadata.index)?;
        field("snapshot term", s.metadata.term)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eraftpb::{Entry, MessageType, Snapshot};

    #[test]
    fn the_bound_is_accepted_and_one_more_is_refused() {
        assert!(check("x", MAX_TERM_OR_INDEX).is_ok());
        let e = check("x", MAX_TERM_OR_INDEX + 1).unwrap_err();
        assert!(e.to_string().contains("x 9223372036854775808"), "{e}");
    }

    #[test]
    fn a_message_at_the_bound_is_accepted_and_one_past_it_anywhere_refused() {
        let at = MAX_TERM_OR_INDEX;
        let mut m = Message::with_type(MessageType::MsgApp);
        (m.term, m.log_term, m.index, m.commit, m.reject_hint) = (at, at, at, at, at);
        m.entries = (0..5).map(|_| Entry::new(at, at, Vec::new())).collect();
        let mut s = Snapshot::default();
        (s.metadata.index, s.metadata.term) = (at, at);
        m.snapshot = Some(Box::new(s));
        assert!(check_message(&m).is_ok());
        // One past the bound in the last entry only.
        m.entries[4].index = at + 1;
        let e = check_message(&m).unwrap_err();
        assert!(e.to_string().contains("entry index"), "{e}");
    }

    #[test]
    fn every_term_and_index_of_a_message_is_checked() {
        let ok = || Message::with_type(MessageType::MsgApp);
        assert!(check_message(&ok()).is_ok());
        type Set = Box<dyn Fn(&mut Message)>;
        let cases: Vec<(&str, Set)> = vec![
            ("term", Box::new(|m| m.term = u64::MAX)),
            ("log term", Box::new(|m| m.log_term = u64::MAX)),
            ("index", Box::new(|m| m.index = u64::MAX)),
            ("commit", Box::new(|m| m.commit = u64::MAX)),
            ("reject hint", Box::new(|m| m.reject_hint = u64::MAX)),
            (
                "entry index",
                Box::new(|m| m.entries = vec![Entry::new(1, u64::MAX, Vec::new())]),
            ),
            (
                "entry term",
                Box::new(|m| m.entries = vec![Entry::new(u64::MAX, 1, Vec::new())]),
            ),
            (
                "snapshot index",
                Box::new(|m| {
                    let mut s = Snapshot::default();
                    s.metadata.index = u64::MAX;
                    m.snapshot = Some(Box::new(s));
                }),
            ),
            (
                "snapshot term",
                Box::new(|m| {
                    let mut s = Snapshot::default();
                    s.metadata.term = MAX_TERM_OR_INDEX + 1;
                    m.snapshot = Some(Box::new(s));
                }),
            ),
        ];
        for (name, set) in cases {
            let mut m = ok();
            set(&mut m);
            let e = check_message(&m).unwrap_err();
            assert!(e.to_string().contains(name), "{name}: {e}");
        }
    }
}

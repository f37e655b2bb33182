//! Merging of append messages queued for the same peer within one Ready.

use crate::eraftpb::{Message, MessageType};

/// Merges each MsgApp into the previous MsgApp to the same peer when the
/// second continues the first exactly (its previous entry is the first's
/// last entry), no other message to that peer lies between them, and the
/// merged entries stay within `max_size` encoded bytes. Relative order of
/// everything else is kept.
pub(crate) fn merge_appends(msgs: &mut Vec<Message>, max_size: u64) {
    if msgs.len() < 2 {
        return;
    }
    // For each peer, the position in `out` of its newest message.
    let mut last_for_peer: Vec<(u64, usize)> = Vec::new();
    let mut out: Vec<Message> = Vec::with_capacity(msgs.len());
    for m in msgs.drain(..) {
        let slot = last_for_peer.iter().position(|(p, _)| *p == m.to);
        if let Some(s) = slot {
            let pos = last_for_peer[s].1;
            if can_merge(&out[pos], &m, max_size) {
                let prev = &mut out[pos];
                prev.commit = prev.commit.max(m.commit);
                prev.entries.extend(m.entries);
                continue;
            }
        }
        let pos = out.len();
        match slot {
            Some(s) => last_for_peer[s].1 = pos,
            None => last_for_peer.push((m.to, pos)),
        }
        out.push(m);
    }
    *msgs = out;
}

fn can_merge(a: &Message, b: &Message, max_size: u64) -> bool {
    if a.msg_type() != MessageType::MsgApp || b.msg_type() != MessageType::MsgApp {
        return false;
    }
    if a.term != b.term || b.entries.is_empty() {
        return false;
    }
    let (last_index, last_term) = match a.entries.last() {
        Some(e) => (e.index, e.term),
        None => (a.index, a.log_term),
    };
    if b.index != last_index || b.log_term != last_term {
        return false;
    }
    let size: u64 = a
        .entries
        .iter()
        .chain(b.entries.iter())
        .map(|e| e.size())
        .sum();
    size <= max_size
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eraftpb::Entry;

    fn app(to: u64, index: u64, log_term: u64, ents: &[(u64, u64)], commit: u64) -> Message {
        Message {
            to,
            term: 2,
            index,
            log_term,
            commit,
            entries: ents
                .iter()
                .map(|&(t, i)| Entry::new(t, i, &b"x"[..]))
                .collect(),
            ..Message::with_type(MessageType::MsgApp)
        }
    }

    #[test]
    fn contiguous_appends_to_one_peer_merge() {
        let mut v = vec![
            app(2, 5, 1, &[(2, 6)], 5),
            app(3, 5, 1, &[(2, 6)], 5),
            app(2, 6, 2, &[(2, 7)], 6),
            app(3, 6, 2, &[(2, 7)], 6),
        ];
        merge_appends(&mut v, u64::MAX);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].to, 2);
        assert_eq!(v[0].entries.len(), 2);
        assert_eq!(v[0].commit, 6);
        assert_eq!(v[1].to, 3);
        assert_eq!(v[1].entries.len(), 2);
    }

    #[test]
    fn gaps_other_messages_and_size_limit_prevent_merging() {
        let mut gap = vec![app(2, 5, 1, &[(2, 6)], 5), app(2, 7, 2, &[(2, 8)], 5)];
        merge_appends(&mut gap, u64::MAX);
        assert_eq!(gap.len(), 2);

        let hb = Message {
            to: 2,
            ..Message::with_type(MessageType::MsgHeartbeat)
        };
        let mut between = vec![app(2, 5, 1, &[(2, 6)], 5), hb, app(2, 6, 2, &[(2, 7)], 5)];
        merge_appends(&mut between, u64::MAX);
        assert_eq!(between.len(), 3);

        let one = app(2, 5, 1, &[(2, 6)], 5).entries[0].size();
        let mut limited = vec![app(2, 5, 1, &[(2, 6)], 5), app(2, 6, 2, &[(2, 7)], 5)];
        merge_appends(&mut limited, one);
        assert_eq!(limited.len(), 2);
    }
}

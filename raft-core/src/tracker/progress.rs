//! The leader's view of one follower's log (etcd's `tracker.Progress`).

use std::fmt;

use super::{Inflights, ProgressState};
use crate::status::PeerProgress;

/// What the leader knows about a follower's log and how it replicates to it.
///
/// Invariant: `matched < next_idx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Highest index known to match the leader's log.
    pub matched: u64,
    /// Index of the next entry to send. Entries in `(matched, next_idx)` are
    /// in flight.
    pub next_idx: u64,
    /// Highest commit index sent to the follower (etcd's `sentCommit`).
    pub sent_commit: u64,
    /// How the leader replicates to this follower.
    pub state: ProgressState,
    /// In [`ProgressState::Snapshot`], the index of the snapshot sent.
    pub pending_snapshot: u64,
    /// True if the follower was heard from recently (reset by the leader's
    /// check-quorum round). Always true for the leader itself.
    pub recent_active: bool,
    /// True when sending appends is paused: after a probe in
    /// [`ProgressState::Probe`], or when the inflight window filled up in
    /// [`ProgressState::Replicate`].
    pub msg_app_flow_paused: bool,
    /// Appends in flight (used in [`ProgressState::Replicate`]).
    pub inflights: Inflights,
    /// True if this peer is a learner.
    pub is_learner: bool,
}

impl Progress {
    /// A probing progress with `match = 0`, the given `next_idx`, an inflight
    /// window of `inflight_size` messages / `inflight_bytes` bytes (0 = no
    /// byte limit), not recently active, not a learner.
    pub fn new(next_idx: u64, inflight_size: usize, inflight_bytes: u64) -> Self {
        Progress {
            matched: 0,
            next_idx,
            sent_commit: 0,
            state: ProgressState::Probe,
            pending_snapshot: 0,
            recent_active: false,
            msg_app_flow_paused: false,
            inflights: Inflights::new(inflight_size, inflight_bytes),
            is_learner: false,
        }
    }

    /// Moves to `state`, clearing the pause flag, the pending snapshot and
    /// the inflight window.
    pub fn reset_state(&mut self, state: ProgressState) {
        self.msg_app_flow_paused = false;
        self.pending_snapshot = 0;
        self.state = state;
        self.inflights.reset();
    }

    /// Moves to [`ProgressState::Probe`]. `next_idx` becomes `matched + 1`,
    /// or, coming from a snapshot, just past the snapshot if that is larger.
    pub fn become_probe(&mut self) {
        if self.state == ProgressState::Snapshot {
            let pending = self.pending_snapshot;
            self.reset_state(ProgressState::Probe);
            self.next_idx = (self.matched.saturating_add(1)).max(pending.saturating_add(1));
        } else {
            self.reset_state(ProgressState::Probe);
            self.next_idx = self.matched.saturating_add(1);
        }
        self.sent_commit = self.sent_commit.min(self.next_idx.saturating_sub(1));
    }

    /// Moves to [`ProgressState::Replicate`] with `next_idx = matched + 1`.
    pub fn become_replicate(&mut self) {
        self.reset_state(ProgressState::Replicate);
        self.next_idx = self.matched.saturating_add(1);
    }

    /// Moves to [`ProgressState::Snapshot`] for a snapshot at index
    /// `snapshot_index`; the snapshot carries the commit index, so
    /// `sent_commit` becomes that index too.
    pub fn become_snapshot(&mut self, snapshot_index: u64) {
        self.reset_state(ProgressState::Snapshot);
        self.pending_snapshot = snapshot_index;
        self.next_idx = snapshot_index.saturating_add(1);
        self.sent_commit = snapshot_index;
    }

    /// Records that an append with `entries` entries (`bytes` payload bytes)
    /// starting at `next_idx` was sent. In Replicate, `next_idx` advances
    /// optimistically and the flow pauses when the window is full; in Probe a
    /// non-empty append pauses the flow until the follower answers. Ignored
    /// in Snapshot (nothing is sent there).
    pub fn sent_entries(&mut self, entries: usize, bytes: u64) {
        match self.state {
            ProgressState::Replicate => {
                if entries > 0 {
                    self.next_idx = self.next_idx.saturating_add(entries as u64);
                    self.inflights.add(self.next_idx.saturating_sub(1), bytes);
                }
                self.msg_app_flow_paused = self.inflights.full();
            }
            ProgressState::Probe => {
                if entries > 0 {
                    self.msg_app_flow_paused = true;
                }
            }
            ProgressState::Snapshot => {}
        }
    }

    /// Records that `entries` entries (`bytes` payload bytes) were appended
    /// to the newest append message to this peer, which has not left yet:
    /// in StateReplicate the newest in-flight message grows instead of a new
    /// one being counted. Otherwise the same as [`sent_entries`](Self::sent_entries).
    pub fn sent_more_entries(&mut self, entries: usize, bytes: u64) {
        if self.state != ProgressState::Replicate || entries == 0 {
            return self.sent_entries(entries, bytes);
        }
        self.next_idx = self.next_idx.saturating_add(entries as u64);
        let last = self.next_idx.saturating_sub(1);
        if !self.inflights.extend_last(last, bytes) {
            self.inflights.add(last, bytes);
        }
        self.msg_app_flow_paused = self.inflights.full();
    }

    /// True if sending commit index `index` may advance the follower's
    /// commit index (one not already sent, and the follower does not already
    /// know everything up to `next_idx - 1` is committed).
    pub fn can_bump_commit(&self, index: u64) -> bool {
        index > self.sent_commit && self.sent_commit < self.next_idx.saturating_sub(1)
    }

    /// Records that commit index `commit` was sent (etcd's `SentCommit`).
    pub fn set_sent_commit(&mut self, commit: u64) {
        self.sent_commit = commit;
    }

    /// Handles an acknowledgement of index `n`. Returns false (and changes
    /// nothing) if it is stale, i.e. `n <= matched`.
    pub fn maybe_update(&mut self, n: u64) -> bool {
        if n <= self.matched {
            return false;
        }
        self.matched = n;
        self.next_idx = self.next_idx.max(n.saturating_add(1));
        self.msg_app_flow_paused = false;
        true
    }

    /// Handles a rejection of the append at index `rejected`, with the
    /// follower's hint `match_hint`. Returns false (and changes nothing) if
    /// the rejection is stale; otherwise lowers `next_idx` and unpauses.
    pub fn maybe_decr_to(&mut self, rejected: u64, match_hint: u64) -> bool {
        if self.state == ProgressState::Replicate {
            if rejected <= self.matched {
                return false;
            }
            self.next_idx = self.matched.saturating_add(1);
            self.sent_commit = self.sent_commit.min(self.next_idx.saturating_sub(1));
            return true;
        }
        // Probes are sent one at a time, so only a rejection of the last
        // probe (next - 1) is genuine.
        if self.next_idx.saturating_sub(1) != rejected {
            return false;
        }
        self.next_idx = rejected
            .min(match_hint.saturating_add(1))
            .max(self.matched.saturating_add(1));
        self.sent_commit = self.sent_commit.min(self.next_idx.saturating_sub(1));
        self.msg_app_flow_paused = false;
        true
    }

    /// True if appends to this follower are currently throttled.
    pub fn is_paused(&self) -> bool {
        match self.state {
            ProgressState::Probe | ProgressState::Replicate => self.msg_app_flow_paused,
            ProgressState::Snapshot => true,
        }
    }
}

impl fmt::Display for Progress {
    /// As etcd prints it; the format is [`PeerProgress`]'s.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        PeerProgress::from(self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pr(matched: u64, next: u64) -> Progress {
        let mut p = Progress::new(next, 256, 0);
        p.matched = matched;
        p.recent_active = true;
        p
    }

    #[test]
    fn display_variants() {
        let mut p = pr(14, 14);
        p.become_replicate();
        assert_eq!(p.to_string(), "StateReplicate match=14 next=15");
        let mut p = Progress::new(4, 3, 0);
        p.sent_entries(1, 0);
        assert_eq!(p.to_string(), "StateProbe match=0 next=4 paused inactive");
        let mut p = pr(14, 15);
        p.inflights = Inflights::new(3, 0);
        p.become_replicate();
        p.sent_entries(1, 10);
        p.sent_entries(1, 10);
        assert_eq!(p.to_string(), "StateReplicate match=14 next=17 inflight=2");
        p.sent_entries(1, 10);
        assert_eq!(
            p.to_string(),
            "StateReplicate match=14 next=18 paused inflight=3[full]"
        );
        let mut p = Progress::new(1, 3, 0);
        p.become_snapshot(4);
        assert_eq!(
            p.to_string(),
            "StateSnapshot match=0 next=5 paused pendingSnap=4 inactive"
        );
        let mut p = pr(0, 1);
        p.is_learner = true;
        assert_eq!(p.to_string(), "StateProbe match=0 next=1 learner");
    }

    #[test]
    fn become_probe_from_each_state() {
        // From Replicate: next = match + 1.
        let mut p = pr(1, 5);
        p.state = ProgressState::Replicate;
        p.sent_commit = 4;
        p.become_probe();
        assert_eq!(
            (p.state, p.next_idx, p.sent_commit),
            (ProgressState::Probe, 2, 1)
        );
        // From Snapshot with a pending snapshot beyond match.
        let mut p = pr(1, 5);
        p.become_snapshot(10);
        p.become_probe();
        assert_eq!((p.next_idx, p.pending_snapshot), (11, 0));
        // From Snapshot when match already passed the snapshot.
        let mut p = pr(1, 5);
        p.become_snapshot(10);
        p.matched = 12;
        p.become_probe();
        assert_eq!(p.next_idx, 13);
    }

    #[test]
    fn become_replicate_and_snapshot() {
        let mut p = pr(1, 5);
        p.msg_app_flow_paused = true;
        p.become_replicate();
        assert_eq!(
            (p.state, p.next_idx, p.msg_app_flow_paused),
            (ProgressState::Replicate, 2, false)
        );
        p.become_snapshot(10);
        assert_eq!(
            (p.state, p.pending_snapshot, p.next_idx, p.sent_commit),
            (ProgressState::Snapshot, 10, 11, 10)
        );
        assert!(p.is_paused());
    }

    #[test]
    fn maybe_update() {
        let mut p = pr(5, 7);
        assert!(!p.maybe_update(4));
        assert!(!p.maybe_update(5));
        assert_eq!((p.matched, p.next_idx), (5, 7));
        p.msg_app_flow_paused = true;
        assert!(p.maybe_update(6));
        assert_eq!(
            (p.matched, p.next_idx, p.msg_app_flow_paused),
            (6, 7, false)
        );
        assert!(p.maybe_update(8));
        assert_eq!((p.matched, p.next_idx), (8, 9));
    }

    #[test]
    fn maybe_decr_to() {
        // Replicate: stale if rejected <= match, else next = match + 1.
        let mut p = pr(5, 10);
        p.state = ProgressState::Replicate;
        assert!(!p.maybe_decr_to(5, 5));
        assert_eq!(p.next_idx, 10);
        assert!(p.maybe_decr_to(9, 9));
        assert_eq!(p.next_idx, 6);
        // Probe: only next - 1 counts.
        let mut p = pr(0, 10);
        assert!(!p.maybe_decr_to(5, 5));
        assert!(p.maybe_decr_to(9, 9));
        assert_eq!(p.next_idx, 9);
        p.msg_app_flow_paused = true;
        assert!(p.maybe_decr_to(8, 3));
        assert_eq!((p.next_idx, p.msg_app_flow_paused), (4, false));
        // Never below match + 1.
        let mut p = pr(3, 10);
        assert!(p.maybe_decr_to(9, 0));
        assert_eq!(p.next_idx, 4);
    }

    #[test]
    fn sent_entries_and_pause() {
        let mut p = pr(0, 1);
        p.sent_entries(0, 0);
        assert!(!p.is_paused(), "an empty probe does not pause");
        p.sent_entries(3, 0);
        assert!(p.is_paused());
        assert_eq!(p.next_idx, 1, "probe does not advance next");
        let mut p = pr(5, 6);
        p.inflights = Inflights::new(2, 0);
        p.become_replicate();
        p.sent_entries(2, 0);
        assert_eq!((p.next_idx, p.inflights.count()), (8, 1));
        assert!(!p.is_paused());
        p.sent_entries(1, 0);
        assert!(p.is_paused());
        p.sent_entries(1, 0);
        assert_eq!(p.inflights.count(), 2, "a full window is not overfilled");
        // Snapshot: nothing happens.
        let mut p = pr(0, 1);
        p.become_snapshot(3);
        p.sent_entries(2, 0);
        assert_eq!(p.next_idx, 4);
    }

    #[test]
    fn commit_tracking() {
        let mut p = pr(5, 10);
        assert!(p.can_bump_commit(3));
        p.set_sent_commit(9);
        assert!(!p.can_bump_commit(12), "follower already told up to next-1");
        p.set_sent_commit(4);
        assert!(!p.can_bump_commit(4));
        assert!(p.can_bump_commit(5));
        p.state = ProgressState::Replicate;
        p.set_sent_commit(9);
        assert!(p.maybe_decr_to(8, 8));
        assert_eq!(p.sent_commit, 5);
    }
}

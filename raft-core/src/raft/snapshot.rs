//! Snapshots: sending them to followers that fell behind the compaction
//! point (the snapshot branch of etcd's `maybeSendAppend`), restoring them
//! on followers (`handleSnapshot`, `restore`), and the status reports (the
//! MsgSnapStatus case of `stepLeader`).

use super::{log, Raft, StateRole};
use crate::eraftpb::{Message, MessageType, Snapshot};
use crate::errors::Error;
use crate::errors::StorageError;
use crate::storage::Storage;
use crate::tracker::ProgressState;

impl<S: Storage> Raft<S> {
    /// Sends the storage's snapshot to `to` if it is recently active.
    pub(crate) fn maybe_send_snapshot(&mut self, to: u64) -> bool {
        let active = self.prs.progress.get(&to).is_some_and(|p| p.recent_active);
        if !active {
            log!(
                self,
                Debug,
                "ignore sending snapshot to {:x} since it is not recently active",
                to
            );
            return false;
        }
        let snapshot = match self.raft_log.snapshot() {
            Ok(s) => s,
            Err(Error::Store(StorageError::SnapshotTemporarilyUnavailable)) => {
                log!(
                    self,
                    Debug,
                    "{:x} failed to send snapshot to {:x} because snapshot is temporarily unavailable",
                    self.id,
                    to
                );
                return false;
            }
            Err(e) => {
                log!(
                    self,
                    Error,
                    "{:x} failed to get a snapshot for {:x}: {}",
                    self.id,
                    to,
                    e
                );
                return false;
            }
        };
        if snapshot.is_empty() {
            log!(
                self,
                Error,
                "{:x} needs a non-empty snapshot to send to {:x}",
                self.id,
                to
            );
            return false;
        }
        let (sindex, sterm) = (snapshot.metadata.index, snapshot.metadata.term);
        let (first, committed) = (self.raft_log.first_index(), self.raft_log.committed);
        let Some(pr) = self.prs.progress.get_mut(&to) else {
            return false;
        };
        log!(
            self,
            Debug,
            "{:x} [firstindex: {}, commit: {}] sent snapshot[index: {}, term: {}] to {:x} [{}]",
            self.id,
            first,
            committed,
            sindex,
            sterm,
            to,
            pr
        );
        pr.become_snapshot(sindex);
        log!(
            self,
            Debug,
            "{:x} paused sending replication messages to {:x} [{}]",
            self.id,
            to,
            pr
        );
        self.send(Message {
            to,
            snapshot: Some(Box::new(snapshot)),
            ..Message::with_type(MessageType::MsgSnap)
        });
        true
    }

    /// Follower side of MsgSnap.
    pub(crate) fn handle_snapshot(&mut self, m: Message) {
        let s = *m.snapshot.unwrap_or_default();
        let (sindex, sterm) = (s.metadata.index, s.metadata.term);
        if self.restore(s) {
            log!(
                self,
                Info,
                "{:x} [commit: {}] restored snapshot [index: {}, term: {}]",
                self.id,
                self.raft_log.committed,
                sindex,
                sterm
            );
            let last = self.raft_log.last_index();
            self.send(Message {
                to: m.from,
                index: last,
                ..Message::with_type(MessageType::MsgAppResp)
            });
        } else {
            log!(
                self,
                Info,
                "{:x} [commit: {}] ignored snapshot [index: {}, term: {}]",
                self.id,
                self.raft_log.committed,
                sindex,
                sterm
            );
            let committed = self.raft_log.committed;
            self.send(Message {
                to: m.from,
                index: committed,
                ..Message::with_type(MessageType::MsgAppResp)
            });
        }
    }

    /// Restores the state machine from a snapshot; false when the snapshot
    /// is stale, names no role for this node, or only fast-forwards commit.
    pub fn restore(&mut self, s: Snapshot) -> bool {
        if s.metadata.index <= self.raft_log.committed {
            return false;
        }
        if self.state != StateRole::Follower {
            log!(
                self,
                Warn,
                "{:x} attempted to restore snapshot as leader; should never happen",
                self.id
            );
            let term = self.term.saturating_add(1);
            self.become_follower(term, super::INVALID_ID);
            return false;
        }
        let cs = &s.metadata.conf_state;
        let found = cs
            .voters
            .iter()
            .chain(cs.learners.iter())
            .chain(cs.voters_outgoing.iter())
            .any(|id| *id == self.id);
        if !found {
            log!(
                self,
                Warn,
                "{:x} attempted to restore snapshot but it is not in the ConfState {:?}; should never happen",
                self.id,
                cs
            );
            return false;
        }
        let (index, term) = (s.metadata.index, s.metadata.term);
        if self.raft_log.match_term(index, term) {
            log!(
                self,
                Info,
                "{:x} [commit: {}, lastindex: {}, lastterm: {}] fast-forwarded commit to snapshot [index: {}, term: {}]",
                self.id,
                self.raft_log.committed,
                self.raft_log.last_index(),
                self.raft_log.last_term(),
                index,
                term
            );
            // match_term guarantees index <= last index.
            let _ = self.raft_log.commit_to(index);
            return false;
        }
        if self.raft_log.applying > self.raft_log.applied {
            // Committed entries handed to the application are not applied
            // yet; the application will call `apply_conf_change` for the
            // conf changes among them, which must not land on top of the
            // snapshot's configuration. The leader retries later.
            log!(
                self,
                Info,
                "{:x} [applied: {}, applying: {}] ignored snapshot [index: {}, term: {}] while entries are being applied",
                self.id,
                self.raft_log.applied,
                self.raft_log.applying,
                s.metadata.index,
                s.metadata.term
            );
            return false;
        }
        let cs = cs.clone();
        // Work out the configuration before touching the log, so that a
        // snapshot with an impossible configuration changes nothing.
        let fresh = crate::tracker::ProgressTracker::new(
            self.prs.max_inflight,
            self.prs.max_inflight_bytes,
        );
        let planned = crate::confchange::restore(
            crate::confchange::Changer {
                tracker: &fresh,
                last_index: index,
            },
            &cs,
        );
        let (cfg, prs) = match planned {
            Ok(p) => p,
            Err(e) => {
                log!(self, Error, "unable to restore config {:?}: {}", cs, e);
                return false;
            }
        };
        // A ConfState that restores to a different configuration (e.g. a
        // node listed as both voter and learner) is impossible too.
        let mut planned_tracker = fresh.clone();
        planned_tracker.config = cfg.clone();
        let planned_cs = planned_tracker.conf_state();
        if !planned_cs.equivalent(&cs) {
            log!(
                self,
                Error,
                "{:x} ignored snapshot with an inconsistent configuration {:?} (restores to {:?})",
                self.id,
                cs,
                planned_cs
            );
            return false;
        }
        self.raft_log.restore(s);
        self.prs = fresh;
        let got = self.switch_to_config(cfg, prs);
        if !got.equivalent(&cs) {
            log!(
                self,
                Error,
                "ConfStates not equivalent after restore: {:?} vs {:?}",
                cs,
                got
            );
        }
        log!(
            self,
            Info,
            "{:x} [commit: {}, lastindex: {}, lastterm: {}] restored snapshot [index: {}, term: {}]",
            self.id,
            self.raft_log.committed,
            self.raft_log.last_index(),
            self.raft_log.last_term(),
            index,
            term
        );
        true
    }

    /// Leader side of MsgSnapStatus (from `report_snapshot`).
    pub(crate) fn handle_snapshot_status(&mut self, m: &Message) {
        let Some(pr) = self.prs.progress.get_mut(&m.from) else {
            return;
        };
        if pr.state != ProgressState::Snapshot {
            return;
        }
        if !m.reject {
            pr.become_probe();
            log!(
                self,
                Debug,
                "{:x} snapshot succeeded, resumed sending replication messages to {:x} [{}]",
                self.id,
                m.from,
                pr
            );
        } else {
            pr.pending_snapshot = 0;
            pr.become_probe();
            log!(
                self,
                Debug,
                "{:x} snapshot failed, resumed sending replication messages to {:x} [{}]",
                self.id,
                m.from,
                pr
            );
        }
        pr.msg_app_flow_paused = true;
    }
}

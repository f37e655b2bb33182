//! The replication state of a follower as seen by the leader.

use std::fmt;

/// How the leader currently replicates to a follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProgressState {
    /// The leader does not know where the follower's log matches; it sends
    /// at most one append per heartbeat interval and probes backwards.
    #[default]
    Probe,
    /// The follower's log matches; entries are streamed optimistically,
    /// limited by the inflight window.
    Replicate,
    /// The follower needs a snapshot; appends are paused until it is applied.
    Snapshot,
}

impl fmt::Display for ProgressState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProgressState::Probe => "StateProbe",
            ProgressState::Replicate => "StateReplicate",
            ProgressState::Snapshot => "StateSnapshot",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names() {
        assert_eq!(ProgressState::Probe.to_string(), "StateProbe");
        assert_eq!(ProgressState::Replicate.to_string(), "StateReplicate");
        assert_eq!(ProgressState::Snapshot.to_string(), "StateSnapshot");
        assert_eq!(ProgressState::default(), ProgressState::Probe);
    }
}

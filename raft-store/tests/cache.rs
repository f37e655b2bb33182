//! Replication and applying committed entries are served from the groups'
//! memory (bounds and entry cache): no LevelDB read once a cluster runs,
//! unless the cache is too small to hold what the node reads back.

#[path = "support/cluster.rs"]
mod cluster;
mod common;

use common::TempDir;

/// LevelDB reads per member while the cluster replicates 300 entries.
fn reads_during_replication(cache_bytes: usize) -> Vec<u64> {
    let dir = TempDir::new("cache");
    let dirs: Vec<_> = (1..=3).map(|i| dir.path().join(format!("n{i}"))).collect();
    let mut c = cluster::Cluster::open_with(&dirs, false, cache_bytes);
    let mut noop = |_: u64, _: &raft_core::Ready| {};
    while c.leader().is_none() {
        c.tick();
        c.pump(&mut noop);
    }
    let before: Vec<u64> = c.members.iter().map(|m| m.store.leveldb_reads()).collect();
    for round in 0..30 {
        for i in 0..10 {
            assert!(c.propose(format!("{round}-{i}").into_bytes()));
        }
        c.pump(&mut noop);
        c.tick();
        c.pump(&mut noop);
    }
    assert!(c.members.iter().all(|m| m.applied >= 300));
    c.members
        .iter()
        .zip(before)
        .map(|(m, b)| m.store.leveldb_reads() - b)
        .collect()
}

#[test]
fn a_running_cluster_does_not_read_leveldb() {
    assert_eq!(reads_during_replication(1 << 20), vec![0, 0, 0]);
    // Without a cache, committed entries are read back from LevelDB.
    assert!(reads_during_replication(0).iter().any(|&n| n > 0));
}

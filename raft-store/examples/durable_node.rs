//! A durable single-node Raft group that restarts from disk.
//!
//! The first run bootstraps the group and commits a few proposals; every
//! later run reopens the store, restarts the node from what is on disk
//! (hard state, log, snapshot), replays the committed entries into its
//! state machine, and adds more. Every 10 entries the state machine is
//! snapshotted and the log compacted.
//!
//! ```sh
//! cargo run -p raft-store --example durable_node -- /tmp/durable-demo
//! cargo run -p raft-store --example durable_node -- /tmp/durable-demo   # restarts
//! ```

use bytes::Bytes;
use raft_core::eraftpb::EntryType;
use raft_core::{ConfChangeI, Config, RawNode, Storage};
use raft_store::{Store, StoreOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| {
        std::env::temp_dir()
            .join("raft-durable-demo")
            .display()
            .to_string()
    });
    let store = Store::open(StoreOptions::new(&dir))?;
    let group = store.open_group(1)?;

    // The state machine: the applied values, restored from the snapshot.
    let snap = group.snapshot()?;
    let mut values: Vec<String> = match &snap.data {
        Some(d) => String::from_utf8(d.to_vec())?
            .split(',')
            .map(str::to_string)
            .collect(),
        None => Vec::new(),
    };
    let mut conf = snap.metadata.conf_state.clone();
    let mut applied = snap.metadata.index;

    let mut cfg = Config::new(1);
    cfg.applied = applied;
    let mut node = RawNode::new(&cfg, group.clone())?;
    let fresh = group.last_index()? == 0;
    if fresh {
        node.bootstrap(&[1])?;
        println!("new group in {dir}");
    } else {
        println!(
            "restarted from {dir}: term {}, log [{}, {}], snapshot at {}",
            group.hard_state().term,
            group.first_index()?,
            group.last_index()?,
            snap.metadata.index
        );
    }
    // Each run is numbered by the term it starts in (one election per run).
    let run = group.hard_state().term;
    let mut proposed = 0;
    // Ticks elect the node (after its conf changes are replayed), then it
    // proposes five values.
    for _ in 0..200 {
        if proposed < 5 && node.status().progress.is_some() {
            node.propose(format!("run{run}-value{proposed}").into_bytes())?;
            proposed += 1;
        }
        if !node.has_ready() {
            node.tick();
            continue;
        }
        let rd = node.ready()?;
        // Durable before anything is acknowledged or sent.
        group.persist_ready(&rd)?;
        for e in &rd.committed_entries {
            match e.entry_type() {
                EntryType::EntryNormal if !e.data().is_empty() => {
                    values.push(String::from_utf8_lossy(e.data()).into_owned())
                }
                EntryType::EntryNormal => {}
                _ => {
                    if let Some(cc) = ConfChangeI::from_entry(e) {
                        conf = node.apply_conf_change(&cc?)?;
                    }
                }
            }
            applied = e.index;
        }
        node.advance()?;
        if applied >= group.first_index()? + 10 {
            let data = Bytes::from(values.join(","));
            group.create_snapshot(applied, Some(conf.clone()), data)?;
            group.compact(applied)?;
        }
    }
    println!("{} values applied: {:?}", values.len(), values);
    Ok(())
}

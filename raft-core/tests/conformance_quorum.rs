//! Runs etcd-raft's `quorum/*.txt` datadriven files (README §2) against
//! `raft_core::quorum`.

mod datadriven;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use datadriven::TestData;
use raft_core::quorum::{AckedIndexer, DisplayIndex, JointConfig, MajorityConfig};

/// Maps the i-th value to the i-th distinct voter (cfg ids first, then
/// cfgj ids, in the order written); `None` values (written `_`) are
/// dropped.
fn assign<T: Copy>(ids: &[u64], idsj: &[u64], vals: &[Option<T>]) -> BTreeMap<u64, T> {
    let mut seen = BTreeSet::new();
    let mut out = BTreeMap::new();
    let mut next = vals.iter();
    for id in ids.iter().chain(idsj) {
        if !seen.insert(*id) {
            continue;
        }
        if let Some(Some(v)) = next.next() {
            out.insert(*id, *v);
        }
    }
    out
}

/// Committed index computed independently of `MajorityConfig`: the largest
/// acknowledged index (or 0) that at least a majority reached.
fn alternative_committed(c: &MajorityConfig, l: &BTreeMap<u64, u64>) -> u64 {
    if c.is_empty() {
        return u64::MAX;
    }
    let idxs: Vec<u64> = c
        .iter()
        .map(|id| l.get(&id).copied().unwrap_or(0))
        .collect();
    let q = c.len() / 2 + 1;
    idxs.iter()
        .copied()
        .filter(|cand| idxs.iter().filter(|i| *i >= cand).count() >= q)
        .max()
        .unwrap_or(0)
}

fn handle(d: &TestData) -> Result<String, String> {
    let mut joint = false;
    let (mut ids, mut idsj) = (Vec::new(), Vec::new());
    let mut idxs: Vec<Option<u64>> = Vec::new();
    let mut votes: Vec<Option<bool>> = Vec::new();
    for arg in &d.args {
        for v in &arg.vals {
            match arg.key.as_str() {
                "cfg" => ids.push(datadriven::parse_u64(v)?),
                "cfgj" => {
                    joint = true;
                    if v == "zero" {
                        if arg.vals.len() != 1 {
                            return Err("cannot mix 'zero' into configuration".into());
                        }
                    } else {
                        idsj.push(datadriven::parse_u64(v)?);
                    }
                }
                "idx" => {
                    if v == "_" {
                        idxs.push(None);
                    } else {
                        let n = datadriven::parse_u64(v)?;
                        if n == 0 {
                            return Err("cannot use 0 as idx".into());
                        }
                        idxs.push(Some(n));
                    }
                }
                "votes" => votes.push(match v.as_str() {
                    "y" => Some(true),
                    "n" => Some(false),
                    "_" => None,
                    other => return Err(format!("unknown vote: {other}")),
                }),
                other => return Err(format!("unknown arg {other}")),
            }
        }
    }
    let c: MajorityConfig = ids.iter().copied().collect();
    let cj: MajorityConfig = idsj.iter().copied().collect();
    let jc = JointConfig::new(c.clone(), cj.clone());
    // Go's harness encodes the inputs as indexes (`_` = 0; votes n = 1,
    // y = 2) and prints them, with the voter set, like Go's `%v`.
    let input: Vec<u64> = if d.cmd == "vote" {
        votes
            .iter()
            .map(|v| v.map_or(0, |y| if y { 2 } else { 1 }))
            .collect()
    } else {
        idxs.iter().map(|v| v.unwrap_or(0)).collect()
    };
    let voters = jc.ids();
    if voters.len() != input.len() {
        let map: Vec<String> = voters.iter().map(|id| format!("{id}:{{}}")).collect();
        let vals: Vec<String> = input.iter().map(|v| DisplayIndex(*v).to_string()).collect();
        return Ok(format!(
            "error: mismatched input (explicit or _) for voters map[{}]: [{}]",
            map.join(" "),
            vals.join(" ")
        ));
    }

    let mut buf = String::new();
    match d.cmd.as_str() {
        "committed" => {
            let l = assign(&ids, &idsj, &idxs);
            if !joint {
                let idx = c.committed_index(&l);
                buf.push_str(&c.describe(&l));
                // Cross-checks; a disagreement shows up in the output.
                let alt = alternative_committed(&c, &l);
                if alt != idx {
                    let _ = writeln!(buf, "{} <-- via alternative computation", DisplayIndex(alt));
                }
                let zero = JointConfig::new(c.clone(), MajorityConfig::new()).committed_index(&l);
                if zero != idx {
                    let _ = writeln!(buf, "{} <-- via zero-joint quorum", DisplayIndex(zero));
                }
                let selfj = JointConfig::new(c.clone(), c.clone()).committed_index(&l);
                if selfj != idx {
                    let _ = writeln!(buf, "{} <-- via self-joint quorum", DisplayIndex(selfj));
                }
                for id in c.iter() {
                    let iidx = l.acked_index(id).unwrap_or(0);
                    if idx > iidx && iidx > 0 {
                        // Lowering an index below the committed one further
                        // must not change the result.
                        for lower in [iidx - 1, 0] {
                            let mut lo = l.clone();
                            lo.insert(id, lower);
                            let a = c.committed_index(&lo);
                            if a != idx {
                                let _ =
                                    write!(buf, "{} <-- overlaying {id}->{lower}", DisplayIndex(a));
                            }
                        }
                    }
                }
                let _ = writeln!(buf, "{}", DisplayIndex(idx));
            } else {
                buf.push_str(&jc.describe(&l));
                let idx = jc.committed_index(&l);
                let sym = JointConfig::new(cj.clone(), c.clone()).committed_index(&l);
                if sym != idx {
                    let _ = writeln!(buf, "{} <-- via symmetry", DisplayIndex(sym));
                }
                let _ = writeln!(buf, "{}", DisplayIndex(idx));
            }
        }
        "vote" => {
            let l = assign(&ids, &idsj, &votes);
            let lookup = |id: u64| l.get(&id).copied();
            if !joint {
                let _ = writeln!(buf, "{}", c.vote_result(lookup));
            } else {
                let r = jc.vote_result(lookup);
                let sym = JointConfig::new(cj.clone(), c.clone()).vote_result(lookup);
                if sym != r {
                    let _ = writeln!(buf, "{sym} <-- via symmetry");
                }
                let _ = writeln!(buf, "{r}");
            }
        }
        other => return Err(format!("unknown command: {other}")),
    }
    Ok(buf)
}

#[test]
fn conformance_quorum() {
    let Some(root) = datadriven::conformance_dir() else {
        println!("SKIP: etcd-raft conformance files not found (set RAFT_CONFORMANCE_DIR)");
        return;
    };
    let (passed, total) = datadriven::run_group("quorum", &root, |_| {
        |d: &TestData| handle(d).unwrap_or_else(|e| format!("harness error: {e}"))
    });
    assert_eq!(total, 4, "expected the 4 etcd quorum files");
    assert_eq!(passed, total, "quorum conformance failures (see output)");
}

/// The harness's own error paths (not exercised by the etcd files).
#[test]
fn harness_errors() {
    let block = |line: &str| {
        let (cmd, args) = datadriven::parse_directive(line).unwrap();
        let d = TestData {
            pos: "x:1".into(),
            line: 1,
            cmd,
            args,
            input: String::new(),
            expected: String::new(),
        };
        handle(&d)
    };
    assert_eq!(
        block("committed cfg=(1,2) idx=(5)"),
        Ok("error: mismatched input (explicit or _) for voters map[1:{} 2:{}]: [5]".into())
    );
    assert_eq!(
        block("vote cfg=(1) cfgj=(2) votes=(y,n,_)"),
        Ok("error: mismatched input (explicit or _) for voters map[1:{} 2:{}]: [2 1 0]".into())
    );
    assert!(block("committed cfg=(1) idx=(0)").is_err());
    assert!(block("committed cfg=(1) cfgj=(zero,2) idx=(1,2)").is_err());
    assert!(block("vote cfg=(1) votes=(maybe)").is_err());
    assert!(block("frobnicate").is_err());
    assert_eq!(block("vote cfgj=zero"), Ok("VoteWon\n".into()));
    assert_eq!(block("committed"), Ok("<empty majority quorum>∞\n".into()));
}

//! The search: is there an order of one key's operations that respects real
//! time (an operation that completed before another was invoked comes
//! first) and the register's specification?
//!
//! The operations' calls and returns are put in one list ordered by time
//! (a call before a return at the same instant, so touching operations
//! count as concurrent). Walking from the head, a call may be linearized
//! next when the model accepts it; it is then taken out of the list with
//! its return. Meeting a return means the operation it closes had to be
//! linearized already: undo the last choice and try the next call instead.
//! A (linearized set, state) pair seen before is not searched again
//! (Lowe's memoization; Porcupine does the same). Operations with an
//! unknown outcome return at infinity, so they may be linearized anywhere
//! after their call, or at the very end, which is "never" for everything
//! observed.

use crate::history::Op;
use crate::model::{apply, Interner, State, Step};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

/// The verdict for one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A valid order exists.
    Linearizable,
    /// No valid order exists; the text explains where the search got stuck.
    Violation(String),
    /// The search hit its step budget before deciding.
    Undecided,
}

/// What the check found for one key.
#[derive(Clone, Debug)]
pub struct KeyReport {
    /// The key.
    pub key: String,
    /// Operations checked (gets without an answer are not counted).
    pub ops: usize,
    /// Of these, writes whose outcome is unknown.
    pub unknown: usize,
    /// Search steps taken.
    pub steps: u64,
    /// The verdict.
    pub outcome: Outcome,
}

const NIL: usize = usize::MAX;

struct Node {
    op: usize,
    is_call: bool,
    partner: usize,
    prev: usize,
    next: usize,
}

struct List {
    n: Vec<Node>,
    head: usize,
}

impl List {
    fn unlink(&mut self, i: usize) {
        let (p, x) = (self.n[i].prev, self.n[i].next);
        self.n[p].next = x;
        if x != NIL {
            self.n[x].prev = p;
        }
    }
    fn relink(&mut self, i: usize) {
        let (p, x) = (self.n[i].prev, self.n[i].next);
        self.n[p].next = i;
        if x != NIL {
            self.n[x].prev = i;
        }
    }
    /// Takes call node `c` and its return out of the list.
    fn lift(&mut self, c: usize) {
        self.unlink(c);
        self.unlink(self.n[c].partner);
    }
    /// Puts them back (exact reverse of `lift`).
    fn unlift(&mut self, c: usize) {
        self.relink(self.n[c].partner);
        self.relink(c);
    }
}

/// A fixed pseudo-random 128-bit key per operation (splitmix64): the
/// linearized set is remembered as the XOR of its members' keys (Zobrist
/// hashing), updated in O(1) per step and 16 bytes per memo entry instead
/// of a bit set per entry. Two different sets colliding (about 2^-128 per
/// pair) could only prune a branch, i.e. report a violation that is not
/// there, never hide one.
fn op_keys(n: usize) -> Vec<u128> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    (0..n)
        .map(|_| (u128::from(next()) << 64) | u128::from(next()))
        .collect()
}

/// Checks the operations of one key (callers pass only that key's
/// operations), taking at most `budget` search steps.
pub fn check_key(key: &str, ops: &[&Op], budget: u64) -> KeyReport {
    let mut interner = Interner::default();
    let mut kept: Vec<(&Op, Step)> = Vec::new();
    for op in ops {
        if let Some(s) = interner.step(op) {
            kept.push((op, s));
        }
    }
    let unknown = kept.iter().filter(|(op, _)| op.ret.is_none()).count();
    // Events: (time, 0 = call / 1 = return, op index).
    let mut ev: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * kept.len());
    for (i, (op, _)) in kept.iter().enumerate() {
        ev.push((op.call, 0, i));
        ev.push((op.ret.unwrap_or(u64::MAX), 1, i));
    }
    ev.sort();
    let mut list = List {
        n: Vec::with_capacity(ev.len() + 1),
        head: 0,
    };
    list.n.push(Node {
        op: NIL,
        is_call: false,
        partner: NIL,
        prev: NIL,
        next: NIL,
    });
    let mut call_node = vec![NIL; kept.len()];
    for (k, &(_, kind, i)) in ev.iter().enumerate() {
        let idx = k + 1;
        let partner = if kind == 0 {
            call_node[i] = idx;
            NIL
        } else {
            list.n[call_node[i]].partner = idx;
            call_node[i]
        };
        list.n.push(Node {
            op: i,
            is_call: kind == 0,
            partner,
            prev: idx - 1,
            next: NIL,
        });
        list.n[idx - 1].next = idx;
    }

    let keys = op_keys(kept.len());
    let mut set_hash: u128 = 0;
    let mut seen: HashSet<(u128, State)> = HashSet::new();
    let mut stack: Vec<(usize, State)> = Vec::new();
    let mut state: State = 0;
    // The longest valid order found, kept up to date by copying only the
    // part of the stack that changed since it was last taken (`fresh_from`).
    let mut deepest: Vec<usize> = Vec::new();
    let mut deepest_state: State = 0;
    let mut fresh_from = 0usize;
    let mut steps = 0u64;
    let mut entry = list.n[list.head].next;
    let report = |outcome, steps| KeyReport {
        key: key.to_string(),
        ops: kept.len(),
        unknown,
        steps,
        outcome,
    };
    loop {
        if list.n[list.head].next == NIL {
            return report(Outcome::Linearizable, steps);
        }
        steps += 1;
        if steps > budget {
            return report(Outcome::Undecided, steps);
        }
        let node = &list.n[entry];
        if node.is_call {
            let op = node.op;
            let next = node.next;
            if let Some(s2) = apply(state, kept[op].1) {
                set_hash ^= keys[op];
                if seen.insert((set_hash, s2)) {
                    stack.push((entry, state));
                    state = s2;
                    list.lift(entry);
                    if stack.len() > deepest.len() {
                        deepest.truncate(fresh_from);
                        deepest.extend(stack[fresh_from..].iter().map(|&(c, _)| list.n[c].op));
                        fresh_from = stack.len();
                        deepest_state = state;
                    }
                    entry = list.n[list.head].next;
                    continue;
                }
                set_hash ^= keys[op];
            }
            entry = next;
        } else {
            let Some((c, prev_state)) = stack.pop() else {
                let text = explain(&kept, &interner, &deepest, deepest_state);
                return report(Outcome::Violation(text), steps);
            };
            state = prev_state;
            set_hash ^= keys[list.n[c].op];
            fresh_from = fresh_from.min(stack.len());
            list.unlift(c);
            entry = list.n[c].next;
        }
    }
}

/// Describes the deepest point the search reached: the tail of the longest
/// valid order found, the state it leaves, and the operations that could
/// not come next.
fn explain(kept: &[(&Op, Step)], names: &Interner, deepest: &[usize], state: State) -> String {
    let mut out = String::new();
    let in_order: HashSet<usize> = deepest.iter().copied().collect();
    let _ = writeln!(
        out,
        "longest valid order covers {} of {} operations; its last ones:",
        deepest.len(),
        kept.len()
    );
    for &i in deepest.iter().skip(deepest.len().saturating_sub(5)) {
        let _ = writeln!(out, "    {}  (line {})", kept[i].0, kept[i].0.line);
    }
    let name = names.name(state);
    let _ = writeln!(out, "  leaving the value {name}; then none of these fits:");
    // The operations not yet ordered whose call precedes the earliest
    // return among them: one of them had to come next.
    let rest: Vec<usize> = (0..kept.len()).filter(|i| !in_order.contains(i)).collect();
    let first_ret = rest
        .iter()
        .map(|&i| kept[i].0.ret.unwrap_or(u64::MAX))
        .min()
        .unwrap_or(u64::MAX);
    let mut candidates: BTreeMap<(u64, usize), usize> = BTreeMap::new();
    for &i in &rest {
        if kept[i].0.call <= first_ret {
            candidates.insert((kept[i].0.call, i), i);
        }
    }
    for (_, i) in candidates.into_iter().take(12) {
        let _ = writeln!(out, "    {}  (line {})", kept[i].0, kept[i].0.line);
    }
    out
}

/// Checks a whole history, key by key (in key order), each with `budget`
/// search steps.
pub fn check_history(ops: &[Op], budget: u64) -> Vec<KeyReport> {
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        by_key.entry(op.key.as_str()).or_default().push(op);
    }
    by_key
        .into_iter()
        .map(|(k, v)| check_key(k, &v, budget))
        .collect()
}

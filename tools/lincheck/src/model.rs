//! The sequential specification of one key: a register holding a value or
//! nothing, with put, get and compare-and-set. Values are interned to small
//! integers per key (0 = absent) so search states are cheap to hash.

use crate::history::{Input, Op, Output};
use std::collections::HashMap;

/// A register state: 0 is "absent", n > 0 the n-th distinct value.
pub type State = u32;

/// An operation with its values interned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// put(v) -> ok, or unknown.
    Put(State),
    /// get -> the given state.
    Get(State),
    /// cas(old, new) -> ok.
    CasOk(State, State),
    /// cas(old, _) -> mismatch, having found `found`.
    CasMismatch(State, State),
    /// cas(old, new) with no answer: sets when the register holds `old`.
    CasUnknown(State, State),
}

/// Interns values to states.
#[derive(Default)]
pub struct Interner {
    ids: HashMap<String, State>,
    names: Vec<String>,
}

impl Interner {
    fn id(&mut self, v: &Option<String>) -> State {
        match v {
            None => 0,
            Some(s) => {
                if let Some(&id) = self.ids.get(s) {
                    return id;
                }
                self.names.push(s.clone());
                let id = self.names.len() as State;
                self.ids.insert(s.clone(), id);
                id
            }
        }
    }

    /// The value a state stands for (`~` for absent).
    pub fn name(&self, state: State) -> &str {
        match state {
            0 => "~",
            n => self.names.get(n as usize - 1).map_or("?", |s| s.as_str()),
        }
    }

    /// The step an operation makes, or `None` for an operation that
    /// constrains nothing (a get whose answer never came).
    pub fn step(&mut self, op: &Op) -> Option<Step> {
        Some(match (&op.input, &op.output) {
            (Input::Put(v), _) => Step::Put(self.id(&Some(v.clone()))),
            (Input::Get, Output::Value(v)) => Step::Get(self.id(v)),
            (Input::Get, _) => return None,
            (Input::Cas { old, new }, Output::Ok) => {
                Step::CasOk(self.id(old), self.id(&Some(new.clone())))
            }
            (Input::Cas { old, .. }, Output::Mismatch(found)) => {
                Step::CasMismatch(self.id(old), self.id(found))
            }
            (Input::Cas { old, new }, _) => {
                Step::CasUnknown(self.id(old), self.id(&Some(new.clone())))
            }
        })
    }
}

/// Applies `step` to `state`: the next state, or `None` when the answer the
/// client got is impossible in that state.
pub fn apply(state: State, step: Step) -> Option<State> {
    match step {
        Step::Put(v) => Some(v),
        Step::Get(v) => (state == v).then_some(state),
        Step::CasOk(old, new) => (state == old).then_some(new),
        Step::CasMismatch(old, found) => (state != old && state == found).then_some(state),
        Step::CasUnknown(old, new) => Some(if state == old { new } else { state }),
    }
}

//! `node:status()` as a plain Lua table.

use mlua::prelude::*;
use raft_core::ProgressState;
use raft_core::Status;

use crate::pb::hardstate::LHardState;
use crate::pb::presence::Hs;
use crate::ready::soft_state_table;
use crate::util::u64_list;

fn progress_state_name(s: ProgressState) -> &'static str {
    match s {
        ProgressState::Probe => "StateProbe",
        ProgressState::Replicate => "StateReplicate",
        ProgressState::Snapshot => "StateSnapshot",
    }
}

/// Builds the status table:
/// `{id, hardstate, softstate={Lead, RaftState}, term, vote, commit, lead,
/// raft_state, applied, lead_transferee, voters, voters_outgoing, learners,
/// learners_next, auto_leave, progress}` where `progress` (leader only) maps
/// each peer id to `{match, next, state, recent_active, is_learner,
/// pending_snapshot}`.
pub fn status_table(lua: &Lua, st: &Status) -> LuaResult<LuaTable> {
    let t = lua.create_table()?;
    t.set("id", st.id as i64)?;
    t.set("hardstate", LHardState(Hs::full(st.hard_state)))?;
    t.set("softstate", soft_state_table(lua, &st.soft_state)?)?;
    t.set("term", st.hard_state.term as i64)?;
    t.set("vote", st.hard_state.vote as i64)?;
    t.set("commit", st.hard_state.commit as i64)?;
    t.set("lead", st.soft_state.leader_id as i64)?;
    t.set("raft_state", st.soft_state.raft_state as i64)?;
    t.set("applied", st.applied as i64)?;
    t.set("lead_transferee", st.lead_transferee as i64)?;
    t.set("voters", u64_list(lua, &st.config.voters)?)?;
    t.set(
        "voters_outgoing",
        u64_list(lua, &st.config.voters_outgoing)?,
    )?;
    t.set("learners", u64_list(lua, &st.config.learners)?)?;
    t.set("learners_next", u64_list(lua, &st.config.learners_next)?)?;
    t.set("auto_leave", st.config.auto_leave)?;
    if let Some(prs) = &st.progress {
        let p = lua.create_table()?;
        for (id, pr) in prs {
            let e = lua.create_table()?;
            e.set("match", pr.matched as i64)?;
            e.set("next", pr.next_idx as i64)?;
            e.set("state", progress_state_name(pr.state))?;
            e.set("recent_active", pr.recent_active)?;
            e.set("is_learner", pr.is_learner)?;
            e.set("pending_snapshot", pr.pending_snapshot as i64)?;
            p.set(*id as i64, e)?;
        }
        t.set("progress", p)?;
    }
    Ok(t)
}

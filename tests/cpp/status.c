/* The leader's per-peer progress (raft_rawnode_progress) and the membership
 * (raft_rawnode_conf_state) through the plain C API: the count protocol, a
 * follower that tracks no peers, and every field of a joint configuration
 * (voters_outgoing, learners_next, auto_leave) compared with what
 * raft_rawnode_apply_conf_change_v2 returned. */
#include <stdio.h>
#include <string.h>

#include "raft.h"

#define CHECK(c)                                                              \
    do {                                                                      \
        if (!(c)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, #c, \
                    raft_last_error());                                       \
            return 1;                                                         \
        }                                                                     \
    } while (0)

/* True if the id list (p, n) equals (want, want_n). */
static bool ids_eq(const uint64_t *p, size_t n, const uint64_t *want, size_t want_n) {
    size_t i;
    if (n != want_n) return false;
    for (i = 0; i < n; i++)
        if (p[i] != want[i]) return false;
    return true;
}

/* True if two membership views list the same ids and auto_leave flag. */
static bool conf_eq(const raft_conf_state *a, const raft_conf_state *b) {
    return ids_eq(a->voters, a->voters_len, b->voters, b->voters_len) &&
           ids_eq(a->learners, a->learners_len, b->learners, b->learners_len) &&
           ids_eq(a->voters_outgoing, a->voters_outgoing_len, b->voters_outgoing,
                  b->voters_outgoing_len) &&
           ids_eq(a->learners_next, a->learners_next_len, b->learners_next, b->learners_next_len) &&
           a->auto_leave == b->auto_leave;
}

/* Persists every pending Ready (entries and hard state) of a single node. */
static int drain(raft_rawnode *node, raft_memory_storage *ms) {
    bool has = false;
    CHECK(raft_rawnode_has_ready(node, &has) == RAFT_OK);
    while (has) {
        raft_ready *rd = NULL;
        const raft_entry *es = NULL;
        size_t n = 0;
        bool changed = false;
        raft_hard_state hs;
        CHECK(raft_rawnode_ready(node, &rd) == RAFT_OK);
        CHECK(raft_ready_entries(rd, &es, &n) == RAFT_OK);
        CHECK(raft_memory_storage_append(ms, es, n) == RAFT_OK);
        CHECK(raft_ready_hard_state(rd, &changed, &hs) == RAFT_OK);
        if (changed) CHECK(raft_memory_storage_set_hard_state(ms, &hs) == RAFT_OK);
        raft_ready_free(&rd);
        CHECK(raft_rawnode_advance(node) == RAFT_OK);
        CHECK(raft_rawnode_has_ready(node, &has) == RAFT_OK);
    }
    return 0;
}

/* Applies a v2 change on `node` and checks that raft_rawnode_conf_state
 * then reports the membership the apply returned and `want`. */
static int apply_v2(raft_rawnode *node, int32_t transition, const raft_conf_change_single *changes,
                    size_t len, const raft_conf_state *want) {
    raft_conf_change_v2 cc;
    raft_decoded *d1 = NULL, *d2 = NULL;
    raft_conf_state applied, now;
    memset(&cc, 0, sizeof cc);
    cc.transition = transition;
    cc.changes = changes;
    cc.changes_len = len;
    CHECK(raft_rawnode_apply_conf_change_v2(node, &cc, &d1, &applied) == RAFT_OK);
    CHECK(raft_rawnode_conf_state(node, &d2, &now) == RAFT_OK);
    CHECK(d2 != NULL && d2 != d1);
    CHECK(conf_eq(&now, &applied));
    CHECK(conf_eq(&now, want));
    raft_decoded_free(&d1);
    /* The second view is independent of the first owner. */
    CHECK(conf_eq(&now, want));
    raft_decoded_free(&d2);
    CHECK(d2 == NULL);
    return 0;
}

/* Fetches the leader's progress with the count protocol into `out` (at most
 * `cap` peers) and stores the count in `*n`. */
static int progress(raft_rawnode *node, raft_progress *out, size_t cap, size_t *n) {
    size_t count = 12345;
    CHECK(raft_rawnode_progress(node, NULL, &count) == RAFT_OK);
    CHECK(count <= cap);
    *n = cap;
    CHECK(raft_rawnode_progress(node, out, n) == RAFT_OK);
    CHECK(*n == count);
    return 0;
}

int main(void) {
    raft_memory_storage *ms = NULL, *fms = NULL;
    raft_rawnode *node = NULL, *follower = NULL;
    raft_config cfg;
    raft_conf_state cs;
    raft_decoded *d = NULL;
    raft_progress ps[4];
    raft_status st;
    uint64_t last = 0;
    size_t n = 0;
    const uint64_t three[] = {1, 2, 3}, v1[] = {1}, v12[] = {1, 2}, v13[] = {1, 3}, v2[] = {2};

    CHECK(raft_abi_version() == RAFT_ABI_VERSION);

    /* A follower of a 3-voter configuration knows its membership but
     * tracks no peers. */
    memset(&cs, 0, sizeof cs);
    cs.voters = three;
    cs.voters_len = 3;
    CHECK(raft_memory_storage_new_with_conf_state(&cs, &fms) == RAFT_OK);
    CHECK(raft_config_init(&cfg, 2) == RAFT_OK);
    cfg.log_level = RAFT_LOG_OFF;
    CHECK(raft_rawnode_new(&cfg, fms, &follower) == RAFT_OK);
    CHECK(raft_rawnode_conf_state(follower, &d, &cs) == RAFT_OK);
    CHECK(ids_eq(cs.voters, cs.voters_len, three, 3) && cs.learners_len == 0 &&
          cs.voters_outgoing_len == 0 && cs.learners_next_len == 0 && !cs.auto_leave);
    raft_decoded_free(&d);
    n = 7;
    CHECK(raft_rawnode_progress(follower, NULL, &n) == RAFT_OK && n == 0);
    n = 0;
    CHECK(raft_rawnode_progress(follower, ps, &n) == RAFT_OK && n == 0);
    raft_rawnode_free(&follower);
    raft_memory_storage_free(&fms);

    /* A single-voter leader. */
    CHECK(raft_memory_storage_new(&ms) == RAFT_OK);
    CHECK(raft_config_init(&cfg, 1) == RAFT_OK);
    cfg.log_level = RAFT_LOG_OFF;
    CHECK(raft_rawnode_new(&cfg, ms, &node) == RAFT_OK);
    CHECK(raft_rawnode_bootstrap(node, v1, 1) == RAFT_OK);
    if (drain(node, ms)) return 1;
    CHECK(raft_rawnode_campaign(node) == RAFT_OK);
    if (drain(node, ms)) return 1;
    CHECK(raft_rawnode_status(node, &st) == RAFT_OK && st.raft_state == RAFT_STATE_LEADER);
    CHECK(raft_memory_storage_last_index(ms, &last) == RAFT_OK && last >= 2);

    if (progress(node, ps, 4, &n)) return 1;
    CHECK(n == 1 && ps[0].id == 1);
    CHECK(ps[0].state == RAFT_PROGRESS_STATE_REPLICATE);
    CHECK(ps[0].match == last && ps[0].next == last + 1);
    CHECK(ps[0].recent_active && !ps[0].paused && !ps[0].is_learner);
    CHECK(ps[0].pending_snapshot == 0 && ps[0].inflight_count == 0);

    /* Add voter 2 (simple change). */
    {
        raft_conf_change_single add2 = {RAFT_CONF_CHANGE_ADD_NODE, 2};
        raft_conf_state want;
        memset(&want, 0, sizeof want);
        want.voters = v12;
        want.voters_len = 2;
        if (apply_v2(node, RAFT_CONF_CHANGE_TRANSITION_AUTO, &add2, 1, &want)) return 1;
    }
    if (progress(node, ps, 4, &n)) return 1;
    CHECK(n == 2 && ps[0].id == 1 && ps[1].id == 2);
    CHECK(ps[1].state == RAFT_PROGRESS_STATE_PROBE && ps[1].match == 0 && !ps[1].is_learner);

    /* Demote 2 to learner through an explicit joint configuration: 2 stays
     * a voter of the outgoing half and becomes a learner on leaving. */
    {
        raft_conf_change_single demote2 = {RAFT_CONF_CHANGE_ADD_LEARNER_NODE, 2};
        raft_conf_state want;
        memset(&want, 0, sizeof want);
        want.voters = v1;
        want.voters_len = 1;
        want.voters_outgoing = v12;
        want.voters_outgoing_len = 2;
        want.learners_next = v2;
        want.learners_next_len = 1;
        want.auto_leave = false;
        if (apply_v2(node, RAFT_CONF_CHANGE_TRANSITION_JOINT_EXPLICIT, &demote2, 1, &want)) return 1;
    }
    if (progress(node, ps, 4, &n)) return 1;
    CHECK(n == 2 && ps[1].id == 2 && !ps[1].is_learner);

    /* Leave the joint configuration (empty v2 change). */
    {
        raft_conf_state want;
        memset(&want, 0, sizeof want);
        want.voters = v1;
        want.voters_len = 1;
        want.learners = v2;
        want.learners_len = 1;
        if (apply_v2(node, RAFT_CONF_CHANGE_TRANSITION_AUTO, NULL, 0, &want)) return 1;
    }
    if (progress(node, ps, 4, &n)) return 1;
    CHECK(n == 2 && ps[1].id == 2 && ps[1].is_learner && !ps[0].is_learner);

    /* An implicit joint change is left automatically: auto_leave is set. */
    {
        raft_conf_change_single add3 = {RAFT_CONF_CHANGE_ADD_NODE, 3};
        raft_conf_state want;
        memset(&want, 0, sizeof want);
        want.voters = v13;
        want.voters_len = 2;
        want.voters_outgoing = v1;
        want.voters_outgoing_len = 1;
        want.learners = v2;
        want.learners_len = 1;
        want.auto_leave = true;
        if (apply_v2(node, RAFT_CONF_CHANGE_TRANSITION_JOINT_IMPLICIT, &add3, 1, &want)) return 1;
    }
    if (progress(node, ps, 4, &n)) return 1;
    CHECK(n == 3 && ps[0].id == 1 && ps[1].id == 2 && ps[2].id == 3);
    CHECK(ps[1].is_learner && !ps[2].is_learner);

    /* The leader's own match follows what it has persisted: a proposal
     * raises it only after its Ready was written to storage. */
    CHECK(raft_memory_storage_last_index(ms, &last) == RAFT_OK);
    if (progress(node, ps, 4, &n)) return 1;
    CHECK(ps[0].match == last);
    CHECK(raft_rawnode_propose(node, (const uint8_t *)"x", 1) == RAFT_OK);
    if (progress(node, ps, 4, &n)) return 1;
    CHECK(ps[0].match == last);
    if (drain(node, ms)) return 1;
    if (progress(node, ps, 4, &n)) return 1;
    CHECK(ps[0].match == last + 1 && ps[0].next == last + 2);

    raft_rawnode_free(&node);
    raft_memory_storage_free(&ms);
    CHECK(node == NULL && ms == NULL);
    printf("status: ok\n");
    return 0;
}

/* A plain C11 program using only raft.h: checks the ABI version and runs a
 * single-node flow (bootstrap, campaign, propose, apply). */
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

static int applied_hello = 0;

/* Persists and applies every pending Ready. */
static int drain(raft_rawnode *node, raft_memory_storage *ms) {
    bool has = false;
    CHECK(raft_rawnode_has_ready(node, &has) == RAFT_OK);
    while (has) {
        raft_ready *rd = NULL;
        const raft_entry *es = NULL;
        size_t n = 0, i;
        bool changed = false;
        raft_hard_state hs;
        CHECK(raft_rawnode_ready(node, &rd) == RAFT_OK);
        CHECK(raft_ready_entries(rd, &es, &n) == RAFT_OK);
        CHECK(raft_memory_storage_append(ms, es, n) == RAFT_OK);
        CHECK(raft_ready_hard_state(rd, &changed, &hs) == RAFT_OK);
        if (changed) CHECK(raft_memory_storage_set_hard_state(ms, &hs) == RAFT_OK);
        CHECK(raft_ready_committed_entries(rd, &es, &n) == RAFT_OK);
        for (i = 0; i < n; i++) {
            if (es[i].entry_type == RAFT_ENTRY_CONF_CHANGE) {
                raft_decoded *d = NULL;
                raft_conf_change cc;
                raft_conf_state cs;
                raft_decoded *csd = NULL;
                CHECK(raft_conf_change_decode(es[i].data.data, es[i].data.len, &d, &cc) == RAFT_OK);
                CHECK(raft_rawnode_apply_conf_change(node, &cc, &csd, &cs) == RAFT_OK);
                CHECK(cs.voters_len == 1 && cs.voters[0] == 1);
                raft_decoded_free(&csd);
                raft_decoded_free(&d);
            } else if (es[i].data.len == 5 && memcmp(es[i].data.data, "hello", 5) == 0) {
                applied_hello++;
            }
        }
        raft_ready_free(&rd);
        CHECK(rd == NULL);
        CHECK(raft_rawnode_advance(node) == RAFT_OK);
        CHECK(raft_rawnode_has_ready(node, &has) == RAFT_OK);
    }
    return 0;
}

int main(void) {
    raft_config cfg;
    raft_memory_storage *ms = NULL;
    raft_rawnode *node = NULL;
    raft_status st;
    const uint64_t peers[] = {1};
    const uint8_t hello[] = {'h', 'e', 'l', 'l', 'o'};

    CHECK(raft_abi_version() == RAFT_ABI_VERSION);
    CHECK(raft_config_init(&cfg, 1) == RAFT_OK);
    cfg.log_level = RAFT_LOG_OFF;
    CHECK(raft_memory_storage_new(&ms) == RAFT_OK);
    CHECK(raft_rawnode_new(&cfg, ms, &node) == RAFT_OK);
    CHECK(raft_rawnode_bootstrap(node, peers, 1) == RAFT_OK);
    CHECK(drain(node, ms) == 0);
    CHECK(raft_rawnode_campaign(node) == RAFT_OK);
    CHECK(drain(node, ms) == 0);
    CHECK(raft_rawnode_status(node, &st) == RAFT_OK);
    CHECK(st.raft_state == RAFT_STATE_LEADER && st.leader_id == 1);
    CHECK(raft_rawnode_propose(node, hello, sizeof hello) == RAFT_OK);
    CHECK(drain(node, ms) == 0);
    CHECK(applied_hello == 1);
    CHECK(raft_rawnode_status(node, &st) == RAFT_OK && st.commit >= 3);
    raft_rawnode_free(&node);
    raft_memory_storage_free(&ms);
    CHECK(node == NULL && ms == NULL);
    printf("smoke: ok (abi %u)\n", raft_abi_version());
    return 0;
}

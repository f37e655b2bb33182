/* Ready before advance (etcd's acceptReady): a Ready taken just to look may
 * be followed by another before raft_rawnode_advance while nothing awaits
 * acknowledgement; every raft_ready stays valid until its own free; a second
 * Ready while one awaits advance is RAFT_ERR_MISUSE and changes nothing.
 * Node 1 of three voters campaigns, leads, replicates two proposals; nothing
 * is lost and nothing is handed out twice. */
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

#define MAX_SEEN 64

static uint64_t entries_seen[MAX_SEEN];
static size_t n_entries_seen = 0;
static uint64_t committed_seen[MAX_SEEN];
static size_t n_committed_seen = 0;

/* Steps a message of type `t` from `from` to node 1 at term 2 (bootstrap
 * is term 1, the campaign term 2). */
static int step_from(raft_rawnode *node, int32_t t, uint64_t from, uint64_t index) {
    raft_message m;
    raft_buf b;
    memset(&m, 0, sizeof m);
    m.msg_type = t;
    m.from = from;
    m.to = 1;
    m.term = 2;
    m.index = index;
    CHECK(raft_message_encode(&m, &b) == RAFT_OK);
    CHECK(raft_rawnode_step(node, b.data, b.len) == RAFT_OK);
    raft_buf_free(&b);
    return 0;
}

/* Persists a Ready, records what it handed out, and collects the follower
 * acknowledgements of its appends into `acks` (the last index per peer). */
static int take(raft_rawnode *node, raft_memory_storage *ms, raft_ready *rd, uint64_t acks[4]) {
    const raft_entry *es = NULL;
    const raft_envelope *env = NULL;
    size_t n = 0, i;
    bool changed = false;
    raft_hard_state hs;
    (void)node;
    CHECK(raft_ready_entries(rd, &es, &n) == RAFT_OK);
    CHECK(raft_memory_storage_append(ms, es, n) == RAFT_OK);
    for (i = 0; i < n; i++) {
        CHECK(n_entries_seen < MAX_SEEN);
        entries_seen[n_entries_seen++] = es[i].index;
    }
    CHECK(raft_ready_hard_state(rd, &changed, &hs) == RAFT_OK);
    if (changed) CHECK(raft_memory_storage_set_hard_state(ms, &hs) == RAFT_OK);
    CHECK(raft_ready_committed_entries(rd, &es, &n) == RAFT_OK);
    for (i = 0; i < n; i++) {
        CHECK(n_committed_seen < MAX_SEEN);
        committed_seen[n_committed_seen++] = es[i].index;
    }
    CHECK(raft_ready_messages(rd, &env, &n) == RAFT_OK);
    for (i = 0; i < n; i++) {
        if (env[i].msg_type == RAFT_MSG_APP && env[i].to < 4) {
            raft_decoded *d = NULL;
            raft_message m;
            uint64_t last;
            CHECK(raft_message_decode(env[i].bytes.data, env[i].bytes.len, &d, &m) == RAFT_OK);
            last = m.entries_len ? m.entries[m.entries_len - 1].index : m.index;
            if (last > acks[env[i].to]) acks[env[i].to] = last;
            raft_decoded_free(&d);
        }
    }
    return 0;
}

int main(void) {
    raft_config cfg;
    raft_memory_storage *ms = NULL;
    raft_rawnode *node = NULL;
    raft_ready *look = NULL, *rd = NULL, *again = NULL;
    const raft_envelope *env = NULL;
    size_t n = 0, i, j;
    bool has = false;
    uint64_t acks[4] = {0, 0, 0, 0};
    const uint64_t peers[] = {1, 2, 3};
    const uint8_t a[] = {'a'}, b[] = {'b'};
    int round;

    CHECK(raft_config_init(&cfg, 1) == RAFT_OK);
    cfg.log_level = RAFT_LOG_OFF;
    CHECK(raft_memory_storage_new(&ms) == RAFT_OK);
    CHECK(raft_rawnode_new(&cfg, ms, &node) == RAFT_OK);
    CHECK(raft_rawnode_bootstrap(node, peers, 3) == RAFT_OK);
    CHECK(raft_rawnode_ready(node, &rd) == RAFT_OK);
    CHECK(take(node, ms, rd, acks) == 0);
    raft_ready_free(&rd);
    CHECK(raft_rawnode_advance(node) == RAFT_OK);
    n_entries_seen = n_committed_seen = 0;

    /* An empty Ready taken to look, kept alive and never advanced. */
    CHECK(raft_rawnode_has_ready(node, &has) == RAFT_OK && !has);
    CHECK(raft_rawnode_ready(node, &look) == RAFT_OK);
    CHECK(raft_ready_messages(look, &env, &n) == RAFT_OK && n == 0);

    /* The campaign's Ready while `look` is alive: two votes to send. */
    CHECK(raft_rawnode_campaign(node) == RAFT_OK);
    CHECK(raft_rawnode_ready(node, &rd) == RAFT_OK);
    CHECK(raft_ready_messages(rd, &env, &n) == RAFT_OK && n == 2);
    CHECK(env[0].msg_type == RAFT_MSG_VOTE && env[1].msg_type == RAFT_MSG_VOTE);
    CHECK(take(node, ms, rd, acks) == 0);
    /* It carries the candidate's own vote for advance: a third is refused. */
    CHECK(raft_rawnode_ready(node, &again) == RAFT_ERR_MISUSE);
    CHECK(again == NULL);
    CHECK(strstr(raft_rawnode_last_error(node), "awaits advance") != NULL);
    CHECK(raft_rawnode_advance(node) == RAFT_OK);
    /* Both Readys' views are still readable after advance. */
    CHECK(raft_ready_messages(look, &env, &n) == RAFT_OK && n == 0);
    CHECK(raft_ready_messages(rd, &env, &n) == RAFT_OK && n == 2 && env[1].to == 3);
    raft_ready_free(&look);
    raft_ready_free(&rd);
    CHECK(raft_rawnode_advance(node) == RAFT_ERR_MISUSE);

    CHECK(step_from(node, RAFT_MSG_VOTE_RESP, 2, 0) == 0);
    CHECK(step_from(node, RAFT_MSG_VOTE_RESP, 3, 0) == 0);
    CHECK(raft_rawnode_propose(node, a, 1) == RAFT_OK);
    CHECK(raft_rawnode_propose(node, b, 1) == RAFT_OK);
    for (round = 0; round < 20; round++) {
        uint64_t peer;
        CHECK(raft_rawnode_has_ready(node, &has) == RAFT_OK);
        if (!has) break;
        CHECK(raft_rawnode_ready(node, &rd) == RAFT_OK);
        CHECK(take(node, ms, rd, acks) == 0);
        raft_ready_free(&rd);
        CHECK(raft_rawnode_advance(node) == RAFT_OK);
        for (peer = 2; peer <= 3; peer++)
            if (acks[peer]) CHECK(step_from(node, RAFT_MSG_APP_RESP, peer, acks[peer]) == 0);
    }
    /* Each index handed out once for appending and once for applying. */
    CHECK(n_entries_seen == 3 && n_committed_seen == 3);
    for (i = 0; i < 3; i++) {
        CHECK(committed_seen[i] == 4 + i);
        for (j = 0; j < i; j++) CHECK(entries_seen[i] != entries_seen[j]);
    }

    raft_rawnode_free(&node);
    raft_memory_storage_free(&ms);
    printf("ready_twice: ok\n");
    return 0;
}

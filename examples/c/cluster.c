/* A three-node Raft cluster in one process, written against the installed C
 * library (raft.h, found with pkg-config): elect a leader, replicate
 * proposals, restart one node from its persisted state, and check that it
 * applies nothing twice.
 *
 * "Persisted state" is simulated: each node's raft_memory_storage (log and
 * hard state) and its applied index survive while the raft_rawnode is freed
 * and created again. A real program writes the same three things to disk in
 * the same order (see the README, "Start, restart, join").
 *
 *   cc -std=c11 cluster.c $(pkg-config --cflags --libs raft) \
 *      -Wl,-rpath,$(pkg-config --variable=libdir raft) -o cluster
 */
#include <raft.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call) check((call), #call, __LINE__)
#define MAXMSG 4096

typedef struct {
    uint64_t id, applied, commands; /* applied index + application state */
    raft_memory_storage *storage;   /* the node's "disk": log and hard state */
    raft_rawnode *raw;              /* NULL while the node is down */
} node;
typedef struct { uint64_t to; size_t len; uint8_t *bytes; } mail;

static node nodes[3];
static mail net[MAXMSG];
static size_t head, tail;

static void check(raft_result rc, const char *what, int line) {
    if (rc == RAFT_OK) return;
    fprintf(stderr, "line %d: %s: %s (%s)\n", line, what, raft_result_str(rc), raft_last_error());
    exit(1);
}

/* Starts (or restarts) a node; on restart cfg.applied says what was applied. */
static void start(node *n, const uint64_t *peers, size_t npeers) {
    raft_config cfg;
    CHECK(raft_config_init(&cfg, n->id));
    cfg.election_tick = 10;
    cfg.heartbeat_tick = 1;
    cfg.applied = n->applied;
    CHECK(raft_rawnode_new(&cfg, n->storage, &n->raw));
    if (npeers > 0) CHECK(raft_rawnode_bootstrap(n->raw, peers, npeers)); /* first start only */
}

/* The Ready loop: persist, send, apply, then advance. */
static void handle_ready(node *n) {
    bool has = false;
    for (CHECK(raft_rawnode_has_ready(n->raw, &has)); has; CHECK(raft_rawnode_has_ready(n->raw, &has))) {
        raft_ready *rd = NULL;
        const raft_entry *ents;
        const raft_envelope *msgs;
        size_t len;
        bool present;
        raft_snapshot snap;
        raft_hard_state hs;
        CHECK(raft_rawnode_ready(n->raw, &rd));
        /* 1. Persist before sending (fsync when raft_ready_must_sync says so). */
        CHECK(raft_ready_snapshot(rd, &present, &snap));
        if (present) CHECK(raft_memory_storage_apply_snapshot(n->storage, &snap));
        CHECK(raft_ready_entries(rd, &ents, &len));
        CHECK(raft_memory_storage_append(n->storage, ents, len));
        CHECK(raft_ready_hard_state(rd, &present, &hs));
        if (present) CHECK(raft_memory_storage_set_hard_state(n->storage, &hs));
        /* 2. Send (copies: the views die with the Ready). */
        CHECK(raft_ready_messages(rd, &msgs, &len));
        for (size_t i = 0; i < len; i++, tail++) {
            if (tail - head == MAXMSG) { fprintf(stderr, "network full\n"); exit(1); }
            mail *m = &net[tail % MAXMSG];
            m->to = msgs[i].to, m->len = msgs[i].bytes.len, m->bytes = malloc(m->len + 1);
            memcpy(m->bytes, msgs[i].bytes.data, m->len);
        }
        /* 3. Apply committed entries; record the applied index with the state. */
        CHECK(raft_ready_committed_entries(rd, &ents, &len));
        for (size_t i = 0; i < len; i++) {
            if (ents[i].entry_type == RAFT_ENTRY_CONF_CHANGE) {
                raft_decoded *d = NULL, *dcs = NULL; /* own the views of cc and cs */
                raft_conf_change cc;
                raft_conf_state cs;
                CHECK(raft_conf_change_decode(ents[i].data.data, ents[i].data.len, &d, &cc));
                CHECK(raft_rawnode_apply_conf_change(n->raw, &cc, &dcs, &cs));
                raft_decoded_free(&dcs);
                raft_decoded_free(&d);
            } else if (ents[i].data.len > 0) {
                n->commands++;
            }
            n->applied = ents[i].index;
        }
        raft_ready_free(&rd);
        CHECK(raft_rawnode_advance(n->raw));
    }
}

/* Delivers messages until the network is quiet; a down node drops its mail. */
static void run(void) {
    for (int i = 0; i < 3; i++) if (nodes[i].raw) handle_ready(&nodes[i]);
    for (; head != tail; head++) {
        mail m = net[head % MAXMSG];
        node *n = &nodes[m.to - 1];
        if (n->raw) CHECK(raft_rawnode_step(n->raw, m.bytes, m.len)), handle_ready(n);
        free(m.bytes);
    }
}

static node *leader(void) {
    raft_status st;
    for (int i = 0; i < 3; i++) {
        if (!nodes[i].raw) continue;
        CHECK(raft_rawnode_status(nodes[i].raw, &st));
        if (st.raft_state == RAFT_STATE_LEADER) return &nodes[i];
    }
    return NULL;
}

static void propose(int from, int to) {
    char cmd[32];
    for (int i = from; i < to; i++) {
        int len = snprintf(cmd, sizeof cmd, "cmd-%d", i);
        CHECK(raft_rawnode_propose(leader()->raw, (const uint8_t *)cmd, (size_t)len));
        run();
    }
}

int main(void) {
    const uint64_t peers[] = {1, 2, 3};
    printf("raft %s\n", raft_version());
    for (int i = 0; i < 3; i++) {
        nodes[i].id = (uint64_t)i + 1;
        CHECK(raft_memory_storage_new(&nodes[i].storage));
        start(&nodes[i], peers, 3);
    }
    for (int t = 0; !leader(); t++) {
        if (t > 1000) { fprintf(stderr, "no leader elected\n"); return 1; }
        for (int i = 0; i < 3; i++) CHECK(raft_rawnode_tick(nodes[i].raw));
        run();
    }
    printf("node %llu is leader\n", (unsigned long long)leader()->id);
    propose(0, 50);

    node *f = leader() == &nodes[0] ? &nodes[1] : &nodes[0];
    printf("restarting node %llu (applied index %llu, %llu commands)\n", (unsigned long long)f->id,
           (unsigned long long)f->applied, (unsigned long long)f->commands);
    raft_rawnode_free(&f->raw); /* the process stops... */
    start(f, NULL, 0);          /* ...and starts again from its storage */
    propose(50, 100);
    for (int t = 0; t < 5; t++) {
        for (int i = 0; i < 3; i++) CHECK(raft_rawnode_tick(nodes[i].raw));
        run();
    }
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        printf("node %llu applied %llu commands up to index %llu\n", (unsigned long long)nodes[i].id,
               (unsigned long long)nodes[i].commands, (unsigned long long)nodes[i].applied);
        ok = ok && nodes[i].commands == 100 && nodes[i].applied == nodes[0].applied;
        raft_rawnode_free(&nodes[i].raw);
        raft_memory_storage_free(&nodes[i].storage);
    }
    printf(ok ? "ok: every node applied the 100 commands once\n" : "FAILED: the nodes disagree\n");
    return ok ? 0 : 1;
}

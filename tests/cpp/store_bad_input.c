/* Bad input to the durable store's C API: NULL arguments, bad paths, a
 * second open of the same directory, calls out of range, and use after
 * close all return a code and a message; nothing crashes. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "raft.h"

#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

static void rm_rf(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

int main(void) {
    char tmpl[] = "/tmp/raft-store-bad-XXXXXX";
    CHECK(mkdtemp(tmpl) != NULL);
    char path[256], file[256];
    snprintf(path, sizeof path, "%s/db", tmpl);
    snprintf(file, sizeof file, "%s/plain-file", tmpl);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    fputs("not a database", f);
    fclose(f);

    raft_store_options o;
    CHECK(raft_store_options_init(NULL) == RAFT_ERR_NULL);
    CHECK(raft_store_options_init(&o) == RAFT_OK);
    CHECK(o.sync && o.cache_bytes > 0 && o.path == NULL);

    raft_store *s = NULL;
    CHECK(raft_store_open(NULL, &s) == RAFT_ERR_NULL);
    CHECK(raft_store_open(&o, &s) == RAFT_ERR_NULL); /* path NULL */
    CHECK(strstr(raft_last_error(), "path") != NULL);
    o.path = "";
    CHECK(raft_store_open(&o, &s) == RAFT_ERR_INVALID_ARGUMENT);
    o.path = file; /* a regular file, not a directory */
    CHECK(raft_store_open(&o, &s) == RAFT_ERR_STORAGE);
    CHECK(strlen(raft_last_error()) > 0);
    CHECK(s == NULL);
    o.path = path;
    CHECK(raft_store_open(&o, NULL) == RAFT_ERR_NULL);
    CHECK(raft_store_open(&o, &s) == RAFT_OK && s != NULL);

    /* A second open of the same directory. */
    raft_store *s2 = NULL;
    CHECK(raft_store_open(&o, &s2) == RAFT_ERR_STORAGE);
    CHECK(strstr(raft_last_error(), "locked") != NULL);
    CHECK(s2 == NULL);

    raft_store_group *g = NULL;
    CHECK(raft_store_open_group(NULL, 1, &g) == RAFT_ERR_NULL);
    CHECK(raft_store_open_group(s, 1, NULL) == RAFT_ERR_NULL);
    CHECK(raft_store_open_group(s, UINT64_MAX, &g) == RAFT_OK);

    uint64_t idx = 0;
    CHECK(raft_store_group_last_index(g, NULL) == RAFT_ERR_NULL);
    CHECK(raft_store_group_last_index(NULL, &idx) == RAFT_ERR_NULL);
    CHECK(raft_store_group_last_index(g, &idx) == RAFT_OK && idx == 0);
    CHECK(raft_store_group_persist_ready(g, NULL) == RAFT_ERR_NULL);
    CHECK(raft_store_group_persist_ready(NULL, NULL) == RAFT_ERR_NULL);
    CHECK(raft_store_group_append(g, NULL, 3) == RAFT_ERR_NULL);
    CHECK(raft_store_group_set_hard_state(g, NULL) == RAFT_ERR_NULL);
    CHECK(raft_store_group_apply_snapshot(g, NULL) == RAFT_ERR_NULL);

    raft_entry es[2];
    memset(es, 0, sizeof es);
    es[0].index = 1;
    es[0].term = 1;
    es[1].index = 3; /* not consecutive */
    es[1].term = 1;
    CHECK(raft_store_group_append(g, es, 2) == RAFT_ERR_INVARIANT);
    CHECK(strlen(raft_store_group_last_error(g)) > 0);
    es[1].index = 2;
    es[1].entry_type = 99; /* unknown entry type */
    CHECK(raft_store_group_append(g, es, 2) == RAFT_ERR_INVALID_ARGUMENT);
    es[1].entry_type = 0;
    CHECK(raft_store_group_append(g, es, 2) == RAFT_OK);
    CHECK(raft_store_group_compact(g, UINT64_MAX) == RAFT_ERR_INVARIANT);
    CHECK(raft_store_group_compact(g, 0) == RAFT_ERR_COMPACTED);
    CHECK(raft_store_group_create_snapshot(g, UINT64_MAX, NULL, NULL, 0) == RAFT_ERR_INVARIANT);
    CHECK(raft_store_group_create_snapshot(g, 1, NULL, NULL, 5) == RAFT_ERR_NULL);
    CHECK(raft_store_group_create_snapshot(g, 1, NULL, (const uint8_t *)"abc", 3) == RAFT_OK);
    CHECK(raft_store_group_create_snapshot(g, 1, NULL, NULL, 0) == RAFT_ERR_SNAPSHOT_OUT_OF_DATE);
    CHECK(raft_store_group_compact(g, 2) == RAFT_OK);

    /* Hard state and snapshots round-trip through the C calls. */
    raft_hard_state hs = {3, 2, 2}, hs_back;
    memset(&hs_back, 0, sizeof hs_back);
    CHECK(raft_store_group_set_hard_state(g, &hs) == RAFT_OK);
    CHECK(raft_store_group_hard_state(g, &hs_back) == RAFT_OK);
    CHECK(hs_back.term == 3 && hs_back.vote == 2 && hs_back.commit == 2);
    uint64_t voters[2] = {1, 2};
    raft_snapshot snap;
    memset(&snap, 0, sizeof snap);
    snap.index = 10;
    snap.term = 3;
    snap.data.data = (const uint8_t *)"state@10";
    snap.data.len = 8;
    snap.conf_state.voters = voters;
    snap.conf_state.voters_len = 2;
    CHECK(raft_store_group_apply_snapshot(g, &snap) == RAFT_OK);
    CHECK(raft_store_group_apply_snapshot(g, &snap) == RAFT_ERR_SNAPSHOT_OUT_OF_DATE);
    snap.index = 11;
    snap.conf_state.voters = NULL; /* NULL array with a length */
    CHECK(raft_store_group_apply_snapshot(g, &snap) == RAFT_ERR_NULL);
    raft_decoded *d = NULL;
    raft_snapshot back;
    CHECK(raft_store_group_snapshot(g, &d, NULL) == RAFT_ERR_NULL);
    CHECK(raft_store_group_snapshot(g, &d, &back) == RAFT_OK);
    CHECK(back.index == 10 && back.term == 3 && back.data.len == 8);
    CHECK(memcmp(back.data.data, "state@10", 8) == 0);
    CHECK(back.conf_state.voters_len == 2 && back.conf_state.voters[1] == 2);
    raft_decoded_free(&d);
    CHECK(raft_store_group_first_index(g, &idx) == RAFT_OK && idx == 11);
    CHECK(raft_store_group_last_index(g, &idx) == RAFT_OK && idx == 10);

    raft_config cfg;
    CHECK(raft_config_init(&cfg, 1) == RAFT_OK);
    raft_rawnode *n = NULL;
    CHECK(raft_rawnode_new_on_store_group(&cfg, NULL, &n) == RAFT_ERR_NULL);
    CHECK(raft_rawnode_new_on_store_group(NULL, g, &n) == RAFT_ERR_NULL);
    cfg.election_tick = 0;
    CHECK(raft_rawnode_new_on_store_group(&cfg, g, &n) == RAFT_ERR_CONFIG_INVALID);
    CHECK(n == NULL);

    /* After close, every call on the store and its groups fails cleanly. */
    CHECK(raft_store_close(s) == RAFT_OK);
    CHECK(raft_store_group_last_index(g, &idx) == RAFT_ERR_STORAGE);
    CHECK(strstr(raft_store_group_last_error(g), "closed") != NULL);
    CHECK(raft_store_open_group(s, 2, &g) == RAFT_ERR_STORAGE);
    /* ... and the directory can be opened again. */
    CHECK(raft_store_open(&o, &s2) == RAFT_OK);
    raft_store_group *g2 = NULL;
    CHECK(raft_store_open_group(s2, UINT64_MAX, &g2) == RAFT_OK);
    CHECK(raft_store_group_first_index(g2, &idx) == RAFT_OK && idx == 11);
    CHECK(raft_store_drop_group(s2, UINT64_MAX) == RAFT_OK);

    raft_store_group_free(&g);
    raft_store_group_free(&g2);
    raft_store_free(&s);
    raft_store_free(&s2);
    CHECK(s == NULL && g == NULL);
    raft_store_free(NULL);
    raft_store_group_free(NULL);
    rm_rf(tmpl);
    printf("store_bad_input: ok\n");
    return 0;
}

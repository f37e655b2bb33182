// The durable variant of the cluster test, through the C++ wrapper: three
// nodes, each persisting every Ready through its own raft::Store (one
// LevelDB directory per node), replicate proposals; node 3 compacts its log
// behind a snapshot, is then shut down (node, group and store destroyed)
// and restarted from its directory alone: it must come back with the same
// hard state, log and snapshot, rebuild its state machine from them, and
// keep up with new proposals. A second open of a live directory fails.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "raft.hpp"

#define CHECK(c)                                                                       \
    do {                                                                               \
        if (!(c)) {                                                                    \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
            std::exit(1);                                                              \
        }                                                                              \
    } while (0)

struct Node {
    uint64_t id = 0;
    std::unique_ptr<raft::Store> store;
    std::unique_ptr<raft::StoreGroup> group;
    std::unique_ptr<raft::RawNode> node;
    uint64_t applied = 0, count = 0;
    raft::ConfState cs;
};

struct Envelope {
    uint64_t to;
    std::string bytes;
};

static std::string base;
static std::map<uint64_t, Node> nodes;
static std::deque<Envelope> net;

static raft::Config config(uint64_t id) {
    raft::Config c(id);
    c->election_tick = 10;
    c->heartbeat_tick = 1;
    c->has_seed = true;
    c->seed = id * 7919;
    return c;
}

// Opens node `id` from its directory (bootstrapping an empty one).
static void start(uint64_t id) {
    Node &n = nodes[id];
    n.id = id;
    n.store = std::make_unique<raft::Store>(base + "/n" + std::to_string(id));
    n.group = std::make_unique<raft::StoreGroup>(n.store->group(1));
    bool fresh = n.group->last_index() == 0 && n.group->hard_state().term == 0;
    n.node = std::make_unique<raft::RawNode>(config(id), *n.group);
    if (fresh) n.node->bootstrap({1, 2, 3});
    // The state machine restarts from the snapshot (its data is the count).
    raft::Snapshot s = n.group->snapshot();
    n.applied = s.index;
    n.count = s.data ? std::stoull(*s.data) : 0;
    n.cs = s.conf_state;
}

static bool handle_ready(Node &n) {
    if (!n.node->has_ready()) return false;
    raft::Ready rd = n.node->ready();
    n.group->persist(rd);  // durable before any message leaves
    if (auto s = rd.snapshot()) {
        n.applied = s->index;
        n.count = std::stoull(std::string(raft::view(s->data)));
    }
    for (const raft_envelope &m : rd.messages()) net.push_back(Envelope{m.to, std::string(raft::view(m.bytes))});
    for (const raft_entry &e : rd.committed_entries()) {
        CHECK(e.index == n.applied + 1);
        if (e.entry_type == RAFT_ENTRY_NORMAL) {
            if (e.data.len > 0) n.count++;
        } else {
            n.cs = n.node->apply_conf_change(e);
        }
        n.applied = e.index;
    }
    n.node->advance();
    return true;
}

static void stabilize() {
    for (int rounds = 0;; rounds++) {
        CHECK(rounds < 100000);
        bool progress = false;
        for (auto &kv : nodes) progress |= handle_ready(kv.second);
        while (!net.empty()) {
            Envelope m = std::move(net.front());
            net.pop_front();
            auto it = nodes.find(m.to);
            if (it != nodes.end() && it->second.node) it->second.node->step(m.bytes);
            progress = true;
        }
        if (!progress) return;
    }
}

static uint64_t leader() {
    for (auto &kv : nodes)
        if (kv.second.node && kv.second.node->status().raft_state == RAFT_STATE_LEADER) return kv.first;
    return 0;
}

// Ticks until a leader is known (node 3 may have been the leader).
static void elect() {
    for (int i = 0; i < 200 && leader() == 0; i++) {
        for (auto &kv : nodes) kv.second.node->tick();
        stabilize();
    }
    CHECK(leader() != 0);
}

static void propose(int n) {
    for (int i = 0; i < n; i++) {
        nodes.at(leader()).node->propose("p" + std::to_string(i));
        if (i % 16 == 15) stabilize();
    }
    stabilize();
}

int main() {
    char tmpl[] = "/tmp/raft-durable-XXXXXX";
    CHECK(mkdtemp(tmpl) != nullptr);
    base = tmpl;
    for (uint64_t id = 1; id <= 3; id++) start(id);
    elect();
    propose(200);
    for (auto &kv : nodes) CHECK(kv.second.count == 200);

    // Node 3 snapshots its state at its applied index and compacts.
    Node &n3 = nodes.at(3);
    uint64_t at = n3.applied - 20;
    // The count at `at`: the 20 entries after it are proposals.
    uint64_t count_at = n3.count - 20;
    n3.group->create_snapshot(at, &n3.cs, std::to_string(count_at));
    n3.group->compact(at);
    CHECK(n3.group->first_index() == at + 1);

    // A second open of a live directory is refused with a clear message.
    try {
        raft::Store again(base + "/n3");
        CHECK(false);
    } catch (const raft::Error &e) {
        CHECK(e.code() == RAFT_ERR_STORAGE);
        CHECK(std::string(e.what()).find("locked") != std::string::npos);
    }

    // Shut node 3 down completely and restart it from disk.
    raft::HardState hs = n3.group->hard_state();
    uint64_t last = n3.group->last_index();
    n3.node.reset();
    n3.group.reset();
    n3.store.reset();
    nodes.erase(3);
    start(3);
    Node &r = nodes.at(3);
    raft::HardState hs2 = r.group->hard_state();
    CHECK(hs2.term == hs.term && hs2.vote == hs.vote && hs2.commit == hs.commit);
    CHECK(r.group->last_index() == last);
    CHECK(r.group->first_index() == at + 1);
    CHECK(r.applied == at && r.count == count_at);
    // The restarted node replays its committed entries, then follows.
    stabilize();
    CHECK(r.count == 200);
    elect();
    propose(50);
    for (auto &kv : nodes) CHECK(kv.second.count == 250);
    CHECK(r.group->last_index() == nodes.at(leader()).group->last_index());

    nodes.clear();
    std::filesystem::remove_all(base);
    std::printf("durable: ok (restart from disk at index %llu)\n", static_cast<unsigned long long>(last));
    return 0;
}

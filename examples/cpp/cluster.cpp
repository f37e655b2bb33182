// A three-node Raft cluster in one process, written against the installed
// C++ wrapper (raft.hpp): elect a leader, replicate proposals, restart one
// node from its persisted state, and check that it applies nothing twice.
//
// "Persisted state" is simulated: each node's raft::MemoryStorage (log and
// hard state) and its applied index survive while the RawNode is destroyed
// and rebuilt. A real program writes the same three things to disk in the
// same order (see the README, "Start, restart, join").
#include <raft.hpp>

#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

struct Node {
    uint64_t id = 0;
    raft::MemoryStorage storage;  // the node's "disk": log and hard state
    uint64_t applied = 0;         // persisted together with the state below
    std::vector<std::string> state;  // the application: every applied command
    std::unique_ptr<raft::RawNode> raw;
};

using Network = std::deque<std::pair<uint64_t, std::string>>;  // (to, message)

// Starts (or restarts) a node: on restart the storage is not empty and
// cfg.applied tells the node which committed entries were applied already.
static void start(Node &n, const std::vector<uint64_t> &peers) {
    raft::Config cfg(n.id);
    cfg->election_tick = 10;
    cfg->heartbeat_tick = 1;
    cfg->pre_vote = true;
    cfg->check_quorum = true;
    cfg->applied = n.applied;
    n.raw = std::make_unique<raft::RawNode>(cfg, n.storage);
    if (!peers.empty()) n.raw->bootstrap(peers);  // first start only
}

// The Ready loop: persist, send, apply, then advance.
static void handle_ready(Node &n, Network &net) {
    while (n.raw->has_ready()) {
        raft::Ready rd = n.raw->ready();
        // 1. Persist before sending (fsync when rd.must_sync()).
        if (auto snap = rd.snapshot()) n.storage.apply_snapshot(*snap);
        n.storage.append(rd.entries());
        if (auto hs = rd.hard_state()) n.storage.set_hard_state(*hs);
        // 2. Send.
        for (const raft_envelope &m : rd.messages()) net.emplace_back(m.to, std::string(raft::view(m.bytes)));
        // 3. Apply committed entries; record the applied index with the state.
        for (const raft_entry &e : rd.committed_entries()) {
            if (e.entry_type != RAFT_ENTRY_NORMAL)
                n.raw->apply_conf_change(e);
            else if (e.data.len > 0)
                n.state.emplace_back(raft::view(e.data));
            n.applied = e.index;
        }
        n.raw->advance();
    }
}

// Delivers messages until the network is quiet; a down node drops its mail.
static void run(std::vector<Node> &nodes, Network &net) {
    for (Node &n : nodes) if (n.raw) handle_ready(n, net);
    while (!net.empty()) {
        auto [to, msg] = std::move(net.front());
        net.pop_front();
        Node &n = nodes[to - 1];
        if (!n.raw) continue;
        n.raw->step(msg);
        handle_ready(n, net);
    }
}

static Node *leader(std::vector<Node> &nodes) {
    for (Node &n : nodes)
        if (n.raw && n.raw->status().raft_state == RAFT_STATE_LEADER) return &n;
    return nullptr;
}

static void elect(std::vector<Node> &nodes, Network &net) {
    for (int t = 0; !leader(nodes); t++) {
        if (t > 1000) throw std::runtime_error("no leader elected");
        for (Node &n : nodes) if (n.raw) n.raw->tick();
        run(nodes, net);
    }
    std::printf("node %llu is leader\n", (unsigned long long)leader(nodes)->id);
}

int main() try {
    std::printf("raft %s\n", raft_version());
    std::vector<Node> nodes(3);
    Network net;
    for (uint64_t i = 0; i < 3; i++) nodes[i].id = i + 1, start(nodes[i], {1, 2, 3});
    elect(nodes, net);
    for (int i = 0; i < 50; i++) leader(nodes)->raw->propose("cmd-" + std::to_string(i)), run(nodes, net);

    Node *follower = nodes[0].id == leader(nodes)->id ? &nodes[1] : &nodes[0];
    std::printf("restarting node %llu (applied index %llu, %zu commands)\n",
                (unsigned long long)follower->id, (unsigned long long)follower->applied, follower->state.size());
    follower->raw.reset();            // the process stops...
    start(*follower, {});             // ...and starts again from its storage
    for (int i = 50; i < 100; i++) leader(nodes)->raw->propose("cmd-" + std::to_string(i)), run(nodes, net);
    for (int t = 0; t < 5; t++) { for (Node &n : nodes) n.raw->tick(); run(nodes, net); }

    for (const Node &n : nodes) {
        std::printf("node %llu applied %zu commands up to index %llu\n", (unsigned long long)n.id, n.state.size(),
                    (unsigned long long)n.applied);
        if (n.state.size() != 100 || n.state != nodes[0].state) throw std::runtime_error("nodes disagree");
    }
    std::printf("ok: every node applied the 100 commands once, in the same order\n");
    return 0;
} catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
}

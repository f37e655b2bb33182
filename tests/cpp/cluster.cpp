// A Raft cluster in one process through the C++ wrapper: 3 nodes elect a
// leader, replicate 10,000 proposals, then a 4th node is added as a learner
// and caught up by snapshot after the leader compacted its log (watched
// through the leader's per-peer progress), and finally promoted to voter by
// a ConfChangeV2. Nodes 1, 2 and 4 use the library's
// MemoryStorage; node 3's storage is written in C++ (raft::Storage through the
// callback table).
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft.hpp"

#define CHECK(c)                                                             \
    do {                                                                     \
        if (!(c)) {                                                          \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
            std::exit(1);                                                    \
        }                                                                    \
    } while (0)

// A log kept in C++ vectors, served to the node through raft::Storage.
class VecStorage : public raft::Storage {
public:
    raft::RaftState initial_state() override { return raft::RaftState{hs_, snap_.conf_state}; }
    std::vector<raft::Entry> entries(uint64_t lo, uint64_t hi, uint64_t max_size) override {
        if (lo <= snap_.index) throw raft::Error(RAFT_ERR_COMPACTED, "compacted");
        if (hi > last_index() + 1) throw raft::Error(RAFT_ERR_UNAVAILABLE, "beyond last index");
        std::vector<raft::Entry> out;
        uint64_t size = 0;
        for (uint64_t i = lo; i < hi; i++) {
            const raft::Entry &e = log_[i - snap_.index - 1];
            size += e.encode().size();
            if (!out.empty() && size > max_size) break;
            out.push_back(e);
        }
        return out;
    }
    uint64_t term(uint64_t index) override {
        if (index == snap_.index) return snap_.term;
        if (index < snap_.index) throw raft::Error(RAFT_ERR_COMPACTED, "compacted");
        if (index > last_index()) throw raft::Error(RAFT_ERR_UNAVAILABLE, "unavailable");
        return log_[index - snap_.index - 1].term;
    }
    uint64_t first_index() override { return snap_.index + 1; }
    uint64_t last_index() override { return snap_.index + log_.size(); }
    raft::Snapshot snapshot() override { return snap_; }

    // Application side: persist what a Ready hands over.
    void append(raft::Span<raft_entry> es) {
        for (const raft_entry &e : es) {
            CHECK(e.index > snap_.index && e.index <= last_index() + 1);
            log_.resize(e.index - snap_.index - 1);  // overwrite a conflicting tail
            log_.push_back(raft::Entry::from(e));
        }
    }
    void set_hard_state(const raft::HardState &hs) { hs_ = hs; }
    void apply_snapshot(const raft_snapshot &s) {
        snap_ = raft::Snapshot::from(s);
        log_.clear();
    }
    // Takes a snapshot at `index` (applied) and drops the log up to it.
    void compact_to(uint64_t index, const raft::ConfState &cs, const std::string &data) {
        CHECK(index > snap_.index && index <= last_index());
        uint64_t t = term(index);
        log_.erase(log_.begin(), log_.begin() + static_cast<long>(index - snap_.index));
        snap_ = raft::Snapshot{data, index, t, cs};
    }

private:
    raft::HardState hs_{};
    raft::Snapshot snap_;
    std::vector<raft::Entry> log_;
};

struct Node {
    uint64_t id = 0;
    std::unique_ptr<raft::MemoryStorage> mem;  // either this ...
    std::shared_ptr<VecStorage> vec;           // ... or this
    std::unique_ptr<raft::RawNode> node;
    // Application state machine: number of applied proposals and a hash of them.
    uint64_t applied = 0, count = 0, hash = 1469598103934665603ULL;
    raft::ConfState cs;
    bool got_snapshot = false;
    std::vector<std::pair<uint64_t, std::string>> read_states;

    std::string state() const { return std::to_string(count) + ":" + std::to_string(hash); }
    void restore(std::string_view s) {
        size_t colon = s.find(':');
        CHECK(colon != std::string_view::npos);
        count = std::stoull(std::string(s.substr(0, colon)));
        hash = std::stoull(std::string(s.substr(colon + 1)));
    }
    void apply_data(std::string_view d) {
        // Proposals are numbered in the order the leader accepted them.
        CHECK(d == "p" + std::to_string(count));
        count++;
        for (char c : d) hash = (hash ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
    }
};

struct Envelope {
    uint64_t to, from;
    int32_t type;
    std::string bytes;
};

static std::map<uint64_t, Node> nodes;
static std::deque<Envelope> net;
static size_t log_lines = 0;

static raft::Config config(uint64_t id) {
    raft::Config c(id);
    c->election_tick = 10;
    c->heartbeat_tick = 1;
    c->has_seed = true;
    c->seed = id * 7919;
    c.set_logger([](raft_log_level, std::string_view) { log_lines++; }, RAFT_LOG_INFO);
    return c;
}

static uint64_t last_index(const Node &n) { return n.mem ? n.mem->last_index() : n.vec->last_index(); }

// The leader's progress of peer `id` (which it must track).
static raft_progress progress_of(uint64_t lead, uint64_t id) {
    std::optional<raft_progress> p = nodes.at(lead).node->progress(id);
    CHECK(p.has_value());
    return *p;
}

// Every node reports the membership its last applied conf change returned;
// only the leader tracks peers.
static void check_conf_and_progress(uint64_t lead) {
    for (auto &kv : nodes) {
        raft::ConfState cs = kv.second.node->conf_state();
        CHECK(cs.voters == kv.second.cs.voters && cs.learners == kv.second.cs.learners);
        CHECK(cs.voters_outgoing.empty() && cs.learners_next.empty());
        std::vector<raft_progress> ps = kv.second.node->progress();
        if (kv.first != lead) {
            CHECK(ps.empty());
            continue;
        }
        CHECK(ps.size() == cs.voters.size() + cs.learners.size());
        for (size_t i = 0; i < ps.size(); i++) {
            CHECK(i == 0 || ps[i - 1].id < ps[i].id);  // sorted by id
            bool learner = false;
            for (uint64_t l : cs.learners) learner |= l == ps[i].id;
            CHECK(ps[i].is_learner == learner);
        }
    }
}

static size_t snapshots_sent = 0;

static bool handle_ready(Node &n) {
    if (!n.node->has_ready()) return false;
    raft::Ready rd = n.node->ready();
    if (auto s = rd.snapshot()) {
        if (n.mem) n.mem->apply_snapshot(*s);
        else n.vec->apply_snapshot(*s);
        n.restore(raft::view(s->data));
        n.applied = s->index;
        n.cs = raft::ConfState::from(s->conf_state);
        n.got_snapshot = true;
    }
    if (n.mem) n.mem->append(rd.entries());
    else n.vec->append(rd.entries());
    if (auto hs = rd.hard_state()) {
        if (n.mem) n.mem->set_hard_state(*hs);
        else n.vec->set_hard_state(*hs);
    }
    for (const raft_envelope &m : rd.messages()) net.push_back(Envelope{m.to, m.from, m.msg_type, std::string(raft::view(m.bytes))});
    for (const raft_entry &e : rd.committed_entries()) {
        CHECK(e.index == n.applied + 1);
        if (e.entry_type == RAFT_ENTRY_NORMAL) {
            if (e.data.len > 0) n.apply_data(raft::view(e.data));
        } else {
            n.cs = n.node->apply_conf_change(e);
        }
        n.applied = e.index;
    }
    for (const raft_read_state &r : rd.read_states()) n.read_states.emplace_back(r.index, std::string(raft::view(r.request_ctx)));
    n.node->advance();
    return true;
}

static void deliver() {
    while (!net.empty()) {
        Envelope m = std::move(net.front());
        net.pop_front();
        auto it = nodes.find(m.to);
        if (it == nodes.end()) continue;
        try {
            it->second.node->step(m.bytes);
        } catch (const raft::Error &e) {
            CHECK(e.code() == RAFT_ERR_STEP_PEER_NOT_FOUND);
        }
        if (m.type == RAFT_MSG_SNAP) {
            // Until the outcome is reported, the leader waits for the
            // snapshot it sent: appends to the peer are paused.
            raft::DecodedMessage dm(m.bytes);
            CHECK(dm->snapshot != nullptr);
            raft_progress p = progress_of(m.from, m.to);
            CHECK(p.state == RAFT_PROGRESS_STATE_SNAPSHOT && p.paused);
            CHECK(p.pending_snapshot == dm->snapshot->index);
            snapshots_sent++;
            nodes.at(m.from).node->report_snapshot(m.to, RAFT_SNAPSHOT_FINISH);
            CHECK(progress_of(m.from, m.to).state == RAFT_PROGRESS_STATE_PROBE);
        }
    }
}

static void stabilize() {
    int rounds = 0;
    for (bool progress = true; progress;) {
        CHECK(++rounds < 100000);  // a cluster that never goes quiet is a bug
        progress = false;
        for (auto &kv : nodes) progress |= handle_ready(kv.second);
        if (!net.empty()) {
            deliver();
            progress = true;
        }
    }
}

static void tick_all() {
    for (auto &kv : nodes) kv.second.node->tick();
    stabilize();
}

static uint64_t leader_id() {
    uint64_t leader = 0;
    for (auto &kv : nodes) {
        raft_status s = kv.second.node->status();
        if (s.raft_state == RAFT_STATE_LEADER) {
            CHECK(leader == 0);  // at most one leader per term seen here
            leader = s.id;
        }
    }
    return leader;
}

static Node &add_node(uint64_t id, bool cpp_storage) {
    Node &n = nodes[id];
    n.id = id;
    if (cpp_storage) {
        n.vec = std::make_shared<VecStorage>();
        n.node = std::make_unique<raft::RawNode>(config(id), n.vec);
    } else {
        n.mem = std::make_unique<raft::MemoryStorage>();
        n.node = std::make_unique<raft::RawNode>(config(id), *n.mem);
    }
    return n;
}

int main() {
    CHECK(raft_abi_version() == RAFT_ABI_VERSION);
    for (uint64_t id = 1; id <= 3; id++) add_node(id, id == 3).node->bootstrap({1, 2, 3});
    stabilize();
    for (auto &kv : nodes) CHECK(kv.second.cs.voters.size() == 3);

    // 1. Election by ticking.
    uint64_t lead = 0;
    for (int i = 0; i < 200 && (lead = leader_id()) == 0; i++) tick_all();
    CHECK(lead != 0);
    for (auto &kv : nodes) CHECK(kv.second.node->status().leader_id == lead);
    check_conf_and_progress(lead);
    std::printf("cluster: leader %llu elected\n", static_cast<unsigned long long>(lead));

    // 2. 10,000 proposals.
    const uint64_t N = 10000;
    for (uint64_t i = 0; i < N; i++) {
        nodes.at(lead).node->propose("p" + std::to_string(i));
        if (i % 100 == 99) stabilize();
    }
    stabilize();
    for (auto &kv : nodes) {
        CHECK(kv.second.count == N);
        CHECK(kv.second.hash == nodes.at(lead).hash);
    }
    std::printf("cluster: %llu proposals applied on 3 nodes\n", static_cast<unsigned long long>(N));
    // Every follower's log matches the leader's; nothing is in flight.
    for (uint64_t id = 1; id <= 3; id++) {
        raft_progress p = progress_of(lead, id);
        CHECK(p.match == last_index(nodes.at(lead)) && p.next == p.match + 1);
        CHECK(p.state == RAFT_PROGRESS_STATE_REPLICATE && p.inflight_count == 0 && p.recent_active);
    }
    // A proposal is in flight to each follower until they acknowledge it
    // (from the leader's Ready on: with merged appends the core builds the
    // appends for a round's proposals when the Ready is taken).
    nodes.at(lead).node->propose("p" + std::to_string(N));
    CHECK(handle_ready(nodes.at(lead)));
    for (uint64_t id = 1; id <= 3; id++) {
        if (id == lead) continue;
        raft_progress p = progress_of(lead, id);
        CHECK(p.inflight_count == 1 && p.next == p.match + 2);
    }
    stabilize();
    for (uint64_t id = 1; id <= 3; id++) CHECK(progress_of(lead, id).inflight_count == 0);

    // 3. Linearizable read on the leader.
    nodes.at(lead).node->read_index("read-1");
    stabilize();
    CHECK(nodes.at(lead).read_states.size() == 1);
    CHECK(nodes.at(lead).read_states[0].second == "read-1");
    CHECK(nodes.at(lead).read_states[0].first >= nodes.at(lead).applied - 1);

    // 4. Add node 4 as a learner (v1). The node does not run yet: messages
    //    to it are dropped.
    raft::ConfChange add4;
    add4.type = RAFT_CONF_CHANGE_ADD_LEARNER_NODE;
    add4.node_id = 4;
    nodes.at(lead).node->propose_conf_change(add4);
    stabilize();
    for (auto &kv : nodes) CHECK(kv.second.cs.learners.size() == 1 && kv.second.cs.learners[0] == 4);
    check_conf_and_progress(lead);
    {
        raft_progress p4 = progress_of(lead, 4);
        CHECK(p4.is_learner && p4.match == 0);
    }

    // 5. Compact the leader's log behind a snapshot (whose membership
    //    includes node 4), then start node 4: it can only catch up by snapshot.
    Node &L = nodes.at(lead);
    if (L.mem) {
        L.mem->create_snapshot(L.applied, &L.cs, L.state());
        L.mem->compact(L.applied);
        CHECK(L.mem->first_index() == L.applied + 1);
    } else {
        L.vec->compact_to(L.applied, L.cs, L.state());
    }
    Node &n4 = add_node(4, false);
    // Wait, as an operator would, until the leader sees node 4 caught up.
    for (int i = 0; i < 100 && progress_of(lead, 4).match < last_index(nodes.at(lead)); i++) tick_all();
    CHECK(progress_of(lead, 4).match == last_index(nodes.at(lead)));
    CHECK(progress_of(lead, 4).state == RAFT_PROGRESS_STATE_REPLICATE);
    CHECK(snapshots_sent == 1);
    CHECK(n4.got_snapshot);
    CHECK(n4.applied == nodes.at(lead).applied);
    CHECK(n4.count == N + 1 && n4.hash == nodes.at(lead).hash);
    CHECK(n4.cs.learners.size() == 1 && n4.cs.learners[0] == 4);
    std::printf("cluster: node 4 caught up by snapshot\n");

    // 6. Promote node 4 to voter (v2).
    raft::ConfChangeV2 promote;
    promote.changes.push_back(raft_conf_change_single{RAFT_CONF_CHANGE_ADD_NODE, 4});
    nodes.at(lead).node->propose_conf_change(promote);
    stabilize();
    for (auto &kv : nodes) {
        CHECK(kv.second.cs.voters.size() == 4);
        CHECK(kv.second.cs.learners.empty());
    }
    check_conf_and_progress(lead);
    CHECK(!progress_of(lead, 4).is_learner);

    // 7. More proposals reach all four nodes.
    for (uint64_t i = N + 1; i < N + 100; i++) nodes.at(lead).node->propose("p" + std::to_string(i));
    stabilize();
    for (auto &kv : nodes) {
        CHECK(kv.second.count == N + 100);
        CHECK(kv.second.hash == nodes.at(lead).hash);
    }

    // 8. Hand leadership to node 4.
    nodes.at(lead).node->transfer_leader(4);
    for (int i = 0; i < 50 && leader_id() != 4; i++) tick_all();
    CHECK(leader_id() == 4);
    raft_status s4 = nodes.at(4).node->status();
    CHECK(s4.raft_state == RAFT_STATE_LEADER && s4.id == 4 && s4.commit >= s4.applied);
    CHECK(log_lines > 0);
    check_conf_and_progress(4);
    CHECK(progress_of(4, lead).match == last_index(nodes.at(4)));

    nodes.clear();
    std::printf("cluster: ok\n");
    return 0;
}

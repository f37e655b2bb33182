// MemoryStorage::persist(rd) (raft_memory_storage_persist_ready): a
// three-node cluster whose nodes persist each Ready in one call replicates
// exactly what one whose nodes append entry views does (same logs, same
// hard states, same applied payloads), and the C function refuses NULL
// handles with an error code instead of crashing.
#include <raft.hpp>

#include <cstdio>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

struct Node {
    raft::MemoryStorage storage;
    std::unique_ptr<raft::RawNode> raw;
    std::vector<std::string> applied;
};

using Network = std::deque<std::pair<uint64_t, std::string>>;

void expect(bool ok, const char *what) {
    if (!ok) throw std::runtime_error(what);
}

bool handle(Node &n, Network &net, bool whole) {
    if (!n.raw->has_ready()) return false;
    raft::Ready rd = n.raw->ready();
    if (whole) {
        n.storage.persist(rd);
    } else {
        n.storage.append(rd.entries());
        if (auto hs = rd.hard_state()) n.storage.set_hard_state(*hs);
    }
    for (const raft_envelope &m : rd.messages()) net.emplace_back(m.to, std::string(raft::view(m.bytes)));
    for (const raft_entry &e : rd.committed_entries()) {
        if (e.entry_type != RAFT_ENTRY_NORMAL)
            n.raw->apply_conf_change(e);
        else if (e.data.len > 0)
            n.applied.emplace_back(raft::view(e.data));
    }
    n.raw->advance();
    return true;
}

void settle(std::vector<Node> &nodes, Network &net, bool whole) {
    for (bool any = true; any;) {
        any = false;
        for (Node &n : nodes) any |= handle(n, net, whole);
        while (!net.empty()) {
            any = true;
            auto [to, msg] = std::move(net.front());
            net.pop_front();
            nodes[to - 1].raw->step(msg);
        }
    }
}

std::vector<Node> run(bool whole) {
    std::vector<Node> nodes(3);
    Network net;
    for (uint64_t i = 0; i < 3; i++) {
        raft::Config cfg(i + 1);
        nodes[i].raw = std::make_unique<raft::RawNode>(cfg, nodes[i].storage);
        nodes[i].raw->bootstrap({1, 2, 3});
    }
    settle(nodes, net, whole);
    nodes[0].raw->campaign();
    settle(nodes, net, whole);
    for (int i = 0; i < 30; i++) {
        nodes[0].raw->propose(std::string("p\0", 2) + std::to_string(i));
        if (i % 7 == 0) settle(nodes, net, whole);
    }
    settle(nodes, net, whole);
    return nodes;
}

}  // namespace

int main() try {
    std::vector<Node> a = run(true), b = run(false);
    for (size_t i = 0; i < 3; i++) {
        expect(a[i].applied.size() == 30, "every node applied the 30 proposals");
        expect(a[i].applied == b[i].applied, "the same payloads as with append");
        raft::HardState ha = a[i].storage.hard_state(), hb = b[i].storage.hard_state();
        expect(ha.term == hb.term && ha.vote == hb.vote && ha.commit == hb.commit, "the same hard state");
        expect(ha.commit > 30, "the hard state was persisted");
        uint64_t last = ha.commit;
        std::vector<raft::Entry> ea = a[i].storage.entries(1, last + 1), eb = b[i].storage.entries(1, last + 1);
        expect(ea.size() == eb.size() && ea.size() == last, "the same log length");
        for (size_t k = 0; k < ea.size(); k++)
            expect(ea[k].index == eb[k].index && ea[k].term == eb[k].term && ea[k].type == eb[k].type &&
                       ea[k].data == eb[k].data,
                   "the same log entries");
    }
    // NULL handles are refused with an error code.
    raft::RawNode &node = *a[0].raw;
    node.propose("x");
    raft::Ready rd = node.ready();
    expect(raft_memory_storage_persist_ready(nullptr, rd.get()) != RAFT_OK, "NULL storage refused");
    expect(raft_memory_storage_persist_ready(a[0].storage.get(), nullptr) != RAFT_OK, "NULL ready refused");
    a[0].storage.persist(rd);
    node.advance();
    std::printf("ok: persist(rd) matches append + set_hard_state\n");
    return 0;
} catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
}

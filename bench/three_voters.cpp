// The side-by-side benchmark's 3-voter workload (64 proposals of 128 bytes
// per round) driven from C++ through raft.hpp, with messages as raftpb bytes
// as a real program sends them. Every node persists to its MemoryStorage,
// sends, applies and advances each Ready; the clock runs from after the
// election until every node applied every entry, and every node must have
// applied exactly the proposed payloads in order (else it exits 1 without a
// number). Prints the median entries/s of the runs.
//
// Usage: three_voters [runs] [rounds]   (scripts/bench-langs.sh builds and runs it)
#include <raft.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

constexpr size_t kSize = 128;
constexpr uint64_t kBatch = 64;

// The fixed filler after a payload's number, made once (the Rust driver
// copies a static filler too, so that making payloads costs both little).
const std::string &filler() {
    static const std::string f = [] {
        std::string s(kSize - 8, '\0');
        for (size_t i = 8; i < kSize; i++) s[i - 8] = char(uint8_t(i * 31 + 7));
        return s;
    }();
    return f;
}

// Proposal `seq`: its number (8 bytes, little endian) then the filler.
std::string payload(uint64_t seq) {
    std::string s;
    s.reserve(kSize);
    for (size_t i = 0; i < 8; i++) s.push_back(char((seq >> (8 * i)) & 0xff));
    s += filler();
    return s;
}

// Whether `d` is proposal `seq`, without building it (the Rust driver's
// check is one memcmp too).
bool is_payload(std::string_view d, uint64_t seq) {
    if (d.size() != kSize) return false;
    uint64_t got = 0;
    for (size_t i = 0; i < 8; i++) got |= uint64_t(uint8_t(d[i])) << (8 * i);
    return got == seq && d.substr(8) == filler();
}

[[noreturn]] void fail(const std::string &why) {
    std::fprintf(stderr, "three_voters: CHECK FAILED: %s\n", why.c_str());
    std::exit(1);
}

struct Node {
    uint64_t id = 0;
    raft::MemoryStorage storage;
    uint64_t applied = 0;  // proposals applied
    std::unique_ptr<raft::RawNode> raw;
};

using Network = std::deque<std::pair<uint64_t, std::string>>;

bool handle(Node &n, Network &net) {
    if (!n.raw->has_ready()) return false;
    raft::Ready rd = n.raw->ready();
    n.storage.persist(rd);  // entries and hard state, payloads shared
    for (const raft_envelope &m : rd.messages()) net.emplace_back(m.to, std::string(raft::view(m.bytes)));
    for (const raft_entry &e : rd.committed_entries()) {
        if (e.entry_type != RAFT_ENTRY_NORMAL) {
            n.raw->apply_conf_change(e);
        } else if (e.data.len > 0) {
            if (!is_payload(raft::view(e.data), n.applied))
                fail("node " + std::to_string(n.id) + " applied a wrong entry at proposal " + std::to_string(n.applied));
            n.applied++;
        }
    }
    n.raw->advance();
    return true;
}

void pump(std::vector<Node> &nodes, Network &net) {
    for (;;) {
        bool any = false;
        for (Node &n : nodes) any |= handle(n, net);
        while (!net.empty()) {
            any = true;
            auto [to, msg] = std::move(net.front());
            net.pop_front();
            nodes[to - 1].raw->step(msg);
        }
        if (!any) return;
    }
}

double run(uint64_t rounds) {
    std::vector<Node> nodes(3);
    Network net;
    for (uint64_t i = 0; i < 3; i++) {
        nodes[i].id = i + 1;
        raft::Config cfg(i + 1);
        nodes[i].raw = std::make_unique<raft::RawNode>(cfg, nodes[i].storage);
        nodes[i].raw->bootstrap({1, 2, 3});
    }
    pump(nodes, net);
    nodes[0].raw->campaign();
    pump(nodes, net);
    if (nodes[0].raw->status().raft_state != RAFT_STATE_LEADER) fail("node 1 did not become leader");
    auto start = std::chrono::steady_clock::now();
    uint64_t seq = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        for (uint64_t k = 0; k < kBatch; k++) nodes[0].raw->propose(payload(seq++));
        pump(nodes, net);
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const Node &n : nodes)
        if (n.applied != seq) fail("node " + std::to_string(n.id) + " applied " + std::to_string(n.applied));
    return double(seq) / secs;
}

}  // namespace

int main(int argc, char **argv) try {
    int runs = argc > 1 ? std::atoi(argv[1]) : 5;
    uint64_t rounds = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 500;
    if (runs < 1 || rounds < 1) fail("usage: three_voters [runs >= 1] [rounds >= 1]");
    std::vector<double> rates;
    for (int i = 0; i < runs; i++) rates.push_back(run(rounds));
    std::sort(rates.begin(), rates.end());
    std::printf("cpp 3v entries=%llu runs=%d median_entries_per_s=%.0f\n",
                (unsigned long long)(rounds * kBatch), runs, rates[rates.size() / 2]);
    return 0;
} catch (const std::exception &e) {
    std::fprintf(stderr, "three_voters: error: %s\n", e.what());
    return 1;
}

// The side-by-side benchmark's 3-voter workload (64 proposals of 128 bytes
// per round) driven from C++ through raft.hpp, with messages as raftpb bytes
// as a real program sends them. Every node persists to its MemoryStorage,
// sends, applies and advances each Ready; the clock runs from after the
// election until every node applied every entry, and every node must have
// applied exactly the proposed payloads in order (else it exits 1 without a
// number). Prints the median entries/s of the runs.
//
// One untimed run of the same size comes first (`warmups`, default 1): the
// Rust driver's ours-enc
// run follows three other backends' runs in its process
// (raft-core/benches/vs_raft_rs.rs), so it finds the heap grown and its
// pages mapped, and a first run in a fresh process pays those page faults
// (about a sixth slower at 500 rounds).
//
// Usage: three_voters [runs] [rounds] [warmups]   (scripts/bench-langs.sh
// builds and runs it; scripts/bench-callgrind.sh cpp runs it without warm-up)
#include <raft.hpp>

#include <algorithm>
#include <array>
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
const std::array<char, kSize - 8> &filler() {
    static const std::array<char, kSize - 8> f = [] {
        std::array<char, kSize - 8> a{};
        for (size_t i = 8; i < kSize; i++) a[i - 8] = char(uint8_t(i * 31 + 7));
        return a;
    }();
    return f;
}

// `seq` as 8 little-endian bytes (written out so that the compiler makes it
// one store, as Rust's `to_le_bytes` is).
std::array<char, 8> le_bytes(uint64_t seq) {
    return {char(seq), char(seq >> 8), char(seq >> 16), char(seq >> 24),
            char(seq >> 32), char(seq >> 40), char(seq >> 48), char(seq >> 56)};
}

// Proposal `seq`: its number (8 bytes, little endian) then the filler,
// written into `out`. The Rust driver builds each payload in a fresh Vec
// that the core keeps; here raft_rawnode_propose copies it into the one
// allocation the core keeps, so both pay one allocation and one fill.
std::string_view payload(uint64_t seq, std::array<char, kSize> &out) {
    std::array<char, 8> n = le_bytes(seq);
    std::memcpy(out.data(), n.data(), 8);
    std::memcpy(out.data() + 8, filler().data(), kSize - 8);
    return std::string_view(out.data(), kSize);
}

// Whether `d` is proposal `seq`, without building it (two memcmps, as the
// Rust driver's check).
bool is_payload(std::string_view d, uint64_t seq) {
    if (d.size() != kSize) return false;
    std::array<char, 8> n = le_bytes(seq);
    return std::memcmp(d.data(), n.data(), 8) == 0 && std::memcmp(d.data() + 8, filler().data(), kSize - 8) == 0;
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

// A message in flight: its raftpb bytes, inside the sender's Ready, which
// the network keeps alive until the message is delivered (the Rust driver
// queues each message's encoded Vec; neither copies the bytes before the
// recipient's step, where the C call copies them once).
struct InFlight {
    uint64_t to;
    std::shared_ptr<const raft::Ready> rd;
    std::string_view bytes;
};
using Network = std::deque<InFlight>;

bool handle(Node &n, Network &net) {
    if (!n.raw->has_ready()) return false;
    auto rd = std::make_shared<const raft::Ready>(n.raw->ready());
    n.storage.persist(*rd);  // entries and hard state, payloads shared
    for (const raft_envelope &m : rd->messages()) net.push_back(InFlight{m.to, rd, raft::view(m.bytes)});
    for (const raft_entry &e : rd->committed_entries()) {
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
            InFlight m = std::move(net.front());
            net.pop_front();
            nodes[m.to - 1].raw->step(m.bytes);
        }
        if (!any) return;
    }
}

// The measured part: every round, then the check that every node applied
// every entry; returns the entries proposed. Kept out of line so that
// callgrind can count exactly this function, as it counts the Rust
// driver's `measured_rounds` (scripts/bench-callgrind.sh).
__attribute__((noinline)) uint64_t measured_rounds(std::vector<Node> &nodes, Network &net, uint64_t rounds) {
    uint64_t seq = 0;
    std::array<char, kSize> buf;
    for (uint64_t r = 0; r < rounds; r++) {
        for (uint64_t k = 0; k < kBatch; k++) nodes[0].raw->propose(payload(seq++, buf));
        pump(nodes, net);
    }
    for (const Node &n : nodes)
        if (n.applied != seq) fail("node " + std::to_string(n.id) + " applied " + std::to_string(n.applied));
    return seq;
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
    uint64_t entries = measured_rounds(nodes, net, rounds);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return double(entries) / secs;
}

}  // namespace

int main(int argc, char **argv) try {
    int runs = argc > 1 ? std::atoi(argv[1]) : 5;
    uint64_t rounds = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 500;
    int warmups = argc > 3 ? std::atoi(argv[3]) : 1;
    if (runs < 1 || rounds < 1 || warmups < 0) fail("usage: three_voters [runs >= 1] [rounds >= 1] [warmups >= 0]");
    for (int i = 0; i < warmups; i++) run(rounds);  // untimed (see the header)
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

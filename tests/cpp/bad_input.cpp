// Bad input through the C ABI (and the C++ wrapper's exceptions): every case
// must give an error code and a message, never a crash or an abort.
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "raft.hpp"

static int failures = 0;
static int cases = 0;

#define EXPECT(c)                                                                     \
    do {                                                                              \
        if (!(c)) {                                                                   \
            std::fprintf(stderr, "%s:%d: EXPECT failed: %s\n", __FILE__, __LINE__, #c); \
            ok = false;                                                               \
        }                                                                             \
    } while (0)

static void run(const char *name, const std::function<bool()> &f) {
    cases++;
    bool ok = false;
    try {
        ok = f();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s: unexpected exception: %s\n", name, e.what());
    }
    if (!ok) failures++;
    std::printf("%s %s\n", ok ? "PASS" : "FAIL", name);
}

static bool has_message() { return std::strlen(raft_last_error()) > 0; }

static raft_config cfg(uint64_t id) {
    raft_config c;
    raft_config_init(&c, id);
    c.log_level = RAFT_LOG_OFF;
    return c;
}

// A single-voter node on a memory storage that has become leader.
struct Single {
    raft_memory_storage *ms = nullptr;
    raft_rawnode *node = nullptr;
    Single() {
        raft_memory_storage_new(&ms);
        raft_config c = cfg(1);
        raft_rawnode_new(&c, ms, &node);
        uint64_t peers[] = {1};
        raft_rawnode_bootstrap(node, peers, 1);
        drain();
        raft_rawnode_campaign(node);
        drain();
    }
    void drain() {
        bool has = false;
        while (raft_rawnode_has_ready(node, &has) == RAFT_OK && has) {
            raft_ready *rd = nullptr;
            raft_rawnode_ready(node, &rd);
            const raft_entry *es = nullptr;
            size_t n = 0;
            raft_ready_entries(rd, &es, &n);
            raft_memory_storage_append(ms, es, n);
            bool changed = false;
            raft_hard_state hs;
            raft_ready_hard_state(rd, &changed, &hs);
            if (changed) raft_memory_storage_set_hard_state(ms, &hs);
            raft_ready_committed_entries(rd, &es, &n);
            for (size_t i = 0; i < n; i++) {
                if (es[i].entry_type == RAFT_ENTRY_CONF_CHANGE) {
                    raft_decoded *d = nullptr;
                    raft_conf_change cc;
                    raft_conf_change_decode(es[i].data.data, es[i].data.len, &d, &cc);
                    raft_rawnode_apply_conf_change(node, &cc, nullptr, nullptr);
                    raft_decoded_free(&d);
                }
            }
            raft_ready_free(&rd);
            raft_rawnode_advance(node);
        }
    }
    ~Single() {
        raft_rawnode_free(&node);
        raft_memory_storage_free(&ms);
    }
};

// A C++ storage that fails on demand.
class Flaky : public raft::Storage {
public:
    enum Mode { OK, FAIL_INIT, THROW_STD, THROW_INT, COMPACTED };
    Mode mode = OK;
    raft::RaftState initial_state() override {
        if (mode == FAIL_INIT) throw raft::Error(RAFT_ERR_STORAGE, "init failed on purpose");
        raft::RaftState st;
        // Two voters: campaigning reads the last term from storage for the
        // vote request (the core knows the last index itself).
        st.conf_state.voters = {1, 2};
        return st;
    }
    std::vector<raft::Entry> entries(uint64_t, uint64_t, uint64_t) override { return fail_or<std::vector<raft::Entry>>({}); }
    uint64_t term(uint64_t) override { return fail_or<uint64_t>(0); }
    uint64_t first_index() override { return fail_or<uint64_t>(1); }
    uint64_t last_index() override { return fail_or<uint64_t>(0); }
    raft::Snapshot snapshot() override { return fail_or<raft::Snapshot>({}); }

private:
    template <class T>
    T fail_or(T v) {
        switch (mode) {
            case THROW_STD: throw std::runtime_error("disk unplugged");
            case THROW_INT: throw 42;
            case COMPACTED: throw raft::Error(RAFT_ERR_COMPACTED, "compacted");
            default: return v;
        }
    }
};

int main() {
    run("abi version and result strings", [] {
        bool ok = true;
        EXPECT(raft_abi_version() == RAFT_ABI_VERSION);
        EXPECT(std::strncmp(raft_result_str(RAFT_OK), "RAFT_OK", 7) == 0);
        EXPECT(std::strncmp(raft_result_str(RAFT_ERR_POISONED), "RAFT_ERR_POISONED", 17) == 0);
        EXPECT(std::strncmp(raft_result_str(12345), "RAFT_ERR_UNKNOWN", 16) == 0);
        EXPECT(std::strncmp(raft_result_str(-1), "RAFT_ERR_UNKNOWN", 16) == 0);
        return ok;
    });

    run("NULL handles", [] {
        bool ok = true;
        bool b = false;
        raft_ready *rd = nullptr;
        uint64_t u = 0;
        EXPECT(raft_rawnode_tick(nullptr) == RAFT_ERR_NULL && has_message());
        EXPECT(raft_rawnode_campaign(nullptr) == RAFT_ERR_NULL);
        EXPECT(raft_rawnode_has_ready(nullptr, &b) == RAFT_ERR_NULL);
        EXPECT(raft_rawnode_ready(nullptr, &rd) == RAFT_ERR_NULL && rd == nullptr);
        EXPECT(raft_rawnode_advance(nullptr) == RAFT_ERR_NULL);
        EXPECT(raft_rawnode_step(nullptr, nullptr, 0) == RAFT_ERR_NULL);
        EXPECT(raft_memory_storage_last_index(nullptr, &u) == RAFT_ERR_NULL);
        EXPECT(raft_ready_must_sync(nullptr, &b) == RAFT_ERR_NULL);
        EXPECT(std::strstr(raft_rawnode_last_error(nullptr), "NULL") != nullptr);
        raft_rawnode_free(nullptr);
        raft_ready_free(nullptr);
        raft_memory_storage_free(nullptr);
        raft_decoded_free(nullptr);
        raft_buf_free(nullptr);
        raft_rawnode *n = nullptr;
        raft_rawnode_free(&n);  // pointer to NULL
        return ok;
    });

    run("NULL buffers and out-parameters", [] {
        bool ok = true;
        Single s;
        EXPECT(raft_rawnode_propose(s.node, nullptr, 5) == RAFT_ERR_NULL);
        EXPECT(std::strstr(raft_rawnode_last_error(s.node), "data") != nullptr);
        EXPECT(raft_rawnode_step(s.node, nullptr, 3) == RAFT_ERR_NULL);
        EXPECT(raft_rawnode_has_ready(s.node, nullptr) == RAFT_ERR_NULL);
        EXPECT(raft_rawnode_status(s.node, nullptr) == RAFT_ERR_NULL);
        EXPECT(raft_rawnode_propose_conf_change(s.node, nullptr) == RAFT_ERR_NULL);
        EXPECT(raft_memory_storage_append(s.ms, nullptr, 2) == RAFT_ERR_NULL);
        EXPECT(raft_entry_encode(nullptr, nullptr) == RAFT_ERR_NULL);
        raft_entry e{RAFT_ENTRY_NORMAL, 1, 1, raft_bytes{nullptr, 4}};
        raft_buf b{nullptr, 0, 0};
        EXPECT(raft_entry_encode(&e, &b) == RAFT_ERR_NULL && b.data == nullptr);
        raft_config c = cfg(1);
        raft_rawnode *n = nullptr;
        EXPECT(raft_rawnode_new(&c, nullptr, &n) == RAFT_ERR_NULL && n == nullptr);
        EXPECT(raft_rawnode_new(nullptr, s.ms, &n) == RAFT_ERR_NULL && n == nullptr);
        // Zero-length input with a NULL pointer is fine.
        EXPECT(raft_rawnode_propose(s.node, nullptr, 0) == RAFT_OK);
        return ok;
    });

    run("malformed bytes", [] {
        bool ok = true;
        Single s;
        const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
        EXPECT(raft_rawnode_step(s.node, junk, sizeof junk) == RAFT_ERR_DECODE);
        EXPECT(std::strlen(raft_rawnode_last_error(s.node)) > 0);
        raft_decoded *d = nullptr;
        raft_message m;
        EXPECT(raft_message_decode(junk, sizeof junk, &d, &m) == RAFT_ERR_DECODE && d == nullptr);
        raft_hard_state hs;
        EXPECT(raft_hard_state_decode(junk, sizeof junk, &hs) == RAFT_ERR_DECODE);
        // A well-formed but local message type is refused by step.
        raft_message hup{};
        hup.msg_type = RAFT_MSG_HUP;
        std::string bytes = raft::encode(hup);
        EXPECT(raft_rawnode_step(s.node, raft::detail::u8(bytes), bytes.size()) == RAFT_ERR_STEP_LOCAL_MSG);
        // Unknown enum values are refused when encoding.
        raft_message bad{};
        bad.msg_type = 99;
        raft_buf b{nullptr, 0, 0};
        EXPECT(raft_message_encode(&bad, &b) == RAFT_ERR_INVALID_ARGUMENT);
        EXPECT(raft_rawnode_report_snapshot(s.node, 1, 7) == RAFT_ERR_INVALID_ARGUMENT);
        // The node still works.
        raft_status st;
        EXPECT(raft_rawnode_status(s.node, &st) == RAFT_OK && st.raft_state == RAFT_STATE_LEADER);
        EXPECT(raft_rawnode_propose(s.node, raft::detail::u8("x"), 1) == RAFT_OK);
        return ok;
    });

    run("advance without a ready", [] {
        bool ok = true;
        Single s;
        EXPECT(raft_rawnode_advance(s.node) == RAFT_ERR_MISUSE);
        EXPECT(std::strlen(raft_rawnode_last_error(s.node)) > 0);
        raft::MemoryStorage ms;
        raft::Config c(1);
        c->log_level = RAFT_LOG_OFF;
        raft::RawNode node(c, ms);
        try {
            node.advance();
            EXPECT(false);
        } catch (const raft::Error &e) {
            EXPECT(e.code() == RAFT_ERR_MISUSE);
            EXPECT(std::strstr(e.what(), "RAFT_ERR_MISUSE") != nullptr);
        }
        return ok;
    });

    run("C++: a second Ready before advance (etcd's rule)", [] {
        bool ok = true;
        raft::MemoryStorage ms;
        raft::Config c(1);
        c->log_level = RAFT_LOG_OFF;
        raft::RawNode node(c, ms);
        // Nothing to acknowledge: two Readys may be taken, both stay valid.
        raft::Ready look = node.ready();
        raft::Ready again = node.ready();
        EXPECT(look.entries().size() == 0 && again.messages().size() == 0);
        node.advance();
        node.bootstrap({1});
        raft::Ready rd = node.ready();
        EXPECT(rd.entries().size() == 1);
        try {
            raft::Ready twice = node.ready();
            EXPECT(false);
        } catch (const raft::Error &e) {
            EXPECT(e.code() == RAFT_ERR_MISUSE);
        }
        EXPECT(rd.entries().size() == 1);  // the refused call changed nothing
        node.advance();
        return ok;
    });

    run("step refuses a message addressed to another node", [] {
        bool ok = true;
        Single s;  // node 1, leader at term 2
        raft_message m{};
        m.msg_type = RAFT_MSG_HEARTBEAT;
        m.from = 3;
        m.term = 9;
        auto step = [&](uint64_t to) {
            m.to = to;
            raft::detail::Buf b;
            EXPECT(raft_message_encode(&m, &b.b) == RAFT_OK);
            return raft_rawnode_step(s.node, b.b.data, b.b.len);
        };
        EXPECT(step(2) == RAFT_ERR_MISUSE);
        EXPECT(std::strstr(raft_rawnode_last_error(s.node), "addressed to node 2") != nullptr);
        raft_status st;
        EXPECT(raft_rawnode_status(s.node, &st) == RAFT_OK && st.term == 2 && st.raft_state == RAFT_STATE_LEADER);
        EXPECT(step(1) == RAFT_OK);  // the same message to this node is taken
        EXPECT(raft_rawnode_status(s.node, &st) == RAFT_OK && st.term == 9 && st.leader_id == 3);
        // The C++ wrapper throws it.
        m.to = 2;
        try {
            raft::RawNode node(raft::Config(1), raft::MemoryStorage());
            node.step(raft::encode(m));
            EXPECT(false);
        } catch (const raft::Error &e) {
            EXPECT(e.code() == RAFT_ERR_MISUSE);
        }
        return ok;
    });

    run("a Ready never advanced makes tick log a warning", [] {
        bool ok = true;
        auto lines = std::make_shared<std::vector<std::string>>();
        raft::Config c(1);
        c->election_tick = 10;
        c.set_logger([lines](raft_log_level, std::string_view msg) { lines->emplace_back(msg); }, RAFT_LOG_WARN);
        raft::MemoryStorage ms;
        raft::RawNode node(c, ms);
        node.bootstrap({1, 2, 3});
        raft::Ready rd = node.ready();  // handed out, never advanced
        auto warned = [&] {
            for (const std::string &l : *lines)
                if (l.find("advance has not been called") != std::string::npos) return true;
            return false;
        };
        for (int i = 0; i < 19; i++) node.tick();
        EXPECT(!warned());
        node.tick();  // two election timeouts
        EXPECT(warned());
        return ok;
    });

    run("use of a freed Ready through the documented pattern", [] {
        bool ok = true;
        Single s;
        raft_rawnode_propose(s.node, raft::detail::u8("abc"), 3);
        raft_ready *rd = nullptr;
        EXPECT(raft_rawnode_ready(s.node, &rd) == RAFT_OK && rd != nullptr);
        const raft_entry *es = nullptr;
        size_t n = 0;
        EXPECT(raft_ready_entries(rd, &es, &n) == RAFT_OK && n == 1);
        raft_ready_free(&rd);
        EXPECT(rd == nullptr);
        EXPECT(raft_ready_entries(rd, &es, &n) == RAFT_ERR_NULL);
        raft_ready_free(&rd);  // second free is a no-op
        // The node was not advanced by freeing: advance still works once.
        EXPECT(raft_rawnode_advance(s.node) == RAFT_OK);
        EXPECT(raft_rawnode_advance(s.node) == RAFT_ERR_MISUSE);
        raft_buf b{nullptr, 0, 0};
        raft_entry e{RAFT_ENTRY_NORMAL, 1, 2, raft_bytes{nullptr, 0}};
        EXPECT(raft_entry_encode(&e, &b) == RAFT_OK && b.len > 0);
        raft_buf_free(&b);
        EXPECT(b.data == nullptr && b.len == 0);
        raft_buf_free(&b);  // zeroed: harmless
        return ok;
    });

    run("invalid configs and callback tables", [] {
        bool ok = true;
        raft_memory_storage *ms = nullptr;
        raft_memory_storage_new(&ms);
        raft_rawnode *n = nullptr;
        raft_config c = cfg(0);
        EXPECT(raft_rawnode_new(&c, ms, &n) == RAFT_ERR_CONFIG_INVALID && n == nullptr);
        c = cfg(1);
        c.election_tick = 1;
        EXPECT(raft_rawnode_new(&c, ms, &n) == RAFT_ERR_CONFIG_INVALID && has_message());
        c = cfg(1);
        c.read_only_option = 9;
        EXPECT(raft_rawnode_new(&c, ms, &n) == RAFT_ERR_INVALID_ARGUMENT);
        raft_memory_storage_free(&ms);
        EXPECT(ms == nullptr);

        auto st = std::make_shared<Flaky>();
        raft_storage_callbacks t = st->callbacks();
        t.struct_size = 8;
        c = cfg(1);
        EXPECT(raft_rawnode_new_with_callbacks(&c, &t, &n) == RAFT_ERR_INVALID_ARGUMENT);
        EXPECT(std::strstr(raft_last_error(), "struct_size") != nullptr);
        t = st->callbacks();
        t.term = nullptr;
        EXPECT(raft_rawnode_new_with_callbacks(&c, &t, &n) == RAFT_ERR_INVALID_ARGUMENT);
        EXPECT(raft_rawnode_new_with_callbacks(&c, nullptr, &n) == RAFT_ERR_NULL && n == nullptr);
        return ok;
    });

    run("failing storage callbacks", [] {
        bool ok = true;
        raft::Config c(1);
        c->log_level = RAFT_LOG_OFF;
        auto st = std::make_shared<Flaky>();
        st->mode = Flaky::FAIL_INIT;
        try {
            raft::RawNode n(c, st);
            EXPECT(false);
        } catch (const raft::Error &e) {
            EXPECT(e.code() == RAFT_ERR_STORAGE);
            EXPECT(std::strstr(e.what(), "init failed on purpose") != nullptr);
        }
        st->mode = Flaky::OK;
        raft::RawNode n(c, st);
        st->mode = Flaky::THROW_STD;
        try {
            n.campaign();  // reads the last term from storage
            EXPECT(false);
        } catch (const raft::Error &e) {
            EXPECT(e.code() == RAFT_ERR_STORAGE);
            EXPECT(std::strstr(e.what(), "disk unplugged") != nullptr);
        }
        // The failure is remembered: every later call but free is refused
        // with RAFT_ERR_POISONED (raft.h), also those the core cannot refuse
        // itself, and no out-parameter is written.
        st->mode = Flaky::OK;
        raft_rawnode *p = n.get();
        EXPECT(raft_rawnode_campaign(p) == RAFT_ERR_POISONED);
        EXPECT(std::strstr(raft_rawnode_last_error(p), "disk unplugged") != nullptr);
        EXPECT(raft_rawnode_tick(p) == RAFT_ERR_POISONED);
        EXPECT(std::strstr(raft_rawnode_last_error(p), "raft_rawnode_tick") != nullptr);
        bool has = true;
        EXPECT(raft_rawnode_has_ready(p, &has) == RAFT_ERR_POISONED && has);
        raft_status status{};
        status.id = 77;
        EXPECT(raft_rawnode_status(p, &status) == RAFT_ERR_POISONED && status.id == 77);
        size_t count = 5;
        EXPECT(raft_rawnode_progress(p, nullptr, &count) == RAFT_ERR_POISONED && count == 5);
        raft_ready *rd = nullptr;
        EXPECT(raft_rawnode_ready(p, &rd) == RAFT_ERR_POISONED && rd == nullptr);
        EXPECT(raft_rawnode_advance(p) == RAFT_ERR_POISONED);
        EXPECT(raft_rawnode_propose(p, nullptr, 0) == RAFT_ERR_POISONED);
        EXPECT(raft_rawnode_forget_leader(p) == RAFT_ERR_POISONED);
        EXPECT(raft_rawnode_report_unreachable(p, 2) == RAFT_ERR_POISONED);

        auto st2 = std::make_shared<Flaky>();
        raft::RawNode n2(c, st2);
        st2->mode = Flaky::THROW_INT;
        EXPECT(raft_rawnode_campaign(n2.get()) == RAFT_ERR_STORAGE);
        EXPECT(std::strstr(raft_rawnode_last_error(n2.get()), "unknown C++ exception") != nullptr);
        return ok;
    });

    run("reentrant call from a callback", [] {
        bool ok = true;
        struct Reenter : Flaky {
            raft_rawnode *node = nullptr;
            raft_result seen = RAFT_OK;
            uint64_t term(uint64_t) override {
                if (node) seen = raft_rawnode_tick(node);
                return 0;
            }
        };
        auto st = std::make_shared<Reenter>();
        raft::Config c(1);
        c->log_level = RAFT_LOG_OFF;
        raft::RawNode n(c, st);
        st->node = n.get();
        try {
            n.campaign();
        } catch (const raft::Error &) {
        }
        st->node = nullptr;
        EXPECT(st->seen == RAFT_ERR_MISUSE);
        return ok;
    });

    run("progress and conf_state: NULL arguments and too-small arrays", [] {
        bool ok = true;
        Single s;  // a single-voter leader: it tracks itself
        size_t n = 0;
        raft_progress ps[3];
        EXPECT(raft_rawnode_progress(nullptr, ps, &n) == RAFT_ERR_NULL && has_message());
        EXPECT(raft_rawnode_progress(nullptr, nullptr, &n) == RAFT_ERR_NULL);
        EXPECT(raft_rawnode_progress(s.node, nullptr, nullptr) == RAFT_ERR_NULL);
        EXPECT(raft_rawnode_progress(s.node, ps, nullptr) == RAFT_ERR_NULL);
        EXPECT(std::strstr(raft_rawnode_last_error(s.node), "len") != nullptr);
        n = 99;  // ignored when only the count is asked for
        EXPECT(raft_rawnode_progress(s.node, nullptr, &n) == RAFT_OK && n == 1);

        // With learner 2 the leader tracks two peers.
        raft_conf_change add{0, RAFT_CONF_CHANGE_ADD_LEARNER_NODE, 2, raft_bytes{nullptr, 0}};
        EXPECT(raft_rawnode_apply_conf_change(s.node, &add, nullptr, nullptr) == RAFT_OK);
        for (size_t cap : {size_t(0), size_t(1)}) {
            std::memset(ps, 0xab, sizeof ps);
            n = cap;
            EXPECT(raft_rawnode_progress(s.node, ps, &n) == RAFT_ERR_INVALID_ARGUMENT);
            EXPECT(n == cap);  // not written on failure
            EXPECT(reinterpret_cast<const uint8_t *>(ps)[0] == 0xab);
            EXPECT(std::strstr(raft_rawnode_last_error(s.node), "tracks 2 peers") != nullptr);
        }
        n = 3;
        EXPECT(raft_rawnode_progress(s.node, ps, &n) == RAFT_OK && n == 2);
        EXPECT(ps[0].id == 1 && !ps[0].is_learner && ps[1].id == 2 && ps[1].is_learner);

        raft_decoded *d = nullptr;
        raft_conf_state cs;
        EXPECT(raft_rawnode_conf_state(nullptr, &d, &cs) == RAFT_ERR_NULL && d == nullptr);
        EXPECT(raft_rawnode_conf_state(s.node, nullptr, &cs) == RAFT_ERR_NULL);
        EXPECT(raft_rawnode_conf_state(s.node, &d, nullptr) == RAFT_ERR_NULL && d == nullptr);
        EXPECT(raft_rawnode_conf_state(s.node, &d, &cs) == RAFT_OK && d != nullptr);
        EXPECT(cs.voters_len == 1 && cs.voters[0] == 1 && cs.learners_len == 1 && cs.learners[0] == 2);
        raft_decoded_free(&d);

        // The wrapper: a follower's progress is empty, its membership known.
        raft::MemoryStorage ms(raft::ConfState{{1, 2, 3}, {}, {}, {}, false});
        raft::Config c(2);
        c->log_level = RAFT_LOG_OFF;
        raft::RawNode f(c, ms);
        EXPECT(f.progress().empty() && !f.progress(2).has_value());
        EXPECT(f.conf_state().voters == std::vector<uint64_t>({1, 2, 3}));
        return ok;
    });

    run("wrapper decode errors are exceptions with codes", [] {
        bool ok = true;
        try {
            raft::Entry::decode(std::string("\xff\xff\xff", 3));
            EXPECT(false);
        } catch (const raft::Error &e) {
            EXPECT(e.code() == RAFT_ERR_DECODE);
        }
        raft::ConfChangeV2 cc;
        cc.changes.push_back(raft_conf_change_single{RAFT_CONF_CHANGE_ADD_LEARNER_NODE, 7});
        cc.context = std::string("ctx");
        raft::ConfChangeV2 back = raft::ConfChangeV2::decode(cc.encode());
        EXPECT(back.changes.size() == 1 && back.changes[0].node_id == 7 && back.context == std::string("ctx"));
        raft::HardState hs{3, 2, 1};
        raft::HardState h2 = raft::decode_hard_state(raft::encode(hs));
        EXPECT(h2.term == 3 && h2.vote == 2 && h2.commit == 1);
        return ok;
    });

    if (failures == 0) std::printf("bad_input: all %d cases ok\n", cases);
    else std::printf("bad_input: %d of %d cases FAILED\n", failures, cases);
    return failures == 0 ? 0 : 1;
}

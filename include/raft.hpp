// raft.hpp -- header-only C++17 RAII wrapper over raft.h (namespace raft).
//
// Handles are move-only owners of the C handles; failures throw raft::Error,
// which carries the raft_result code and the library's message. Views
// returned by a Ready (entries, messages, snapshot) stay valid as long as the
// Ready object lives. Threading follows raft.h: one thread at a time per
// object.
#ifndef RAFT_HPP
#define RAFT_HPP

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "raft.h"

namespace raft {

/// A failed call: code() is the raft_result, what() the message.
class Error : public std::runtime_error {
public:
    Error(raft_result code, const std::string &msg) : std::runtime_error(msg), code_(code) {}
    raft_result code() const noexcept { return code_; }

private:
    raft_result code_;
};

namespace detail {

inline void check(raft_result rc, const char *msg) {
    if (rc != RAFT_OK) {
        throw Error(rc, std::string(raft_result_str(rc)) + " -- " + (msg ? msg : ""));
    }
}
inline void check(raft_result rc) { check(rc, raft_last_error()); }

inline raft_bytes bytes_of(const std::optional<std::string> &s) {
    if (!s) return raft_bytes{nullptr, 0};
    // A present field has a non-NULL pointer even when empty.
    return raft_bytes{reinterpret_cast<const uint8_t *>(s->data()), s->size()};
}
inline std::optional<std::string> opt_string(raft_bytes b) {
    if (b.data == nullptr) return std::nullopt;
    return std::string(reinterpret_cast<const char *>(b.data), b.len);
}
inline std::vector<uint64_t> ids(const uint64_t *p, size_t n) {
    return n == 0 ? std::vector<uint64_t>() : std::vector<uint64_t>(p, p + n);
}
inline const uint8_t *u8(std::string_view s) { return reinterpret_cast<const uint8_t *>(s.data()); }

/// Owns a raft_buf.
struct Buf {
    raft_buf b{nullptr, 0, 0};
    Buf() = default;
    Buf(const Buf &) = delete;
    Buf &operator=(const Buf &) = delete;
    ~Buf() { raft_buf_free(&b); }
    std::string str() const { return std::string(reinterpret_cast<const char *>(b.data), b.len); }
};

/// Owns a raft_decoded.
struct Decoded {
    raft_decoded *p = nullptr;
    Decoded() = default;
    Decoded(const Decoded &) = delete;
    Decoded &operator=(const Decoded &) = delete;
    ~Decoded() { raft_decoded_free(&p); }
};

}  // namespace detail

/// A read-only array view (the C++17 stand-in for std::span).
template <class T>
class Span {
public:
    Span() = default;
    Span(const T *data, size_t size) : data_(data), size_(size) {}
    const T *begin() const { return data_; }
    const T *end() const { return data_ + size_; }
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    const T &operator[](size_t i) const { return data_[i]; }

private:
    const T *data_ = nullptr;
    size_t size_ = 0;
};

/// The bytes of a view as a string_view (empty for an absent field).
inline std::string_view view(raft_bytes b) {
    return b.data ? std::string_view(reinterpret_cast<const char *>(b.data), b.len) : std::string_view();
}

/// Membership, owning its arrays.
struct ConfState {
    std::vector<uint64_t> voters, learners, voters_outgoing, learners_next;
    bool auto_leave = false;

    /// A view valid while this object is unchanged.
    raft_conf_state c() const {
        return raft_conf_state{voters.data(),          voters.size(),          learners.data(),
                               learners.size(),        voters_outgoing.data(), voters_outgoing.size(),
                               learners_next.data(),   learners_next.size(),   auto_leave};
    }
    static ConfState from(const raft_conf_state &c) {
        ConfState s;
        s.voters = detail::ids(c.voters, c.voters_len);
        s.learners = detail::ids(c.learners, c.learners_len);
        s.voters_outgoing = detail::ids(c.voters_outgoing, c.voters_outgoing_len);
        s.learners_next = detail::ids(c.learners_next, c.learners_next_len);
        s.auto_leave = c.auto_leave;
        return s;
    }
};

/// A log entry, owning its payload.
struct Entry {
    int32_t type = RAFT_ENTRY_NORMAL;
    uint64_t term = 0;
    uint64_t index = 0;
    std::optional<std::string> data;

    raft_entry c() const { return raft_entry{type, term, index, detail::bytes_of(data)}; }
    static Entry from(const raft_entry &e) { return Entry{e.entry_type, e.term, e.index, detail::opt_string(e.data)}; }
    std::string encode() const {
        raft_entry e = c();
        detail::Buf b;
        detail::check(raft_entry_encode(&e, &b.b));
        return b.str();
    }
    static Entry decode(std::string_view bytes) {
        detail::Decoded d;
        raft_entry e;
        detail::check(raft_entry_decode(detail::u8(bytes), bytes.size(), &d.p, &e));
        return from(e);
    }
};

/// A snapshot, owning its data and membership.
struct Snapshot {
    std::optional<std::string> data;
    uint64_t index = 0;
    uint64_t term = 0;
    ConfState conf_state;

    /// A view valid while this object is unchanged.
    raft_snapshot c() const { return raft_snapshot{detail::bytes_of(data), index, term, conf_state.c()}; }
    static Snapshot from(const raft_snapshot &s) {
        return Snapshot{detail::opt_string(s.data), s.index, s.term, ConfState::from(s.conf_state)};
    }
    std::string encode() const {
        raft_snapshot s = c();
        detail::Buf b;
        detail::check(raft_snapshot_encode(&s, &b.b));
        return b.str();
    }
    static Snapshot decode(std::string_view bytes) {
        detail::Decoded d;
        raft_snapshot s;
        detail::check(raft_snapshot_decode(detail::u8(bytes), bytes.size(), &d.p, &s));
        return from(s);
    }
};

/// Term, vote and commit.
using HardState = raft_hard_state;

inline std::string encode(const HardState &hs) {
    detail::Buf b;
    detail::check(raft_hard_state_encode(&hs, &b.b));
    return b.str();
}
inline HardState decode_hard_state(std::string_view bytes) {
    HardState hs{};
    detail::check(raft_hard_state_decode(detail::u8(bytes), bytes.size(), &hs));
    return hs;
}

/// A single membership change (v1).
struct ConfChange {
    uint64_t id = 0;
    int32_t type = RAFT_CONF_CHANGE_ADD_NODE;
    uint64_t node_id = 0;
    std::optional<std::string> context;

    raft_conf_change c() const { return raft_conf_change{id, type, node_id, detail::bytes_of(context)}; }
    std::string encode() const {
        raft_conf_change cc = c();
        detail::Buf b;
        detail::check(raft_conf_change_encode(&cc, &b.b));
        return b.str();
    }
    static ConfChange decode(std::string_view bytes) {
        detail::Decoded d;
        raft_conf_change cc;
        detail::check(raft_conf_change_decode(detail::u8(bytes), bytes.size(), &d.p, &cc));
        return ConfChange{cc.id, cc.change_type, cc.node_id, detail::opt_string(cc.context)};
    }
};

/// A (possibly joint) membership change (v2).
struct ConfChangeV2 {
    int32_t transition = RAFT_CONF_CHANGE_TRANSITION_AUTO;
    std::vector<raft_conf_change_single> changes;
    std::optional<std::string> context;

    raft_conf_change_v2 c() const {
        return raft_conf_change_v2{transition, changes.data(), changes.size(), detail::bytes_of(context)};
    }
    std::string encode() const {
        raft_conf_change_v2 cc = c();
        detail::Buf b;
        detail::check(raft_conf_change_v2_encode(&cc, &b.b));
        return b.str();
    }
    static ConfChangeV2 decode(std::string_view bytes) {
        detail::Decoded d;
        raft_conf_change_v2 cc;
        detail::check(raft_conf_change_v2_decode(detail::u8(bytes), bytes.size(), &d.p, &cc));
        ConfChangeV2 r;
        r.transition = cc.transition;
        if (cc.changes_len) r.changes.assign(cc.changes, cc.changes + cc.changes_len);
        r.context = detail::opt_string(cc.context);
        return r;
    }
};

/// A decoded raftpb Message: get() is valid while this object lives.
class DecodedMessage {
public:
    explicit DecodedMessage(std::string_view bytes) {
        detail::check(raft_message_decode(detail::u8(bytes), bytes.size(), &d_.p, &m_));
    }
    const raft_message &get() const { return m_; }
    const raft_message *operator->() const { return &m_; }

private:
    detail::Decoded d_;
    raft_message m_{};
};

/// Encodes a message described by the C struct.
inline std::string encode(const raft_message &m) {
    detail::Buf b;
    detail::check(raft_message_encode(&m, &b.b));
    return b.str();
}

/// Receives the node's log lines.
using LogFn = std::function<void(raft_log_level level, std::string_view msg)>;

/// Node configuration: every raft_config field is reachable through ->.
class Config {
public:
    explicit Config(uint64_t id) { detail::check(raft_config_init(&c_, id)); }
    raft_config *operator->() { return &c_; }
    const raft_config *operator->() const { return &c_; }
    const raft_config &c() const { return c_; }

    /// Sends log lines at `level` and above to `fn` (which must not throw;
    /// exceptions are swallowed).
    void set_logger(LogFn fn, raft_log_level level = RAFT_LOG_INFO) {
        log_ = std::make_shared<LogFn>(std::move(fn));
        c_.log_fn = &Config::trampoline;
        c_.log_userdata = log_.get();
        c_.log_level = level;
    }
    const std::shared_ptr<LogFn> &logger() const { return log_; }

private:
    static void trampoline(void *ud, int32_t level, const char *msg, size_t len) {
        try {
            (*static_cast<LogFn *>(ud))(static_cast<raft_log_level>(level), std::string_view(msg, len));
        } catch (...) {
        }
    }
    raft_config c_{};
    std::shared_ptr<LogFn> log_;
};

class Ready;

/// The core's in-memory storage (move-only).
class MemoryStorage {
public:
    MemoryStorage() { detail::check(raft_memory_storage_new(&p_)); }
    explicit MemoryStorage(const ConfState &cs) {
        raft_conf_state c = cs.c();
        detail::check(raft_memory_storage_new_with_conf_state(&c, &p_));
    }
    MemoryStorage(MemoryStorage &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    MemoryStorage &operator=(MemoryStorage &&o) noexcept {
        if (this != &o) {
            raft_memory_storage_free(&p_);
            p_ = std::exchange(o.p_, nullptr);
        }
        return *this;
    }
    MemoryStorage(const MemoryStorage &) = delete;
    MemoryStorage &operator=(const MemoryStorage &) = delete;
    ~MemoryStorage() { raft_memory_storage_free(&p_); }

    raft_memory_storage *get() const { return p_; }

    void append(Span<raft_entry> entries) { check(raft_memory_storage_append(p_, entries.begin(), entries.size())); }
    void append(const std::vector<Entry> &entries) {
        std::vector<raft_entry> v;
        v.reserve(entries.size());
        for (const auto &e : entries) v.push_back(e.c());
        check(raft_memory_storage_append(p_, v.data(), v.size()));
    }
    /// Persists a Ready (snapshot, entries, hard state), sharing the entries'
    /// payloads with it instead of copying them.
    inline void persist(const Ready &rd);
    void set_hard_state(const HardState &hs) { check(raft_memory_storage_set_hard_state(p_, &hs)); }
    HardState hard_state() const {
        HardState hs{};
        check(raft_memory_storage_hard_state(p_, &hs));
        return hs;
    }
    void apply_snapshot(const raft_snapshot &s) { check(raft_memory_storage_apply_snapshot(p_, &s)); }
    void apply_snapshot(const Snapshot &s) { apply_snapshot(s.c()); }
    void compact(uint64_t index) { check(raft_memory_storage_compact(p_, index)); }
    void create_snapshot(uint64_t index, const ConfState *cs, std::string_view data) {
        raft_conf_state c{};
        if (cs) c = cs->c();
        check(raft_memory_storage_create_snapshot(p_, index, cs ? &c : nullptr, detail::u8(data), data.size()));
    }
    Snapshot snapshot() const {
        detail::Decoded d;
        raft_snapshot s;
        check(raft_memory_storage_snapshot(p_, &d.p, &s));
        return Snapshot::from(s);
    }
    std::vector<Entry> entries(uint64_t lo, uint64_t hi, uint64_t max_size = UINT64_MAX) const {
        detail::Decoded d;
        const raft_entry *es = nullptr;
        size_t n = 0;
        check(raft_memory_storage_entries(p_, lo, hi, max_size, &d.p, &es, &n));
        std::vector<Entry> r;
        r.reserve(n);
        for (size_t i = 0; i < n; i++) r.push_back(Entry::from(es[i]));
        return r;
    }
    uint64_t term(uint64_t index) const {
        uint64_t t = 0;
        check(raft_memory_storage_term(p_, index, &t));
        return t;
    }
    uint64_t first_index() const {
        uint64_t i = 0;
        check(raft_memory_storage_first_index(p_, &i));
        return i;
    }
    uint64_t last_index() const {
        uint64_t i = 0;
        check(raft_memory_storage_last_index(p_, &i));
        return i;
    }

private:
    void check(raft_result rc) const { detail::check(rc, raft_memory_storage_last_error(p_)); }
    raft_memory_storage *p_ = nullptr;
};

/// What a storage returns at start-up.
struct RaftState {
    HardState hard_state{};
    ConfState conf_state;
};

/// A storage implemented in C++: derive, implement, and pass to RawNode.
/// Throw raft::Error with RAFT_ERR_COMPACTED, RAFT_ERR_UNAVAILABLE,
/// RAFT_ERR_SNAPSHOT_OUT_OF_DATE or RAFT_ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE
/// for those conditions; any other exception is a storage failure
/// (RAFT_ERR_STORAGE with the exception's message). Exceptions never cross
/// into the library: the callback table catches them.
class Storage {
public:
    virtual ~Storage() = default;
    virtual RaftState initial_state() = 0;
    /// Entries [lo, hi), at most max_size encoded bytes but at least one.
    virtual std::vector<Entry> entries(uint64_t lo, uint64_t hi, uint64_t max_size) = 0;
    virtual uint64_t term(uint64_t index) = 0;
    virtual uint64_t first_index() = 0;
    virtual uint64_t last_index() = 0;
    virtual Snapshot snapshot() = 0;

    /// The C callback table for this object (userdata = this).
    raft_storage_callbacks callbacks() {
        raft_storage_callbacks t{};
        t.struct_size = sizeof(raft_storage_callbacks);
        t.userdata = this;
        t.initial_state = &Storage::cb_initial_state;
        t.entries = &Storage::cb_entries;
        t.term = &Storage::cb_term;
        t.first_index = &Storage::cb_first_index;
        t.last_index = &Storage::cb_last_index;
        t.snapshot = &Storage::cb_snapshot;
        return t;
    }

private:
    template <class F>
    static int32_t guarded(raft_sink *sink, F &&f) {
        try {
            f();
            return RAFT_OK;
        } catch (const Error &e) {
            raft_sink_set_error(sink, e.what());
            return e.code() == RAFT_OK ? RAFT_ERR_STORAGE : e.code();
        } catch (const std::exception &e) {
            raft_sink_set_error(sink, e.what());
            return RAFT_ERR_STORAGE;
        } catch (...) {
            raft_sink_set_error(sink, "unknown C++ exception");
            return RAFT_ERR_STORAGE;
        }
    }
    static Storage &self(void *ud) { return *static_cast<Storage *>(ud); }
    static int32_t cb_initial_state(void *ud, raft_hard_state *hs, raft_sink *sink) {
        return guarded(sink, [&] {
            RaftState st = self(ud).initial_state();
            raft_conf_state cs = st.conf_state.c();
            detail::check(raft_sink_set_conf_state(sink, &cs));
            *hs = st.hard_state;
        });
    }
    static int32_t cb_entries(void *ud, uint64_t lo, uint64_t hi, uint64_t max_size, raft_sink *sink) {
        return guarded(sink, [&] {
            for (const Entry &e : self(ud).entries(lo, hi, max_size)) {
                raft_entry c = e.c();
                detail::check(raft_sink_push_entry(sink, &c));
            }
        });
    }
    static int32_t cb_term(void *ud, uint64_t index, uint64_t *term, raft_sink *sink) {
        return guarded(sink, [&] { *term = self(ud).term(index); });
    }
    static int32_t cb_first_index(void *ud, uint64_t *index, raft_sink *sink) {
        return guarded(sink, [&] { *index = self(ud).first_index(); });
    }
    static int32_t cb_last_index(void *ud, uint64_t *index, raft_sink *sink) {
        return guarded(sink, [&] { *index = self(ud).last_index(); });
    }
    static int32_t cb_snapshot(void *ud, raft_sink *sink) {
        return guarded(sink, [&] {
            Snapshot s = self(ud).snapshot();
            raft_snapshot c = s.c();
            detail::check(raft_sink_set_snapshot(sink, &c));
        });
    }
};

/// One Ready (move-only). Every view it returns is valid while it lives.
class Ready {
public:
    explicit Ready(raft_ready *p) : p_(p) {}
    Ready(Ready &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    Ready &operator=(Ready &&o) noexcept {
        if (this != &o) {
            raft_ready_free(&p_);
            p_ = std::exchange(o.p_, nullptr);
        }
        return *this;
    }
    Ready(const Ready &) = delete;
    Ready &operator=(const Ready &) = delete;
    ~Ready() { raft_ready_free(&p_); }

    raft_ready *get() const { return p_; }

    std::optional<raft_soft_state> soft_state() const {
        bool changed = false;
        raft_soft_state s{};
        detail::check(raft_ready_soft_state(p_, &changed, &s));
        return changed ? std::optional<raft_soft_state>(s) : std::nullopt;
    }
    std::optional<HardState> hard_state() const {
        bool changed = false;
        HardState hs{};
        detail::check(raft_ready_hard_state(p_, &changed, &hs));
        return changed ? std::optional<HardState>(hs) : std::nullopt;
    }
    Span<raft_entry> entries() const { return array(raft_ready_entries); }
    Span<raft_entry> committed_entries() const { return array(raft_ready_committed_entries); }
    Span<raft_envelope> messages() const { return array(raft_ready_messages); }
    Span<raft_read_state> read_states() const { return array(raft_ready_read_states); }
    std::optional<raft_snapshot> snapshot() const {
        bool present = false;
        raft_snapshot s{};
        detail::check(raft_ready_snapshot(p_, &present, &s));
        return present ? std::optional<raft_snapshot>(s) : std::nullopt;
    }
    bool must_sync() const {
        bool b = false;
        detail::check(raft_ready_must_sync(p_, &b));
        return b;
    }

private:
    template <class T>
    Span<T> array(raft_result (*f)(const raft_ready *, const T **, size_t *)) const {
        const T *p = nullptr;
        size_t n = 0;
        detail::check(f(p_, &p, &n));
        return Span<T>(p, n);
    }
    raft_ready *p_ = nullptr;
};

inline void MemoryStorage::persist(const Ready &rd) { check(raft_memory_storage_persist_ready(p_, rd.get())); }

/// The log of one Raft group in a durable Store (move-only). Create a
/// RawNode on it, and write each Ready with persist() before sending the
/// Ready's messages.
class StoreGroup {
public:
    explicit StoreGroup(raft_store_group *p) : p_(p) {}
    StoreGroup(StoreGroup &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    StoreGroup &operator=(StoreGroup &&o) noexcept {
        if (this != &o) {
            raft_store_group_free(&p_);
            p_ = std::exchange(o.p_, nullptr);
        }
        return *this;
    }
    StoreGroup(const StoreGroup &) = delete;
    StoreGroup &operator=(const StoreGroup &) = delete;
    ~StoreGroup() { raft_store_group_free(&p_); }

    raft_store_group *get() const { return p_; }

    /// Hard state, snapshot and entries of the Ready in one atomic, synced
    /// write: durable when it returns.
    void persist(const Ready &rd) { check(raft_store_group_persist_ready(p_, rd.get())); }
    void append(const std::vector<Entry> &entries) {
        std::vector<raft_entry> v;
        v.reserve(entries.size());
        for (const auto &e : entries) v.push_back(e.c());
        check(raft_store_group_append(p_, v.data(), v.size()));
    }
    void set_hard_state(const HardState &hs) { check(raft_store_group_set_hard_state(p_, &hs)); }
    HardState hard_state() const {
        HardState hs{};
        check(raft_store_group_hard_state(p_, &hs));
        return hs;
    }
    void apply_snapshot(const Snapshot &s) {
        raft_snapshot c = s.c();
        check(raft_store_group_apply_snapshot(p_, &c));
    }
    void compact(uint64_t index) { check(raft_store_group_compact(p_, index)); }
    void create_snapshot(uint64_t index, const ConfState *cs, std::string_view data) {
        raft_conf_state c{};
        if (cs) c = cs->c();
        check(raft_store_group_create_snapshot(p_, index, cs ? &c : nullptr, detail::u8(data), data.size()));
    }
    Snapshot snapshot() const {
        detail::Decoded d;
        raft_snapshot s;
        check(raft_store_group_snapshot(p_, &d.p, &s));
        return Snapshot::from(s);
    }
    uint64_t first_index() const {
        uint64_t i = 0;
        check(raft_store_group_first_index(p_, &i));
        return i;
    }
    uint64_t last_index() const {
        uint64_t i = 0;
        check(raft_store_group_last_index(p_, &i));
        return i;
    }

private:
    void check(raft_result rc) const { detail::check(rc, raft_store_group_last_error(p_)); }
    raft_store_group *p_ = nullptr;
};

/// A durable Raft log store over LevelDB (move-only): one database
/// directory serving any number of groups. A second open of the same
/// directory throws until this one is closed or destroyed. Use a store,
/// its groups and their nodes from one thread.
class Store {
public:
    explicit Store(const std::string &path, bool sync = true, uint64_t cache_bytes = 4u << 20) {
        raft_store_options o;
        detail::check(raft_store_options_init(&o));
        o.path = path.c_str();
        o.sync = sync;
        o.cache_bytes = cache_bytes;
        detail::check(raft_store_open(&o, &p_));
    }
    Store(Store &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    Store &operator=(Store &&o) noexcept {
        if (this != &o) {
            raft_store_free(&p_);
            p_ = std::exchange(o.p_, nullptr);
        }
        return *this;
    }
    Store(const Store &) = delete;
    Store &operator=(const Store &) = delete;
    ~Store() { raft_store_free(&p_); }

    raft_store *get() const { return p_; }

    /// Opens group `id` (empty when never written).
    StoreGroup group(uint64_t id) const {
        raft_store_group *g = nullptr;
        check(raft_store_open_group(p_, id, &g));
        return StoreGroup(g);
    }
    /// Removes every key and the snapshot file of group `id`.
    void drop_group(uint64_t id) { check(raft_store_drop_group(p_, id)); }
    /// Closes the database now (releasing its lock); groups fail afterwards.
    void close() { check(raft_store_close(p_)); }

private:
    void check(raft_result rc) const { detail::check(rc, raft_store_last_error(p_)); }
    raft_store *p_ = nullptr;
};

/// A Raft node (move-only).
class RawNode {
public:
    /// A node on a memory storage (which it shares).
    RawNode(const Config &cfg, const MemoryStorage &storage) : log_(cfg.logger()) {
        detail::check(raft_rawnode_new(&cfg.c(), storage.get(), &p_));
    }
    /// A node on a group of a durable store (restarting from what it holds).
    RawNode(const Config &cfg, const StoreGroup &group) : log_(cfg.logger()) {
        detail::check(raft_rawnode_new_on_store_group(&cfg.c(), group.get(), &p_));
    }
    /// A node on a C++ storage, which the node keeps alive.
    RawNode(const Config &cfg, std::shared_ptr<Storage> storage) : log_(cfg.logger()), storage_(std::move(storage)) {
        if (!storage_) throw Error(RAFT_ERR_NULL, "RawNode: storage is null");
        raft_storage_callbacks cb = storage_->callbacks();
        detail::check(raft_rawnode_new_with_callbacks(&cfg.c(), &cb, &p_));
    }
    RawNode(RawNode &&o) noexcept
        : p_(std::exchange(o.p_, nullptr)), log_(std::move(o.log_)), storage_(std::move(o.storage_)) {}
    RawNode &operator=(RawNode &&o) noexcept {
        if (this != &o) {
            raft_rawnode_free(&p_);
            p_ = std::exchange(o.p_, nullptr);
            log_ = std::move(o.log_);
            storage_ = std::move(o.storage_);
        }
        return *this;
    }
    RawNode(const RawNode &) = delete;
    RawNode &operator=(const RawNode &) = delete;
    ~RawNode() { raft_rawnode_free(&p_); }

    raft_rawnode *get() const { return p_; }

    void bootstrap(const std::vector<uint64_t> &peers) { check(raft_rawnode_bootstrap(p_, peers.data(), peers.size())); }
    void tick() { check(raft_rawnode_tick(p_)); }
    void campaign() { check(raft_rawnode_campaign(p_)); }
    void propose(std::string_view data) { check(raft_rawnode_propose(p_, detail::u8(data), data.size())); }
    void propose_conf_change(const ConfChange &cc) {
        raft_conf_change c = cc.c();
        check(raft_rawnode_propose_conf_change(p_, &c));
    }
    void propose_conf_change(const ConfChangeV2 &cc) {
        raft_conf_change_v2 c = cc.c();
        check(raft_rawnode_propose_conf_change_v2(p_, &c));
    }
    ConfState apply_conf_change(const ConfChange &cc) {
        raft_conf_change c = cc.c();
        detail::Decoded d;
        raft_conf_state cs;
        check(raft_rawnode_apply_conf_change(p_, &c, &d.p, &cs));
        return ConfState::from(cs);
    }
    ConfState apply_conf_change(const ConfChangeV2 &cc) {
        raft_conf_change_v2 c = cc.c();
        detail::Decoded d;
        raft_conf_state cs;
        check(raft_rawnode_apply_conf_change_v2(p_, &c, &d.p, &cs));
        return ConfState::from(cs);
    }
    /// Applies the change carried by a committed conf-change entry.
    ConfState apply_conf_change(const raft_entry &e) {
        if (e.entry_type == RAFT_ENTRY_CONF_CHANGE) return apply_conf_change(ConfChange::decode(view(e.data)));
        if (e.entry_type == RAFT_ENTRY_CONF_CHANGE_V2) return apply_conf_change(ConfChangeV2::decode(view(e.data)));
        throw Error(RAFT_ERR_INVALID_ARGUMENT, "apply_conf_change: not a conf-change entry");
    }
    void read_index(std::string_view ctx) { check(raft_rawnode_read_index(p_, detail::u8(ctx), ctx.size())); }
    void transfer_leader(uint64_t to) { check(raft_rawnode_transfer_leader(p_, to)); }
    void forget_leader() { check(raft_rawnode_forget_leader(p_)); }
    void step(std::string_view msg) { check(raft_rawnode_step(p_, detail::u8(msg), msg.size())); }
    bool has_ready() const {
        bool b = false;
        check(raft_rawnode_has_ready(p_, &b));
        return b;
    }
    // May be called again before advance() while the Readys taken await no
    // acknowledgement (etcd's rule); each Ready owns its views until it is
    // destroyed. Throws raft::Error(RAFT_ERR_MISUSE) while one awaits advance.
    Ready ready() {
        raft_ready *r = nullptr;
        check(raft_rawnode_ready(p_, &r));
        return Ready(r);
    }
    // Acknowledges every Ready taken since the last advance().
    void advance() { check(raft_rawnode_advance(p_)); }
    raft_status status() const {
        raft_status s{};
        check(raft_rawnode_status(p_, &s));
        return s;
    }
    /// The leader's view of every peer's log (etcd Status.Progress), sorted
    /// by id and including the leader; empty on a node that is not leader.
    std::vector<raft_progress> progress() const {
        size_t n = 0;
        check(raft_rawnode_progress(p_, nullptr, &n));
        std::vector<raft_progress> v(n);
        if (n > 0) check(raft_rawnode_progress(p_, v.data(), &n));
        v.resize(n);
        return v;
    }
    /// The progress of peer `id`, if this node is the leader and tracks it.
    std::optional<raft_progress> progress(uint64_t id) const {
        for (const raft_progress &p : progress())
            if (p.id == id) return p;
        return std::nullopt;
    }
    /// The current membership (etcd Status.Config), on any role.
    ConfState conf_state() const {
        detail::Decoded d;
        raft_conf_state cs;
        check(raft_rawnode_conf_state(p_, &d.p, &cs));
        return ConfState::from(cs);
    }
    void report_unreachable(uint64_t id) { check(raft_rawnode_report_unreachable(p_, id)); }
    void report_snapshot(uint64_t id, raft_snapshot_status st) { check(raft_rawnode_report_snapshot(p_, id, st)); }

private:
    void check(raft_result rc) const { detail::check(rc, raft_rawnode_last_error(p_)); }
    raft_rawnode *p_ = nullptr;
    std::shared_ptr<LogFn> log_;
    std::shared_ptr<Storage> storage_;
};

}  // namespace raft

#endif  // RAFT_HPP

// SPDX-License-Identifier: GPL-2.0-or-later
// A worker lcore: polls its queue on every port and runs each burst to completion
// through parse -> local delivery or flow lookup -> rules -> route -> rules -> rewrite.
// It owns its flow table and counters; it shares only the read-only snapshot, the
// neighbour cache (read) and its rings to and from the main lcore.
#pragma once

#include "classifiers/dpi_arena.h"
#include "classifiers/inspector.h"
#include "dataplane/conntrack.h"
#include "dataplane/counters.h"
#include "dataplane/ipsec_state.h"
#include "dataplane/neighbors.h"
#include "dataplane/reasm.h"
#include "dataplane/scan_detect.h"
#include "dataplane/screen.h"
#include "dataplane/snapshot.h"
#include "dataplane/src_guard.h"
#include "dataplane/syncookie.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;
struct rte_rcu_qsbr;

namespace qorgan::dp {

namespace esp {
class Engine;
}

inline constexpr unsigned burst_size = 32;
inline constexpr unsigned max_ports = 32;

// A rule-log record, sent by value through the log ring (64 bytes).
struct RuleLog {
    uint32_t rule_id;
    uint16_t iface; // index into the snapshot's interfaces
    uint8_t dir;    // Direction
    uint8_t action; // config::Action
    uint8_t family;
    uint8_t proto;
    uint16_t sport; // network order
    uint16_t dport;
    uint16_t pad;
    uint32_t src[4];
    uint32_t dst[4];
    uint32_t epoch;
    uint32_t pad2[3];
};
static_assert(sizeof(RuleLog) == 64);

// A category-blocking record (docs/CATEGORIES.md), worker -> main lcore by value through
// the category ring (64 bytes): a flow blocked, or passed by an exception or channel.
struct CategoryEvent {
    uint8_t blocked;
    uint8_t category; // config::Category + 1; 0: none of the six
    uint8_t rule;     // dpi::Rule
    uint8_t family;
    uint8_t proto;
    uint8_t pad;
    uint16_t iface;      // arrival interface (index into the snapshot's interfaces)
    uint16_t app;        // nDPI protocol
    uint16_t rule_index; // the exception or channel
    uint16_t sport;      // network order
    uint16_t dport;
    uint32_t src[4];
    uint32_t dst[4];
    uint32_t epoch;
    uint32_t suppressed; // records the rate limit held back before this one
};
static_assert(sizeof(CategoryEvent) == 56);

// Which flows a session dump or clear selects; an unset field matches every flow.
struct SessionFilter {
    uint8_t family = 0;       // 0: any address; else 4 or 6 and `address` is set
    uint32_t address[4] = {}; // network order, like FlowKey; matches either end
    bool has_port = false;    // port (host order) matches either end
    uint16_t port = 0;
    uint64_t iface_mask = 0; // DPDK ports (bit per port id < 64) the flow came in or went
                             // out by; 0: any (an interface filter, or a zone's interfaces)
    bool nat_only = false;   // only translated flows (show nat translations)
};

bool session_matches(const SessionFilter &f, const Flow &flow);

// One flow as a session dump reports it: a copy made by its worker.
struct SessionRecord {
    FlowKey key; // as the originator sent it
    uint64_t packets[2];
    uint64_t bytes[2];
    uint64_t created_ms;
    uint64_t last_seen_ms;
    uint32_t rule_id;
    uint16_t in_port;
    uint16_t out_port;
    FlowState state;
    uint8_t nat_kind; // NatKind bits; 0: not translated
    FlowVerdict verdict;
    uint8_t category; // config::Category + 1; 0: none of the six
    uint16_t app;     // nDPI protocol
    uint16_t nat_sport;
    uint16_t nat_dport;
    uint32_t nat_src;
    uint32_t nat_dst;
};

// A request/response slot between the main lcore and one worker, for session dumps and
// clears: the main lcore fills a request and marks it pending; the worker serves it at the
// top of its loop (one walk of its flow table, copies into the preallocated buffer, no
// allocation or system call) and marks it done. Only the worker touches its flow table.
class SessionSlot {
public:
    // dump/clear: flows (filtered); blocked/unblock: the screen's block list.
    enum class Op : uint8_t { dump, clear, blocked, unblock };
    static constexpr uint32_t blocked_capacity = 1024;

    explicit SessionSlot(uint32_t capacity);

    // Main lcore: false while the worker still owes an answer to an earlier request.
    bool submit(Op op, const SessionFilter &filter, uint32_t limit);
    bool done() const { return _state.load(std::memory_order_acquire) == done_state; }
    // Valid once done(): records copied, flows matched (dump) or removed (clear).
    const SessionRecord *records() const { return _records.get(); }
    uint32_t copied() const { return _copied; }
    uint64_t matched() const { return _matched; }

    // Valid once done() after a blocked request: sources copied (copied()), blocked in all
    // (matched()).
    const BlockedSource *blocked() const { return _blocked.get(); }

    // Worker: serves a pending request, if any (guard: its source table, for the block list).
    void serve(FlowTable &flows, SourceGuard *guard = nullptr, uint64_t now_ms = 0);

private:
    static constexpr uint8_t idle_state = 0, pending_state = 1, done_state = 2;
    std::atomic<uint8_t> _state{idle_state};
    Op _op = Op::dump;
    SessionFilter _filter;
    uint32_t _limit = 0;
    uint32_t _capacity;
    std::unique_ptr<SessionRecord[]> _records;
    std::unique_ptr<BlockedSource[]> _blocked;
    uint32_t _copied = 0;
    uint64_t _matched = 0;
};

struct WorkerEnv {
    unsigned id = 0;                // also the queue index on every port and the RCU id
    std::vector<uint16_t> rx_ports; // ports polled
    std::atomic<Snapshot *> *active = nullptr;
    rte_rcu_qsbr *rcu = nullptr;
    NeighborTable *neighbors = nullptr;
    rte_ring *to_main = nullptr;   // mbufs for the slow path (SP/SC)
    rte_ring *from_main = nullptr; // mbufs to transmit (SP/SC)
    rte_ring *log_ring = nullptr;  // RuleLog elements (SP/SC)
    WorkerCounters *counters = nullptr;
    FlowTable *flows = nullptr;
    const std::atomic<uint8_t> *port_up = nullptr; // max_ports entries: admin up and link up
    rte_mempool *pool = nullptr;                   // for the packets the worker generates
    uint64_t tsc_hz = 0;
    SessionSlot *sessions = nullptr; // dump/clear requests from the main lcore (optional)
    uint32_t idle_sleep_us = 0;      // sleep when idle (config dataplane idle-sleep), 0 polls
    // NAT hand-off (DESIGN.md, as VPP's nat44-ed): packets whose translation another worker
    // owns go to that worker's ring (MP/SC); handoff[w] is worker w's ring, one per worker.
    std::vector<rte_ring *> handoff;
    // Screen (docs/SCREEN.md).
    rte_ring *event_ring = nullptr;       // ScreenEvent elements (SP/SC); optional
    uint8_t cookie_key[16] = {};          // SYN cookie key, the same for every worker
    uint32_t guard_sources = 65536;       // per-source table (limits, block list, proven sources)
    uint32_t scan_sources = 16384;        // scan detector's sources
    uint32_t reasm_datagrams = 4096;      // datagrams being reassembled at once
    uint32_t reasm_timeout_ms = 5000;     // a datagram's fragments wait this long at most
    rte_mempool *jumbo_pool = nullptr;    // one-segment buffers for reassembled datagrams
    rte_mempool *indirect_pool = nullptr; // for fragmenting them again on the way out
    // Category blocking (docs/CATEGORIES.md).
    rte_ring *category_ring = nullptr;  // CategoryEvent elements (SP/SC); optional
    uint32_t inspected_flows = 16384;   // flows under nDPI inspection at once
    size_t dpi_arena_bytes = 32u << 20; // what nDPI may allocate on this worker
    // IPsec (docs/IPSEC.md): the SAs and policies qorgan-ike installed, and the ESP engine
    // whose queue pair `id` is this worker's. Both null: no IPsec.
    std::atomic<const IpsecTable *> *ipsec = nullptr;
    esp::Engine *esp = nullptr;
    // The exception path (docs/IPSEC.md): the main lcore has a TUN to the host kernel, so IKE
    // for the gateway goes there (else it stays local_unhandled).
    bool exception_path = false;
};

class Worker {
public:
    explicit Worker(WorkerEnv env);

    // The lcore loop; returns when stop becomes true.
    int run(const std::atomic<bool> &stop);

    // One burst received on `port`. Every mbuf is consumed: queued for transmission,
    // handed to the main lcore, or freed with its drop counted.
    void process(const Snapshot &s, uint16_t port, rte_mbuf **pkts, uint16_t n, uint64_t now_ms);
    // Sends the frames handed over by the main lcore.
    unsigned drain_main();
    // Runs the packets other workers handed over (their translation is ours).
    unsigned drain_handoff(const Snapshot &s, uint64_t now_ms);
    // Transmits what process() and drain_main() queued.
    void flush();
    // Serves a pending session or block-list request of the main lcore (run() does it at the
    // top of every loop).
    void serve_requests(uint64_t now_ms);

    const WorkerEnv &env() const { return _env; }
    // Before run(): the IPsec table and the ESP engine (created after the workers).
    void set_ipsec(std::atomic<const IpsecTable *> *table, esp::Engine *engine) {
        _env.ipsec = table;
        _env.esp = engine;
    }

private:
    void process_burst(const Snapshot &s, const IfaceState &in, rte_mbuf **pkts, unsigned n,
                       uint64_t now_ms);
    // What the burst's bulk lookup found for a packet (process_burst): used while it still
    // holds, else the packet is looked up again.
    struct FlowHint {
        Flow *flow = nullptr;
        Dir dir = Dir::forward;
        uint64_t created = 0; // flows created before the bulk lookup: a miss holds while equal
    };
    void handle_ip(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms,
                   const FlowHint *hint = nullptr);
    Flow *find_flow(const FlowKey &key, Dir &dir, const FlowHint *hint);
    void handle_local(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms);
    // IPsec (docs/IPSEC.md). The table of the packets being processed, or null when empty.
    const IpsecTable *ipsec_table() const;
    // An ESP packet for the gateway: true when consumed (decrypted and handled, or dropped).
    bool esp_in(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms);
    // A packet an outbound policy covers: encrypted and sent to the peer, or dropped.
    void esp_out(const Snapshot &s, const IfaceState &in, rte_mbuf *m,
                 const IpsecTable::OutPolicy &policy, uint64_t now_ms);
    // The outbound policy covering a packet (meta's addresses), or null.
    const IpsecTable::OutPolicy *ipsec_policy(const PacketMeta &meta) const;
    // Whether a configured peer's subnets cover a packet going out (local -> remote) or
    // coming in (remote -> local): such traffic never passes in the clear, also before
    // qorgan-ike has installed a policy for it (R139-3).
    static bool configured_tunnel(const Snapshot &s, const PacketMeta &meta, bool outbound);
    void forward(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint16_t hop,
                 uint64_t now_ms);
    // Runs one interface's rule list; returns the matching rule's index + 1, or 0.
    uint32_t classify(const IfaceState &ifc, Direction d, const PacketMeta &meta) const;
    // Counts a rule decision and logs it when the rule asks to.
    void account_rule(const Snapshot &s, const IfaceState &ifc, Direction d, uint32_t match,
                      const PacketMeta &meta, uint32_t bytes);
    void reject(const IfaceState &in, rte_mbuf *m, uint64_t now_ms);
    void send_time_exceeded(const IfaceState &in, rte_mbuf *m, uint64_t now_ms);
    bool recheck_flow(const Snapshot &s, Flow &f);
    // NAT (dataplane/nat.h).
    bool nat_binding_valid(const Snapshot &s, const Flow &f) const;
    bool apply_nat(const Flow &f, Dir dir, rte_mbuf *m);
    bool translate_icmp_error(const Flow &f, Dir dir, rte_mbuf *m);
    bool handoff(const Snapshot &s, rte_mbuf *m, uint64_t now_ms);
    bool enqueue_handoff(const Snapshot &s, rte_mbuf *m, unsigned owner);
    static void release_hook(void *ctx, const Flow &f);
    void route_and_forward(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms);
    bool to_slowpath(rte_mbuf *m); // false: dropped, the ring was full
    void tx(uint16_t port, rte_mbuf *m);
    void drop(rte_mbuf *m, DropReason r);
    bool icmp_token(uint64_t now_ms);
    // Screen (docs/SCREEN.md). Each returns true when it consumed the packet.
    bool screen_early(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms);
    bool screen_new(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms);
    bool syn_flood_early(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms);
    bool syn_flooded(const config::Screen &sc, const PacketMeta &meta, uint64_t now_ms,
                     uint32_t &half_open) const;
    bool screen_hit(const Snapshot &s, const IfaceState &in, Defence d, config::ScreenAction a,
                    rte_mbuf *m, DropReason r, uint64_t now_ms, uint32_t value = 0);
    void screen_event(const Snapshot &s, const IfaceState &in, Defence d, config::ScreenAction a,
                      const PacketMeta &meta, uint32_t value, uint32_t block_s, uint64_t now_ms);
    void scan_contact(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms,
                      bool &consumed);
    void send_syn_cookie(const IfaceState &in, rte_mbuf *m, uint64_t now_ms);
    rte_mbuf *reassemble(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms);
    bool fragment_out(const IfaceState &out, rte_mbuf *m, const Mac &dst_mac);
    static unsigned half_open_index(const PacketMeta &meta);
    void flow_created(const IfaceState &in, Flow &f, const PacketMeta &meta, uint64_t now_ms);
    void flow_tracked(Flow &f);
    // Category blocking (worker_dpi.cpp). Each returns true when it consumed the packet; a
    // blocked TCP segment may instead have become a RST that goes on to the other end.
    bool dpi_start(const Snapshot &s, const IfaceState &in, const IfaceState &out, Flow &f,
                   rte_mbuf *m, uint64_t now_ms);
    bool dpi_packet(const Snapshot &s, const IfaceState &in, Flow &f, Dir dir, rte_mbuf *m,
                    uint64_t now_ms);
    bool dpi_verdict(const Snapshot &s, const IfaceState &in, Flow &f, dpi::Decision d, rte_mbuf *m,
                     uint64_t now_ms);
    void dpi_record(const Snapshot &s, const IfaceState &in, Flow &f, dpi::Decision d,
                    uint64_t now_ms);
    bool dpi_block(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms);
    void dpi_event(const Snapshot &s, const IfaceState &in, const Flow &f, bool blocked,
                   uint64_t now_ms);
    FlowCounters &dpi_category_counters(const Flow &f);
    FlowCounters &dpi_app_counters(const Flow &f);

    WorkerEnv _env;
    struct TxQueue {
        uint16_t n = 0;
        rte_mbuf *pkts[2 * burst_size];
    };
    TxQueue _tx[max_ports];
    // Token bucket for generated ICMP errors and resets (RFC 1812 4.3.2.8 / RFC 4443 2.4(f)).
    uint64_t _icmp_tokens = 0;
    uint64_t _icmp_last_ms = 0;
    // The snapshot of the packets being processed: flows leaving the table give their NAT
    // ports back through it (release_hook). Valid while the worker is not quiescent.
    const Snapshot *_snap = nullptr;
    // Later fragments of translated datagrams carry no ports: the first fragment leaves
    // here what its datagram's addresses became (direct-mapped, overwritten when full,
    // valid frag_ttl_ms; RFC 4787 / 7857 want fragments of a translated flow translated).
    struct FragNote {
        uint32_t src = 0, dst = 0; // as the fragments arrive
        uint16_t id = 0;
        uint8_t proto = 0;
        uint8_t used = 0;
        uint32_t new_src = 0, new_dst = 0;
        uint64_t expires_ms = 0;
    };
    static constexpr unsigned frag_slots = 1024;
    static constexpr uint64_t frag_ttl_ms = 5000;
    FragNote _frags[frag_slots];
    // Where this worker handed a first fragment: its later fragments follow it.
    struct FragOwner {
        uint32_t src = 0, dst = 0;
        uint16_t id = 0;
        uint8_t proto = 0;
        uint8_t used = 0;
        uint16_t owner = 0;
        uint64_t expires_ms = 0;
    };
    FragOwner _frag_owner[frag_slots];
    // Screen state, this worker's own.
    std::unique_ptr<SourceGuard> _guard;
    std::unique_ptr<ScanDetector> _scan;
    std::unique_ptr<Reassembler> _reasm;
    uint64_t _reasm_expired = 0; // fragments the reassembler freed at expiry, already counted
    SynCookies _cookies;
    std::vector<EventLimiter> _events; // per Defence
    // Category blocking: nDPI state of the flows under inspection, and nDPI's allocations.
    std::unique_ptr<dpi::Arena> _arena;
    std::unique_ptr<dpi::Inspector> _inspector;
    EventLimiter _category_events{100, 200};
    static constexpr unsigned half_open_slots = 4096;
    static constexpr uint64_t proven_ms = 600000; // a source proven by a cookie stays so 10 min
    uint32_t _half_open[half_open_slots] = {};    // half-open TCP flows per destination bucket
    static unsigned frag_index(uint32_t src, uint32_t dst, uint16_t id, uint8_t proto);
    FragNote &frag_slot(uint32_t src, uint32_t dst, uint16_t id, uint8_t proto);
    void frag_note(const uint8_t *frame, const PacketMeta &before, const PacketMeta &after,
                   uint64_t now_ms);
    bool frag_translate(rte_mbuf *m, uint64_t now_ms);
};

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
// Connection tracking owned by one worker: a bounded flow table (rte_hash, one
// entry per direction), the TCP state machine with sequence-window checks,
// UDP/ICMP pseudo-state and per-state timeouts. Never allocates after create().
#pragma once

#include "common/result.h"
#include "config/model.h"
#include "dataplane/counters.h"
#include "dataplane/flow_key.h"
#include "dataplane/packet_meta.h"

#include <cstdint>
#include <memory>

struct rte_hash;

namespace qorgan::dp {

enum class FlowState : uint8_t {
    // TCP
    tcp_syn_sent,     // SYN seen from the originator
    tcp_syn_received, // SYN+ACK seen from the responder
    tcp_established,  // handshake completed
    tcp_fin_wait,     // one side sent FIN
    tcp_closing,      // both sides sent FIN
    tcp_time_wait,    // both FINs acknowledged
    tcp_closed,       // RST seen
    // others
    udp_new,    // only the originator has sent
    udp_stream, // both directions seen
    icmp,       // echo request/reply pairs
    other,      // any other protocol
};

const char *flow_state_name(FlowState s);

// One direction of a TCP connection as seen by the tracker (after Rooij / pf).
struct TcpPeer {
    uint32_t end = 0;    // highest seq + len sent
    uint32_t maxend = 0; // highest ack + window the other side allowed
    uint32_t maxwin = 1; // largest (scaled) window advertised
    uint8_t wscale = 0;  // window scale announced in the SYN (0 if none)
    uint8_t seen_syn = 0;
    uint8_t seen_fin = 0;
    uint8_t wscale_ok = 0; // set when this side sent the wscale option
    uint32_t fin_seq = 0;  // seq + len of the FIN
};

// Where a flow stands with category blocking.
enum class FlowVerdict : uint8_t {
    none,       // not subject to it (not inspected)
    inspecting, // packets pass while nDPI looks (within the budget)
    pass,       // decided: passes
    block,      // decided: every packet is dropped
};

// 0 = originator -> responder (the direction that created the flow), 1 = reply.
enum class Dir : uint8_t { forward = 0, reply = 1 };

struct Flow {
    FlowKey key[2]; // key[0]: as the originator sent it; key[1]: the reply as it arrives
    TcpPeer tcp[2]; // per direction
    uint64_t packets[2] = {};
    uint64_t bytes[2] = {};
    uint64_t last_seen_ms = 0;
    uint64_t created_ms = 0;
    uint32_t policy_epoch = 0; // snapshot epoch the flow was admitted under
    uint16_t in_port = 0;      // port the first packet arrived on
    uint16_t out_port = 0;     // port the first packet left by
    uint32_t rule_id = 0;      // ingress rule that admitted the flow (its config id)
    FlowState state = FlowState::other;
    uint8_t in_use = 0;
    // NAT44 (dataplane/nat.h): what forward packets are rewritten to; replies are
    // rewritten back to key[0]'s addresses. Zero when the flow is not translated.
    uint8_t nat_kind = 0;   // NatKind bits: nat_snat, nat_dnat, nat_dynamic
    uint8_t nat_rule = 0;   // source rule index (dynamic SNAT: where the port came from)
    uint16_t nat_sport = 0; // SNAT: new source port (network order)
    uint16_t nat_dport = 0; // DNAT: new destination port (network order)
    uint32_t nat_src = 0;   // SNAT: new source address (network order)
    uint32_t nat_dst = 0;   // DNAT: new destination address (network order)
    uint32_t nat_gen = 0;   // dynamic SNAT: generation of the port pool
    // Screen (docs/SCREEN.md): what the flow counts in, given back when it leaves.
    uint8_t screen_flags = 0; // flow_guarded, flow_half_open
    // Category blocking (classifiers/, docs/CATEGORIES.md).
    FlowVerdict verdict = FlowVerdict::none;
    uint8_t category = 0;      // config::Category + 1; 0: none of the six
    uint8_t verdict_rule = 0;  // dpi::Rule that decided
    uint8_t outer_inbound = 0; // from a zone outside the outer loop into one (R133-1)
    uint16_t app = 0;          // nDPI protocol naming the flow (0: unknown, or not yet)
    uint16_t rule_index = 0;   // the exception or channel, when verdict_rule names one
    uint32_t dpi_handle = 0;   // the worker's Inspector handle while inspecting
};

inline constexpr uint8_t flow_guarded = 0x01;   // counted in its source's concurrent connections
inline constexpr uint8_t flow_half_open = 0x02; // counted half-open towards its destination

// What the tracker says of one packet of a known flow.
enum class Track : uint8_t {
    ok,            // fits the session: forward it
    out_of_window, // TCP: does not fit the session; the caller re-evaluates it by the rules
    invalid,       // TCP: a flag combination that no state admits (e.g. SYN+FIN)
};

// Written by the owning worker, read relaxed by telemetry from another thread.
struct FlowTableStats {
    Counter created;
    Counter refused_full; // admission limit reached (flow-table-full)
    Counter expired;
    Counter removed;
    Counter active;
};

class FlowTable {
public:
    // max_flows is the admission limit; the hash gets room for both keys of each flow.
    // name must be unique in the process (rte_hash names are global).
    static Result<std::unique_ptr<FlowTable>>
    create(const char *name, uint32_t max_flows, int socket_id, const config::Timeouts &timeouts);
    ~FlowTable();
    FlowTable(const FlowTable &) = delete;
    FlowTable &operator=(const FlowTable &) = delete;

    // Looks up n (<= 64) keys. flows[i] is the flow or nullptr; dirs[i] tells which of
    // its keys matched.
    void lookup_bulk(const FlowKey *const *keys, unsigned n, Flow **flows, Dir *dirs) const;
    Flow *lookup(const FlowKey &key, Dir *dir) const;

    // Admits a new flow for the packet described by meta (key[0] = flow_key_of(meta),
    // key[1] = its reverse), tracking the first packet. Returns nullptr and counts a
    // refusal when the table is full, or when either key is already present.
    // For TCP the caller only creates flows for a SYN without ACK.
    Flow *create(const PacketMeta &meta, const uint8_t *l4, uint32_t l4_len, uint64_t now_ms);
    // The same with the reply key given: a translated flow's replies arrive addressed to the
    // translation (NAT), not to key[0]'s source.
    Flow *create(const PacketMeta &meta, const FlowKey &reply, const uint8_t *l4, uint32_t l4_len,
                 uint64_t now_ms);
    // Whether a key is held (a NAT port candidate whose reply key is taken is skipped).
    bool contains(const FlowKey &key) const;

    // Called for every flow leaving the table (expired, removed), before its slot is
    // reused: NAT gives its port back to the pool.
    using ReleaseHook = void (*)(void *ctx, const Flow &flow);
    void set_release_hook(ReleaseHook hook, void *ctx) {
        _hook = hook;
        _hook_ctx = ctx;
    }

    // Tracks one packet of a known flow: updates state, windows, counters, last_seen.
    // l4 points at the TCP/UDP/ICMP header and l4_len counts to the end of the IP packet.
    // payload_bytes is the whole IP packet length (for byte counters).
    Track track(Flow &flow, Dir dir, const PacketMeta &meta, const uint8_t *l4, uint32_t l4_len,
                uint32_t ip_bytes, uint64_t now_ms);

    void remove(Flow &flow);

    // Expires idle flows, examining at most `budget` slots from where the last call
    // stopped. Returns how many were expired. Call once per loop iteration.
    unsigned expire(uint64_t now_ms, unsigned budget);

    // Seconds of idleness after which a flow in this state expires.
    uint32_t timeout_of(FlowState s) const;

    const FlowTableStats &stats() const { return _stats; }
    uint32_t capacity() const { return _max_flows; }
    bool full() const { return _free_top == 0; }

    // Walks live flows (for show commands and tests, not the hot path).
    template <typename F>
    void for_each(F &&f) const {
        for (uint32_t i = 0; i < _max_flows; i++)
            if (_flows[i].in_use)
                f(_flows[i]);
    }

private:
    FlowTable() = default;
    void release(Flow &flow); // deletes both keys and frees the slot; no counter

    rte_hash *_hash = nullptr;
    Flow *_flows = nullptr;    // _max_flows entries, rte_zmalloc'd
    uint32_t *_free = nullptr; // stack of free flow indexes
    uint32_t _free_top = 0;
    uint32_t _max_flows = 0;
    uint32_t _sweep_pos = 0;
    config::Timeouts _timeouts;
    FlowTableStats _stats;
    ReleaseHook _hook = nullptr;
    void *_hook_ctx = nullptr;
};

} // namespace qorgan::dp

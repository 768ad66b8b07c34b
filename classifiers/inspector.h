// SPDX-License-Identifier: GPL-2.0-or-later
// A worker's flows under inspection: nDPI flow state for at most `capacity` flows at once
// (allocated once, freed at each verdict), and what feeds it. nDPI sees each flow through
// packets this file builds: the flow's own addresses and ports (so translation does not
// matter), and for TCP the payload of each direction coalesced in order until the other
// direction speaks or the buffer fills. The verdict is therefore the same whether a message
// arrives in one segment or in many (1-byte segments, IP fragments reassembled before), and
// retransmissions are fed once.
#pragma once

#include "classifiers/category_map.h"
#include "classifiers/module.h"

#include <cstdint>
#include <memory>
#include <optional>

struct ndpi_flow_struct;

namespace qorgan::dpi {

// One packet of a flow being inspected, as the worker sees it.
struct PacketView {
    uint8_t family = 4; // 4 or 6
    uint8_t proto = 0;
    const uint32_t *src = nullptr; // the flow's originator (its key[0]), network order
    const uint32_t *dst = nullptr;
    uint16_t sport = 0; // key[0], network order
    uint16_t dport = 0;
    bool reply = false;          // travels from the responder to the originator
    const uint8_t *l4 = nullptr; // the TCP/UDP/other header
    uint32_t l4_len = 0;         // to the end of the IP packet
    uint64_t now_ms = 0;
};

struct InspectorStats {
    uint64_t opened = 0;
    uint64_t refused = 0;  // the table was full: the flow was not inspected
    uint64_t evicted = 0;  // flows given up on, stale, to make room (decided unknown)
    uint64_t detected = 0; // nDPI recognised the flow
    uint64_t gave_up = 0;  // budget spent, or the flow ended, before a detection
    uint64_t fed = 0;      // packets handed to nDPI
};

class Inspector {
public:
    static constexpr uint32_t turn_bytes = 512; // TCP payload coalesced per direction

    explicit Inspector(uint32_t capacity);
    ~Inspector();
    Inspector(const Inspector &) = delete;
    Inspector &operator=(const Inspector &) = delete;

    // Starts inspecting a flow: a handle (> 0), or 0 when the table is full (counted). A full
    // table first gives up on a flow that has been inspected for stale_ms without a verdict
    // (a few slots looked at from a moving cursor): its owner is returned in *evicted for the
    // caller to decide it (unknown), and its slot serves the new flow. So flows that never
    // speak (one datagram, a silent connection) cannot hold the table against new ones.
    static constexpr uint64_t stale_ms = 2000;
    uint32_t open(uint64_t now_ms = 0, void *owner = nullptr, void **evicted = nullptr);
    // Frees the flow's nDPI state. Safe with 0.
    void close(uint32_t handle);

    // Feeds one packet. Returns the detection once the flow is decided: nDPI recognised it,
    // `budget` turns of payload went to nDPI, budget x turn_bytes of TCP payload went by
    // (however it was cut), or the flow ended (FIN/RST). Until then nullopt.
    std::optional<Detection> feed(const Module &m, uint32_t handle, const PacketView &p,
                                  uint32_t budget);

    uint32_t capacity() const { return _capacity; }
    uint32_t in_use() const { return _capacity - _free_top; }
    const InspectorStats &stats() const { return _stats; }
    // Bytes held per flow under inspection (nDPI state and the coalescing buffers).
    static size_t bytes_per_flow();

private:
    struct Slot;
    std::optional<Detection> flush(const Module &m, Slot &s, const PacketView &p, unsigned dir,
                                   uint32_t budget);
    std::optional<Detection> call(const Module &m, Slot &s, const PacketView &p, unsigned dir,
                                  const uint8_t *l4, uint32_t l4_len, uint32_t budget);
    Detection give_up(const Module &m, Slot &s);
    std::optional<Detection> openvpn_check(Slot &s, uint8_t proto, unsigned dir, const uint8_t *l4,
                                           uint32_t l4_len);
    Detection result(Slot &s, uint16_t master, uint16_t app, uint32_t category);

    uint32_t _capacity;
    std::unique_ptr<Slot[]> _slots;
    std::unique_ptr<uint32_t[]> _free;
    uint32_t _free_top = 0;
    uint32_t _cursor = 0; // where the next search for a stale flow starts
    InspectorStats _stats;
    uint8_t _pkt[40 + 20 + 1500]; // the packet handed to nDPI
};

} // namespace qorgan::dpi

// SPDX-License-Identifier: GPL-2.0-or-later
// NAPT port allocation for one worker (R90-1-6): the worker owns a disjoint slice of the port
// range of every pool address, so replies can be steered (or handed off) to the worker that
// owns the session. Paired address pooling and optional endpoint-independent mapping (RFC
// 4787), unpredictable ports (RFC 6056), a per-source limit with refusal counters. Every table
// is sized in create(); allocate() and release() never allocate, throw, log or make a system
// call.
#pragma once

#include "common/result.h"

#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace qorgan::dp {

struct PortPoolConfig {
    std::vector<uint32_t> addresses;   // pool addresses, network order (1..64)
    uint16_t low = 1024, high = 65535; // port range, host order, inclusive
    unsigned workers = 1, worker = 0;  // this pool serves one worker: a disjoint slice of
                                       // [low, high] of every address (worker w gets the w-th
                                       // of `workers` equal slices)
    uint32_t max_per_source = 0;       // concurrent mappings per source address; 0: no limit
    uint32_t max_sources = 65536;      // admission limit of the per-source table
    bool endpoint_independent = false; // RFC 4787 EIM: the same (proto, src addr, src port)
                                       // gets the same mapping while any session uses it
};

inline constexpr size_t port_pool_max_addresses = 64;
inline constexpr uint32_t port_pool_max_sources = 1u << 24;

struct PortMapping {
    uint32_t addr = 0; // network order
    uint16_t port = 0; // network order

    bool operator==(const PortMapping &) const = default;
};

enum class PortRefusal : uint8_t {
    none,
    pool_exhausted,       // no free port left on the source's (paired) address
    source_limit,         // the source already holds max_per_source mappings
    source_table_full,    // a new source, and max_sources sources already hold mappings
    unsupported_protocol, // not TCP, UDP or ICMP
};

const char *port_refusal_name(PortRefusal r);

// Owned and written by the pool's worker alone.
struct PortPoolStats {
    uint64_t allocated = 0;            // ports taken (an EIM reuse takes none)
    uint64_t released = 0;             // ports given back
    uint64_t in_use = 0;               // ports held now
    uint64_t refused_pool = 0;         // PortRefusal::pool_exhausted
    uint64_t refused_source = 0;       // PortRefusal::source_limit
    uint64_t refused_source_table = 0; // PortRefusal::source_table_full
    uint64_t refused_protocol = 0;     // PortRefusal::unsupported_protocol
    uint64_t eim_reused = 0;           // allocate() answered with an existing EIM mapping
    uint64_t release_unknown = 0;      // release() of a mapping this pool does not hold
};

class PortPool {
public:
    static Result<PortPool> create(const PortPoolConfig &c); // errors name the field

    // proto: IPPROTO_TCP, IPPROTO_UDP or IPPROTO_ICMP (its own identifier space per proto).
    // The address is chosen by a hash of src_addr (RFC 4787 "paired": one inside host keeps
    // one outside address, on every worker); the port by a bitmap scan from a pseudo-random
    // point of this worker's slice (RFC 6056). On refusal, `why` says why and its counter
    // is incremented; on success `why` is PortRefusal::none.
    std::optional<PortMapping> allocate(uint8_t proto, uint32_t src_addr, uint16_t src_port,
                                        PortRefusal &why);
    // Gives back what allocate() returned for (proto, src_addr, src_port), once per
    // successful allocate(). A mapping this pool does not hold is ignored and counted
    // (release_unknown). Without EIM the pool keeps no owner per port, so the caller must
    // pass the source it allocated for; with EIM the whole key is checked.
    void release(uint8_t proto, const PortMapping &m, uint32_t src_addr, uint16_t src_port);

    // Which worker's slice a translated port falls in (a reply arriving on another worker is
    // handed to this one); UINT_MAX when outside [low, high] or the config has no workers.
    static unsigned owner(const PortPoolConfig &c, uint16_t port_host_order);

    const PortPoolStats &stats() const { return _stats; }
    size_t bytes() const; // memory held, for the benchmark's bytes-per-session figure

    // This worker's slice, host order, inclusive.
    uint16_t slice_low() const { return _slice_low; }
    uint16_t slice_high() const { return uint16_t(_slice_low + _slice_size - 1); }
    uint32_t slice_size() const { return _slice_size; }

private:
    // Per-source mapping count; count 0 marks an empty slot (linear probing,
    // backward-shift deletion, so no tombstones build up).
    struct SourceSlot {
        uint32_t addr;
        uint32_t count;
    };
    // One EIM mapping; refs 0 marks an empty slot.
    struct EimSlot {
        uint32_t src_addr;
        uint16_t src_port;
        uint8_t proto_index;
        uint8_t addr_index;
        uint32_t refs;
        uint16_t port_index; // index in the slice
    };

    PortPool() = default;

    size_t bitmap_index(unsigned proto_index, unsigned addr_index) const {
        return (size_t(proto_index) * _addresses.size() + addr_index) * _words_per_bitmap;
    }
    unsigned address_index(uint32_t src_addr) const;
    uint64_t next_random();
    std::optional<uint32_t> take_port(unsigned proto_index, unsigned addr_index);
    void free_port(unsigned proto_index, unsigned addr_index, uint32_t port_index);
    bool port_taken(unsigned proto_index, unsigned addr_index, uint32_t port_index) const;

    uint32_t source_hash(uint32_t src_addr) const;
    SourceSlot *source_find(uint32_t src_addr);
    void source_erase(SourceSlot *slot);
    size_t eim_find(unsigned proto_index, uint32_t src_addr, uint16_t src_port) const;
    void eim_erase(size_t i);

    std::vector<uint32_t> _addresses; // network order
    uint16_t _slice_low = 0;          // host order
    uint32_t _slice_size = 0;
    uint32_t _words_per_bitmap = 0;
    std::vector<uint64_t> _bitmaps; // [proto][address] bitmaps, bit set = port taken
    std::vector<uint32_t> _free;    // [proto][address] free ports left
    uint32_t _max_per_source = 0;
    uint32_t _max_sources = 0;
    uint32_t _sources = 0; // occupied slots of _source_table
    std::vector<SourceSlot> _source_table;
    bool _eim = false;
    std::vector<EimSlot> _eim_table;
    uint64_t _rng = 0;       // xorshift64 state
    uint32_t _hash_seed = 0; // keeps table probe sequences unpredictable from outside
    PortPoolStats _stats;
};

} // namespace qorgan::dp

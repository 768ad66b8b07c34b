// SPDX-License-Identifier: GPL-2.0-or-later
// The dataplane's IPsec SAs and policies (docs/IPSEC.md), installed by qorgan-ike through the
// control socket. The main lcore owns IpsecState; every change publishes a new immutable
// IpsecTable for the workers (atomic pointer swap, old one freed after their quiescent
// state, as the policy snapshot is) and only then lets the crypto backend forget a removed SA.
// SAs and policies live outside the policy snapshot: a configuration apply leaves them alone.
#pragma once

#include "common/result.h"
#include "dataplane/ipsec_request.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace qorgan::dp {

// What the crypto side counts per SA.
struct SaStats {
    uint64_t packets = 0, bytes = 0;
    uint64_t replay_drops = 0, auth_failures = 0, hard_limit_drops = 0, other_drops = 0;
    uint64_t last_used_ms = 0; // 0: never
};

// Where SAs get their crypto state (the ESP engine; a fake in unit tests).
class SaBackend {
public:
    virtual ~SaBackend() = default;
    // A handle >= 0, or -1 with the reason in error.
    virtual int install(const SaSpec &sa, std::string &error) = 0;
    // Called once no worker can still see the handle.
    virtual void remove(int handle) = 0;
    virtual SaStats stats(int handle) const = 0;
};

// The workers' read-only view. Lookups never allocate.
struct IpsecTable {
    struct InSa {
        uint32_t spi;
        config::Address src; // the peer: ESP from anywhere else is not this SA's
        config::Address dst;
        int handle;
        uint32_t reqid;
    };
    struct OutPolicy {
        config::Prefix src, dst;
        uint8_t proto;
        uint32_t reqid;
        config::Address tunnel_src, tunnel_dst;
        int handle; // the newest outbound SA of reqid; -1: none yet (traffic is discarded)
        bool encap; // that SA is UDP-encapsulated
        uint16_t encap_sport, encap_dport;
    };
    struct InPolicy {
        config::Prefix src, dst;
        uint8_t proto;
        uint32_t reqid;
    };
    uint64_t generation = 0;
    std::vector<InSa> in_sas;           // sorted by spi
    std::vector<OutPolicy> out;         // most specific first
    std::vector<InPolicy> in;           // in and fwd policies
    std::vector<config::Address> peers; // every SA's remote address (IKE/ESP admission)

    // The inbound SA for an ESP packet, or nullptr.
    const InSa *find_sa(uint32_t spi, uint8_t family, const uint8_t *dst) const;
    // The outbound policy covering a packet, or nullptr.
    const OutPolicy *match_out(uint8_t family, const uint8_t *src, const uint8_t *dst,
                               uint8_t proto) const;
    // Whether a decrypted packet is one an inbound policy of reqid lets in.
    bool allowed_in(uint32_t reqid, uint8_t family, const uint8_t *src, const uint8_t *dst,
                    uint8_t proto) const;
    // Whether any inbound policy covers a packet: such traffic must arrive inside ESP.
    bool covered_in(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto) const;
    bool empty() const { return in_sas.empty() && out.empty() && in.empty(); }
};

struct IpsecCounters {
    uint64_t sas_added = 0, sas_removed = 0, policies_added = 0, policies_removed = 0;
    uint64_t refused_full = 0;    // max-sas reached
    uint64_t refused_backend = 0; // the crypto side refused the SA
    uint64_t flushes = 0;
};

// One SA as `ipsec-sas` reports it.
struct SaView {
    const SaSpec *spec;
    SaStats stats;
    uint64_t added_ms;
};

class IpsecState {
public:
    // quiesce: returns once no worker still reads a table published before the call.
    IpsecState(SaBackend &backend, uint32_t max_sas, std::atomic<const IpsecTable *> &active,
               std::function<void()> quiesce);
    ~IpsecState();
    IpsecState(const IpsecState &) = delete;
    IpsecState &operator=(const IpsecState &) = delete;

    Status add_sa(const SaSpec &sa, uint64_t now_ms);
    Status update_sa(const IpsecRequest &r);
    Status del_sa(uint32_t spi, const config::Address &dst);
    Result<SaStats> query_sa(uint32_t spi, const config::Address &dst) const;
    Status add_policy(const PolicySpec &p);
    Status del_policy(const PolicySpec &p);
    // Removes everything; returns {SAs, policies} removed.
    std::pair<std::size_t, std::size_t> flush();

    std::vector<SaView> sas() const;
    std::size_t policy_count() const { return _policies.size(); }
    const IpsecCounters &counters() const { return _counters; }
    uint32_t max_sas() const { return _max_sas; }
    void set_max_sas(uint32_t n) { _max_sas = n; }

private:
    struct Entry {
        SaSpec spec;
        int handle;
        uint64_t added_ms;
        uint64_t order; // installation order: the newest outbound SA of a reqid carries
    };
    Entry *find(uint32_t spi, const config::Address &dst);
    const Entry *find(uint32_t spi, const config::Address &dst) const;
    // Builds and publishes the table for the current SAs and policies, waits for the
    // workers, frees the old table and then the handles in `retired`.
    void publish(std::vector<int> retired = {});

    SaBackend &_backend;
    uint32_t _max_sas;
    std::atomic<const IpsecTable *> &_active;
    std::function<void()> _quiesce;
    std::vector<std::unique_ptr<Entry>> _sas;
    std::vector<PolicySpec> _policies;
    uint64_t _order = 0;
    uint64_t _generation = 0;
    IpsecCounters _counters;
};

std::string format_spi(uint32_t spi); // 0xc0ffee01

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
// charon's SAs and policies (as the shim hands them over) as the dataplane's ipsec-* control
// ops (docs/IPSEC.md), plus the bookkeeping between the two: policies counted like the kernel
// does (a rekey adds the same policy before it deletes the old one), and volume lifetimes
// checked against the dataplane's counters.
#pragma once

#include "common/framing.h"
#include "common/result.h"
#include "ike/charon_shim.h"

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace qorgan::ike {

// IANA IKEv2 transform IDs (RFC 7296 3.3.2, RFC 4106), as charon gives them.
inline constexpr uint16_t encr_aes_cbc = 12;
inline constexpr uint16_t encr_aes_gcm_16 = 20;
inline constexpr uint16_t auth_hmac_sha2_256_128 = 12;

std::string to_hex(const uint8_t *data, size_t len);

// "aes256gcm16" or "aes256-sha256" (the dataplane's two ciphers); an Error otherwise.
Result<std::string> cipher_name(const qk_sa_t &sa);

// {"op":"ipsec-add-sa",...}; keys copied into the request as hex (the caller wipes it after
// sending). `peer` is the peer's name from the configuration.
Result<Json> add_sa_request(const qk_sa_t &sa, const std::string &peer);
Json update_sa_request(const qk_sa_update_t &u);
Json del_sa_request(uint32_t spi, const std::string &dst);
Json query_sa_request(uint32_t spi, const std::string &dst);
Json add_policy_request(const qk_policy_t &p);
Json del_policy_request(const qk_policy_t &p);

// Overwrites every string of a request (keys) before it is freed.
void wipe(Json &request);

// The policies charon holds, counted: the dataplane sees one add per policy and one delete
// when the last holder is gone. A second add of the same policy (a rekey) is sent again so
// the dataplane takes its newer details.
class PolicyCounts {
public:
    // Counts an add (which is always sent).
    void add(const qk_policy_t &p);
    // true when the delete is to be sent: the last reference went.
    bool remove(const qk_policy_t &p);
    void clear() { _refs.clear(); }
    size_t size() const { return _refs.size(); }

private:
    using Key = std::tuple<int, std::string, std::string, uint8_t>;
    std::map<Key, unsigned> _refs;
};

// Volume lifetimes: the dataplane counts bytes and packets per SA, qorgan-ike polls
// `ipsec-sas` and tells charon once at the soft limit (rekey) and once at the hard limit.
struct Expiry {
    uint32_t spi;
    std::string dst;
    bool hard;
};

class VolumeWatch {
public:
    void add(const qk_sa_t &sa);
    void remove(uint32_t spi, const std::string &dst);
    void clear() { _sas.clear(); }
    size_t size() const { return _sas.size(); }
    // The expiries an `ipsec-sas` reply shows, each reported once.
    std::vector<Expiry> check(const Json &sas_reply);

private:
    struct Limits {
        uint64_t soft_bytes, hard_bytes, soft_packets, hard_packets;
        bool soft_sent = false, hard_sent = false;
    };
    std::map<std::pair<uint32_t, std::string>, Limits> _sas;
};

} // namespace qorgan::ike

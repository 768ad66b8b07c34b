// SPDX-License-Identifier: GPL-2.0-or-later
// The control socket's ipsec-* requests (docs/IPSEC.md) parsed into typed SA and policy
// descriptions: pure, no DPDK, so the control fuzz target reaches them too. qorgan-ike sends
// them from its kernel-ipsec callbacks.
#pragma once

#include "common/framing.h"
#include "common/result.h"
#include "config/model.h"

#include <array>
#include <cstdint>
#include <string>

namespace qorgan::dp {

enum class EspCipher : uint8_t { aes256_gcm16, aes256_cbc_sha256 };
const char *esp_cipher_name(EspCipher c);

// One SA as charon installs it. Keys are wiped when the object dies.
struct SaSpec {
    uint32_t spi = 0; // host order
    bool inbound = false;
    config::Address src{0}, dst{0}; // outer addresses of its packets
    uint32_t reqid = 0;
    EspCipher cipher = EspCipher::aes256_gcm16;
    std::array<uint8_t, 36> enc_key{}; // GCM: key then the 4-byte salt
    uint8_t enc_key_len = 0;
    std::array<uint8_t, 32> integ_key{};
    uint8_t integ_key_len = 0;
    bool esn = false;
    uint32_t replay_window = 0;
    bool encap = false; // UDP encapsulation (NAT-T)
    uint16_t encap_sport = 0, encap_dport = 0;
    uint64_t hard_bytes = 0, hard_packets = 0; // 0: no limit
    std::string peer;                          // the configured peer's name, for the shell

    SaSpec() = default;
    SaSpec(const SaSpec &o) = default;
    SaSpec &operator=(const SaSpec &o) = default;
    ~SaSpec() { wipe(); }
    void wipe();
};

enum class PolicyDir : uint8_t { in, out, fwd };
const char *policy_dir_name(PolicyDir d);

struct PolicySpec {
    PolicyDir dir = PolicyDir::out;
    config::Prefix src{0}, dst{0}; // the traffic it covers
    uint8_t proto = 0;             // 0: any
    uint32_t reqid = 0;
    config::Address tunnel_src{0}, tunnel_dst{0}; // the SA's outer addresses

    // Two policies are the same entry when these match (as the kernel's SPD keys them).
    bool same_selector(const PolicySpec &o) const {
        return dir == o.dir && src == o.src && dst == o.dst && proto == o.proto;
    }
};

// What an ipsec-* request carries besides its op.
struct IpsecRequest {
    SaSpec sa;                  // add-sa; update-sa: spi, src, dst, encap
    config::Address new_src{0}; // update-sa
    config::Address new_dst{0}; // update-sa
    PolicySpec policy;          // add-policy, del-policy
    uint32_t spi = 0;           // del-sa, query-sa
    config::Address dst{0};     // del-sa, query-sa
};

enum class IpsecOp : uint8_t { add_sa, update_sa, del_sa, query_sa, add_policy, del_policy };

// Checks the fields of one ipsec op (the op name and unknown fields are checked by the caller).
Result<IpsecRequest> parse_ipsec_request(IpsecOp op, const Json &msg);
// The fields each op accepts, for the caller's unknown-field check.
bool ipsec_field_allowed(IpsecOp op, const std::string &key);

} // namespace qorgan::dp

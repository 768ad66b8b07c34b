// SPDX-License-Identifier: GPL-2.0-or-later
// The dataplane's `ipsec-peers` reply (docs/IPSEC.md) as a swanctl.conf that qorgan-ike loads
// into its charon with `swanctl --load-all`. Every field is checked before anything is
// written: a value that could carry swanctl syntax (braces, quotes, newlines) is refused,
// identities are quoted, the PSK is written as hex.
#pragma once

#include "common/framing.h"
#include "common/result.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qorgan::ike {

struct Peer {
    std::string name;
    std::string address;
    std::string local_address;
    std::string local_id;
    std::string remote_id;
    std::string auth; // "psk" or "certificate"
    std::string psk;
    std::string certificate;
    std::string private_key;
    std::string ca;
    std::vector<std::string> ike_proposals;
    std::vector<std::string> esp_proposals;
    std::vector<std::string> local_subnets;
    std::vector<std::string> remote_subnets;
    uint64_t ike_lifetime_s = 14400;
    uint64_t lifetime_s = 3600;
    uint64_t lifetime_bytes = 0;
    uint64_t lifetime_packets = 0;
    uint64_t dpd_s = 30;
    std::string start_action = "start"; // start, trap, none
    bool encap = false;
};

// A file the configuration refers to, copied into the swanctl folder beside swanctl.conf
// (x509/, x509ca/, private/), where `swanctl --load-all` finds it.
struct CopiedFile {
    std::string from;    // absolute path from the peer
    std::string to;      // relative to the swanctl folder, e.g. "x509/site1.pem"
    bool secret = false; // a private key: mode 0600
};

struct SwanctlConfig {
    std::string text;
    std::vector<CopiedFile> files;
};

// Checks one peer object of the reply; errors name the peer and the field.
Result<Peer> parse_peer(const Json &j);
// Every peer of an `ipsec-peers` reply ("peers": [...]); names must be unique.
Result<std::vector<Peer>> parse_peers(const Json &reply);
// swanctl.conf for these peers (an empty list gives empty sections: everything unloads).
SwanctlConfig render_swanctl(const std::vector<Peer> &peers);

} // namespace qorgan::ike

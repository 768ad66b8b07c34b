// SPDX-License-Identifier: GPL-2.0-or-later
// charon's IKE and CHILD SAs as `swanctl --list-sas --pretty` prints them: vici messages,
// one element per line (`name {`, `key = value`, `key = [`, list items, `]`, `}`).
// The one-line `--raw` form is not used: it separates elements by spaces, and identities
// such as "C=KZ, O=Org, CN=gw1" hold spaces and '=' themselves, so it cannot be split
// reliably. The text comes from another program: anything unexpected is an Error, never
// a crash (tests/fuzz/fuzz_swanctl.cpp).
#pragma once

#include "common/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qorgan::control {

// One vici section: its key/values, lists and subsections in the order given.
struct ViciSection {
    std::string name;
    std::vector<std::pair<std::string, std::string>> values;
    std::vector<std::pair<std::string, std::vector<std::string>>> lists;
    std::vector<ViciSection> sections;

    const std::string *value(std::string_view key) const;
    const std::vector<std::string> *list(std::string_view key) const;
};

inline constexpr unsigned max_vici_depth = 16;

// The messages of a pretty vici dump ("list-sa event", "list-sas reply", ...), each as a
// section named by its label.
Result<std::vector<ViciSection>> parse_vici_pretty(std::string_view text);

struct ChildSaInfo {
    std::string section; // "branch1-3": the name and charon's unique id
    std::string name, state, mode, protocol;
    std::string spi_in, spi_out; // hex as charon prints them
    std::string encr_alg, integ_alg, dh_group;
    std::optional<int64_t> uniqueid, reqid, encr_keysize, integ_keysize;
    std::optional<int64_t> bytes_in, packets_in, bytes_out, packets_out;
    std::optional<int64_t> rekey_time, life_time, install_time; // seconds
    bool encap = false;
    std::vector<std::string> local_ts, remote_ts;
};

struct IkeSaInfo {
    std::string name; // the connection: the peer's name
    std::string state;
    std::string local_host, local_id, remote_host, remote_id;
    std::string encr_alg, integ_alg, prf_alg, dh_group;
    std::optional<int64_t> uniqueid, version, local_port, remote_port, encr_keysize;
    std::optional<int64_t> established, rekey_time, reauth_time; // seconds
    bool initiator = false;
    std::vector<ChildSaInfo> children;
};

// The IKE SAs of the "list-sa event" messages; other messages are ignored. Numbers that do
// not parse stay empty.
Result<std::vector<IkeSaInfo>> parse_list_sas(std::string_view text);

} // namespace qorgan::control

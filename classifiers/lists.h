// SPDX-License-Identifier: GPL-2.0-or-later
// The malicious lists of R134-1: domain names (matched by nDPI in DNS queries, TLS SNI and
// HTTP Host) and address prefixes (matched here against both ends of every new flow), from
// the configuration and from files of one entry a line.
#pragma once

#include "common/result.h"
#include "config/model.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace qorgan::dpi {

// The most entries the lists may hold in all (config and files together).
inline constexpr size_t max_list_entries = 1'000'000;

struct MaliciousList {
    std::vector<std::string> domains;      // lower-case DNS names
    std::vector<config::Prefix> addresses; // networks (host bits cleared)
    bool operator==(const MaliciousList &) const = default;
};

// One file's text: a domain name or a prefix a line; blank lines and '#' comments are
// skipped. Errors name path:line and what was wrong.
Result<MaliciousList> parse_list(std::string_view text, const std::string &path);

// The configuration's lists with every file read and parsed, in order, duplicates kept.
Result<MaliciousList> gather_lists(const config::Categories &c);

// Whether an address lies in one of a set of prefixes: one hash set of networks per prefix
// length in use, probed longest first. Built off the hot path; a lookup does not allocate.
class AddressSet {
public:
    explicit AddressSet(const std::vector<config::Prefix> &prefixes);
    // addr: network order, IPv4 in addr[0].
    bool contains(uint8_t family, const uint32_t addr[4]) const;
    size_t size() const { return _count; }

private:
    struct Key {
        uint64_t hi, lo;
        bool operator==(const Key &) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key &k) const;
    };
    struct Level {
        uint8_t length;
        std::unordered_set<Key, KeyHash> nets;
    };
    static Key key_of(const uint8_t bytes[16], uint8_t length);
    std::vector<Level> _levels[2]; // [0]: IPv4, [1]: IPv6; longest first
    size_t _count = 0;
};

} // namespace qorgan::dpi

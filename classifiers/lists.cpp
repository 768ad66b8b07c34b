// SPDX-License-Identifier: GPL-2.0-or-later
#include "classifiers/lists.h"

#include "config/schema.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

namespace qorgan::dpi {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

bool looks_like_address(std::string_view s) {
    return s.find(':') != std::string_view::npos || s.find('/') != std::string_view::npos ||
           std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

} // namespace

Result<MaliciousList> parse_list(std::string_view text, const std::string &path) {
    MaliciousList out;
    int line = 0;
    while (!text.empty()) {
        line++;
        size_t nl = text.find('\n');
        std::string_view raw = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (size_t hash = raw.find('#'); hash != std::string_view::npos)
            raw = raw.substr(0, hash);
        std::string_view entry = trim(raw);
        if (entry.empty())
            continue;
        Location where{path, line, 1};
        if (out.domains.size() + out.addresses.size() >= max_list_entries)
            return Error{where, "more than " + std::to_string(max_list_entries) +
                                    " malicious list entries (R134-1 lists are bounded)"};
        if (looks_like_address(entry)) {
            auto p = config::parse_prefix(entry);
            if (!p)
                return Error{where, "'" + std::string(entry) +
                                        "' is not an address or prefix (expected e.g. "
                                        "198.51.100.0/24 or 2001:db8::/32)"};
            out.addresses.push_back(config::network_of(*p));
            continue;
        }
        auto d = config::dns_name(entry);
        if (!d)
            return Error{where, "'" + std::string(entry) +
                                    "' is not a domain name or a prefix (expected e.g. "
                                    "evil.example or 198.51.100.0/24, one a line)"};
        out.domains.push_back(std::move(*d));
    }
    return out;
}

Result<MaliciousList> gather_lists(const config::Categories &c) {
    MaliciousList out;
    out.domains = c.malicious_domains;
    for (const config::Prefix &p : c.malicious_addresses)
        out.addresses.push_back(config::network_of(p));
    for (const std::string &path : c.malicious_files) {
        std::ifstream in(path, std::ios::binary);
        if (!in)
            return Error{c.where, "security categories malicious file " + path +
                                      ": cannot be read (" + std::strerror(errno) + ")"};
        std::ostringstream text;
        text << in.rdbuf();
        auto list = parse_list(text.str(), path);
        if (!list)
            return list.error();
        if (out.domains.size() + out.addresses.size() + list.value().domains.size() +
                list.value().addresses.size() >
            max_list_entries)
            return Error{Location{path, 0, 0}, "the malicious lists hold more than " +
                                                   std::to_string(max_list_entries) + " entries"};
        for (auto &d : list.value().domains)
            out.domains.push_back(std::move(d));
        for (auto &a : list.value().addresses)
            out.addresses.push_back(a);
    }
    return out;
}

size_t AddressSet::KeyHash::operator()(const Key &k) const {
    uint64_t h = k.hi * 0x9e3779b97f4a7c15ull ^ k.lo * 0xc2b2ae3d27d4eb4full;
    return size_t(h ^ h >> 31);
}

AddressSet::Key AddressSet::key_of(const uint8_t bytes[16], uint8_t length) {
    uint8_t b[16];
    for (unsigned i = 0; i < 16; i++) {
        unsigned bits = length > i * 8 ? std::min(8u, unsigned(length) - i * 8) : 0;
        b[i] = bits ? uint8_t(bytes[i] & uint8_t(0xff00 >> bits)) : 0;
    }
    Key k;
    std::memcpy(&k.hi, b, 8);
    std::memcpy(&k.lo, b + 8, 8);
    return k;
}

AddressSet::AddressSet(const std::vector<config::Prefix> &prefixes) {
    for (const config::Prefix &p : prefixes) {
        auto &levels = _levels[p.family == 6 ? 1 : 0];
        auto it = std::find_if(levels.begin(), levels.end(),
                               [&](const Level &l) { return l.length == p.length; });
        if (it == levels.end()) {
            levels.push_back(Level{p.length, {}});
            it = levels.end() - 1;
        }
        if (it->nets.insert(key_of(p.bytes.data(), p.length)).second)
            _count++;
    }
    for (auto &levels : _levels)
        std::sort(levels.begin(), levels.end(),
                  [](const Level &a, const Level &b) { return a.length > b.length; });
}

bool AddressSet::contains(uint8_t family, const uint32_t addr[4]) const {
    const auto &levels = _levels[family == 6 ? 1 : 0];
    if (levels.empty())
        return false;
    uint8_t bytes[16] = {};
    std::memcpy(bytes, addr, family == 6 ? 16 : 4);
    for (const Level &l : levels)
        if (l.nets.count(key_of(bytes, l.length)))
            return true;
    return false;
}

} // namespace qorgan::dpi

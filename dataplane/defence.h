// SPDX-License-Identifier: GPL-2.0-or-later
// The defences of the attack-protection screen (docs/SCREEN.md), one list (an X-macro) so
// the enum, the names in counters, events and the shell stay in step.
#pragma once

#include <cstdint>
#include <string_view>

namespace qorgan::dp {

// Every defence, with the name counters, events and the shell use.
#define QORGAN_DEFENCES(X)                                                                         \
    X(syn_flood, "syn-flood")                                                                      \
    X(source_rate, "source-rate")                                                                  \
    X(source_concurrent, "source-concurrent")                                                      \
    X(icmp_flood, "icmp-flood")                                                                    \
    X(udp_flood, "udp-flood")                                                                      \
    X(scan_horizontal, "scan-horizontal")                                                          \
    X(scan_vertical, "scan-vertical")                                                              \
    X(tcp_flags, "tcp-flags")                                                                      \
    X(martian, "martian-source")                                                                   \
    X(land, "land")                                                                                \
    X(own_address, "own-address-source")                                                           \
    X(bogon, "bogon-source")                                                                       \
    X(urpf, "urpf")                                                                                \
    X(ip_options, "ip-options")                                                                    \
    X(fragments, "fragments")                                                                      \
    X(blocked, "blocked-source")

enum class Defence : uint8_t {
#define X(id, name) id,
    QORGAN_DEFENCES(X)
#undef X
        count
};
inline constexpr unsigned defence_count = static_cast<unsigned>(Defence::count);

constexpr std::string_view defence_name(Defence d) {
    switch (d) {
#define X(id, name)                                                                                \
    case Defence::id:                                                                              \
        return name;
        QORGAN_DEFENCES(X)
#undef X
    case Defence::count:
        break;
    }
    return "?";
}

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
// Address checks of the screen; see screen.h.
#include "dataplane/screen.h"

#include <cstring>

namespace qorgan::dp {

bool martian_source4(uint32_t src) {
    const auto *b = reinterpret_cast<const uint8_t *>(&src);
    return b[0] == 0 || b[0] == 127 || b[0] >= 224;
}

bool martian_source6(const uint32_t src[4]) {
    const auto *b = reinterpret_cast<const uint8_t *>(src);
    static const uint8_t zero[16] = {};
    if (b[0] == 0xff)
        return true; // multicast
    if (std::memcmp(b, zero, 15) == 0)
        return b[15] == 0 || b[15] == 1; // unspecified, loopback
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(b, mapped, 12) == 0;
}

bool in_prefixes(const std::vector<config::Prefix> &list, uint8_t family, const uint32_t addr[4]) {
    const auto *a = reinterpret_cast<const uint8_t *>(addr);
    for (const config::Prefix &p : list)
        if (config::prefix_contains(p, family, a))
            return true;
    return false;
}

} // namespace qorgan::dp

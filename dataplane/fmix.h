// SPDX-License-Identifier: GPL-2.0-or-later
// The murmur3 finalizers: cheap, and every input bit reaches every output bit. For the hash
// tables of the dataplane, which seed them so that slots cannot be predicted from outside.
#pragma once

#include <cstdint>

namespace qorgan::dp {

inline uint32_t fmix32(uint32_t h) {
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

inline uint64_t fmix64(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

} // namespace qorgan::dp

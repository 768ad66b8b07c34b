// SPDX-License-Identifier: GPL-2.0-or-later
// Field checks shared by the control socket's request parsers (control_request.cpp,
// ipsec_request.cpp).
#pragma once

#include "common/framing.h"

#include <cstdint>
#include <optional>

namespace qorgan::dp {

// An unsigned integer in [low, high], or nothing.
inline std::optional<uint64_t> integer_in(const Json &v, uint64_t low, uint64_t high) {
    // Parsed text gives unsigned numbers; a Json built in C++ from an int is signed.
    if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0))
        return std::nullopt;
    uint64_t n = v.get<uint64_t>();
    if (n < low || n > high)
        return std::nullopt;
    return n;
}

} // namespace qorgan::dp

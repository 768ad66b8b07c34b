// SPDX-License-Identifier: GPL-2.0-or-later
// The stored form of an audit record: one compact JSON object per line, keys sorted, with
// exactly one canonical spelling, so a line's bytes (which the chain hashes) and its parsed
// fields can never disagree.
#pragma once

#include "control/audit/store.h"

#include <cstdint>
#include <string>

namespace qorgan::audit {

// Lines longer than this are malformed; append() shortens the detail to stay below it.
inline constexpr size_t max_line_bytes = 4u << 20;

// The canonical line of r (its `line` member is ignored). Seal records (action "seal")
// carry epoch and hmac; other records carry neither.
std::string to_line(const Record &r);

// RFC 3339 UTC with microseconds: "2026-11-25T18:40:01.123456Z".
std::string format_time(int64_t time_us);

} // namespace qorgan::audit

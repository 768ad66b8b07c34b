// SPDX-License-Identifier: GPL-2.0-or-later
// Session time limits (R118): pure functions the lead calls on each command and timer tick.
#pragma once

#include <cstdint>
#include <string>

namespace qorgan::auth {

// A limit <= 0 is no limit.
struct SessionLimits {
    int64_t idle_seconds = 900;
    int64_t lifetime_seconds = 28800;
};

// "" while the session may go on, else why it ends ("idle for more than 15 min (R118)",
// "session older than 8 h, the absolute limit (R118)"). Exactly at a limit it may still go on.
std::string session_expiry(const SessionLimits &l, int64_t started, int64_t last_activity,
                           int64_t now);

} // namespace qorgan::auth

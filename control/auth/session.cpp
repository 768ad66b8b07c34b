// SPDX-License-Identifier: GPL-2.0-or-later
// Idle and absolute session limits.
#include "control/auth/session.h"

namespace qorgan::auth {

namespace {

// 900 -> "15 min", 28800 -> "8 h", 90 -> "90 s".
std::string duration(int64_t seconds) {
    if (seconds % 3600 == 0)
        return std::to_string(seconds / 3600) + " h";
    if (seconds % 60 == 0)
        return std::to_string(seconds / 60) + " min";
    return std::to_string(seconds) + " s";
}

} // namespace

std::string session_expiry(const SessionLimits &l, int64_t started, int64_t last_activity,
                           int64_t now) {
    // The absolute limit first: it is the one the person cannot extend by typing.
    if (l.lifetime_seconds > 0 && now - started > l.lifetime_seconds)
        return "session older than " + duration(l.lifetime_seconds) + ", the absolute limit (R118)";
    if (l.idle_seconds > 0 && now - last_activity > l.idle_seconds)
        return "idle for more than " + duration(l.idle_seconds) + " (R118)";
    return "";
}

} // namespace qorgan::auth

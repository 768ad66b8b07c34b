// SPDX-License-Identifier: GPL-2.0-or-later
// Counting consecutive failures into a timed lock (R90-1-3), shared by accounts, login
// sources and the break-glass code.
#pragma once

#include <cstdint>

namespace qorgan::auth {

// Consecutive failures of one subject; with a window, those older than it age out.
struct FailureWindow {
    uint32_t failures = 0;
    int64_t first_failure = 0; // unix seconds, start of the window
    int64_t locked_until = 0;  // unix seconds; 0 not locked
};

// Locked at `now`: the lock ends exactly at locked_until.
inline bool is_locked(int64_t locked_until, int64_t now) {
    return locked_until != 0 && now < locked_until;
}

// Forgets a lock that has run out (and the failures that made it); true when it did.
bool expire_lock(uint32_t &failures, int64_t &locked_until, int64_t now);

// One more failure at `now`. window_seconds > 0: a failure more than that after the first
// one of the run starts a new run. Locks for lock_seconds when `limit` failures are reached;
// true when this failure locked it. limit 0 never locks.
bool count_failure(FailureWindow &w, uint32_t limit, int64_t lock_seconds, int64_t window_seconds,
                   int64_t now);

} // namespace qorgan::auth

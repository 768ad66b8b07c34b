// SPDX-License-Identifier: GPL-2.0-or-later
// The lockout arithmetic, kept apart so accounts, sources and break-glass agree on it.
#include "control/auth/lockout.h"

namespace qorgan::auth {

bool expire_lock(uint32_t &failures, int64_t &locked_until, int64_t now) {
    if (locked_until == 0 || now < locked_until)
        return false;
    failures = 0;
    locked_until = 0;
    return true;
}

bool count_failure(FailureWindow &w, uint32_t limit, int64_t lock_seconds, int64_t window_seconds,
                   int64_t now) {
    expire_lock(w.failures, w.locked_until, now);
    if (w.failures > 0 && window_seconds > 0 && now - w.first_failure >= window_seconds)
        w.failures = 0;
    if (w.failures == 0)
        w.first_failure = now;
    if (w.failures < UINT32_MAX)
        w.failures++;
    if (limit == 0 || w.failures < limit || is_locked(w.locked_until, now))
        return false;
    w.locked_until = now + lock_seconds;
    return true;
}

} // namespace qorgan::auth

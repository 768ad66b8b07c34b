// SPDX-License-Identifier: GPL-2.0-or-later
// The break-glass recovery code: made once, shown once, kept only as a yescrypt hash in
// recovery.json together with the count of wrong tries (see docs/ADMIN-ACCESS.md).
#pragma once

#include "common/result.h"
#include "control/auth/lockout.h"

#include <string>

namespace qorgan::auth {

struct RecoveryState {
    std::string hash;    // yescrypt of the normalized code; "" when none was made
    FailureWindow tries; // wrong codes typed on the console
};

// Four groups of five base32 characters, e.g. "K3Q7M-2ZXAB-...": 100 random bits.
std::string make_recovery_code();
// Upper case without '-' and spaces, so the code may be typed as the person likes.
std::string normalize_recovery_code(const std::string &text);

// A missing file is the state with no code. Errors name the path and the field.
Result<RecoveryState> load_recovery(const std::string &path);
// Atomic, mode 0600.
Status save_recovery(const std::string &path, const RecoveryState &state);

} // namespace qorgan::auth

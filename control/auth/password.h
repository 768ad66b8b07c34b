// SPDX-License-Identifier: GPL-2.0-or-later
// Administrators' passwords: yescrypt hashes (libxcrypt) and the password policy (R118).
#pragma once

#include "common/result.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qorgan::auth {

// Longest password accepted; yescrypt takes any length, the cap keeps a login cheap to refuse.
inline constexpr size_t max_password_bytes = 256;

// A fresh yescrypt hash ("$y$...") with the default cost and a random salt. Refuses a
// password holding a NUL byte (crypt would silently cut it there) or longer than the cap.
Result<std::string> hash_password(const std::string &password);
// True when `password` hashes to `hash`; the final comparison takes constant time. False for
// a malformed hash, never an error.
bool verify_password(const std::string &password, const std::string &hash);

struct PasswordPolicy {
    uint32_t min_length = 12;   // characters (UTF-8 code points)
    uint32_t min_classes = 3;   // of lower, upper, digit, other
    uint32_t history = 5;       // the last N passwords may not be reused
    uint32_t max_age_days = 90; // 0: never expires
};

// Error text says what is wrong and what would be right, e.g. "password too short: 8
// characters, the policy wants at least 12 (R118)". Every rule broken is listed, joined by
// "; ". Also refuses the user name inside the password (any case, names of 3+ characters).
// previous_hashes: newest first, the current password's hash first; the first p.history of
// them are checked.
Status check_password(const PasswordPolicy &p, const std::string &user, const std::string &password,
                      const std::vector<std::string> &previous_hashes);

// True when a password set at `changed` is older than p.max_age_days at `now`.
bool password_expired(const PasswordPolicy &p, int64_t changed, int64_t now);

} // namespace qorgan::auth

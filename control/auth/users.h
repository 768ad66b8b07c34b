// SPDX-License-Identifier: GPL-2.0-or-later
// The administrators' accounts and the failure counters of login sources, as kept in
// users.json in the state folder.
#pragma once

#include "common/result.h"
#include "control/auth/lockout.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qorgan::auth {

inline constexpr int min_level = 0;
inline constexpr int max_level = 15;

struct User {
    std::string name; // [a-z_][a-z0-9_.-]{0,31}
    int level = 1;    // privilege level 0-15 (the lead maps levels to command classes)
    std::string hash; // yescrypt
    std::vector<std::string> history; // previous hashes, newest first
    int64_t password_changed = 0;     // unix seconds
    bool must_change_password = false;
    std::string totp_secret;     // base32; "" not enrolled
    bool totp_confirmed = false; // enrolled and confirmed with a code
    int64_t totp_last_step = -1;
    uint32_t failures = 0;    // consecutive
    int64_t locked_until = 0; // unix seconds; 0 not locked
};

// [a-z_][a-z0-9_.-]{0,31}: safe in file names, log lines and shells.
bool valid_user_name(const std::string &name);

struct UserDb {
    std::vector<User> users;
    std::map<std::string, FailureWindow> sources; // consecutive failed logins per source
};

// A missing file is an empty database. Errors name the path and the field, e.g.
// "/var/lib/qorgan/users.json: users[1].level: 16 is outside 0..15".
Result<UserDb> load_users(const std::string &path);
// Atomic, mode 0600.
Status save_users(const std::string &path, const UserDb &db);

} // namespace qorgan::auth

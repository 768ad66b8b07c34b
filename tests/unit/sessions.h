// SPDX-License-Identifier: GPL-2.0-or-later
// A logged-in session of a built-in role, as qorgand makes it after login, for the tests of
// the command language.
#pragma once

#include "control/commands.h"
#include "control/privilege.h"

#include <string>

namespace qorgan::test {

inline control::Session as_role(const std::string &role, const std::string &user = "admin") {
    control::Session s;
    s.user = user;
    s.level = *control::level_of_role(role);
    s.classes = control::level_classes(config::LoginSettings{}, s.level);
    s.id = "test";
    return s;
}

} // namespace qorgan::test

// SPDX-License-Identifier: GPL-2.0-or-later
// Privilege levels and command classes (R128-b, R102-2). A level 0-15 grants a set of command
// classes: the built-in set below unless `system login level N { class [...]; }` says
// otherwise. Four built-in roles carry separation of duties: no role both runs the network
// and administers the people or the audit trail, and no class exists that could change,
// delete or disable an audit record.
#pragma once

#include "config/model.h"
#include "config/tree.h"

#include <optional>
#include <string>
#include <vector>

namespace qorgan::control {

using config::ClassMask;
using config::CommandClass;

struct Role {
    const char *name; // "operator"
    int level;
    ClassMask classes;
    const char *duty; // one line for `show users` and help
};

// operator 1, auditor 5, network-admin 10, security-admin 12.
const std::vector<Role> &builtin_roles();
std::optional<int> level_of_role(const std::string &name);
// "operator", "network-admin", or "level 7" for a level no role names.
std::string role_of_level(int level);

// The classes a level grants under the login settings (configured or built in).
ClassMask level_classes(const config::LoginSettings &login, int level);
// "view, traffic-view" (or "nothing").
std::string describe_classes(ClassMask mask);

// The class a change at a configuration path needs: system login and host-name: security;
// system audit: audit-settings; everything else: network.
CommandClass class_for_config_path(const std::vector<std::string> &path);
// The classes needed to turn one configuration tree into another (every changed set line).
ClassMask classes_for_change(const config::Node &from, const config::Node &to);

} // namespace qorgan::control

// SPDX-License-Identifier: GPL-2.0-or-later
// Privilege levels and command classes; see privilege.h.
#include "control/privilege.h"

#include "config/set_form.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace qorgan::control {

namespace {

constexpr ClassMask bit(CommandClass c) {
    return config::class_bit(c);
}

} // namespace

const std::vector<Role> &builtin_roles() {
    using C = CommandClass;
    static const std::vector<Role> roles{
        {"operator", 1, bit(C::view) | bit(C::traffic_view), "show commands only"},
        {"auditor", 5, bit(C::view) | bit(C::audit_view),
         "reads and verifies the audit log; configures nothing"},
        {"network-admin", 10, bit(C::view) | bit(C::traffic_view) | bit(C::clear) | bit(C::network),
         "interfaces, policy, NAT, routes; not users, keys or audit settings"},
        {"security-admin", 12, bit(C::view) | bit(C::security) | bit(C::audit_settings),
         "users, levels, keys, audit forwarding; cannot alter records"},
    };
    return roles;
}

std::optional<int> level_of_role(const std::string &name) {
    for (const Role &r : builtin_roles())
        if (name == r.name)
            return r.level;
    return std::nullopt;
}

std::string role_of_level(int level) {
    for (const Role &r : builtin_roles())
        if (r.level == level)
            return r.name;
    return "level " + std::to_string(level);
}

ClassMask level_classes(const config::LoginSettings &login, int level) {
    if (level < 0 || level > 15)
        return 0;
    if (login.levels[size_t(level)])
        return *login.levels[size_t(level)];
    for (const Role &r : builtin_roles())
        if (r.level == level)
            return r.classes;
    return 0;
}

std::string describe_classes(ClassMask mask) {
    std::string out;
    for (unsigned i = 0; i < config::command_class_count; i++)
        if (mask & (ClassMask(1) << i))
            out += (out.empty() ? "" : ", ") +
                   std::string(config::class_name(static_cast<CommandClass>(i)));
    return out.empty() ? "nothing" : out;
}

CommandClass class_for_config_path(const std::vector<std::string> &path) {
    if (!path.empty() && path[0] == "system") {
        if (path.size() > 1 && path[1] == "audit")
            return CommandClass::audit_settings;
        return CommandClass::security;
    }
    return CommandClass::network;
}

ClassMask classes_for_change(const config::Node &from, const config::Node &to) {
    auto a = config::to_set_lines(from);
    auto b = config::to_set_lines(to);
    std::set<std::string> sa(a.begin(), a.end()), sb(b.begin(), b.end());
    std::vector<std::string> changed;
    std::set_symmetric_difference(sa.begin(), sa.end(), sb.begin(), sb.end(),
                                  std::back_inserter(changed));
    ClassMask need = 0;
    for (const std::string &line : changed) {
        std::istringstream in(line);
        std::vector<std::string> words;
        for (std::string w; in >> w;)
            words.push_back(w);
        if (!words.empty() && words[0] == "set")
            words.erase(words.begin());
        need |= bit(class_for_config_path(words));
    }
    return need;
}

} // namespace qorgan::control

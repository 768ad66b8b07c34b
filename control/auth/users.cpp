// SPDX-License-Identifier: GPL-2.0-or-later
// users.json: reading with validation of every field, and writing.
#include "control/auth/users.h"

#include "control/auth/state_file.h"

#include <set>

namespace qorgan::auth {

namespace {

constexpr int format_version = 1;

Error file_error(const std::string &path, const std::string &what) {
    return Error{Location{path, 0, 0}, what};
}

} // namespace

bool valid_user_name(const std::string &name) {
    if (name.empty() || name.size() > 32)
        return false;
    auto first_ok = [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; };
    auto rest_ok = [&](char c) {
        return first_ok(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
    };
    if (!first_ok(name[0]))
        return false;
    for (size_t i = 1; i < name.size(); i++)
        if (!rest_ok(name[i]))
            return false;
    return true;
}

Result<UserDb> load_users(const std::string &path) {
    auto text = read_state_file(path);
    if (!text)
        return text.error();
    UserDb db;
    if (!text->has_value())
        return db;
    Json doc = Json::parse(**text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
        return file_error(path, "not a JSON object; restore it from a backup or move it away "
                                "to start with no users");
    std::string error;
    JsonFields top(doc, "users.json", &error);
    top.integer("format", format_version, format_version, format_version);
    if (!error.empty())
        return file_error(path, error);
    const Json users = doc.value("users", Json::array());
    if (!users.is_array())
        return file_error(path, "users: expected a list");
    std::set<std::string> names;
    for (size_t i = 0; i < users.size(); i++) {
        const Json &u = users[i];
        std::string where = "users[" + std::to_string(i) + "]";
        if (!u.is_object())
            return file_error(path, where + ": expected an object");
        JsonFields f(u, where, &error);
        User user;
        user.name = f.text("name");
        user.level = static_cast<int>(f.integer("level", min_level, max_level, 1));
        user.hash = f.text("hash");
        user.history = f.texts("history");
        user.password_changed = f.integer("password_changed", 0, INT64_MAX);
        user.must_change_password = f.boolean("must_change_password");
        user.totp_secret = f.text("totp_secret");
        user.totp_confirmed = f.boolean("totp_confirmed");
        user.totp_last_step = f.integer("totp_last_step", -1, INT64_MAX, -1);
        user.failures = static_cast<uint32_t>(f.integer("failures", 0, UINT32_MAX));
        user.locked_until = f.integer("locked_until", 0, INT64_MAX);
        if (!error.empty())
            return file_error(path, error);
        if (!valid_user_name(user.name))
            return file_error(path, where + ".name: '" + user.name +
                                        "' is not a user name ([a-z_][a-z0-9_.-]{0,31})");
        if (!names.insert(user.name).second)
            return file_error(path, where + ".name: '" + user.name + "' appears twice");
        if (user.totp_confirmed && user.totp_secret.empty())
            return file_error(path, where + ".totp_confirmed: true without a totp_secret");
        db.users.push_back(std::move(user));
    }
    const Json sources = doc.value("sources", Json::object());
    if (!sources.is_object())
        return file_error(path, "sources: expected an object keyed by source");
    for (auto it = sources.cbegin(); it != sources.cend(); ++it) {
        if (!it->is_object())
            return file_error(path, "sources." + it.key() + ": expected an object");
        JsonFields f(*it, "sources." + it.key(), &error);
        FailureWindow s;
        s.failures = static_cast<uint32_t>(f.integer("failures", 0, UINT32_MAX));
        s.first_failure = f.integer("first_failure", INT64_MIN, INT64_MAX);
        s.locked_until = f.integer("locked_until", 0, INT64_MAX);
        if (!error.empty())
            return file_error(path, error);
        db.sources[it.key()] = s;
    }
    return db;
}

Status save_users(const std::string &path, const UserDb &db) {
    Json users = Json::array();
    for (const auto &u : db.users)
        users.push_back(Json{{"name", u.name},
                             {"level", u.level},
                             {"hash", u.hash},
                             {"history", u.history},
                             {"password_changed", u.password_changed},
                             {"must_change_password", u.must_change_password},
                             {"totp_secret", u.totp_secret},
                             {"totp_confirmed", u.totp_confirmed},
                             {"totp_last_step", u.totp_last_step},
                             {"failures", u.failures},
                             {"locked_until", u.locked_until}});
    Json sources = Json::object();
    for (const auto &[source, s] : db.sources)
        sources[source] = Json{{"failures", s.failures},
                               {"first_failure", s.first_failure},
                               {"locked_until", s.locked_until}};
    Json doc{{"format", format_version}, {"users", users}, {"sources", sources}};
    // dump() throws on invalid UTF-8; replace keeps a stray byte in a source name harmless.
    return write_state_file(path, doc.dump(2, ' ', false, Json::error_handler_t::replace) + "\n");
}

} // namespace qorgan::auth

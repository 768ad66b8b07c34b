// SPDX-License-Identifier: GPL-2.0-or-later
// Private state files of the authenticator (users.json, recovery.json): read whole, written
// atomically with mode 0600, and typed reading of their JSON fields with the place of an error.
#pragma once

#include "common/framing.h"
#include "common/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qorgan::auth {

// Creates the folder (mode 0700) when it is missing; an error when it is not a folder.
Status make_private_dir(const std::string &dir);
// The file's text; nullopt when it does not exist.
Result<std::optional<std::string>> read_state_file(const std::string &path);
// tmp + fsync + rename + fsync of the folder, mode 0600: a crash leaves the old or the new file.
Status write_state_file(const std::string &path, const std::string &text);

// Reads fields of one JSON object; a missing field keeps its default, a field of the wrong
// type or range records the first error as "<where>.<key>: <what>".
class JsonFields {
public:
    JsonFields(const Json &object, std::string where, std::string *error)
        : _object(object), _where(std::move(where)), _error(error) {}

    int64_t integer(const char *key, int64_t min, int64_t max, int64_t fallback = 0);
    std::string text(const char *key);
    bool boolean(const char *key);
    std::vector<std::string> texts(const char *key);

private:
    const Json *field(const char *key);
    void fail(const char *key, const std::string &what);

    const Json &_object;
    std::string _where;
    std::string *_error;
};

} // namespace qorgan::auth

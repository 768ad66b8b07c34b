// SPDX-License-Identifier: GPL-2.0-or-later
// The config schema: turns a generic tree into a validated config::Config. Errors read
// "file:line:col: <config path>: <what was wrong>; expected <what would be right>".
#pragma once

#include "common/result.h"
#include "config/model.h"
#include "config/tree.h"

#include <optional>
#include <string>
#include <string_view>

namespace qorgan::config {

// Validates everything and returns the first error in text order; references
// (zones, interfaces) are checked after the whole tree has been read.
Result<Config> build_config(const Node &root);

// "198.18.1.0/24", "2001:db8::1" (a bare address has the full length); no validation
// of host bits. Empty when the text is not an address or the length is out of range.
std::optional<Prefix> parse_prefix(std::string_view text);

// The prefix with its host bits cleared.
Prefix network_of(const Prefix &p);

// The category a config word names ("remote-access"), or empty.
std::optional<Category> category_from_name(std::string_view name);

// An nDPI application name as the config takes it: 1..32 of [A-Za-z0-9_.-].
bool is_application_name(std::string_view name);

// A DNS name lower-cased: labels of [a-z0-9-_] (1..63 each) joined by dots, at most 253
// characters in all. Empty when `name` is not one.
std::optional<std::string> dns_name(std::string_view name);

} // namespace qorgan::config

// SPDX-License-Identifier: GPL-2.0-or-later
// Loading config v1: text -> tree -> validated typed Config. Every error names
// file:line:column and what was expected there.
#pragma once

#include "common/result.h"
#include "config/model.h"

#include <string>
#include <string_view>

namespace qorgan::config {

// Parses and validates a whole configuration text. `filename` only labels errors.
Result<Config> load_text(std::string_view text, const std::string &filename);

// Reads the file and calls load_text; an unreadable file is an Error naming it.
Result<Config> load_file(const std::string &path);

// The embedded default configuration: runs the lab of scripts/lab.
std::string_view default_config_text();

// Formats an address or prefix the way the config writes it ("198.18.1.1/24", "2001:db8::1").
std::string format_prefix(const Prefix &p);
std::string format_address(const Prefix &p); // without the length

} // namespace qorgan::config

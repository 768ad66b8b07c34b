// SPDX-License-Identifier: GPL-2.0-or-later
// qorgand's command language: operational mode (show, clear, configure, ...) and
// configuration mode (set, delete, edit, commit, rollback, compare, load, save, ...), the
// `?`/Tab candidates for both, and the prompt. One Session per connected shell. Commands
// that need the dataplane ask it through a query function (the control socket in qorgand,
// a fake in tests).
#pragma once

#include "common/framing.h"
#include "config/schema_tree.h"
#include "control/transactions.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace qorgan::control {

struct Session {
    std::string user = "admin";
    bool configuring = false;
    std::vector<std::string> edit_path; // [edit ...] within the candidate
    std::optional<Candidate> candidate;
};

struct Reply {
    bool ok = true;
    std::string output;
    std::string error;
    bool exit = false; // the session ends
};

// Splits a command line into words: whitespace separates, "double quotes" group (with \"
// and \\ escapes). An unterminated quote is an error.
Result<std::vector<std::string>> split_words(const std::string &line);

class Commands {
public:
    using Query = std::function<Result<Json>(const Json &request)>;

    Commands(Transactions &tx, Query dataplane);

    Reply exec(Session &s, const std::string &line, int64_t now);
    // Candidates for the last word of `line` (empty when the line ends in a space).
    std::vector<config::Candidate> complete(const Session &s, const std::string &line) const;
    std::string prompt(const Session &s) const;
    // Raw interface counters for `monitor interface`.
    Result<Json> counters();

private:
    Reply operational(Session &s, const std::vector<std::string> &w, int64_t now);
    Reply configuration(Session &s, const std::vector<std::string> &w, int64_t now);
    Reply show(Session &s, const std::vector<std::string> &w, bool display_set);
    Reply show_interfaces(const std::vector<std::string> &w);
    Reply show_policies(const std::vector<std::string> &w);
    Reply show_sessions(const std::vector<std::string> &w, bool clear);
    Reply show_routes();
    Reply show_neighbors(int family);
    Reply show_configuration(const config::Node &tree, const std::vector<std::string> &path,
                             bool display_set);
    Reply show_compliance();
    Reply show_commits();
    Reply show_integrity();
    Reply commit(Session &s, const std::vector<std::string> &w, int64_t now);
    Reply exit_config(Session &s, bool discard);

    Transactions &_tx;
    Query _dataplane;
};

} // namespace qorgan::control

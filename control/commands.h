// SPDX-License-Identifier: GPL-2.0-or-later
// qorgand's command language: operational mode (show, clear, configure, ...) and
// configuration mode (set, delete, edit, commit, rollback, compare, load, save, ...), the
// `?`/Tab candidates for both, and the prompt. One Session per connected shell. Commands
// that need the dataplane ask it through a query function (the control socket in qorgand,
// a fake in tests).
#pragma once

#include "common/framing.h"
#include "config/compliance.h"
#include "config/model.h"
#include "config/schema_tree.h"
#include "control/ike_control.h"
#include "control/transactions.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace qorgan::audit {
class Store;
}
namespace qorgan::auth {
class Authenticator;
}

namespace qorgan::control {

// What a session may do before it is a full session (R47, R118).
enum class Restriction { none, enroll_otp, change_password };

struct Session {
    std::string user;
    int level = -1;                // privilege level 0-15; -1 before login
    config::ClassMask classes = 0; // what the level grants (privilege.h)
    Restriction restriction = Restriction::none;
    std::string id; // session id for the audit log
    std::string terminal, source;
    bool console = false;                       // the local console
    unsigned refusals = 0;                      // privilege refusals in this session (R52)
    std::map<std::string, std::string> answers; // replies to Reply::ask, for one exec
    bool configuring = false;
    std::vector<std::string> edit_path; // [edit ...] within the candidate
    std::optional<Candidate> candidate;
};

// A question the shell asks the person without echo (passwords), then sends the line again
// with the answers.
struct Ask {
    std::string key;
    std::string prompt;
};

struct Reply {
    bool ok = true;
    std::string output;
    std::string error;
    bool exit = false; // the session ends
    // For the audit record qorgand writes of this command (R128-c).
    std::string audit_action = "command"; // "commit", "privilege-refused", "user", ...
    std::string audit_detail;             // added to the command line (a commit's diff, ...)
    std::string audit_line;               // replaces the command line when it holds a secret
    bool refused = false;                 // a privilege refusal
    bool alert = false;                   // qorgand also writes an alert record (R52)
    std::string alert_text;
    std::vector<Ask> ask; // non-empty: nothing ran; ask these and send the line again

    static Reply failure(const std::string &error) {
        Reply r;
        r.ok = false;
        r.error = error;
        return r;
    }
    static Reply success(const std::string &output) {
        Reply r;
        r.output = output;
        return r;
    }
};

// What qorgand gives the command language besides the configuration (null in tests that
// do not need them).
struct Services {
    auth::Authenticator *auth = nullptr;
    audit::Store *audit = nullptr;
    std::string forwarding_status_file; // qorgan-logfwd's status (show log forwarding)
    const IkeControl *ike = nullptr;    // qorgan-ike's charon (show ipsec sa, clear ipsec sa)
};

// Splits a command line into words: whitespace separates, "double quotes" group (with \"
// and \\ escapes). An unterminated quote is an error.
Result<std::vector<std::string>> split_words(const std::string &line);

class Commands {
public:
    using Query = std::function<Result<Json>(const Json &request)>;

    Commands(Transactions &tx, Query dataplane, Services services = {});

    Reply exec(Session &s, const std::string &line, int64_t now);
    // The system settings of the running configuration (levels, timeouts, audit). Call after
    // anything outside exec() changes the running revision (a confirmed-commit rollback).
    void refresh_system();
    const config::System &system() const { return _system; }
    // The classes a level grants under the running configuration.
    config::ClassMask classes_of(int level) const;
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
    Reply show_screen(const std::vector<std::string> &w);
    Reply screen_blocked(bool clear);
    Reply show_applications(const std::vector<std::string> &w);
    Reply show_sessions(const std::vector<std::string> &w, bool clear);
    // The dataplane filter of `show sessions` and `show nat translations` from the words
    // after the command (w[from]...): `zone` expands to interfaces, `limit` caps the list.
    Result<Json> session_filter(const std::vector<std::string> &w, size_t from, bool zone,
                                bool limit);
    Reply show_nat(const std::vector<std::string> &w);
    Reply show_nat_translations(const std::vector<std::string> &w);
    Reply show_nat_statistics();
    Reply show_routes();
    Reply show_neighbors(int family);
    Reply show_configuration(const config::Node &tree, const std::vector<std::string> &path,
                             bool display_set);
    Reply show_compliance();
    // IPsec (docs/IPSEC.md, R128-h): ipsec_commands.cpp.
    Reply show_ipsec(const std::vector<std::string> &w);
    Reply show_ipsec_sa(const std::vector<std::string> &w);
    Reply show_ipsec_statistics();
    Reply clear_ipsec_sa(const std::vector<std::string> &w);
    // The peers `peer NAME` at w[from] selects (all when absent), or what was wrong.
    Result<std::vector<config::IpsecPeer>> selected_peers(const std::vector<std::string> &w,
                                                          size_t from) const;
    Result<config::Config> running_config() const;
    std::vector<config::Candidate> complete_ipsec(bool clear, const std::vector<std::string> &words,
                                                  const std::string &partial) const;
    Reply show_commits();
    Reply show_integrity();
    Reply commit(Session &s, const std::vector<std::string> &w, int64_t now);
    Reply exit_config(Session &s, bool discard);
    // Privilege (R128-b): the classes that may run a command, 0 when any session may.
    config::ClassMask required(const Session &s, const std::vector<std::string> &w) const;
    Reply refuse(Session &s, const std::string &what, config::ClassMask need);
    Reply request(Session &s, const std::vector<std::string> &w, int64_t now);
    Reply request_user(Session &s, const std::vector<std::string> &w, int64_t now);
    Reply request_totp(Session &s, const std::vector<std::string> &w, int64_t now);
    Reply request_password(Session &s, int64_t now);
    Reply show_log(const std::vector<std::string> &w, int64_t now);
    Reply show_users(int64_t now);
    Reply storage_full() const; // ok when configuration changes may go on
    void fill_admin_facts(config::ComplianceFacts &f) const;
    Reply restricted(Session &s, const std::vector<std::string> &w, int64_t now);

    Transactions &_tx;
    Query _dataplane;
    Services _services;
    config::System _system;
};

} // namespace qorgan::control

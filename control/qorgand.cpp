// SPDX-License-Identifier: GPL-2.0-or-later
// qorgand: owns the configuration (store, candidates, commits), the administrators (users,
// levels, second factor, lockout, session limits) and the audit log; keeps the dataplane in
// step with the running revision and serves qorgan shells on a UNIX socket. If it dies the
// dataplane goes on with its last snapshot; when it comes back, recover() re-syncs only if
// the dataplane runs something else. Every login, logout, command, commit, refusal, time
// change and service start or stop is an audit record, fsync'ed before the shell hears back.
#include "common/framing.h"
#include "config/config.h"
#include "control/audit/store.h"
#include "control/auth/authenticator.h"
#include "control/commands.h"
#include "control/dataplane_client.h"
#include "control/privilege.h"
#include "control/service.h"
#include "control/store.h"
#include "control/transactions.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <unistd.h>

using namespace qorgan;
using namespace qorgan::control;

namespace {

volatile std::sig_atomic_t stopping = 0;
void on_signal(int) {
    stopping = 1;
}

void usage(FILE *out) {
    std::fprintf(
        out, "usage: qorgand [--state-dir DIR] [--socket PATH] [--dataplane-socket PATH]\n"
             "               [--bootstrap FILE] [--console-tty GLOB,...] [--logfwd PATH]\n"
             "               [--ike-vici PATH] [--swanctl PATH]\n"
             "       qorgand [--state-dir DIR] --add-user NAME (--role ROLE | --level N)\n"
             "               (the password is read from standard input; offline, at installation)\n"
             "       qorgand [--state-dir DIR] --new-recovery-code\n"
             "               (prints a one-time break-glass code for the local console)\n");
}

} // namespace

int main(int argc, char **argv) {
    ServiceOptions o;
    std::string add_user, role, level_text;
    bool new_recovery = false;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto value = [&](std::string &dst) {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "qorgand: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            dst = argv[++i];
        };
        if (a == "--state-dir")
            value(o.state_dir);
        else if (a == "--socket")
            value(o.socket);
        else if (a == "--dataplane-socket")
            value(o.dataplane_socket);
        else if (a == "--bootstrap")
            value(o.bootstrap_file);
        else if (a == "--console-tty")
            value(o.console_ttys);
        else if (a == "--logfwd")
            value(o.logfwd_binary);
        else if (a == "--ike-vici")
            value(o.ike_vici);
        else if (a == "--swanctl")
            value(o.swanctl);
        else if (a == "--add-user")
            value(add_user);
        else if (a == "--role")
            value(role);
        else if (a == "--level")
            value(level_text);
        else if (a == "--new-recovery-code")
            new_recovery = true;
        else if (a == "-h" || a == "--help") {
            usage(stdout);
            return 0;
        } else {
            std::fprintf(stderr, "qorgand: unknown option '%s'\n", a.c_str());
            usage(stderr);
            return 2;
        }
    }
    if (!add_user.empty()) {
        int level = -1;
        if (!role.empty()) {
            auto l = level_of_role(role);
            if (!l) {
                std::fprintf(stderr,
                             "qorgand: unknown role '%s'; expected operator, auditor, "
                             "network-admin or security-admin\n",
                             role.c_str());
                return 2;
            }
            level = *l;
        } else if (!level_text.empty() && level_text.size() <= 2 &&
                   level_text.find_first_not_of("0123456789") == std::string::npos &&
                   std::stoi(level_text) <= 15) {
            level = std::stoi(level_text);
        } else {
            std::fprintf(stderr, "qorgand: --add-user needs --role ROLE or --level 0..15\n");
            return 2;
        }
        std::string password;
        std::getline(std::cin, password);
        auto r = offline_add_user(o, add_user, level, password);
        if (!r) {
            std::fprintf(stderr, "qorgand: %s\n", r.error().message.c_str());
            return 1;
        }
        std::printf("%s\n", r.value().c_str());
        return 0;
    }
    if (new_recovery) {
        auto r = offline_new_recovery_code(o);
        if (!r) {
            std::fprintf(stderr, "qorgand: %s\n", r.error().message.c_str());
            return 1;
        }
        std::printf("%s\n", r.value().c_str());
        return 0;
    }
    if (!o.bootstrap_file.empty()) {
        std::ifstream in(o.bootstrap_file);
        if (!in) {
            std::fprintf(stderr, "qorgand: cannot read %s\n", o.bootstrap_file.c_str());
            return 1;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        o.bootstrap_text = ss.str();
    } else {
        o.bootstrap_text = std::string(config::default_config_text());
    }
    if (o.logfwd_binary.empty()) {
        // Beside this binary: build/control/logfwd/ in a build tree, or the same bin folder.
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
            std::string dir(self, size_t(n));
            dir = dir.substr(0, dir.rfind('/'));
            o.logfwd_binary = access((dir + "/logfwd/qorgan-logfwd").c_str(), X_OK) == 0
                                  ? dir + "/logfwd/qorgan-logfwd"
                                  : dir + "/qorgan-logfwd";
        }
    }
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    std::signal(SIGPIPE, SIG_IGN);
    return run_service(o, stopping);
}

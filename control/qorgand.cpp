// SPDX-License-Identifier: GPL-2.0-or-later
// qorgand: owns the configuration (store, candidates, commits), keeps the dataplane in step
// with the running revision, and serves qorgan shells on a UNIX socket. If it dies the
// dataplane goes on with its last snapshot; when it comes back, recover() re-syncs only
// if the dataplane runs something else.
#include "common/framing.h"
#include "config/config.h"
#include "control/commands.h"
#include "control/dataplane_client.h"
#include "control/store.h"
#include "control/transactions.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <poll.h>
#include <pwd.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using namespace qorgan;
using namespace qorgan::control;

namespace {

volatile std::sig_atomic_t stopping = 0;
void on_signal(int) {
    stopping = 1;
}

struct Options {
    std::string state_dir = "/var/lib/qorgan";
    std::string socket = "/run/qorgan/qorgand.sock";
    std::string dataplane_socket = "/run/qorgan/dataplane.sock";
    std::string bootstrap; // file; empty: the embedded default configuration
};

void usage(FILE *out) {
    std::fprintf(out, "usage: qorgand [--state-dir DIR] [--socket PATH] [--dataplane-socket PATH]\n"
                      "               [--bootstrap FILE]\n");
}

void log_line(const std::string &s) {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[32];
    std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::printf("%s qorgand: %s\n", ts, s.c_str());
    std::fflush(stdout);
}

std::string peer_user(int fd) {
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return "unknown";
    passwd pw{}, *res = nullptr;
    char buf[1024];
    if (getpwuid_r(cred.uid, &pw, buf, sizeof(buf), &res) == 0 && res)
        return cred.uid == 0 ? "admin" : res->pw_name; // root at the console is the admin
    return "uid" + std::to_string(cred.uid);
}

Json candidates_json(const std::vector<config::Candidate> &cs) {
    Json a = Json::array();
    for (const auto &c : cs)
        a.push_back(Json{{"word", c.word}, {"help", c.help}});
    return a;
}

} // namespace

int main(int argc, char **argv) {
    Options o;
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
            value(o.bootstrap);
        else if (a == "-h" || a == "--help") {
            usage(stdout);
            return 0;
        } else {
            std::fprintf(stderr, "qorgand: unknown option '%s'\n", a.c_str());
            usage(stderr);
            return 2;
        }
    }
    std::string bootstrap(config::default_config_text());
    if (!o.bootstrap.empty()) {
        std::ifstream in(o.bootstrap);
        if (!in) {
            std::fprintf(stderr, "qorgand: cannot read %s\n", o.bootstrap.c_str());
            return 1;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        bootstrap = ss.str();
    }
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    std::signal(SIGPIPE, SIG_IGN);

    auto store_r = Store::open(o.state_dir);
    if (!store_r) {
        std::fprintf(stderr, "qorgand: %s\n", store_r.error().to_string().c_str());
        return 1;
    }
    Store store = std::move(store_r.value());
    DataplaneClient dataplane(o.dataplane_socket);
    Transactions tx(store, dataplane, bootstrap);
    Commands commands(tx, [&](const Json &req) { return dataplane.request(req); });

    auto listen_r = listen_unix(o.socket);
    if (!listen_r) {
        std::fprintf(stderr, "qorgand: %s\n", listen_r.error().to_string().c_str());
        return 1;
    }
    int lfd = listen_r.value();
    log_line("listening on " + o.socket + ", state in " + o.state_dir);

    struct Client {
        Session session;
    };
    std::map<int, Client> clients;
    bool synced = false;
    time_t next_sync = 0, next_tick = 0;

    while (!stopping) {
        time_t now = std::time(nullptr);
        if (!synced && now >= next_sync) {
            // Until the dataplane answers, keep trying: the shell works meanwhile.
            auto r = tx.recover();
            if (r) {
                synced = true;
                log_line(r.value());
            } else {
                log_line("recover: " + r.error().to_string() + " (retrying)");
                next_sync = now + 2;
            }
        }
        if (now >= next_tick) {
            auto rolled = tx.tick(now);
            if (!rolled)
                log_line("commit confirmed rollback failed: " + rolled.error().to_string());
            else if (rolled.value())
                log_line("commit confirmed was not confirmed: rolled back to revision " +
                         std::to_string(store.running()));
            next_tick = now + 1;
        }
        std::vector<pollfd> fds{{lfd, POLLIN, 0}};
        for (auto &[fd, c] : clients)
            fds.push_back({fd, POLLIN, 0});
        int n = poll(fds.data(), fds.size(), 500);
        if (n <= 0)
            continue;
        if (fds[0].revents & POLLIN) {
            int cfd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
            if (cfd >= 0) {
                Client c;
                c.session.user = peer_user(cfd);
                clients.emplace(cfd, std::move(c));
            }
        }
        for (size_t i = 1; i < fds.size(); i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int fd = fds[i].fd;
            Session &s = clients[fd].session;
            auto msg = recv_message(fd, 2000);
            if (!msg) {
                close(fd);
                clients.erase(fd);
                continue;
            }
            const Json &m = msg.value();
            Json reply;
            std::string op = m.is_object() ? m.value("op", "") : "";
            if (op == "prompt") {
                reply = {{"ok", true}, {"prompt", commands.prompt(s)}};
            } else if (op == "exec" && m.contains("line") && m["line"].is_string()) {
                Reply r = commands.exec(s, m["line"].get<std::string>(), std::time(nullptr));
                reply = {{"ok", r.ok},
                         {"output", r.output},
                         {"error", r.error},
                         {"prompt", commands.prompt(s)},
                         {"exit", r.exit}};
                if (r.ok && !r.output.empty() && r.output.rfind("commit complete", 0) == 0)
                    log_line(s.user + ": " + r.output.substr(0, r.output.find('\n')));
            } else if ((op == "complete" || op == "help") && m.contains("line") &&
                       m["line"].is_string()) {
                reply = {{"ok", true},
                         {"candidates",
                          candidates_json(commands.complete(s, m["line"].get<std::string>()))}};
            } else if (op == "counters") {
                auto r = commands.counters();
                reply = r ? r.value() : Json{{"ok", false}, {"error", r.error().message}};
                if (r) {
                    timespec ts{};
                    clock_gettime(CLOCK_MONOTONIC, &ts);
                    reply["time_ms"] =
                        static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
                }
            } else {
                reply = {{"ok", false},
                         {"error", "unknown request; expected op prompt, exec, complete, help "
                                   "or counters"}};
            }
            if (!send_message(fd, reply)) {
                close(fd);
                clients.erase(fd);
            }
        }
    }
    for (auto &[fd, c] : clients)
        close(fd);
    close(lfd);
    unlink(o.socket.c_str());
    log_line("stopped");
    return 0;
}

// SPDX-License-Identifier: GPL-2.0-or-later
// qorgan-ike: IKEv2 for Qorgan's site-to-site tunnels (docs/IPSEC.md "qorgan-ike"). Embeds
// strongSwan's charon (through ike/charon_shim), whose SAs and policies become the
// dataplane's ipsec-* control ops; the peers come from the dataplane's `ipsec-peers` and are
// loaded into charon with swanctl over charon's own vici socket.
#include "control/dataplane_client.h"
#include "ike/cert_files.h"
#include "ike/charon_shim.h"
#include "ike/ipsec_ops.h"
#include "ike/swanctl_render.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace qorgan::ike {

namespace {

constexpr const char *plugin_dir = "/usr/lib/ipsec/plugins";
constexpr const char *swanctl_bin = "/usr/sbin/swanctl";
// What the embedded charon loads, when installed; kernel-netlink only for addresses and
// routes (the Qorgan kernel-ipsec is registered first and wins).
constexpr const char *wanted_plugins[] = {"random",
                                          "nonce",
                                          "openssl",
                                          "aes",
                                          "sha1",
                                          "sha2",
                                          "hmac",
                                          "gcm",
                                          "kdf",
                                          "x509",
                                          "pem",
                                          "pkcs1",
                                          "pkcs8",
                                          "pubkey",
                                          "revocation",
                                          "constraints",
                                          "socket-default",
                                          "kernel-netlink",
                                          "vici"};
constexpr int swanctl_timeout_s = 20;

struct Options {
    std::string control_socket = "/run/qorgan/dataplane.sock";
    std::string run_dir = "/run/qorgan/ike";
    std::string log;
    int debug = 1;
};

void log_line(const std::string &s) {
    std::fprintf(stderr, "qorgan-ike: %s\n", s.c_str());
    std::fflush(stderr);
}

class Ike {
public:
    Ike(Options o) : _o(std::move(o)), _dp(_o.control_socket) {}

    const Options &options() const { return _o; }
    std::string vici_socket() const { return _o.run_dir + "/charon.vici"; }
    std::string conf_path() const { return _o.run_dir + "/swanctl.conf"; }

    // ----- callbacks from charon's threads
    int add_sa(const qk_sa_t &sa) {
        std::string peer = peer_of(sa.inbound ? sa.src : sa.dst);
        auto req = add_sa_request(sa, peer);
        if (!req) {
            log_line("add-sa spi " + std::to_string(sa.spi) + ": " + req.error().message);
            return -1;
        }
        auto r = send(*req);
        wipe(*req);
        if (r) {
            std::lock_guard g(_mu);
            _volume.add(sa);
        }
        return r ? 0 : -1;
    }
    int update_sa(const qk_sa_update_t &u) { return send(update_sa_request(u)) ? 0 : -1; }
    int query_sa(uint32_t spi, const char *dst, uint64_t *bytes, uint64_t *packets,
                 uint64_t *idle_ms) {
        auto r = send(query_sa_request(spi, dst));
        if (!r)
            return -1;
        *bytes = r->value("bytes", uint64_t{0});
        *packets = r->value("packets", uint64_t{0});
        *idle_ms = r->value("idle_ms", uint64_t{0});
        return 0;
    }
    int del_sa(uint32_t spi, const char *dst) {
        {
            std::lock_guard g(_mu);
            _volume.remove(spi, dst);
        }
        return send(del_sa_request(spi, dst)) ? 0 : -1;
    }
    int add_policy(const qk_policy_t &p) {
        {
            std::lock_guard g(_mu);
            _policies.add(p);
        }
        return send(add_policy_request(p)) ? 0 : -1;
    }
    int del_policy(const qk_policy_t &p) {
        bool last;
        {
            std::lock_guard g(_mu);
            last = _policies.remove(p);
        }
        return !last || send(del_policy_request(p)) ? 0 : -1;
    }
    int flush() {
        {
            std::lock_guard g(_mu);
            _policies.clear();
            _volume.clear();
        }
        return send(Json{{"op", "ipsec-flush"}}) ? 0 : -1;
    }

    // ----- the main thread
    // ipsec-flush until the dataplane answers (it may start after us).
    bool initial_flush(const sigset_t &signals) {
        bool told = false;
        for (;;) {
            auto r = _dp.request(Json{{"op", "ipsec-flush"}}, 5000);
            if (r) {
                log_line("flushed the dataplane's SAs and policies: " + r->dump());
                return true;
            }
            if (!told)
                log_line("waiting for the dataplane: " + r.error().message);
            told = true;
            timespec one{1, 0};
            int sig = sigtimedwait(&signals, nullptr, &one);
            if (sig == SIGTERM || sig == SIGINT)
                return false;
        }
    }

    // Reads the peers, writes swanctl.conf and its files, loads them into charon.
    bool load_peers() {
        auto reply = _dp.request(Json{{"op", "ipsec-peers"}}, 5000);
        if (!reply) {
            log_line("ipsec-peers: " + reply.error().message);
            return false;
        }
        auto peers = parse_peers(*reply);
        wipe(*reply);
        if (!peers) {
            // Not retried until the revision changes: the same peers would be refused again.
            _loaded_revision = reply->value("revision", int64_t{-1});
            log_line("refusing the peers of revision " + std::to_string(*_loaded_revision) +
                     ", keeping what runs: " + peers.error().message);
            return false;
        }
        // A certificate peer's files are read and checked here (readable, PEM, the key the
        // certificate's, the certificate chained to its CA, no NUL in a name); one bad file
        // refuses the revision like a bad field, and what was checked is what gets written.
        std::map<std::string, CertificateFiles> files; // by peer name
        for (const auto &p : *peers) {
            if (p.auth != "certificate")
                continue;
            auto f = load_certificate_files(p);
            if (!f) {
                _loaded_revision = reply->value("revision", int64_t{-1});
                log_line("refusing the peers of revision " + std::to_string(*_loaded_revision) +
                         ", keeping what runs: " + f.error().message);
                for (auto &q : *peers)
                    explicit_bzero(q.psk.data(), q.psk.size());
                return false;
            }
            files.emplace(p.name, std::move(*f));
        }
        auto conf = render_swanctl(*peers);
        if (!write_files(conf, files)) {
            explicit_bzero(conf.text.data(), conf.text.size());
            return false;
        }
        explicit_bzero(conf.text.data(), conf.text.size());
        {
            std::lock_guard g(_mu);
            _peer_by_address.clear();
            for (const auto &p : *peers)
                _peer_by_address[p.address] = p.name;
        }
        for (auto &p : *peers)
            explicit_bzero(p.psk.data(), p.psk.size());
        if (!swanctl_load())
            return false;
        _loaded_revision = reply->value("revision", int64_t{-1});
        log_line("loaded " + std::to_string(peers->size()) + " peer(s) of revision " +
                 std::to_string(*_loaded_revision));
        return true;
    }

    // Once a second: a new configuration revision, volume lifetimes.
    void poll() {
        auto st = _dp.request(Json{{"op", "status"}}, 5000);
        if (!st) {
            if (!_dp_down)
                log_line("dataplane: " + st.error().message);
            _dp_down = true;
            return;
        }
        _dp_down = false;
        int64_t revision = st->value("revision", int64_t{-1});
        if (!_loaded_revision || revision != *_loaded_revision)
            load_peers();
        auto sas = _dp.request(Json{{"op", "ipsec-sas"}}, 5000);
        if (!sas)
            return;
        std::vector<Expiry> expired;
        {
            std::lock_guard g(_mu);
            expired = _volume.check(*sas);
        }
        for (const auto &e : expired) {
            log_line("SA " + std::to_string(e.spi) + " to " + e.dst + " passed its " +
                     (e.hard ? "hard" : "soft") + " volume limit");
            qk_charon_expire(e.spi, e.dst.c_str(), e.hard);
        }
    }

    void reload() { _loaded_revision.reset(); }

private:
    Result<Json> send(const Json &req) {
        auto r = _dp.request(req, 5000);
        if (!r)
            log_line(req.value("op", std::string("?")) + ": " + r.error().message);
        return r;
    }

    std::string peer_of(const std::string &address) {
        std::lock_guard g(_mu);
        auto it = _peer_by_address.find(address);
        return it == _peer_by_address.end() ? std::string() : it->second;
    }

    bool write_files(const SwanctlConfig &conf,
                     const std::map<std::string, CertificateFiles> &contents) {
        std::error_code ec;
        // every folder swanctl --load-all reads, so it finds them (empty) rather than complain
        for (const char *dir : {"x509", "x509ca", "x509ocsp", "x509aa", "x509ac", "x509crl",
                                "pubkey", "private", "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12"}) {
            fs::path d = fs::path(_o.run_dir) / dir;
            fs::remove_all(d, ec); // a removed peer's files go with it
            fs::create_directories(d, ec);
            if (ec) {
                log_line("cannot create " + d.string() + ": " + ec.message());
                return false;
            }
            chmod(d.c_str(), 0700);
        }
        for (const auto &f : conf.files) {
            fs::path to = fs::path(_o.run_dir) / f.to;
            // the bytes load_certificate_files checked, not the path read again
            auto peer = contents.find(fs::path(f.to).stem().string());
            if (peer == contents.end()) {
                log_line("no checked contents for " + f.from);
                return false;
            }
            const std::string &data = f.to.starts_with("x509ca/") ? peer->second.ca
                                      : f.secret                  ? peer->second.private_key
                                                                  : peer->second.certificate;
            int fd = open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                          f.secret ? 0600 : 0644);
            bool ok =
                fd >= 0 && write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
            ok = (fd < 0 || close(fd) == 0) && ok;
            if (!ok) {
                log_line("cannot write " + to.string() + " (from " + f.from +
                         "): " + std::strerror(errno));
                return false;
            }
            chmod(to.c_str(), f.secret ? 0600 : 0644);
        }
        std::string tmp = conf_path() + ".new";
        int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            log_line("cannot write " + tmp + ": " + std::strerror(errno));
            return false;
        }
        bool ok =
            write(fd, conf.text.data(), conf.text.size()) == static_cast<ssize_t>(conf.text.size());
        ok = close(fd) == 0 && ok;
        if (!ok || rename(tmp.c_str(), conf_path().c_str()) != 0) {
            log_line("cannot write " + conf_path());
            return false;
        }
        return true;
    }

    // swanctl --load-all as a child process, killed after swanctl_timeout_s.
    bool swanctl_load() {
        std::string uri = "unix://" + vici_socket();
        std::vector<std::string> args = {swanctl_bin, "--load-all", "--clear", "--noprompt",
                                         "--file",    conf_path(),  "--uri",   uri};
        pid_t pid = fork();
        if (pid < 0) {
            log_line(std::string("fork: ") + std::strerror(errno));
            return false;
        }
        if (pid == 0) {
            std::vector<char *> argv;
            for (auto &a : args)
                argv.push_back(a.data());
            argv.push_back(nullptr);
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, nullptr);
            dup2(STDERR_FILENO, STDOUT_FILENO); // its report goes to our log
            execv(argv[0], argv.data());
            _exit(127);
        }
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(swanctl_timeout_s);
        int status = 0;
        for (;;) {
            pid_t r = waitpid(pid, &status, WNOHANG);
            if (r == pid)
                break;
            if (std::chrono::steady_clock::now() > deadline) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                log_line("swanctl --load-all did not finish within " +
                         std::to_string(swanctl_timeout_s) + " s");
                return false;
            }
            usleep(50 * 1000);
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            log_line("swanctl --load-all failed (status " + std::to_string(status) + ")");
            return false;
        }
        return true;
    }

    Options _o;
    control::DataplaneClient _dp; // connects per request: a restarted dataplane is found again
    std::mutex _mu;               // the tables below: charon's threads and the main thread
    std::map<std::string, std::string> _peer_by_address;
    PolicyCounts _policies;
    VolumeWatch _volume;
    std::optional<int64_t> _loaded_revision;
    bool _dp_down = false;
};

extern "C" {
int cb_add_sa(void *ctx, const qk_sa_t *sa) {
    return static_cast<Ike *>(ctx)->add_sa(*sa);
}
int cb_update_sa(void *ctx, const qk_sa_update_t *u) {
    return static_cast<Ike *>(ctx)->update_sa(*u);
}
int cb_query_sa(void *ctx, uint32_t spi, const char *dst, uint64_t *bytes, uint64_t *packets,
                uint64_t *idle_ms) {
    return static_cast<Ike *>(ctx)->query_sa(spi, dst, bytes, packets, idle_ms);
}
int cb_del_sa(void *ctx, uint32_t spi, const char *dst) {
    return static_cast<Ike *>(ctx)->del_sa(spi, dst);
}
int cb_flush(void *ctx) {
    return static_cast<Ike *>(ctx)->flush();
}
int cb_add_policy(void *ctx, const qk_policy_t *p) {
    return static_cast<Ike *>(ctx)->add_policy(*p);
}
int cb_del_policy(void *ctx, const qk_policy_t *p) {
    return static_cast<Ike *>(ctx)->del_policy(*p);
}
}

std::string strongswan_conf(const Options &o, const std::string &vici) {
    std::string load;
    for (const char *p : wanted_plugins)
        if (fs::exists(std::string(plugin_dir) + "/libstrongswan-" + p + ".so"))
            load += (load.empty() ? "" : " ") + std::string(p);
    // With --log, charon writes its own lines there, flushed per line (its stderr logger
    // buffers); qorgan-ike's lines go to the same file through stderr.
    std::string filelog;
    if (!o.log.empty())
        filelog = "    filelog {\n"
                  "        qorgan {\n"
                  "            path = \"" +
                  o.log +
                  "\"\n"
                  "            time_format = %F %T\n"
                  "            default = " +
                  std::to_string(o.debug) +
                  "\n"
                  "            append = yes\n"
                  "            flush_line = yes\n"
                  "        }\n"
                  "    }\n";
    return "# Written by qorgan-ike at start; do not edit.\n"
           "charon {\n"
           "    load = " +
           load +
           "\n"
           "    install_routes = no\n"
           "    install_virtual_ip = no\n" +
           filelog +
           "    plugins {\n"
           "        vici {\n"
           "            socket = unix://" +
           vici +
           "\n"
           "        }\n"
           "    }\n"
           "}\n"
           "# swanctl (run by qorgan-ike with this file as STRONGSWAN_CONF) needs only these\n"
           "swanctl {\n"
           "    load = pem pkcs1 pkcs8 x509 pubkey openssl random\n"
           "}\n";
}

void usage() {
    std::fprintf(stderr,
                 "usage: qorgan-ike [--control-socket PATH] [--run-dir DIR] [--log FILE] "
                 "[--debug N]\n"
                 "  --control-socket  the dataplane's (default /run/qorgan/dataplane.sock)\n"
                 "  --run-dir         strongswan.conf, swanctl.conf, charon.vici "
                 "(default /run/qorgan/ike)\n"
                 "  --log             append charon's and qorgan-ike's log here (default "
                 "stderr)\n"
                 "  --debug           charon's log level, -1..4 (default 1)\n");
}

std::optional<Options> parse_args(int argc, char **argv) {
    Options o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto value = [&]() -> const char * { return i + 1 < argc ? argv[++i] : nullptr; };
        const char *v = nullptr;
        if (a == "--control-socket" && (v = value()))
            o.control_socket = v;
        else if (a == "--run-dir" && (v = value()))
            o.run_dir = v;
        else if (a == "--log" && (v = value()))
            o.log = v;
        else if (a == "--debug" && (v = value()))
            o.debug = std::atoi(v);
        else
            return std::nullopt;
    }
    // Both go into strongswan.conf between quotes.
    for (const std::string *path : {&o.run_dir, &o.log})
        for (unsigned char c : *path)
            if (c < 0x20 || c == '"' || c == '\\')
                return std::nullopt;
    return o;
}

int run(int argc, char **argv) {
    auto opts = parse_args(argc, argv);
    if (!opts) {
        usage();
        return 2;
    }
    if (!opts->log.empty()) {
        int fd = open(opts->log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0) {
            std::fprintf(stderr, "qorgan-ike: cannot open %s: %s\n", opts->log.c_str(),
                         std::strerror(errno));
            return 1;
        }
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    std::error_code ec;
    fs::create_directories(opts->run_dir, ec);
    if (ec || chmod(opts->run_dir.c_str(), 0700) != 0) {
        log_line("cannot create " + opts->run_dir);
        return 1;
    }
    Ike ike(*opts);
    std::string settings = opts->run_dir + "/strongswan.conf";
    {
        std::ofstream f(settings, std::ios::trunc);
        f << strongswan_conf(*opts, ike.vici_socket());
        if (!f) {
            log_line("cannot write " + settings);
            return 1;
        }
    }
    setenv("STRONGSWAN_CONF", settings.c_str(), 1);

    // charon's threads inherit this mask; the main thread takes the signals with sigtimedwait.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    if (!ike.initial_flush(signals))
        return 0;

    qk_callbacks_t cb{};
    cb.ctx = &ike;
    cb.add_sa = cb_add_sa;
    cb.update_sa = cb_update_sa;
    cb.query_sa = cb_query_sa;
    cb.del_sa = cb_del_sa;
    cb.flush_sas = cb_flush;
    cb.add_policy = cb_add_policy;
    cb.del_policy = cb_del_policy;
    cb.flush_policies = cb_flush;
    if (qk_charon_init(settings.c_str(), &cb, opts->debug) != 0) {
        log_line("charon failed to initialise (see above)");
        return 1;
    }
    qk_charon_start();
    log_line("charon started; vici at unix://" + ike.vici_socket());

    for (;;) {
        ike.poll();
        timespec one{1, 0};
        int sig = sigtimedwait(&signals, nullptr, &one);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGHUP)
            ike.reload();
    }
    log_line("stopping");
    qk_charon_deinit();
    return 0;
}

} // namespace

} // namespace qorgan::ike

int main(int argc, char **argv) {
    return qorgan::ike::run(argc, argv);
}

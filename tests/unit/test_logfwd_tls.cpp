// SPDX-License-Identifier: GPL-2.0-or-later
// The forwarder against an in-process TLS syslog server (OpenSSL, certificates made here):
// records arrive once and in order, also across a server restart (R38-6); a certificate from
// another CA or for another name is refused and nothing is sent (R90-1-7); a client
// certificate is presented when configured; every wait is bounded.
#include "control/logfwd/forwarder.h"
#include "control/logfwd/syslog.h"

#include "temp_dir.h"

#include <gtest/gtest.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace qorgan::logfwd;
using namespace std::chrono_literals;

namespace {

// A server closing under our write must fail the write, not kill the test binary.
[[maybe_unused]] const bool sigpipe_ignored = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
}();

// ------------------------------------------------------------------ certificates

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

struct Issued {
    Key key{nullptr, EVP_PKEY_free};
    Cert cert{nullptr, X509_free};
};

void add_ext(X509 *x, X509 *issuer, int nid, const std::string &value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    ASSERT_NE(ext, nullptr) << value;
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
}

// A P-256 key and a certificate for it, signed by `ca` (self-signed when ca is null).
Issued issue(const std::string &cn, const Issued *ca, const std::string &san) {
    static long serial = 1;
    Issued out;
    out.key.reset(EVP_EC_gen("P-256"));
    out.cert.reset(X509_new());
    X509 *x = out.cert.get();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, out.key.get());
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char *>(cn.c_str()), -1, -1, 0);
    X509 *issuer = ca ? ca->cert.get() : x;
    X509_set_issuer_name(x, X509_get_subject_name(issuer));
    if (!ca) {
        add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, issuer, NID_basic_constraints, "CA:FALSE");
        add_ext(x, issuer, NID_subject_alt_name, san);
    }
    X509_sign(x, ca ? ca->key.get() : out.key.get(), EVP_sha256());
    return out;
}

void write_pem(const std::string &path, X509 *cert, EVP_PKEY *key) {
    FILE *f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr) << path;
    if (cert)
        PEM_write_X509(f, cert);
    if (key)
        PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
}

// ------------------------------------------------------------------ the server

// An RFC 5425 receiver on 127.0.0.1: one connection at a time, octet-counted frames.
class SyslogServer {
public:
    struct Options {
        std::string cert, key;     // PEM files of the server certificate
        std::string client_ca;     // set: a client certificate from this CA is required
        bool slow_refusal = false; // a refused client certificate is answered 150 ms late
        bool handshake = true;     // false: accepts TCP and never answers
        bool read = true;          // false: completes the handshake, then never reads
        uint16_t port = 0;         // 0: any free port
    };

    explicit SyslogServer(Options o) : _o(std::move(o)) {
        _ctx = SSL_CTX_new(TLS_server_method());
        SSL_CTX_use_certificate_file(_ctx, _o.cert.c_str(), SSL_FILETYPE_PEM);
        SSL_CTX_use_PrivateKey_file(_ctx, _o.key.c_str(), SSL_FILETYPE_PEM);
        if (!_o.client_ca.empty()) {
            SSL_CTX_load_verify_locations(_ctx, _o.client_ca.c_str(), nullptr);
            SSL_CTX_set_verify(_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                               _o.slow_refusal ? slow_verify : nullptr);
        }
        _listen = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(_o.port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        _bound = ::bind(_listen, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0 &&
                 ::listen(_listen, 4) == 0;
        socklen_t len = sizeof a;
        getsockname(_listen, reinterpret_cast<sockaddr *>(&a), &len);
        _port = ntohs(a.sin_port);
        _thread = std::thread([this] { serve(); });
    }

    ~SyslogServer() { stop(); }

    // Closes the current connection with close_notify and stops listening.
    void stop() {
        _stop = true;
        if (_thread.joinable())
            _thread.join();
        if (_listen >= 0)
            ::close(_listen);
        _listen = -1;
        SSL_CTX_free(_ctx);
        _ctx = nullptr;
    }

    bool bound() const { return _bound; }
    uint16_t port() const { return _port; }

    std::vector<std::string> messages() {
        std::lock_guard lock(_mu);
        return _messages;
    }
    size_t connections() {
        std::lock_guard lock(_mu);
        return _connections;
    }
    std::string client_cn() {
        std::lock_guard lock(_mu);
        return _client_cn;
    }
    // Waits (bounded) until n messages arrived.
    bool wait_messages(size_t n, std::chrono::milliseconds timeout) {
        std::unique_lock lock(_mu);
        return _cv.wait_for(lock, timeout, [&] { return _messages.size() >= n; });
    }

private:
    // Like a server busy checking revocation: the client has long finished its handshake.
    static int slow_verify(int ok, X509_STORE_CTX *) {
        if (!ok)
            std::this_thread::sleep_for(150ms);
        return ok;
    }

    void serve() {
        while (!_stop) {
            pollfd p{_listen, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0)
                continue;
            int fd = ::accept4(_listen, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0)
                continue;
            {
                std::lock_guard lock(_mu);
                ++_connections;
            }
            timeval tv{0, 20000}; // reads return every 20 ms so stop() is seen
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            if (_o.handshake)
                session(fd);
            else
                while (!_stop)
                    std::this_thread::sleep_for(10ms);
            ::close(fd);
        }
    }

    void session(int fd) {
        SSL *ssl = SSL_new(_ctx);
        SSL_set_fd(ssl, fd);
        bool up = false;
        while (!_stop) {
            int rc = SSL_accept(ssl);
            if (rc == 1) {
                up = true;
                break;
            }
            if (SSL_get_error(ssl, rc) != SSL_ERROR_WANT_READ)
                break;
        }
        ERR_clear_error();
        if (up) {
            if (X509 *peer = SSL_get0_peer_certificate(ssl)) {
                char cn[256] = {};
                X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn,
                                          sizeof cn);
                std::lock_guard lock(_mu);
                _client_cn = cn;
            }
            std::string buf;
            char chunk[4096];
            while (!_stop && !_o.read)
                std::this_thread::sleep_for(10ms);
            while (!_stop) {
                int n = SSL_read(ssl, chunk, sizeof chunk);
                if (n > 0) {
                    buf.append(chunk, static_cast<size_t>(n));
                    take_frames(buf);
                    continue;
                }
                if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ)
                    break; // the client closed
                ERR_clear_error();
            }
            if (_stop)
                SSL_shutdown(ssl);
        }
        ERR_clear_error();
        SSL_free(ssl);
    }

    void take_frames(std::string &buf) {
        for (;;) {
            auto sp = buf.find(' ');
            if (sp == std::string::npos)
                return;
            size_t len = std::stoul(buf.substr(0, sp));
            if (buf.size() < sp + 1 + len)
                return;
            std::lock_guard lock(_mu);
            _messages.push_back(buf.substr(sp + 1, len));
            buf.erase(0, sp + 1 + len);
            _cv.notify_all();
        }
    }

    Options _o;
    SSL_CTX *_ctx = nullptr;
    int _listen = -1;
    bool _bound = false;
    uint16_t _port = 0;
    std::atomic<bool> _stop{false};
    std::thread _thread;
    std::mutex _mu;
    std::condition_variable _cv;
    std::vector<std::string> _messages;
    size_t _connections = 0;
    std::string _client_cn;
};

// ------------------------------------------------------------------ the record source

// Stands in for the audit store: records 1..n, more appended by the test.
class MemorySource {
public:
    void append(size_t count) {
        std::lock_guard lock(_mu);
        for (size_t i = 0; i < count; ++i) {
            Record r;
            r.seq = _records.size() + 1;
            r.time_us = 1764096001000000 + static_cast<int64_t>(r.seq);
            r.user = "loadtest";
            r.action = "command";
            r.detail = "load " + std::to_string(r.seq);
            r.result = "ok";
            r.prev = "prev-of-" + std::to_string(r.seq);
            _records.push_back(r);
        }
    }
    Source source() {
        return [this](uint64_t after, size_t max) -> qorgan::Result<std::vector<Record>> {
            std::lock_guard lock(_mu);
            ++_reads;
            if (!_error.empty())
                return qorgan::Error{{}, _error};
            std::vector<Record> out;
            for (size_t i = after; i < _records.size() && out.size() < max; ++i)
                out.push_back(_records[i]);
            return out;
        };
    }
    void fail_with(const std::string &error) {
        std::lock_guard lock(_mu);
        _error = error;
    }
    const Record &at(uint64_t seq) const { return _records[seq - 1]; }

private:
    std::mutex _mu;
    std::vector<Record> _records;
    std::string _error;
    size_t _reads = 0;
};

uint64_t seq_of(const std::string &msg) {
    auto at = msg.find(" seq=\"");
    return at == std::string::npos ? 0 : std::stoull(msg.substr(at + 6));
}

std::vector<uint64_t> seqs_of(const std::vector<std::string> &msgs) {
    std::vector<uint64_t> out;
    for (const auto &m : msgs)
        out.push_back(seq_of(m));
    return out;
}

std::vector<uint64_t> range(uint64_t first, uint64_t last) {
    std::vector<uint64_t> out;
    for (uint64_t s = first; s <= last; ++s)
        out.push_back(s);
    return out;
}

std::string read_file(const std::string &path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Steps the forwarder until `done` or the timeout; true when done.
template <typename Pred>
bool pump(Forwarder &f, Pred done, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        if (!f.step())
            std::this_thread::sleep_for(5ms);
    }
    return true;
}

class LogfwdTls : public ::testing::Test {
protected:
    // One CA, a second unrelated CA, and certificates issued by them, made once per run.
    static void SetUpTestSuite() {
        dir = new qorgan::test::TempDir("qorgan-logfwd-tls");
        const std::string &d = dir->path();
        Issued ca = issue("Qorgan Test CA", nullptr, "");
        Issued other_ca = issue("Some Other CA", nullptr, "");
        write_pem(d + "/ca.pem", ca.cert.get(), nullptr);
        auto leaf = [&](const std::string &name, const std::string &cn, const Issued &by,
                        const std::string &san) {
            Issued c = issue(cn, &by, san);
            write_pem(d + "/" + name + ".crt", c.cert.get(), nullptr);
            write_pem(d + "/" + name + ".key", nullptr, c.key.get());
        };
        leaf("server", "127.0.0.1", ca, "IP:127.0.0.1");
        leaf("other-ca", "127.0.0.1", other_ca, "IP:127.0.0.1");
        leaf("wrong-ip", "127.0.0.2", ca, "IP:127.0.0.2");
        leaf("dns", "logs.example", ca, "DNS:logs.example");
        leaf("client", "qorgan-gw", ca, "DNS:qorgan-gw");
        leaf("client-other-ca", "qorgan-gw", other_ca, "DNS:qorgan-gw");
    }
    static void TearDownTestSuite() {
        delete dir;
        dir = nullptr;
    }

    static std::string path(const std::string &name) { return dir->path() + "/" + name; }

    static SyslogServer::Options server_options(const std::string &cert, uint16_t port = 0) {
        SyslogServer::Options o;
        o.cert = path(cert + ".crt");
        o.key = path(cert + ".key");
        o.port = port;
        return o;
    }

    Settings settings(uint16_t port) {
        Settings s;
        s.server = "127.0.0.1";
        s.port = port;
        s.ca_file = path("ca.pem");
        s.hostname = "gw-test";
        s.state_file = _state.path() + "/cursor.json";
        s.status_file = _state.path() + "/status.json";
        s.batch = 64;
        s.timeout_ms = 2000;
        s.backoff_min_ms = 50;
        s.backoff_max_ms = 400;
        return s;
    }

    std::unique_ptr<Forwarder> make(const Settings &s) {
        auto f = Forwarder::create(s, _records.source(),
                                   [this](const std::string &l) { _log += l + "\n"; });
        EXPECT_TRUE(f) << (f ? "" : f.error().to_string());
        return f ? std::move(*f) : nullptr;
    }

    qorgan::Json status_file(const Settings &s) {
        return qorgan::Json::parse(read_file(s.status_file), nullptr, false);
    }

    static qorgan::test::TempDir *dir;
    qorgan::test::TempDir _state{"qorgan-logfwd-state"};
    MemorySource _records;
    std::string _log;
};

qorgan::test::TempDir *LogfwdTls::dir = nullptr;

} // namespace

TEST_F(LogfwdTls, RecordsArriveInOrder_R90_1_7) {
    SyslogServer server(server_options("server"));
    ASSERT_TRUE(server.bound());
    _records.append(300);
    Settings s = settings(server.port());
    auto f = make(s);
    ASSERT_TRUE(f);
    ASSERT_TRUE(pump(*f, [&] { return server.messages().size() >= 300; })) << _log;
    auto msgs = server.messages();
    ASSERT_EQ(seqs_of(msgs), range(1, 300));
    for (uint64_t seq : {1u, 150u, 300u})
        EXPECT_EQ(msgs[seq - 1], format_rfc5424(_records.at(seq), "gw-test"));
    EXPECT_EQ(f->cursor(), 300u);
    EXPECT_TRUE(f->status().connected);
    EXPECT_EQ(f->status().last_error, "");
    auto st = status_file(s);
    EXPECT_EQ(st["connected"], true);
    EXPECT_EQ(st["last_sent_seq"], 300);
    EXPECT_EQ(st["server"], "127.0.0.1:" + std::to_string(server.port()));
    EXPECT_FALSE(st["since"].get<std::string>().empty());
    EXPECT_EQ(read_file(s.state_file), "{\"last_sent_seq\":300}\n");
    EXPECT_EQ(server.connections(), 1u);
    EXPECT_NE(_log.find("connected to 127.0.0.1:"), std::string::npos) << _log;
    // Nothing new: nothing more is sent.
    f->step();
    EXPECT_FALSE(server.wait_messages(301, 100ms));
}

TEST_F(LogfwdTls, ServerRestartLosesNothingAndSendsNothingTwice_R38_6) {
    Settings s;
    uint16_t port = 0;
    std::vector<std::string> first;
    {
        SyslogServer server(server_options("server"));
        ASSERT_TRUE(server.bound());
        port = server.port();
        s = settings(port);
        _records.append(100);
        auto f = make(s);
        ASSERT_TRUE(f);
        ASSERT_TRUE(pump(*f, [&] { return server.messages().size() >= 100; })) << _log;
        server.stop(); // close_notify, then nobody listens
        first = server.messages();
        // The close is noticed while idle, before anything else is written.
        ASSERT_TRUE(pump(*f, [&] { return !f->status().connected; })) << _log;
        EXPECT_NE(f->status().last_error.find("close_notify"), std::string::npos)
            << f->status().last_error;
        _records.append(150); // written while the server is down
        ASSERT_TRUE(pump(*f, [&] {
            return f->status().last_error.find("Connection refused") != std::string::npos;
        })) << _log;
        EXPECT_EQ(f->cursor(), 100u);
        EXPECT_EQ(status_file(s)["connected"], false);
        EXPECT_EQ(status_file(s)["last_sent_seq"], 100);

        SyslogServer again(server_options("server", port));
        ASSERT_TRUE(again.bound());
        ASSERT_TRUE(pump(
            *f, [&] { return again.messages().size() >= 150; }, 15s))
            << _log;
        EXPECT_EQ(seqs_of(again.messages()), range(101, 250));
        EXPECT_EQ(first.size(), 100u);
        EXPECT_EQ(seqs_of(first), range(1, 100));
        EXPECT_TRUE(f->status().connected);
        EXPECT_EQ(f->status().last_error, "");
        EXPECT_NE(_log.find("disconnected from"), std::string::npos) << _log;
    }
    // A restarted forwarder resumes after the saved cursor: no record is sent twice.
    SyslogServer third(server_options("server", port));
    ASSERT_TRUE(third.bound());
    _records.append(10);
    auto g = make(s);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->cursor(), 250u);
    ASSERT_TRUE(pump(*g, [&] { return third.messages().size() >= 10; })) << _log;
    EXPECT_FALSE(third.wait_messages(11, 100ms));
    EXPECT_EQ(seqs_of(third.messages()), range(251, 260));
}

TEST_F(LogfwdTls, CertificateFromAnotherCaIsRefusedAndNothingSent_R90_1_7) {
    SyslogServer server(server_options("other-ca"));
    ASSERT_TRUE(server.bound());
    _records.append(5);
    Settings s = settings(server.port());
    s.backoff_min_ms = s.backoff_max_ms = 5000; // one attempt within this test
    auto f = make(s);
    ASSERT_TRUE(f);
    ASSERT_TRUE(pump(*f, [&] { return !f->status().last_error.empty(); })) << _log;
    const std::string &err = f->status().last_error;
    EXPECT_NE(err.find("R90-1-7: certificate of log server 127.0.0.1:"), std::string::npos) << err;
    EXPECT_NE(err.find("unable to get local issuer certificate"), std::string::npos) << err;
    EXPECT_FALSE(f->status().connected);
    EXPECT_EQ(status_file(s)["last_error"], err);
    EXPECT_EQ(status_file(s)["connected"], false);
    // Backoff: no second attempt right away, and never a fallback to an unverified session.
    for (int i = 0; i < 5; ++i)
        f->step();
    EXPECT_EQ(server.connections(), 1u);
    EXPECT_FALSE(server.wait_messages(1, 100ms));
    EXPECT_EQ(f->cursor(), 0u);
    EXPECT_EQ(read_file(s.state_file), ""); // never written
}

TEST_F(LogfwdTls, CertificateForAnotherAddressIsRefused_R90_1_7) {
    SyslogServer server(server_options("wrong-ip"));
    ASSERT_TRUE(server.bound());
    _records.append(5);
    auto f = make(settings(server.port()));
    ASSERT_TRUE(f);
    ASSERT_TRUE(pump(*f, [&] { return !f->status().last_error.empty(); })) << _log;
    EXPECT_NE(f->status().last_error.find("IP address mismatch"), std::string::npos)
        << f->status().last_error;
    EXPECT_FALSE(server.wait_messages(1, 100ms));
    EXPECT_EQ(f->cursor(), 0u);
}

TEST_F(LogfwdTls, ServerNameIsCheckedAgainstDnsNames_R90_1_7) {
    SyslogServer server(server_options("dns"));
    ASSERT_TRUE(server.bound());
    _records.append(3);
    Settings s = settings(server.port());
    s.server_name = "other.example";
    auto wrong = make(s);
    ASSERT_TRUE(wrong);
    ASSERT_TRUE(pump(*wrong, [&] { return !wrong->status().last_error.empty(); })) << _log;
    EXPECT_NE(wrong->status().last_error.find("hostname mismatch"), std::string::npos)
        << wrong->status().last_error;
    wrong.reset();

    s.server_name = "logs.example";
    auto right = make(s);
    ASSERT_TRUE(right);
    ASSERT_TRUE(pump(*right, [&] { return server.messages().size() >= 3; })) << _log;
    EXPECT_EQ(seqs_of(server.messages()), range(1, 3));
}

TEST_F(LogfwdTls, ClientCertificateIsPresentedWhenConfigured) {
    auto o = server_options("server");
    o.client_ca = path("ca.pem");
    SyslogServer server(o);
    ASSERT_TRUE(server.bound());
    _records.append(4);
    Settings s = settings(server.port());
    s.cert_file = path("client.crt");
    s.key_file = path("client.key");
    auto f = make(s);
    ASSERT_TRUE(f);
    ASSERT_TRUE(pump(*f, [&] { return server.messages().size() >= 4; })) << _log;
    EXPECT_EQ(server.client_cn(), "qorgan-gw");
    EXPECT_EQ(seqs_of(server.messages()), range(1, 4));
}

TEST_F(LogfwdTls, ServerRequiringClientCertificateRefusesUsWithoutOne) {
    auto o = server_options("server");
    o.client_ca = path("ca.pem");
    SyslogServer server(o);
    ASSERT_TRUE(server.bound());
    _records.append(4);
    Settings s = settings(server.port());
    s.backoff_min_ms = s.backoff_max_ms = 5000; // one attempt within this test
    auto f = make(s);
    ASSERT_TRUE(f);
    // TLS 1.3 tells the client after its side of the handshake: the settle time catches it.
    ASSERT_TRUE(pump(*f, [&] { return !f->status().last_error.empty(); })) << _log;
    EXPECT_NE(f->status().last_error.find("certificate required"), std::string::npos)
        << f->status().last_error;
    EXPECT_FALSE(f->status().connected);
    EXPECT_EQ(f->cursor(), 0u);
    EXPECT_TRUE(server.messages().empty());
}

TEST_F(LogfwdTls, LateRefusalOfOurCertificateLosesNothing_R38_6) {
    auto o = server_options("server");
    o.client_ca = path("ca.pem");
    o.slow_refusal = true;
    SyslogServer server(o);
    ASSERT_TRUE(server.bound());
    _records.append(4);
    Settings s = settings(server.port());
    s.cert_file = path("client-other-ca.crt");
    s.key_file = path("client-other-ca.key");
    s.settle_ms = 400;
    s.backoff_min_ms = s.backoff_max_ms = 5000;
    auto f = make(s);
    ASSERT_TRUE(f);
    // Records written before the verdict would be dropped by the server yet counted as sent.
    ASSERT_TRUE(pump(*f, [&] { return !f->status().last_error.empty(); })) << _log;
    EXPECT_NE(f->status().last_error.find("alert unknown ca"), std::string::npos)
        << f->status().last_error;
    EXPECT_EQ(f->cursor(), 0u);
    EXPECT_EQ(_log.find("connected to"), std::string::npos) << _log;
}

TEST_F(LogfwdTls, SilentServerTimesOutInsteadOfBlocking) {
    auto o = server_options("server");
    o.handshake = false;
    SyslogServer server(o);
    ASSERT_TRUE(server.bound());
    Settings s = settings(server.port());
    s.timeout_ms = 300;
    s.backoff_min_ms = s.backoff_max_ms = 5000; // one attempt within this test
    auto f = make(s);
    ASSERT_TRUE(f);
    auto start = std::chrono::steady_clock::now();
    f->step();
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 2s);
    EXPECT_NE(f->status().last_error.find("timed out"), std::string::npos)
        << f->status().last_error;
    EXPECT_FALSE(f->status().connected);
}

TEST_F(LogfwdTls, ServerThatStopsReadingTimesOutTheWrite) {
    auto o = server_options("server");
    o.read = false;
    SyslogServer server(o);
    ASSERT_TRUE(server.bound());
    _records.append(60000); // ~18 MB: more than both socket buffers hold
    Settings s = settings(server.port());
    s.batch = 4096;
    s.timeout_ms = 300;
    s.backoff_min_ms = s.backoff_max_ms = 5000;
    auto f = make(s);
    ASSERT_TRUE(f);
    ASSERT_TRUE(pump(
        *f, [&] { return !f->status().last_error.empty(); }, 30s))
        << _log;
    EXPECT_NE(f->status().last_error.find("write to 127.0.0.1:"), std::string::npos)
        << f->status().last_error;
    EXPECT_NE(f->status().last_error.find("timed out"), std::string::npos)
        << f->status().last_error;
    EXPECT_FALSE(f->status().connected);
    EXPECT_LT(f->cursor(), 60000u); // the batch that did not go out is not counted as sent
    EXPECT_EQ(f->cursor() % 4096, 0u);
}

TEST_F(LogfwdTls, UnsavedCursorIsShownAndForwardingGoesOn_R38_6) {
    SyslogServer server(server_options("server"));
    ASSERT_TRUE(server.bound());
    Settings s = settings(server.port());
    std::string sub = _state.path() + "/sub";
    ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
    s.state_file = sub + "/cursor.json";
    auto f = make(s);
    ASSERT_TRUE(f);
    ASSERT_EQ(::rmdir(sub.c_str()), 0);
    _records.append(3);
    ASSERT_TRUE(pump(*f, [&] { return server.messages().size() >= 3; })) << _log;
    EXPECT_NE(f->status().last_error.find("R38-6: forwarding cursor not saved"), std::string::npos)
        << f->status().last_error;
    EXPECT_EQ(f->cursor(), 3u);
    EXPECT_TRUE(f->status().connected);
}

TEST_F(LogfwdTls, StoreErrorIsShownAndSendingResumesAfterIt) {
    SyslogServer server(server_options("server"));
    ASSERT_TRUE(server.bound());
    _records.append(2);
    _records.fail_with("audit dir unreadable");
    Settings s = settings(server.port());
    auto f = make(s);
    ASSERT_TRUE(f);
    ASSERT_TRUE(pump(*f, [&] { return !f->status().last_error.empty(); })) << _log;
    EXPECT_EQ(f->status().last_error, "audit store: audit dir unreadable");
    EXPECT_EQ(status_file(s)["last_error"], "audit store: audit dir unreadable");
    _records.fail_with("");
    ASSERT_TRUE(pump(*f, [&] { return server.messages().size() >= 2; })) << _log;
    EXPECT_EQ(f->status().last_error, "");
}

TEST_F(LogfwdTls, CorruptCursorFileStopsTheStart_R38_6) {
    Settings s = settings(6514);
    std::ofstream(s.state_file) << "not json";
    auto f = Forwarder::create(s, _records.source());
    ASSERT_FALSE(f);
    EXPECT_NE(f.error().message.find("not a forwarding cursor"), std::string::npos)
        << f.error().message;
}

TEST_F(LogfwdTls, StoppedForwarderSaysSoInItsStatus) {
    SyslogServer server(server_options("server"));
    ASSERT_TRUE(server.bound());
    Settings s = settings(server.port());
    auto f = make(s);
    ASSERT_TRUE(f);
    ASSERT_TRUE(pump(*f, [&] { return f->status().connected; })) << _log;
    EXPECT_EQ(status_file(s)["connected"], true);
    f.reset();
    EXPECT_EQ(status_file(s)["connected"], false);
    EXPECT_EQ(status_file(s)["last_error"], "forwarder stopped");
}

// SPDX-License-Identifier: GPL-2.0-or-later
// OpenSSL client for the log server (see tls_client.h).
#include "control/logfwd/tls_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace qorgan::logfwd {

namespace {

using clock_type = std::chrono::steady_clock;

Error fail(std::string msg) {
    return Error{{}, std::move(msg)};
}

// The OpenSSL error queue as one line (emptied), or `fallback` when it holds nothing.
std::string openssl_errors(const std::string &fallback = "") {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty())
            out += "; ";
        out += buf;
    }
    return out.empty() ? fallback : out;
}

bool is_ip(const std::string &s) {
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

int remaining_ms(clock_type::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits until fd is ready for `events` or the deadline passes; a signal does not cut it short.
Status wait_fd(int fd, short events, clock_type::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        int rc = ::poll(&p, 1, remaining_ms(deadline));
        if (rc > 0)
            return Ok{};
        if (rc == 0)
            return fail("timed out");
        if (errno != EINTR)
            return fail(std::string("poll: ") + std::strerror(errno));
    }
}

Result<int> connect_tcp(const Endpoint &ep, clock_type::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo *list = nullptr;
    int gai = getaddrinfo(ep.server.c_str(), std::to_string(ep.port).c_str(), &hints, &list);
    if (gai != 0)
        return fail("resolving " + ep.server + ": " + gai_strerror(gai));
    std::string last = "no address";
    int result = -1;
    for (addrinfo *ai = list; ai && result < 0; ai = ai->ai_next) {
        int fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last = std::string("socket: ") + std::strerror(errno);
            continue;
        }
        int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc < 0 && errno == EINPROGRESS) {
            auto waited = wait_fd(fd, POLLOUT, deadline);
            int err = 0;
            socklen_t len = sizeof err;
            if (!waited) {
                last = waited.error().message;
                rc = -1;
            } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
                last = std::strerror(err ? err : errno);
                rc = -1;
            } else {
                rc = 0;
            }
        } else if (rc < 0) {
            last = std::strerror(errno);
        }
        if (rc == 0)
            result = fd;
        else
            ::close(fd);
    }
    freeaddrinfo(list);
    if (result < 0)
        return fail("connect to " + ep.to_string() + ": " + last);
    return result;
}

// Why a handshake failed: a certificate the server presented that we refuse is named as such,
// with OpenSSL's reason (never followed by an unverified retry).
std::string handshake_error(SSL *ssl, int ssl_err, const Endpoint &ep, const std::string &why) {
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
        openssl_errors(); // the queue only repeats "certificate verify failed"
        return "R90-1-7: certificate of log server " + ep.to_string() +
               " refused: " + X509_verify_cert_error_string(verify);
    }
    std::string detail = why;
    if (detail.empty()) {
        std::string fallback = ssl_err == SSL_ERROR_SYSCALL && errno != 0
                                   ? std::string(std::strerror(errno))
                                   : "connection closed by the server";
        detail = openssl_errors(fallback);
    }
    return "TLS handshake with " + ep.to_string() + " failed: " + detail;
}

} // namespace

std::string Endpoint::to_string() const {
    std::string host = server.find(':') != std::string::npos ? "[" + server + "]" : server;
    return host + ":" + std::to_string(port);
}

TlsContext::~TlsContext() {
    SSL_CTX_free(_ctx);
}

Result<std::shared_ptr<TlsContext>> TlsContext::create(const std::string &ca_file,
                                                       const std::string &cert_file,
                                                       const std::string &key_file) {
    if (ca_file.empty())
        return fail("R90-1-7: a CA file is required to verify the log server");
    if (cert_file.empty() != key_file.empty())
        return fail("a client certificate needs both a certificate file and a key file");
    ERR_clear_error();
    SSL_CTX *raw = SSL_CTX_new(TLS_client_method());
    if (!raw)
        return fail("SSL_CTX_new: " + openssl_errors());
    std::shared_ptr<TlsContext> ctx(new TlsContext(raw));
    SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_mode(raw, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_load_verify_locations(raw, ca_file.c_str(), nullptr) != 1)
        return fail("CA file " + ca_file + ": " + openssl_errors("unreadable"));
    if (!cert_file.empty()) {
        if (SSL_CTX_use_certificate_chain_file(raw, cert_file.c_str()) != 1)
            return fail("client certificate " + cert_file + ": " + openssl_errors("unreadable"));
        if (SSL_CTX_use_PrivateKey_file(raw, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
            return fail("client key " + key_file + ": " + openssl_errors("unreadable"));
        if (SSL_CTX_check_private_key(raw) != 1)
            return fail("client key " + key_file + " does not match " + cert_file);
    }
    return ctx;
}

Result<std::unique_ptr<TlsConnection>> TlsConnection::open(std::shared_ptr<TlsContext> ctx,
                                                           const Endpoint &ep, int timeout_ms,
                                                           int settle_ms) {
    auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
    auto fd = connect_tcp(ep, deadline);
    if (!fd)
        return fd.error();
    ERR_clear_error();
    SSL *ssl = SSL_new(ctx->get());
    if (!ssl) {
        ::close(*fd);
        return fail("SSL_new: " + openssl_errors());
    }
    // Owned from here on: the destructor frees ssl and closes fd on every error path.
    std::unique_ptr<TlsConnection> conn(new TlsConnection(ctx, ssl, *fd, ep.to_string()));
    SSL_set_fd(ssl, *fd);
    const std::string &name = ep.server_name.empty() ? ep.server : ep.server_name;
    bool named = is_ip(name) ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1
                             : SSL_set1_host(ssl, name.c_str()) == 1 &&
                                   SSL_set_tlsext_host_name(ssl, name.c_str()) == 1;
    if (!named)
        return fail("R90-1-7: cannot verify the log server against the name '" + name + "'");

    for (;;) {
        ERR_clear_error();
        errno = 0;
        int rc = SSL_connect(ssl);
        if (rc == 1)
            break;
        int err = SSL_get_error(ssl, rc);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
            return fail(handshake_error(ssl, err, ep, ""));
        auto waited = wait_fd(*fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
        if (!waited)
            return fail(handshake_error(ssl, err, ep, waited.error().message));
    }
    // SSL_VERIFY_PEER already fails the handshake; this guards against a future change of it.
    if (SSL_get_verify_result(ssl) != X509_V_OK || !SSL_get0_peer_certificate(ssl))
        return fail(handshake_error(ssl, SSL_ERROR_SSL, ep, "no verified server certificate"));

    if (SSL_version(ssl) >= TLS1_3_VERSION && settle_ms > 0) {
        auto settle = clock_type::now() + std::chrono::milliseconds(settle_ms);
        while (remaining_ms(settle) > 0) {
            if (!wait_fd(*fd, POLLIN, settle))
                break; // quiet: the server accepted us
            std::string why = conn->closed_reason();
            if (!why.empty())
                return fail("TLS handshake with " + ep.to_string() + " failed: " + why);
        }
    }
    return conn;
}

TlsConnection::~TlsConnection() {
    if (_ssl) {
        ERR_clear_error();
        if (!_fatal && SSL_is_init_finished(_ssl))
            SSL_shutdown(_ssl); // non-blocking: queues close_notify if the socket takes it
        SSL_free(_ssl);
    }
    if (_fd >= 0)
        ::close(_fd);
    ERR_clear_error();
}

Status TlsConnection::write_all(std::string_view data, int timeout_ms) {
    auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
    while (!data.empty()) {
        ERR_clear_error();
        errno = 0;
        size_t written = 0;
        if (SSL_write_ex(_ssl, data.data(), data.size(), &written) == 1) {
            data.remove_prefix(written);
            deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
            continue;
        }
        int err = SSL_get_error(_ssl, 0);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            auto waited = wait_fd(_fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
            if (!waited)
                return fail("write to " + _peer + ": " + waited.error().message);
            continue;
        }
        _fatal = true;
        std::string fallback =
            err == SSL_ERROR_SYSCALL && errno != 0 ? std::strerror(errno) : "connection closed";
        return fail("write to " + _peer + ": " + openssl_errors(fallback));
    }
    return Ok{};
}

std::string TlsConnection::closed_reason() {
    pollfd p{_fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0 && SSL_pending(_ssl) == 0)
        return "";
    char buf[4096];
    for (int reads = 0; reads < 64; ++reads) { // a chatty server cannot hold us here
        ERR_clear_error();
        errno = 0;
        size_t got = 0;
        if (SSL_read_ex(_ssl, buf, sizeof buf, &got) == 1)
            continue; // unexpected data from a syslog server: drained and ignored
        int err = SSL_get_error(_ssl, 0);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE &&
            err != SSL_ERROR_ZERO_RETURN)
            _fatal = true;
        switch (err) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            return ""; // a post-handshake message such as a session ticket
        case SSL_ERROR_ZERO_RETURN:
            return "the server closed the connection (close_notify)";
        case SSL_ERROR_SYSCALL:
            return openssl_errors(errno != 0 ? std::strerror(errno)
                                             : "the server closed the connection");
        default:
            return openssl_errors("TLS error");
        }
    }
    return "";
}

std::string TlsConnection::protocol() const {
    return SSL_get_version(_ssl);
}

} // namespace qorgan::logfwd

// SPDX-License-Identifier: GPL-2.0-or-later
// The TLS client side of the forwarder (OpenSSL): TLS 1.2 or newer, the server certificate
// verified against one CA file and the expected name or IP, an optional client certificate.
// Every call has a deadline; sockets are non-blocking underneath.
#pragma once

#include "common/result.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct ssl_ctx_st;
struct ssl_st;

namespace qorgan::logfwd {

struct Endpoint {
    std::string server;      // IP address or host name to connect to
    uint16_t port = 6514;    // RFC 5425
    std::string server_name; // what the certificate must name (IP or DNS); "" = server

    std::string to_string() const;
};

// The client configuration, loaded once: the trusted CA (nothing else is trusted) and the
// client certificate when one is configured.
class TlsContext {
public:
    static Result<std::shared_ptr<TlsContext>> create(const std::string &ca_file,
                                                      const std::string &cert_file = "",
                                                      const std::string &key_file = "");
    ~TlsContext();
    TlsContext(const TlsContext &) = delete;
    TlsContext &operator=(const TlsContext &) = delete;

    ssl_ctx_st *get() const { return _ctx; }

private:
    explicit TlsContext(ssl_ctx_st *ctx) : _ctx(ctx) {}
    ssl_ctx_st *_ctx;
};

// One verified connection to the log server. The process must ignore SIGPIPE (OpenSSL writes
// with write(2); the qorgan-logfwd executable does ignore it).
class TlsConnection {
public:
    // TCP connect and handshake within timeout_ms. With TLS 1.3 the server judges our client
    // certificate only after our side of the handshake is done, so we then listen settle_ms
    // for its verdict: writing earlier would lose records to a server that refuses us.
    static Result<std::unique_ptr<TlsConnection>>
    open(std::shared_ptr<TlsContext> ctx, const Endpoint &ep, int timeout_ms, int settle_ms);
    ~TlsConnection(); // sends close_notify without waiting, closes the socket
    TlsConnection(const TlsConnection &) = delete;
    TlsConnection &operator=(const TlsConnection &) = delete;

    // Writes all of data; fails when no byte could be written for timeout_ms.
    Status write_all(std::string_view data, int timeout_ms);
    // Whether the server closed or reset the connection (checked without blocking). A syslog
    // server never sends data, so anything readable is a close_notify, an alert or EOF.
    // Returns the reason, or "" while the connection is open.
    std::string closed_reason();
    std::string protocol() const; // "TLSv1.3"

private:
    TlsConnection(std::shared_ptr<TlsContext> ctx, ssl_st *ssl, int fd, std::string peer)
        : _ctx(std::move(ctx)), _ssl(ssl), _fd(fd), _peer(std::move(peer)) {}

    std::shared_ptr<TlsContext> _ctx;
    ssl_st *_ssl;
    int _fd;
    std::string _peer;
    bool _fatal = false; // after a fatal error OpenSSL forbids SSL_shutdown
};

} // namespace qorgan::logfwd

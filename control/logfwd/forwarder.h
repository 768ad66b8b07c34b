// SPDX-License-Identifier: GPL-2.0-or-later
// The remote copy of the audit log (R90-1-7, R38-6): audit records after a persisted cursor
// are sent as RFC 5424 messages over TLS (RFC 5425) to a log server. The audit store itself is
// the persistent queue: the forwarder keeps only the seq it last sent, so records written while
// the server is down go out, once and in order, when it is back.
#pragma once

#include "common/framing.h"
#include "common/result.h"
#include "control/logfwd/syslog.h"
#include "control/logfwd/tls_client.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace qorgan::logfwd {

struct Settings {
    std::string server;      // IP address or host name of the log server
    uint16_t port = 6514;    // RFC 5425
    std::string ca_file;     // the only CA trusted for the server certificate
    std::string cert_file;   // client certificate, optional (then key_file too)
    std::string key_file;    //
    std::string server_name; // the name or IP the server certificate must carry; "" = server
    std::string hostname;    // the HOSTNAME field; "" = this host's name
    std::string state_file;  // the cursor: last seq sent
    std::string status_file; // JSON for `show log forwarding`; "" = none
    size_t batch = 256;      // records per read and write
    int timeout_ms = 5000;   // connect + handshake, and a write without progress
    int settle_ms = 200;     // TLS 1.3: how long to listen for a refusal of our certificate
    int backoff_min_ms = 1000;
    int backoff_max_ms = 30000;
};

// What `show log forwarding` shows; written to Settings::status_file on every change.
struct ForwardStatus {
    bool connected = false;
    std::string server;         // "host:port"
    uint64_t last_sent_seq = 0; // the cursor
    std::string last_error;     // the latest failure; "" once connected and sending again
    std::string since;          // RFC 3339 UTC: when `connected` last changed

    Json to_json() const;
};

// Delay before the next connection attempt: min, doubling up to max; reset after a connect.
class Backoff {
public:
    Backoff(int min_ms, int max_ms) : _min(min_ms), _max(max_ms), _next(min_ms) {}
    int next(); // the delay to wait now
    void reset() { _next = _min; }

private:
    int _min, _max, _next;
};

// The cursor file: one JSON object {"last_sent_seq": N}. A missing file is seq 0.
Result<uint64_t> load_cursor(const std::string &path);
// Written to a temporary file, fsync'ed, renamed over the old one and the folder fsync'ed.
Status save_cursor(const std::string &path, uint64_t seq);

// Records with seq > after, in order, at most max (audit::read_after in the executable).
using Source = std::function<Result<std::vector<Record>>(uint64_t after, size_t max)>;
// One line per connect, disconnect and error, for the service log.
using LogSink = std::function<void(const std::string &line)>;

class Forwarder {
public:
    // Checks the settings, loads the TLS configuration and the cursor.
    static Result<std::unique_ptr<Forwarder>> create(Settings s, Source source, LogSink log = {});
    ~Forwarder(); // close_notify to the server; the status says disconnected
    Forwarder(const Forwarder &) = delete;
    Forwarder &operator=(const Forwarder &) = delete;

    // One round: notices a closed connection, connects when the backoff allows, then sends up
    // to a few batches. True when more records may be waiting (call again without sleeping).
    bool step();
    // Steps until `stop`, sleeping poll_ms while idle. Every wait inside is bounded.
    void run(const std::atomic<bool> &stop, int poll_ms);

    uint64_t cursor() const { return _cursor; }
    const ForwardStatus &status() const { return _status; }

private:
    using clock_type = std::chrono::steady_clock;

    Forwarder(Settings s, Source source, LogSink log, std::shared_ptr<TlsContext> tls,
              uint64_t cursor);
    void connect();
    void disconnect(const std::string &why);
    void set_connected(bool connected);
    void note_error(const std::string &error);
    void write_status();
    void log(const std::string &line) const;

    Settings _s;
    Source _source;
    LogSink _log;
    std::shared_ptr<TlsContext> _tls;
    Endpoint _endpoint;
    std::unique_ptr<TlsConnection> _conn;
    Backoff _backoff;
    clock_type::time_point _next_attempt{};
    uint64_t _cursor;
    bool _store_failing = false; // last_error is a read error of the store
    ForwardStatus _status;
    std::string _status_written; // what the status file holds, to write only on a change
};

} // namespace qorgan::logfwd

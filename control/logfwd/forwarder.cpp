// SPDX-License-Identifier: GPL-2.0-or-later
// The forwarding loop, its cursor and its status file (see forwarder.h).
#include "control/logfwd/forwarder.h"

#include "control/logfwd/syslog.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <thread>
#include <unistd.h>

namespace qorgan::logfwd {

namespace {

constexpr int max_batches_per_step = 8; // so run() sees a stop request during a long backlog

Error fail(std::string msg) {
    return Error{{}, std::move(msg)};
}

std::string errno_text(const std::string &what, const std::string &path) {
    return what + " " + path + ": " + std::strerror(errno);
}

// Replaces `path` in one step so a reader or a crash never sees half a file; with `durable`
// the data and the rename reach the disk before this returns.
Status write_file_atomic(const std::string &path, const std::string &text, bool durable) {
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return fail(errno_text("cannot create", tmp));
    const char *p = text.data();
    size_t left = text.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            auto e = fail(errno_text("cannot write", tmp));
            ::close(fd);
            return e;
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
    if (durable && ::fsync(fd) != 0) {
        auto e = fail(errno_text("cannot fsync", tmp));
        ::close(fd);
        return e;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        return fail(errno_text("cannot rename to", path));
    if (durable) {
        auto slash = path.rfind('/');
        std::string dir = slash == std::string::npos ? "." : path.substr(0, slash ? slash : 1);
        int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            return fail(errno_text("cannot open", dir));
        int rc = ::fsync(dfd);
        ::close(dfd);
        if (rc != 0)
            return fail(errno_text("cannot fsync", dir));
    }
    return Ok{};
}

std::string now_rfc3339() {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    return timestamp_of(us);
}

std::string local_hostname() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0)
        return "";
    return buf;
}

} // namespace

Json ForwardStatus::to_json() const {
    return Json{{"connected", connected},
                {"server", server},
                {"last_sent_seq", last_sent_seq},
                {"last_error", last_error},
                {"since", since}};
}

int Backoff::next() {
    int now = _next;
    _next = _next > _max / 2 ? _max : _next * 2;
    return now < _max ? now : _max;
}

Result<uint64_t> load_cursor(const std::string &path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return uint64_t{0};
        return fail(errno_text("cannot read", path));
    }
    std::string text;
    char buf[256];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0 && text.size() < 4096)
        text.append(buf, static_cast<size_t>(n));
    ::close(fd);
    Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("last_sent_seq") ||
        !j["last_sent_seq"].is_number_unsigned())
        // Not taken as 0: that would send the whole store again.
        return fail(path + ": not a forwarding cursor (expected {\"last_sent_seq\": N})");
    return j["last_sent_seq"].get<uint64_t>();
}

Status save_cursor(const std::string &path, uint64_t seq) {
    return write_file_atomic(path, Json{{"last_sent_seq", seq}}.dump() + "\n", true);
}

Forwarder::Forwarder(Settings s, Source source, LogSink log, std::shared_ptr<TlsContext> tls,
                     uint64_t cursor)
    : _s(std::move(s)), _source(std::move(source)), _log(std::move(log)),
      _tls(std::move(tls)), _endpoint{_s.server, _s.port, _s.server_name},
      _backoff(_s.backoff_min_ms, _s.backoff_max_ms), _cursor(cursor) {
    _status.server = _endpoint.to_string();
    _status.last_sent_seq = _cursor;
    _status.since = now_rfc3339();
}

Result<std::unique_ptr<Forwarder>> Forwarder::create(Settings s, Source source, LogSink log) {
    if (s.server.empty())
        return fail("R90-1-7: no log server given");
    if (s.port == 0)
        return fail("log server port 0 is not valid");
    if (s.state_file.empty())
        return fail("R38-6: a state file for the forwarding cursor is required");
    if (!source)
        return fail("no audit record source");
    if (s.batch == 0 || s.timeout_ms <= 0 || s.backoff_min_ms <= 0 ||
        s.backoff_max_ms < s.backoff_min_ms)
        return fail("batch, timeout and backoff must be positive (backoff min <= max)");
    if (s.hostname.empty())
        s.hostname = local_hostname();
    auto tls = TlsContext::create(s.ca_file, s.cert_file, s.key_file);
    if (!tls)
        return tls.error();
    auto cursor = load_cursor(s.state_file);
    if (!cursor)
        return cursor.error();
    std::unique_ptr<Forwarder> f(
        new Forwarder(std::move(s), std::move(source), std::move(log), *tls, *cursor));
    f->write_status();
    return f;
}

Forwarder::~Forwarder() {
    if (_conn) {
        _conn.reset();
        log("disconnected from " + _endpoint.to_string() + ": forwarder stopped");
    }
    if (_status.last_error.empty())
        _status.last_error = "forwarder stopped";
    set_connected(false);
    write_status();
}

void Forwarder::log(const std::string &line) const {
    if (_log)
        _log(line);
}

void Forwarder::set_connected(bool connected) {
    if (_status.connected != connected) {
        _status.connected = connected;
        _status.since = now_rfc3339();
    }
}

void Forwarder::note_error(const std::string &error) {
    if (_status.last_error != error)
        log("error: " + error); // a repeated error (the store every poll) is logged once
    _status.last_error = error;
    write_status();
}

void Forwarder::write_status() {
    if (_s.status_file.empty())
        return;
    std::string text = _status.to_json().dump() + "\n";
    if (text == _status_written)
        return;
    auto w = write_file_atomic(_s.status_file, text, false);
    if (!w) {
        log("error: status file: " + w.error().message);
        return;
    }
    _status_written = std::move(text);
}

void Forwarder::connect() {
    auto c = TlsConnection::open(_tls, _endpoint, _s.timeout_ms, _s.settle_ms);
    if (!c) {
        int delay = _backoff.next();
        _next_attempt = clock_type::now() + std::chrono::milliseconds(delay);
        log("error: " + c.error().message + " (next attempt in " + std::to_string(delay) + " ms)");
        _status.last_error = c.error().message;
        write_status();
        return;
    }
    _conn = std::move(*c);
    _backoff.reset();
    log("connected to " + _endpoint.to_string() + " (" + _conn->protocol() +
        "), sending after seq " + std::to_string(_cursor));
    _status.last_error.clear();
    set_connected(true);
    write_status();
}

void Forwarder::disconnect(const std::string &why) {
    _conn.reset();
    int delay = _backoff.next();
    _next_attempt = clock_type::now() + std::chrono::milliseconds(delay);
    log("disconnected from " + _endpoint.to_string() + ": " + why + " (next attempt in " +
        std::to_string(delay) + " ms, resending after seq " + std::to_string(_cursor) + ")");
    _status.last_error = why;
    set_connected(false);
    write_status();
}

bool Forwarder::step() {
    if (_conn) {
        std::string why = _conn->closed_reason();
        if (!why.empty())
            disconnect(why);
    }
    if (!_conn) {
        if (clock_type::now() < _next_attempt)
            return false;
        connect();
        if (!_conn)
            return false;
    }
    for (int i = 0; i < max_batches_per_step; ++i) {
        auto records = _source(_cursor, _s.batch);
        if (!records) {
            _store_failing = true;
            note_error("audit store: " + records.error().to_string());
            return false;
        }
        if (_store_failing) {
            _store_failing = false;
            _status.last_error.clear();
            write_status();
        }
        std::string wire;
        uint64_t last = _cursor;
        for (const Record &r : *records) {
            if (r.seq <= last)
                continue; // never resend what is behind the cursor, whatever the source says
            wire += frame(format_rfc5424(r, _s.hostname));
            last = r.seq;
        }
        if (wire.empty())
            return false;
        // A write into a connection the server already closed "succeeds" and is lost.
        std::string why = _conn->closed_reason();
        if (!why.empty()) {
            disconnect(why);
            return false;
        }
        auto written = _conn->write_all(wire, _s.timeout_ms);
        if (!written) {
            disconnect(written.error().message);
            return false;
        }
        _cursor = last;
        _status.last_sent_seq = _cursor;
        auto saved = save_cursor(_s.state_file, _cursor);
        if (!saved)
            note_error("R38-6: forwarding cursor not saved (a restart resends): " +
                       saved.error().message);
        else if (!_status.last_error.empty())
            _status.last_error.clear();
        write_status();
        if (records->size() < _s.batch)
            return false;
    }
    return true;
}

void Forwarder::run(const std::atomic<bool> &stop, int poll_ms) {
    while (!stop.load()) {
        if (!step())
            std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
    }
}

} // namespace qorgan::logfwd

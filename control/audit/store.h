// SPDX-License-Identifier: GPL-2.0-or-later
// The audit store (R128-c, R38-4, R38-6): one JSON line per record in append-only files,
// each record carrying the SHA-256 of the one before, periodic HMAC seals under a key that
// evolves forward after every seal, rotation into gzip archives with a retention of at
// least three years, queries for `show log audit` and a verifier that names the first
// broken record. A record is on disk (fdatasync) before append() returns its number.
#pragma once

#include "common/result.h"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace qorgan::audit {

struct Event {
    std::string user;     // "" for system events
    int level = -1;       // privilege level 0-15, -1 none
    std::string session;  // session id, "" none
    std::string terminal; // "/dev/pts/3", "/dev/ttyS0", ""
    std::string source;   // "console", "local", an IP address, ""
    std::string action;   // login, login-failed, logout, lockout, command, commit,
                          // privilege-refused, time-change, service, alert, storage, ...
    std::string detail;   // free text: the command line, a commit diff, ...
    std::string result;   // "ok", "failed", "refused", "error: ...", ...
};

struct Record : Event {
    uint64_t seq = 0;          // 1, 2, 3, ... never reused, continuous across files
    int64_t time_us = 0;       // UTC microseconds since the epoch
    std::string time;          // the same, RFC 3339 "2026-11-25T18:40:01.123456Z"
    bool clock_synced = false; // kernel clock sync state when written (adjtimex: not TIME_ERROR
                               // and STA_UNSYNC clear), or the injected function
    std::string prev;          // hex SHA-256 of the previous record's stored line ("" for seq 1)
    int64_t epoch = -1;        // seal records (action "seal"): the key epoch used
    std::string hmac;          // seal records: hex HMAC-SHA256
    std::string line;          // the exact stored line, without its newline
};

struct Options {
    uint32_t retention_days = 1095;       // R38-4: open()/set_options() refuse < 1095
    uint64_t rotate_bytes = 16ull << 20;  // rotate the current file past this size
    uint32_t seal_every_records = 64;     // a seal after this many records (0: by time only) ...
    uint32_t seal_every_seconds = 60;     // ... or this long after the last seal
    uint32_t warn_percent = 80;           // filesystem use at which storage() says warning
    uint64_t reserve_bytes = 64ull << 20; // free space under which storage() says full
    std::function<int64_t()> now_us;      // empty: CLOCK_REALTIME; tests inject a clock
    std::function<bool()> clock_synced;   // empty: adjtimex()
    std::function<std::pair<uint64_t, uint64_t>()> fs_space; // {total, free} bytes; empty:
                                                             // statvfs(dir)
};

inline constexpr uint32_t min_retention_days = 1095; // R38-4: three years

enum class Storage { ok, warning, full };
const char *to_string(Storage s); // "ok", "warning", "full"

struct Filter {
    std::string user;   // "" any; exact match
    std::string action; // "" any; exact match
    int64_t since_us = 0, until_us = INT64_MAX;
    size_t limit = 1000; // the newest `limit` matching records, returned oldest first
};

struct VerifyReport {
    bool ok = false;
    uint64_t files = 0, records = 0, seals = 0;
    uint64_t unsealed_tail = 0; // records after the last seal (not an error)
    std::string first_broken;   // "<file> line <n> (seq <s>): <what is wrong>"; "" when ok
    std::string summary; // one line for the admin, e.g. "3 files, 1204 records, 19 seals: intact"
};

class Store {
public:
    // Creates the directory (0700) and keys on first use; recovers a torn last line
    // left by a crash (truncates it and appends an action "audit-recovered" record saying how
    // many unacknowledged bytes were discarded). Errors name the path. One Store per
    // directory at a time (an exclusive flock on the directory).
    static Result<std::unique_ptr<Store>> open(const std::string &dir, Options o = {});
    ~Store(); // seals pending records
    Store(const Store &) = delete;
    Store &operator=(const Store &) = delete;

    Status set_options(const Options &o); // retention < 1095 days refused, naming R38-4
    // Appends one record; returns its seq after the bytes are fdatasync'ed. Seals and rotates
    // when due (a seal record is itself a record in the chain). The actions "seal" and ""
    // are refused.
    Result<uint64_t> append(const Event &e);
    Status seal(); // a seal record now when records follow the last seal (also on destruction)
    // A seal when seal_every_seconds have passed with records unsealed: for a periodic timer,
    // so a quiet store does not leave its last records unsealed for long.
    Status seal_if_due();
    Result<std::vector<Record>> query(const Filter &f) const; // current file and archives
    VerifyReport verify() const;                              // with the stored initial key
    Storage storage() const;
    uint64_t last_seq() const;
    const std::string &dir() const { return _dir; }

private:
    Store() = default;
    Status init(Options o);
    Status recover_current();
    Status finish_rotations();
    Status repair_key(const std::vector<Record> &seals);
    Status open_current();
    void stamp(Record &r) const; // seq, time, clock state and prev of the next record
    Result<uint64_t> write_record(Record &r);
    Status seal_locked();
    Status rotate();
    void expire();
    int64_t now() const;
    bool synced() const;

    mutable std::mutex _mutex;
    std::string _dir;
    Options _o;
    int _dir_fd = -1;     // holds the flock, and is fsync'ed after every rename/unlink
    int _fd = -1;         // the current file, O_APPEND; -1 until the first append after rotation
    std::string _current; // its path
    uint64_t _current_first = 0;
    uint64_t _size = 0; // its size in bytes
    uint64_t _last_seq = 0;
    std::string _last_hash; // hex SHA-256 of the last record's line
    int64_t _epoch = 0;     // the epoch of _key: the next seal uses it
    std::array<uint8_t, 32> _key{};
    bool _key_dirty = false;   // seal.key is behind _key (a failed write); no rotation until fixed
    uint64_t _since_seal = 0;  // records after the last seal
    int64_t _last_seal_us = 0; // when it was made (or the store opened)
    uint64_t _last_seal_seq = 0;  // its seq, as seal.key records it
    int64_t _rotate_after_us = 0; // a failed rotation is retried after this
    bool _ready = false;          // open() finished: the destructor seals
    std::string _failed;          // set when a torn record could not be cut: no more appends
};

// For other processes and threads (the syslog forwarder tails the store this way): complete
// records (newline-terminated lines) with seq > after, in order, across archives and the
// current file, at most max.
Result<std::vector<Record>> read_after(const std::string &dir, uint64_t after, size_t max);
// One stored line -> Record; every malformation is an Error (this is what the fuzzer feeds).
Result<Record> parse_line(const std::string &line);
// Verification with an initial key the auditor kept offline (hex), not the stored one.
VerifyReport verify_dir(const std::string &dir, const std::array<uint8_t, 32> &key0);
// The auditor's copy of the initial key (64 lower-case hex digits, as in verify.key).
Result<std::array<uint8_t, 32>> key_from_hex(const std::string &hex);

} // namespace qorgan::audit

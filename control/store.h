// SPDX-License-Identifier: GPL-2.0-or-later
// The configuration store of qorgand: numbered revisions on disk (text, author, time,
// comment, SHA-256), and which one is running. Every write is crash-safe (temp file,
// fsync, rename, fsync of the folder), so a crash at any point leaves either the old or
// the new state. A revision whose text no longer matches its recorded SHA-256 is
// reported as tampered (R139-4: integrity control of configurations).
#pragma once

#include "common/result.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace qorgan::control {

struct Revision {
    uint32_t number = 0; // 1, 2, 3, ... never reused
    std::string author;
    int64_t time = 0; // seconds since the epoch, UTC
    std::string comment;
    std::string sha256; // hex of the text
};

class Store {
public:
    // Opens (creating if needed) the store in `dir`: dir/revisions/<8 digits>.conf and
    // .meta, dir/running (the running revision number). Leftover temp files are removed.
    static Result<Store> open(const std::string &dir);

    // Writes a new revision (not yet running). Returns its number.
    Result<uint32_t> add(const std::string &text, const std::string &author,
                         const std::string &comment);
    // Makes revision n the running one (atomic).
    Status set_running(uint32_t n);

    uint32_t running() const { return _running; } // 0 when nothing was ever committed
    std::vector<Revision> list() const;           // oldest first
    Result<Revision> info(uint32_t n) const;
    // The text of revision n; an Error "revision N is tampered: ..." when its SHA-256 no
    // longer matches the recorded one, or the file is missing.
    Result<std::string> text(uint32_t n) const;
    // Checks the running revision's integrity (same as text(running())).
    Status verify_running() const;

    const std::string &dir() const { return _dir; }

    // Test hook: called with a step name before every write, fsync and rename the store
    // makes, so tests can stop the process at any of them ("write", "fsync", "rename",
    // "fsync-dir"). Empty by default.
    static void set_step_hook(std::function<void(const char *step)> hook);

private:
    std::string _dir;
    uint32_t _running = 0;
    uint32_t _last = 0;
};

// SHA-256 of a text as lower-case hex (OpenSSL EVP).
std::string sha256_hex(const std::string &text);

} // namespace qorgan::control

// SPDX-License-Identifier: GPL-2.0-or-later
// Shared by the audit store tests: a settable clock, quick events, and reading and
// rewriting the store's files the way an intruder with a shell would.
#pragma once

#include "control/audit/crypto.h"
#include "control/audit/files.h"
#include "control/audit/record.h"
#include "control/audit/store.h"

#include "temp_dir.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace qorgan::audit::test {

namespace fs = std::filesystem;

struct TempDir : qorgan::test::TempDir {
    TempDir() : qorgan::test::TempDir("qorgan-audit") {}
    std::string store() const { return path() + "/audit"; }
};

// 2027-01-15T08:00:00Z; every reading moves it on by `step` so records differ in time.
struct Clock {
    int64_t now = 1'800'000'000'000'000;
    int64_t step = 1'000'000;
};

inline Options options_with(const std::shared_ptr<Clock> &clock) {
    Options o;
    o.now_us = [clock] {
        int64_t t = clock->now;
        clock->now += clock->step;
        return t;
    };
    o.clock_synced = [] { return true; };
    o.fs_space = [] { return std::pair<uint64_t, uint64_t>{1ull << 40, 1ull << 39}; };
    return o;
}

inline Filter by(const std::string &user, const std::string &action = "") {
    Filter f;
    f.user = user;
    f.action = action;
    return f;
}

inline Event ev(const std::string &user, const std::string &action, const std::string &detail = "",
                const std::string &result = "ok") {
    Event e;
    e.user = user;
    e.level = user.empty() ? -1 : 15;
    e.session = user.empty() ? "" : "s-" + user;
    e.terminal = "/dev/pts/3";
    e.source = "192.0.2.10";
    e.action = action;
    e.detail = detail;
    e.result = result;
    return e;
}

inline std::unique_ptr<Store> open_ok(const std::string &dir, Options o) {
    auto s = Store::open(dir, std::move(o));
    EXPECT_TRUE(s.ok()) << (s ? "" : s.error().to_string());
    return s ? std::move(*s) : nullptr;
}

inline std::string slurp(const std::string &path) {
    auto t = read_whole(path);
    EXPECT_TRUE(t.ok()) << path;
    return t ? *t : "";
}

// Rewritten in place rather than truncated first: ext4 flushes a file truncated to nothing
// and rewritten when it is closed, which would make the tamper loops crawl.
inline void spit(const std::string &path, const std::string &data) {
    std::error_code ec; // archives are 0400
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, ec);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(::pwrite(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(data.size())), 0);
    ::close(fd);
}

inline std::vector<std::string> split(const std::string &text) {
    std::vector<std::string> out;
    for (auto l : split_lines(text).lines)
        out.emplace_back(l);
    return out;
}

inline std::string join(const std::vector<std::string> &lines) {
    std::string out;
    for (auto &l : lines)
        out += l + "\n";
    return out;
}

// The record files, oldest first.
inline std::vector<FileEntry> files_of(const std::string &dir) {
    auto f = list_files(dir);
    EXPECT_TRUE(f.ok());
    return f ? *f : std::vector<FileEntry>{};
}

// The lines of a record file, inflated when it is an archive, and back.
inline std::vector<std::string> lines_of(const std::string &dir, const FileEntry &f) {
    auto t = read_records(dir, f);
    EXPECT_TRUE(t.ok()) << (t ? "" : t.error().to_string());
    return t ? split(*t) : std::vector<std::string>{};
}

inline void put_lines(const std::string &dir, const FileEntry &f,
                      const std::vector<std::string> &lines, bool newline_at_end = true) {
    std::string text = join(lines);
    if (!newline_at_end && !text.empty())
        text.pop_back();
    if (f.gz) {
        auto gz = gzip(text);
        ASSERT_TRUE(gz.ok());
        text = *gz;
    }
    spit(dir + "/" + f.name, text);
}

inline Key stored_key0(const std::string &dir) {
    auto k = read_verify_key(dir);
    EXPECT_TRUE(k.ok());
    return k ? *k : Key{};
}

} // namespace qorgan::audit::test

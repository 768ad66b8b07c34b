// SPDX-License-Identifier: GPL-2.0-or-later
// The audit directory on disk: record files named by their first seq, gzip archives, the
// key files and expired.json, and the durable-write helpers they share.
//   audit-<20-digit first seq>.jsonl     the current file (appended)
//   audit-<20-digit first seq>.jsonl.gz  an archive (rotated, read-only)
//   verify.key   key_0 as hex (0600): the start of the seal key chain
//   seal.key     {"epoch","key","seq"} (0600): the key the next seal uses, and the seq of
//                the last seal made
//   expired.json {"epoch","hash","seq","time_us"}: where the chain continues after
//                archives older than the retention were deleted
#pragma once

#include "control/audit/crypto.h"

#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace qorgan::audit {

// Archives are inflated in memory; more than this is not an archive we wrote.
inline constexpr size_t max_file_bytes = 1u << 30;

struct FileEntry {
    uint64_t first = 0; // the seq in the name
    bool gz = false;
    std::string name; // without the directory
};

std::string file_name(uint64_t first_seq, bool gz);
// The record files of dir, by first seq (an archive before a plain file of the same seq).
Result<std::vector<FileEntry>> list_files(const std::string &dir);
// The records text of a file: read whole, inflated when it is an archive.
Result<std::string> read_records(const std::string &dir, const FileEntry &f);
Result<std::string> read_whole(const std::string &path);
Result<std::string> gzip(const std::string &data);
Result<std::string> gunzip(const std::string &data); // exactly one gzip member

// Newline-terminated lines (without the newline); `torn` counts the bytes after the last one.
struct Lines {
    std::vector<std::string_view> lines;
    size_t torn = 0;
};
Lines split_lines(const std::string &data);

Error io_error(const std::string &path, const std::string &what); // appends strerror(errno)
Status fsync_dir(const std::string &dir);
// tmp file, fsync, rename, fsync of the directory: the old or the new content after a crash.
Status write_atomic(const std::string &dir, const std::string &name, const std::string &data,
                    mode_t mode);

struct SealKey {
    int64_t epoch = 0; // the epoch of `key`: the number of seals made so far
    Key key{};
    uint64_t seq = 0; // the seq of the last seal (0: none yet)
};
Result<SealKey> read_seal_key(const std::string &dir);
Status write_seal_key(const std::string &dir, const SealKey &k);
Result<Key> read_verify_key(const std::string &dir);

struct Expired {
    uint64_t seq = 0;  // the last seq of the deleted archives
    std::string hash;  // the SHA-256 of that record's line
    int64_t epoch = 0; // the seals they held: the epoch the next seal must have
    int64_t time_us = 0;
};
Result<std::optional<Expired>> read_expired(const std::string &dir);
Status write_expired(const std::string &dir, const Expired &e);

} // namespace qorgan::audit

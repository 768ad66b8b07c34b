// SPDX-License-Identifier: GPL-2.0-or-later
// Naming, listing, reading, compressing and durably replacing the audit directory's files.
#include "control/audit/files.h"

#include "common/framing.h"

#include <openssl/crypto.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace qorgan::audit {

namespace {

constexpr std::string_view prefix = "audit-", plain_ext = ".jsonl", gz_ext = ".jsonl.gz";
constexpr size_t seq_digits = 20;

Error file_error(const std::string &path, const std::string &what) {
    return Error{Location{path, 0, 0}, what};
}

bool parse_name(std::string_view name, FileEntry &out) {
    if (name.substr(0, prefix.size()) != prefix || name.size() < prefix.size() + seq_digits)
        return false;
    std::string_view digits = name.substr(prefix.size(), seq_digits);
    std::string_view ext = name.substr(prefix.size() + seq_digits);
    if (ext != plain_ext && ext != gz_ext)
        return false;
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return false;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out.first);
    if (ec != std::errc() || end != digits.data() + digits.size())
        return false;
    out.gz = ext == gz_ext;
    out.name = std::string(name);
    return true;
}

Result<Json> read_json_file(const std::string &path) {
    auto text = read_whole(path);
    if (!text)
        return text.error();
    Json j = Json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return file_error(path, "not a JSON object");
    return j;
}

bool get_u64(const Json &j, const char *key, uint64_t &out) {
    if (!j.contains(key) || !j[key].is_number_unsigned())
        return false;
    out = j[key].get<uint64_t>();
    return out <= INT64_MAX;
}

} // namespace

Error io_error(const std::string &path, const std::string &what) {
    return file_error(path, what + ": " + std::strerror(errno));
}

std::string file_name(uint64_t first_seq, bool gz) {
    char digits[32];
    std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(first_seq));
    return std::string(prefix) + digits + std::string(gz ? gz_ext : plain_ext);
}

Result<std::vector<FileEntry>> list_files(const std::string &dir) {
    DIR *d = ::opendir(dir.c_str());
    if (d == nullptr)
        return io_error(dir, "cannot list the audit folder");
    std::vector<FileEntry> files;
    while (struct dirent *e = ::readdir(d)) {
        FileEntry f;
        if (parse_name(e->d_name, f))
            files.push_back(std::move(f));
    }
    ::closedir(d);
    std::sort(files.begin(), files.end(), [](const FileEntry &a, const FileEntry &b) {
        return a.first != b.first ? a.first < b.first : a.gz > b.gz;
    });
    return files;
}

Result<std::string> read_whole(const std::string &path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_error(path, "cannot open");
    std::string data;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0)
        data.reserve(std::min<size_t>(static_cast<size_t>(st.st_size), max_file_bytes));
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            auto err = io_error(path, "cannot read");
            ::close(fd);
            return err;
        }
        if (n == 0)
            break;
        if (data.size() + static_cast<size_t>(n) > max_file_bytes) {
            ::close(fd);
            return file_error(path, "larger than " + std::to_string(max_file_bytes) + " bytes");
        }
        data.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return data;
}

Result<std::string> read_records(const std::string &dir, const FileEntry &f) {
    std::string path = dir + "/" + f.name;
    auto data = read_whole(path);
    if (!data || !f.gz)
        return data;
    auto text = gunzip(*data);
    if (!text)
        return file_error(path, text.error().message);
    return text;
}

Result<std::string> gzip(const std::string &data) {
    z_stream zs{};
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return Error{Location{}, "cannot start gzip"};
    std::string out(deflateBound(&zs, data.size()), '\0');
    zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef *>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END)
        return Error{Location{}, "gzip failed"};
    return out;
}

Result<std::string> gunzip(const std::string &data) {
    z_stream zs{};
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return Error{Location{}, "cannot start gunzip"};
    zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.data()));
    zs.avail_in = static_cast<uInt>(std::min<size_t>(data.size(), max_file_bytes));
    std::string out;
    char buf[65536];
    int rc = Z_OK;
    while (rc == Z_OK) {
        zs.next_out = reinterpret_cast<Bytef *>(buf);
        zs.avail_out = sizeof buf;
        rc = inflate(&zs, Z_NO_FLUSH);
        out.append(buf, sizeof buf - zs.avail_out);
        if (out.size() > max_file_bytes)
            rc = Z_MEM_ERROR;
    }
    std::string why = zs.msg ? zs.msg : "";
    bool trailing = zs.avail_in != 0;
    inflateEnd(&zs);
    if (rc == Z_BUF_ERROR)
        return Error{Location{}, "cannot inflate: the gzip stream is truncated"};
    if (rc == Z_MEM_ERROR)
        return Error{Location{},
                     "cannot inflate: more than " + std::to_string(max_file_bytes) + " bytes"};
    if (rc != Z_STREAM_END)
        return Error{Location{}, "cannot inflate: " + (why.empty() ? "corrupt data" : why)};
    if (trailing)
        return Error{Location{}, "cannot inflate: data after the end of the gzip stream"};
    return out;
}

Lines split_lines(const std::string &data) {
    Lines out;
    size_t start = 0;
    for (;;) {
        size_t nl = data.find('\n', start);
        if (nl == std::string::npos)
            break;
        out.lines.emplace_back(data.data() + start, nl - start);
        start = nl + 1;
    }
    out.torn = data.size() - start;
    return out;
}

Status fsync_dir(const std::string &dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 ? -1 : ::fsync(fd);
    if (fd >= 0)
        ::close(fd);
    if (rc != 0)
        return io_error(dir, "cannot sync the audit folder");
    return Ok{};
}

Status write_atomic(const std::string &dir, const std::string &name, const std::string &data,
                    mode_t mode) {
    std::string path = dir + "/" + name, tmp = path + ".tmp";
    ::unlink(tmp.c_str()); // a leftover may be read-only
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return io_error(tmp, "cannot create");
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            auto err = io_error(tmp, "cannot write");
            ::close(fd);
            ::unlink(tmp.c_str());
            return err;
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
        auto err = io_error(tmp, "cannot sync");
        ::close(fd);
        ::unlink(tmp.c_str());
        return err;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        auto err = io_error(path, "cannot rename into place");
        ::unlink(tmp.c_str());
        return err;
    }
    return fsync_dir(dir);
}

Result<SealKey> read_seal_key(const std::string &dir) {
    std::string path = dir + "/seal.key";
    auto j = read_json_file(path);
    if (!j)
        return j.error();
    SealKey k;
    uint64_t epoch = 0;
    if (!get_u64(*j, "epoch", epoch) || !get_u64(*j, "seq", k.seq) || !j->contains("key") ||
        !(*j)["key"].is_string())
        return file_error(path, "needs \"epoch\", \"key\" and \"seq\"");
    auto key = key_from_hex((*j)["key"].get<std::string>());
    if (!key)
        return file_error(path, key.error().message);
    k.epoch = static_cast<int64_t>(epoch);
    k.key = *key;
    return k;
}

Status write_seal_key(const std::string &dir, const SealKey &k) {
    Json j = {{"epoch", k.epoch}, {"key", to_hex(k.key.data(), k.key.size())}, {"seq", k.seq}};
    std::string text = j.dump() + "\n";
    auto st = write_atomic(dir, "seal.key", text, 0600);
    OPENSSL_cleanse(text.data(), text.size());
    return st;
}

Result<Key> read_verify_key(const std::string &dir) {
    std::string path = dir + "/verify.key";
    auto text = read_whole(path);
    if (!text)
        return text.error();
    std::string hex = *text;
    while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r'))
        hex.pop_back();
    auto key = key_from_hex(hex);
    if (!key)
        return file_error(path, key.error().message);
    return key;
}

Result<std::optional<Expired>> read_expired(const std::string &dir) {
    std::string path = dir + "/expired.json";
    if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT)
        return std::optional<Expired>{};
    auto j = read_json_file(path);
    if (!j)
        return j.error();
    Expired e;
    uint64_t epoch = 0;
    if (!get_u64(*j, "seq", e.seq) || !get_u64(*j, "epoch", epoch) || !j->contains("hash") ||
        !(*j)["hash"].is_string() || !j->contains("time_us") ||
        !(*j)["time_us"].is_number_integer())
        return file_error(path, "needs \"epoch\", \"hash\", \"seq\" and \"time_us\"");
    e.epoch = static_cast<int64_t>(epoch);
    e.hash = (*j)["hash"].get<std::string>();
    e.time_us = (*j)["time_us"].get<int64_t>();
    return std::optional<Expired>{e};
}

Status write_expired(const std::string &dir, const Expired &e) {
    Json j = {{"epoch", e.epoch}, {"hash", e.hash}, {"seq", e.seq}, {"time_us", e.time_us}};
    return write_atomic(dir, "expired.json", j.dump() + "\n", 0600);
}

} // namespace qorgan::audit

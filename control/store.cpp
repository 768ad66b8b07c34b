// SPDX-License-Identifier: GPL-2.0-or-later
// The revision store of qorgand: one .conf and one .meta file per revision and a `running`
// pointer, each written through temp file, fsync, rename and fsync of the folder.
#include "control/store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace qorgan::control {

namespace {

constexpr const char *temp_suffix = ".tmp";

std::function<void(const char *)> &step_hook() {
    static std::function<void(const char *)> hook;
    return hook;
}

void step(const char *name) {
    if (step_hook())
        step_hook()(name);
}

Error io_error(const std::string &path, const std::string &what) {
    return Error{Location{path, 0, 0}, what + ": " + std::strerror(errno)};
}

// mkdir -p: the parents are created too.
Status make_dir(const std::string &path) {
    for (size_t slash = path.find('/', 1); slash != std::string::npos;
         slash = path.find('/', slash + 1))
        ::mkdir(path.substr(0, slash).c_str(), 0755); // errors show at the last component
    if (::mkdir(path.c_str(), 0750) == 0 || errno == EEXIST) {
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
            return Ok{};
        errno = ENOTDIR;
    }
    return io_error(path, "cannot create the store folder");
}

Status fsync_dir(const std::string &dir) {
    step("fsync-dir");
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 ? -1 : ::fsync(fd);
    if (fd >= 0)
        ::close(fd);
    if (rc != 0)
        return io_error(dir, "cannot sync folder");
    return Ok{};
}

// Crash-safe replacement of dir/name: a crash leaves the old file or the new one.
Status write_atomic(const std::string &dir, const std::string &name, const std::string &data) {
    const std::string path = dir + "/" + name;
    const std::string temp = path + temp_suffix;
    step("write");
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return io_error(temp, "cannot create");
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n > 0)
            done += static_cast<size_t>(n);
        else if (n < 0 && errno != EINTR)
            break;
    }
    bool written = done == data.size();
    if (written) {
        step("fsync");
        written = ::fsync(fd) == 0;
    }
    if (!written) {
        auto e = io_error(temp, "cannot write");
        ::close(fd);
        ::unlink(temp.c_str());
        return e;
    }
    ::close(fd);
    step("rename");
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        auto e = io_error(path, "cannot rename " + temp + " to");
        ::unlink(temp.c_str());
        return e;
    }
    return fsync_dir(dir);
}

Result<std::string> read_all(const std::string &path) {
    std::string out;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : 0;
    char buf[65536];
    while (fd >= 0 && (n = ::read(fd, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        out.append(buf, static_cast<size_t>(n));
    }
    auto e = io_error(path, "cannot read");
    if (fd >= 0)
        ::close(fd);
    if (n < 0)
        return e;
    return out;
}

bool is_digits(std::string_view s) {
    return !s.empty() && s.size() <= 9 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

uint32_t to_number(std::string_view s) {
    uint32_t n = 0;
    for (char c : s)
        n = n * 10 + static_cast<uint32_t>(c - '0');
    return n;
}

std::string revision_name(uint32_t n, const char *ext) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%08u%s", n, ext);
    return buf;
}

// Metadata values are one line each: newlines and backslashes are escaped.
std::string escape(const std::string &s) {
    std::string out;
    for (char c : s) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '\r')
            out += "\\r";
        else
            out += c;
    }
    return out;
}

std::string unescape(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) {
            char c = s[++i];
            out += c == 'n' ? '\n' : c == 'r' ? '\r' : c;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string format_meta(const Revision &r) {
    return "author " + escape(r.author) + "\ntime " + std::to_string(r.time) + "\ncomment " +
           escape(r.comment) + "\nsha256 " + r.sha256 + "\n";
}

Result<Revision> parse_meta(uint32_t n, const std::string &path, const std::string &text) {
    Revision r;
    r.number = n;
    bool have_sha = false;
    bool have_time = false;
    size_t pos = 0;
    int line = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos)
            end = text.size();
        std::string_view l(text.data() + pos, end - pos);
        pos = end + 1;
        ++line;
        size_t sp = l.find(' ');
        std::string_view key = l.substr(0, sp);
        std::string_view value = sp == std::string_view::npos ? "" : l.substr(sp + 1);
        if (key == "author") {
            r.author = unescape(value);
        } else if (key == "comment") {
            r.comment = unescape(value);
        } else if (key == "time") {
            char *endp = nullptr;
            std::string v(value);
            r.time = std::strtoll(v.c_str(), &endp, 10);
            have_time = !v.empty() && *endp == '\0';
        } else if (key == "sha256") {
            r.sha256 = std::string(value);
            have_sha = r.sha256.size() == 64;
        } else {
            return Error{Location{path, line, 1},
                         "unknown metadata key '" + std::string(key) +
                             "'; expected author, time, comment or sha256"};
        }
    }
    if (!have_sha || !have_time)
        return Error{Location{path, 0, 0},
                     "revision " + std::to_string(n) + " metadata lacks its time or SHA-256"};
    return r;
}

} // namespace

std::string sha256_hex(const std::string &text) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (unsigned i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

void Store::set_step_hook(std::function<void(const char *step)> hook) {
    step_hook() = std::move(hook);
}

Result<Store> Store::open(const std::string &dir) {
    if (auto s = make_dir(dir); !s)
        return s.error();
    const std::string revisions = dir + "/revisions";
    if (auto s = make_dir(revisions); !s)
        return s.error();

    Store store;
    store._dir = dir;

    for (const std::string &folder : {dir, revisions}) {
        DIR *d = ::opendir(folder.c_str());
        if (!d)
            return io_error(folder, "cannot list");
        while (dirent *e = ::readdir(d)) {
            std::string_view name = e->d_name;
            if (name.ends_with(temp_suffix)) {
                // A crash between write and rename: the old file is still the valid one.
                ::unlink((folder + "/" + std::string(name)).c_str());
                continue;
            }
            if (folder != revisions)
                continue;
            size_t dot = name.find('.');
            if (dot == std::string_view::npos)
                continue;
            std::string_view ext = name.substr(dot);
            if (ext != ".conf" && ext != ".meta")
                continue;
            if (std::string_view base = name.substr(0, dot); is_digits(base))
                store._last = std::max(store._last, to_number(base));
        }
        ::closedir(d);
    }

    const std::string running = dir + "/running";
    if (::access(running.c_str(), F_OK) == 0) {
        auto text = read_all(running);
        if (!text)
            return text.error();
        std::string_view v = *text;
        while (!v.empty() && (v.back() == '\n' || v.back() == ' '))
            v.remove_suffix(1);
        if (!is_digits(v))
            return Error{Location{running, 1, 1},
                         "running pointer is not a revision number: '" + std::string(v) + "'"};
        store._running = to_number(v);
        // Numbering stays monotonic even if revision files were removed behind our back.
        store._last = std::max(store._last, store._running);
    }
    return store;
}

Result<uint32_t> Store::add(const std::string &text, const std::string &author,
                            const std::string &comment) {
    Revision r;
    r.number = ++_last; // taken even if the writes fail: numbers are never reused
    r.author = author;
    r.time = static_cast<int64_t>(::time(nullptr));
    r.comment = comment;
    r.sha256 = sha256_hex(text);
    const std::string revisions = _dir + "/revisions";
    // The text first, then the metadata: a revision exists once its .meta does.
    if (auto s = write_atomic(revisions, revision_name(r.number, ".conf"), text); !s)
        return s.error();
    if (auto s = write_atomic(revisions, revision_name(r.number, ".meta"), format_meta(r)); !s)
        return s.error();
    return r.number;
}

Status Store::set_running(uint32_t n) {
    if (auto r = info(n); !r)
        return r.error();
    if (auto s = write_atomic(_dir, "running", std::to_string(n) + "\n"); !s)
        return s;
    _running = n;
    return Ok{};
}

std::vector<Revision> Store::list() const {
    std::vector<Revision> out;
    for (uint32_t n = 1; n <= _last; ++n)
        if (auto r = info(n))
            out.push_back(std::move(r.value()));
    return out;
}

Result<Revision> Store::info(uint32_t n) const {
    const std::string path = _dir + "/revisions/" + revision_name(n, ".meta");
    if (n == 0 || ::access(path.c_str(), F_OK) != 0)
        return Error{Location{}, "no revision " + std::to_string(n)};
    auto text = read_all(path);
    if (!text)
        return text.error();
    return parse_meta(n, path, *text);
}

Result<std::string> Store::text(uint32_t n) const {
    auto r = info(n);
    if (!r)
        return r.error();
    const std::string path = _dir + "/revisions/" + revision_name(n, ".conf");
    const std::string prefix = "revision " + std::to_string(n) + " is tampered: ";
    if (::access(path.c_str(), F_OK) != 0)
        return Error{Location{path, 0, 0}, prefix + "its text file is missing"};
    auto text = read_all(path);
    if (!text)
        return text.error();
    auto sha = sha256_hex(*text);
    if (sha != r->sha256)
        return Error{Location{path, 0, 0}, prefix + "its text has SHA-256 " + sha + " but " +
                                               r->sha256 + " was recorded when it was committed"};
    return std::move(text.value());
}

Status Store::verify_running() const {
    if (_running == 0)
        return Error{Location{}, "no configuration has been committed yet"};
    auto t = text(_running);
    if (!t)
        return t.error();
    return Ok{};
}

} // namespace qorgan::control

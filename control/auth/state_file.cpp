// SPDX-License-Identifier: GPL-2.0-or-later
// File I/O for the authenticator's state; errors name the path and the system's reason.
#include "control/auth/state_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace qorgan::auth {

namespace {

Error io_error(const std::string &path, const std::string &what) {
    return Error{Location{path, 0, 0}, what + ": " + std::strerror(errno)};
}

std::string parent_of(const std::string &path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

} // namespace

Status make_private_dir(const std::string &dir) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        return io_error(dir, "cannot create the state folder");
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
        return io_error(dir, "cannot read the state folder");
    if (!S_ISDIR(st.st_mode))
        return Error{Location{dir, 0, 0}, "the state folder path is not a folder"};
    return Ok{};
}

Result<std::optional<std::string>> read_state_file(const std::string &path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return std::optional<std::string>{};
    if (fd < 0)
        return io_error(path, "cannot open");
    std::string text;
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            auto e = io_error(path, "cannot read");
            ::close(fd);
            return e;
        }
        if (n == 0)
            break;
        text.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return std::optional<std::string>(std::move(text));
}

Status write_state_file(const std::string &path, const std::string &text) {
    const std::string temp = path + ".tmp";
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return io_error(temp, "cannot create");
    // An old temp file may carry a wider mode; this file holds hashes and TOTP secrets.
    bool written = ::fchmod(fd, 0600) == 0;
    size_t done = 0;
    while (written && done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n > 0)
            done += static_cast<size_t>(n);
        else if (n < 0 && errno != EINTR)
            written = false;
    }
    if (written)
        written = ::fsync(fd) == 0;
    if (!written) {
        auto e = io_error(temp, "cannot write");
        ::close(fd);
        ::unlink(temp.c_str());
        return e;
    }
    ::close(fd);
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        auto e = io_error(path, "cannot rename " + temp + " to");
        ::unlink(temp.c_str());
        return e;
    }
    const std::string dir = parent_of(path);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = dfd < 0 ? -1 : ::fsync(dfd);
    if (dfd >= 0)
        ::close(dfd);
    if (rc != 0)
        return io_error(dir, "cannot sync folder");
    return Ok{};
}

const Json *JsonFields::field(const char *key) {
    if (!_error->empty() || !_object.is_object())
        return nullptr;
    auto it = _object.find(key);
    return it == _object.end() ? nullptr : &*it;
}

void JsonFields::fail(const char *key, const std::string &what) {
    if (_error->empty())
        *_error = _where + "." + key + ": " + what;
}

int64_t JsonFields::integer(const char *key, int64_t min, int64_t max, int64_t fallback) {
    const Json *v = field(key);
    if (v == nullptr)
        return fallback;
    if (!v->is_number_integer()) {
        fail(key, "expected an integer");
        return fallback;
    }
    int64_t n = v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX)
                    ? INT64_MAX
                    : v->get<int64_t>();
    if (n < min || n > max) {
        fail(key,
             std::to_string(n) + " is outside " + std::to_string(min) + ".." + std::to_string(max));
        return fallback;
    }
    return n;
}

std::string JsonFields::text(const char *key) {
    const Json *v = field(key);
    if (v == nullptr)
        return "";
    if (!v->is_string()) {
        fail(key, "expected a string");
        return "";
    }
    return v->get<std::string>();
}

bool JsonFields::boolean(const char *key) {
    const Json *v = field(key);
    if (v == nullptr)
        return false;
    if (!v->is_boolean()) {
        fail(key, "expected true or false");
        return false;
    }
    return v->get<bool>();
}

std::vector<std::string> JsonFields::texts(const char *key) {
    std::vector<std::string> out;
    const Json *v = field(key);
    if (v == nullptr)
        return out;
    if (!v->is_array()) {
        fail(key, "expected a list of strings");
        return out;
    }
    for (const auto &item : *v) {
        if (!item.is_string()) {
            fail(key, "expected a list of strings");
            return {};
        }
        out.push_back(item.get<std::string>());
    }
    return out;
}

} // namespace qorgan::auth

// SPDX-License-Identifier: GPL-2.0-or-later
// Length-prefixed JSON messages over UNIX stream sockets; see framing.h.
#include "common/framing.h"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace qorgan {

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

bool wait_fd(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        int rc = poll(&p, 1, remaining_ms(deadline));
        if (rc > 0)
            return true;
        if (rc == 0)
            return false;
        if (errno != EINTR)
            return false;
    }
}

Status write_all(int fd, const char *data, size_t len, Clock::time_point deadline) {
    while (len > 0) {
        if (!wait_fd(fd, POLLOUT, deadline))
            return Error{{}, "timed out sending"};
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return Error{{}, std::string("send: ") + std::strerror(errno)};
        }
        data += n;
        len -= static_cast<size_t>(n);
    }
    return Ok{};
}

// Reads exactly len bytes; "closed" if the peer closed before the first byte of a message.
Status read_all(int fd, char *data, size_t len, Clock::time_point deadline, bool at_start) {
    size_t got = 0;
    while (got < len) {
        if (!wait_fd(fd, POLLIN, deadline))
            return Error{{}, "timed out receiving"};
        ssize_t n = recv(fd, data + got, len - got, 0);
        if (n == 0)
            return Error{{}, at_start && got == 0 ? "closed" : "peer closed mid-message"};
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return Error{{}, std::string("recv: ") + std::strerror(errno)};
        }
        got += static_cast<size_t>(n);
    }
    return Ok{};
}

} // namespace

Status send_message(int fd, const Json &msg, int timeout_ms) {
    std::string body = msg.dump();
    if (body.size() > max_message_bytes)
        return Error{{}, "message too large"};
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    uint32_t len = htonl(static_cast<uint32_t>(body.size()));
    auto st = write_all(fd, reinterpret_cast<const char *>(&len), 4, deadline);
    if (!st)
        return st;
    st = write_all(fd, body.data(), body.size(), deadline);
    explicit_bzero(body.data(), body.size()); // a request may carry IPsec keys
    return st;
}

Result<Json> recv_message(int fd, int timeout_ms) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    uint32_t len_be = 0;
    auto st = read_all(fd, reinterpret_cast<char *>(&len_be), 4, deadline, true);
    if (!st)
        return st.error();
    uint32_t len = ntohl(len_be);
    if (len > max_message_bytes)
        return Error{{}, "message of " + std::to_string(len) + " bytes exceeds the limit"};
    std::string body(len, '\0');
    st = read_all(fd, body.data(), len, deadline, false);
    if (!st)
        return st.error();
    Json j = Json::parse(body, nullptr, false);
    if (j.is_discarded())
        return Error{{}, "malformed JSON message"};
    return j;
}

namespace {

// A stream socket and the address of `path`, or the reason there cannot be one.
Result<int> unix_socket(const std::string &path, sockaddr_un &addr) {
    addr = sockaddr_un{};
    if (path.size() >= sizeof(addr.sun_path))
        return Error{{}, "socket path too long: " + path};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return Error{{}, std::string("socket: ") + std::strerror(errno)};
    return fd;
}

} // namespace

Result<int> connect_unix(const std::string &path) {
    sockaddr_un addr;
    auto s = unix_socket(path, addr);
    if (!s)
        return s.error();
    int fd = s.value();
    if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0) {
        std::string e = std::strerror(errno);
        close(fd);
        return Error{{}, "cannot connect to " + path + ": " + e};
    }
    return fd;
}

Result<int> listen_unix(const std::string &path) {
    sockaddr_un addr;
    auto s = unix_socket(path, addr);
    if (!s)
        return s.error();
    int fd = s.value();
    unlink(path.c_str());
    if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0 || listen(fd, 16) != 0) {
        std::string e = std::strerror(errno);
        close(fd);
        return Error{{}, "cannot listen on " + path + ": " + e};
    }
    chmod(path.c_str(), 0660);
    return fd;
}

} // namespace qorgan

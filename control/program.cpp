// SPDX-License-Identifier: GPL-2.0-or-later
// A child process with a deadline; see program.h.
#include "control/program.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace qorgan::control {

namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() > 0 ? int(left.count()) : 0;
}

// Reads what is there; false at end of file or on an error.
bool drain(int fd, std::string &into) {
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0)
        return false;
    std::size_t room = max_program_output - std::min(into.size(), max_program_output);
    into.append(buf, std::min<std::size_t>(room, std::size_t(n)));
    return true;
}

} // namespace

ProgramResult run_program(const std::vector<std::string> &argv, const std::vector<std::string> &env,
                          int timeout_ms) {
    ProgramResult r;
    if (argv.empty()) {
        r.failure = "no program given";
        return r;
    }
    // Everything the child needs is built before fork(): after it, only async-signal-safe
    // calls.
    std::vector<char *> args, envp;
    for (const std::string &a : argv)
        args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    for (const std::string &e : env)
        envp.push_back(const_cast<char *>(e.c_str()));
    envp.push_back(nullptr);
    const std::string exec_failed = "cannot execute " + argv[0] + "\n";

    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
        r.failure = std::string("pipe: ") + std::strerror(errno);
        return r;
    }
    if (pipe2(err, O_CLOEXEC) != 0) {
        r.failure = std::string("pipe: ") + std::strerror(errno);
        close(out[0]);
        close(out[1]);
        return r;
    }
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execve(args[0], args.data(), envp.data());
        ssize_t ignored = write(2, exec_failed.data(), exec_failed.size());
        (void)ignored;
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    if (pid < 0) {
        r.failure = std::string("fork: ") + std::strerror(errno);
        close(out[0]);
        close(err[0]);
        return r;
    }
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        int left = ms_left(deadline);
        if (left == 0) {
            r.timed_out = true;
            break;
        }
        int n = poll(fds, 2, left);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2 && n > 0; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (!drain(fds[i].fd, i == 0 ? r.out : r.err)) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (pollfd &p : fds)
        if (p.fd >= 0)
            close(p.fd);
    // Both pipes closed: the program normally exits at once. One that closed them and
    // went on gets what is left of the deadline.
    int status = 0;
    while (!r.timed_out) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            r.failure = std::string("waitpid: ") + std::strerror(errno);
            return r;
        }
        if (ms_left(deadline) == 0) {
            r.timed_out = true;
            break;
        }
        usleep(1000);
    }
    if (r.timed_out) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return r;
    }
    if (WIFEXITED(status))
        r.exit_code = WEXITSTATUS(status);
    return r;
}

} // namespace qorgan::control

// SPDX-License-Identifier: GPL-2.0-or-later
// qorgan, the console shell: line editing, completion, `?` help, pipes and paging on the
// client; everything else is qorgand's, reached over its UNIX socket.
#include "common/framing.h"
#include "control/cli/monitor.h"
#include "control/cli/pipes.h"

#include <histedit.h>

#include <clocale>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cwchar>
#include <iostream>
#include <map>
#include <optional>
#include <poll.h>
#include <sstream>
#include <string>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

namespace {

using qorgan::Json;
using qorgan::Result;

constexpr const char *default_socket = "/run/qorgan/qorgand.sock";
constexpr int history_size = 1000;
constexpr int exec_timeout_ms = 10 * 60 * 1000; // a commit of a large policy may take a while
constexpr int quick_timeout_ms = 10 * 1000;

volatile sig_atomic_t interrupted = 0;
void on_sigint(int) {
    interrupted = 1;
}

struct Candidate {
    std::string word; // empty: a value hint, shown but never inserted
    std::string help;
};

// What a script gives instead of typing (QORGAN_USER, QORGAN_PASSWORD, QORGAN_OTP, or the
// options); a person at a terminal types them.
struct Credentials {
    std::string user, password, otp;
    std::string session; // QORGAN_SESSION: a kept session's token (qorgan --login-only)
    bool keep = false;   // --login-only: keep the session and print its token
};

// One line from the terminal, without echo when `secret` (passwords, codes).
std::optional<std::string> read_terminal_line(const std::string &prompt, bool secret) {
    std::fputs(prompt.c_str(), stdout);
    std::fflush(stdout);
    termios old{};
    bool restore = secret && tcgetattr(STDIN_FILENO, &old) == 0;
    if (restore) {
        termios quiet = old;
        quiet.c_lflag &= ~tcflag_t(ECHO);
        quiet.c_lflag |= ICANON | ISIG;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::string line;
    bool got = false;
    for (;;) {
        char ch = 0;
        ssize_t n = read(STDIN_FILENO, &ch, 1);
        if (n <= 0)
            break;
        got = true;
        if (ch == '\n' || ch == '\r')
            break;
        line += ch;
    }
    if (restore) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        std::fputs("\n", stdout);
        std::fflush(stdout);
    }
    if (!got)
        return std::nullopt;
    return line;
}

class Shell {
public:
    Shell(int fd, bool interactive, Credentials creds)
        : _fd(fd), _interactive(interactive), _creds(std::move(creds)) {
        if (interactive)
            _have_termios = tcgetattr(STDIN_FILENO, &_termios) == 0;
    }

    int fd() const { return _fd; }
    const std::string &token() const { return _token; }

    // Tells qorgand where this shell runs; true when it wants a login.
    bool hello() {
        const char *tty = isatty(STDIN_FILENO) ? ttyname(STDIN_FILENO) : nullptr;
        std::string source;
        if (const char *ssh = std::getenv("SSH_CONNECTION"))
            source = std::string(ssh).substr(0, std::string(ssh).find(' '));
        Json reply = call({{"op", "hello"}, {"terminal", tty ? tty : ""}, {"source", source}},
                          quick_timeout_ms);
        if (!reply.value("ok", false))
            return false; // a server without logins (tests' fake)
        if (_interactive)
            std::fputs(reply.value("banner", std::string()).c_str(), stdout);
        return reply.value("login", false);
    }

    // The login dialogue qorgand leads (user, password, code; or break-glass on the console).
    // A person gets three tries; a script one.
    bool login() {
        if (!_creds.session.empty()) {
            Json reply = call({{"op", "resume"}, {"token", _creds.session}}, quick_timeout_ms);
            if (!reply.value("ok", false)) {
                std::fprintf(stderr, "error: %s\n",
                             reply.value("error", std::string("resume refused")).c_str());
                return false;
            }
            _prompt = reply.value("prompt", _prompt);
            return true;
        }
        int tries = _interactive ? 3 : 1;
        for (int attempt = 0; attempt < tries; attempt++) {
            Json answers = Json::object();
            for (int step = 0; step < 16; step++) {
                Json reply = call({{"op", "login"}, {"answers", answers}, {"keep", _creds.keep}},
                                  exec_timeout_ms);
                if (reply.value("done", false)) {
                    _token = reply.value("token", std::string());
                    std::string msg = reply.value("message", std::string());
                    if (!msg.empty())
                        std::fprintf(_interactive ? stdout : stderr, "%s\n", msg.c_str());
                    _prompt = reply.value("prompt", _prompt);
                    return true;
                }
                if (!reply.value("ok", false)) {
                    std::fflush(stdout);
                    std::fprintf(stderr, "%s\n",
                                 reply.value("error", std::string("login incorrect")).c_str());
                    break;
                }
                auto asked = reply.find("ask");
                if (asked == reply.end() || !asked->is_array() || asked->empty())
                    lost("a login reply that neither asks nor ends");
                for (const auto &q : *asked) {
                    auto a = answer(q.value("key", std::string()), q.value("prompt", std::string()),
                                    q.value("secret", true));
                    if (!a)
                        return false;
                    answers[q.value("key", std::string())] = *a;
                }
            }
        }
        return false;
    }

    // One request to qorgand; a lost connection ends the shell with status 1.
    Json call(const Json &request, int timeout_ms) {
        auto sent = qorgan::send_message(_fd, request, timeout_ms);
        if (!sent)
            lost(sent.error().message);
        auto reply = qorgan::recv_message(_fd, timeout_ms);
        if (!reply)
            lost(reply.error().message);
        if (!reply->is_object())
            lost("a reply that is not a JSON object");
        return std::move(*reply);
    }

    [[noreturn]] void lost(const std::string &why) {
        if (_have_termios)
            tcsetattr(STDIN_FILENO, TCSANOW, &_termios);
        std::fflush(stdout);
        std::fprintf(stderr, "\nerror: lost the connection to qorgand (%s)\n",
                     why == "closed" ? "it closed the socket" : why.c_str());
        std::_Exit(1);
    }

    // An answer to a question from qorgand: typed at the terminal, given by a script's
    // credentials, or the next line of a script's standard input.
    std::optional<std::string> answer(const std::string &key, const std::string &prompt,
                                      bool secret) {
        if (!_interactive) {
            if (key == "user" && !_creds.user.empty())
                return _creds.user;
            if (key == "password" && !_creds.password.empty())
                return _creds.password;
            if (key == "otp" && !_creds.otp.empty())
                return _creds.otp;
            std::string line;
            if (key != "user" && key != "password" && key != "otp" && std::getline(std::cin, line))
                return line;
            std::fprintf(stderr,
                         "error: qorgand asks '%s' and this script gives no answer (set "
                         "QORGAN_USER, QORGAN_PASSWORD, QORGAN_OTP, or add a line)\n",
                         prompt.c_str());
            return std::nullopt;
        }
        auto line = read_terminal_line(prompt, secret);
        if (!line)
            std::fputs("\n", stdout);
        return line;
    }

    void fetch_prompt() {
        Json reply = call({{"op", "prompt"}}, quick_timeout_ms);
        _prompt = reply.value("prompt", _prompt);
    }

    // Runs one line; false when it failed.
    bool run_line(const std::string &line) {
        auto piped = qorgan::cli::parse_pipes(line);
        if (!piped) {
            std::fprintf(stderr, "error: %s\n", piped.error().message.c_str());
            return false;
        }
        if (piped->command.empty() && piped->filters.empty())
            return true;
        if (auto name = monitor_target(piped->command))
            return run_monitor(*name);
        Json reply = call({{"op", "exec"}, {"line", piped->command}}, exec_timeout_ms);
        if (auto asked = reply.find("ask");
            asked != reply.end() && asked->is_array() && !asked->empty()) {
            Json answers = Json::object();
            for (const auto &q : *asked) {
                auto a = answer(q.value("key", std::string()), q.value("prompt", std::string()),
                                q.value("secret", true));
                if (!a)
                    return false;
                answers[q.value("key", std::string())] = *a;
            }
            reply = call({{"op", "exec"}, {"line", piped->command}, {"answers", answers}},
                         exec_timeout_ms);
        }
        bool ok = reply.value("ok", false);
        std::string output = reply.value("output", std::string());
        if (!piped->filters.empty())
            output = qorgan::cli::apply_filters(piped->filters, output);
        else if (!output.empty() && output.back() != '\n')
            output += '\n';
        show(output, !piped->no_more);
        if (!ok) {
            std::fflush(stdout);
            std::fprintf(stderr, "error: %s\n",
                         reply.value("error", std::string("command failed")).c_str());
        }
        _prompt = reply.value("prompt", _prompt);
        if (reply.value("exit", false))
            _exit_requested = true;
        return ok;
    }

    std::vector<Candidate> candidates(const std::string &before, std::string &error) {
        bool in_pipe = false;
        auto pipe = qorgan::cli::complete_pipe(before, in_pipe);
        std::vector<Candidate> out;
        if (in_pipe) {
            for (auto &p : pipe)
                out.push_back({p.word, p.help});
            return out;
        }
        Json reply = call({{"op", "complete"}, {"line", before}}, quick_timeout_ms);
        if (!reply.value("ok", false)) {
            error = reply.value("error", std::string("no completions"));
            return out;
        }
        auto list = reply.find("candidates");
        if (list == reply.end() || !list->is_array())
            return out;
        for (const auto &c : *list)
            if (c.is_object())
                out.push_back({c.value("word", std::string()), c.value("help", std::string())});
        return out;
    }

    const std::string &prompt() const { return _prompt; }
    bool exit_requested() const { return _exit_requested; }
    bool in_config_mode() const { return _prompt.ends_with("# "); }

private:
    // The port named by `monitor interface [name]`, or nullopt for any other command.
    static std::optional<std::string> monitor_target(const std::string &command) {
        std::istringstream words(command);
        std::string first, second, name, extra;
        words >> first >> second >> name >> extra;
        if (first != "monitor" || second != "interface" || !extra.empty())
            return std::nullopt;
        return name;
    }

    bool run_monitor(const std::string &name) {
        bool first = true; // qorgand records the first poll as the command (R128-c)
        auto fetch = [this, &first, &name]() -> Result<Json> {
            Json request{{"op", "counters"}};
            if (first)
                request["start"] = "monitor interface" + (name.empty() ? "" : " " + name);
            first = false;
            Json reply = call(request, quick_timeout_ms);
            if (!reply.value("ok", false))
                return qorgan::Error{{}, reply.value("error", std::string("counters refused"))};
            return reply;
        };
        auto status = qorgan::cli::run_monitor(fetch, name, STDIN_FILENO);
        if (!status) {
            std::fprintf(stderr, "error: %s\n", status.error().message.c_str());
            return false;
        }
        return true;
    }

    // Prints output, through the pager when it is longer than the terminal.
    void show(const std::string &text, bool may_page) {
        winsize ws{};
        if (!may_page || !_interactive || !isatty(STDOUT_FILENO) ||
            ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row < 2) {
            std::fputs(text.c_str(), stdout);
            std::fflush(stdout);
            return;
        }
        size_t page = ws.ws_row - 1;
        size_t pos = 0;
        auto print_lines = [&](size_t n) {
            for (; n > 0 && pos < text.size(); --n) {
                size_t nl = text.find('\n', pos);
                size_t end = nl == std::string::npos ? text.size() : nl + 1;
                std::fwrite(text.data() + pos, 1, end - pos, stdout);
                pos = end;
            }
            std::fflush(stdout);
        };
        print_lines(page);
        qorgan::cli::RawTerminal raw(STDIN_FILENO);
        interrupted = 0;
        while (pos < text.size()) {
            std::fputs("\033[7m--More--\033[0m", stdout);
            std::fflush(stdout);
            char key = 0;
            ssize_t n = read(STDIN_FILENO, &key, 1);
            std::fputs("\r\033[K", stdout);
            if (n <= 0 || interrupted || key == 'q' || key == 'Q' || key == 3)
                break;
            if (key == ' ')
                print_lines(page);
            else if (key == '\n' || key == '\r')
                print_lines(1);
        }
        std::fflush(stdout);
    }

    int _fd;
    bool _interactive;
    Credentials _creds;
    std::string _token;
    bool _have_termios = false;
    termios _termios{};
    std::string _prompt = "qorgan> ";
    bool _exit_requested = false;
};

Shell *shell_of(EditLine *el) {
    Shell *shell = nullptr;
    el_get(el, EL_CLIENTDATA, &shell);
    return shell;
}

char *prompt_of(EditLine *el) {
    return const_cast<char *>(shell_of(el)->prompt().c_str());
}

void print_candidates(const std::vector<Candidate> &list, const std::string &error) {
    std::fputs("\n", stdout);
    if (!error.empty())
        std::printf("error: %s\n", error.c_str());
    else if (list.empty())
        std::fputs("No completions here\n", stdout);
    else
        std::fputs("Possible completions:\n", stdout);
    for (const auto &c : list) {
        if (c.word.empty())
            std::printf("  %s\n", c.help.c_str());
        else
            std::printf("  %-22s %s\n", c.word.c_str(), c.help.c_str());
    }
    std::fflush(stdout);
}

std::string before_cursor(EditLine *el) {
    const LineInfo *li = el_line(el);
    return std::string(li->buffer, static_cast<size_t>(li->cursor - li->buffer));
}

unsigned char complete_key(EditLine *el, int) {
    std::string before = before_cursor(el);
    if (qorgan::cli::inside_quotes(before))
        return CC_REFRESH_BEEP;
    std::string error;
    auto list = shell_of(el)->candidates(before, error);
    std::string partial(qorgan::cli::last_word(before));
    std::vector<const Candidate *> words;
    for (const auto &c : list)
        if (!c.word.empty())
            words.push_back(&c);
    if (words.size() == 1 && words.size() == list.size()) {
        el_deletestr(el, static_cast<int>(partial.size()));
        el_insertstr(el, (words[0]->word + " ").c_str());
        return CC_REFRESH;
    }
    if (list.empty() && error.empty())
        return CC_REFRESH_BEEP;
    std::string common = words.empty() ? std::string() : words[0]->word;
    for (const auto *w : words) {
        size_t n = 0;
        while (n < common.size() && n < w->word.size() && common[n] == w->word[n])
            ++n;
        common.resize(n);
    }
    print_candidates(list, error);
    if (common.size() > partial.size() && common.starts_with(partial))
        el_insertstr(el, common.substr(partial.size()).c_str());
    return CC_REDISPLAY;
}

unsigned char help_key(EditLine *el, int) {
    std::string before = before_cursor(el);
    if (qorgan::cli::inside_quotes(before)) {
        el_insertstr(el, "?");
        return CC_REFRESH;
    }
    std::string error;
    auto list = shell_of(el)->candidates(before, error);
    print_candidates(list, error);
    return CC_REDISPLAY;
}

unsigned char clear_key(EditLine *el, int) {
    const LineInfo *li = el_line(el);
    el_cursor(el, static_cast<int>(li->lastchar - li->cursor));
    li = el_line(el);
    el_deletestr(el, static_cast<int>(li->cursor - li->buffer));
    std::fputs("^C\n", stdout);
    std::fflush(stdout);
    return CC_REDISPLAY;
}

// Reads the keyboard, and watches qorgand's socket meanwhile: when it ends the session (idle
// or lifetime limit, R118) it says why and the shell leaves at once.
int read_char(EditLine *el, wchar_t *out) {
    Shell *shell = shell_of(el);
    static std::mbstate_t state{};
    for (;;) {
        pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {shell->fd(), POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            auto msg = qorgan::recv_message(shell->fd(), 1000);
            std::string why = msg && msg->is_object() ? msg->value("reason", std::string())
                                                      : std::string("qorgand closed the session");
            el_end(el);
            std::printf("\n%s\n", why.empty() ? "session ended" : why.c_str());
            std::fflush(stdout);
            std::_Exit(0);
        }
        if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        char ch = 0;
        ssize_t n = read(STDIN_FILENO, &ch, 1);
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        wchar_t wc = 0;
        size_t r = std::mbrtowc(&wc, &ch, 1, &state);
        if (r == static_cast<size_t>(-2))
            continue; // more bytes of a multibyte character
        if (r == static_cast<size_t>(-1)) {
            state = std::mbstate_t{};
            wc = static_cast<unsigned char>(ch);
        }
        *out = wc;
        return 1;
    }
}

int interactive_loop(Shell &shell) {
    std::string history_path;
    if (const char *home = std::getenv("HOME"))
        history_path = std::string(home) + "/.qorgan_history";
    History *hist = history_init();
    HistEvent ev;
    history(hist, &ev, H_SETSIZE, history_size);
    history(hist, &ev, H_SETUNIQUE, 1);
    if (!history_path.empty())
        history(hist, &ev, H_LOAD, history_path.c_str());

    EditLine *el = el_init("qorgan", stdin, stdout, stderr);
    el_set(el, EL_CLIENTDATA, &shell);
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_PROMPT, prompt_of);
    el_set(el, EL_HIST, history, hist);
    el_set(el, EL_GETCFN, read_char);
    el_set(el, EL_SETTY, "-d", "-isig", nullptr); // Ctrl-C reaches clear_key as a character
    el_set(el, EL_ADDFN, "qorgan-complete", "Complete the word", complete_key);
    el_set(el, EL_ADDFN, "qorgan-help", "List what may come next", help_key);
    el_set(el, EL_ADDFN, "qorgan-clear", "Clear the line", clear_key);
    el_set(el, EL_BIND, "^I", "qorgan-complete", nullptr);
    el_set(el, EL_BIND, "?", "qorgan-help", nullptr);
    el_set(el, EL_BIND, "^C", "qorgan-clear", nullptr);

    int status = 0;
    while (!shell.exit_requested()) {
        int count = 0;
        const char *got = el_gets(el, &count);
        std::string line;
        if (!got || count <= 0) {
            if (!shell.in_config_mode()) { // Ctrl-D at the top level
                std::fputs("\n", stdout);
                break;
            }
            std::fputs("exit\n", stdout);
            line = "exit";
        } else {
            line.assign(got, static_cast<size_t>(count));
            while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
                line.pop_back();
        }
        if (line.find_first_not_of(" \t") == std::string::npos)
            continue;
        // The auditor's offline key stays out of the history file.
        if (line.find("verify key") == std::string::npos) {
            history(hist, &ev, H_ENTER, line.c_str());
            if (!history_path.empty())
                history(hist, &ev, H_SAVE, history_path.c_str());
        }
        status = shell.run_line(line) ? 0 : 1;
    }
    el_end(el);
    history_end(hist);
    return status;
}

int script_loop(Shell &shell) {
    int status = 0;
    std::string line;
    while (!shell.exit_requested() && std::getline(std::cin, line)) {
        if (line.find_first_not_of(" \t") == std::string::npos)
            continue;
        if (!shell.run_line(line))
            status = 1;
    }
    return status;
}

void usage(FILE *to) {
    std::fputs("usage: qorgan [--socket PATH] [--user NAME] [--login-only] [-c COMMAND]\n"
               "  --socket PATH  qorgand's socket (default $QORGAN_SOCKET or "
               "/run/qorgan/qorgand.sock)\n"
               "  --user NAME    log in as NAME (default $QORGAN_USER)\n"
               "  -c COMMAND     run one command and exit (status 1 if it failed)\n"
               "  --login-only   log in, print a token for QORGAN_SESSION and exit; later\n"
               "                 shells with that token run in the same session\n"
               "Without -c, reads commands from standard input: with line editing on a\n"
               "terminal, line by line otherwise. On a terminal the shell asks for the\n"
               "login; a script gives it in QORGAN_USER, QORGAN_PASSWORD and QORGAN_OTP.\n",
               to);
}

} // namespace

int main(int argc, char **argv) {
    std::string socket_path = default_socket;
    if (const char *env = std::getenv("QORGAN_SOCKET"); env && *env)
        socket_path = env;
    std::optional<std::string> command;
    Credentials creds;
    if (const char *v = std::getenv("QORGAN_USER"))
        creds.user = v;
    if (const char *v = std::getenv("QORGAN_PASSWORD"))
        creds.password = v;
    if (const char *v = std::getenv("QORGAN_OTP"))
        creds.otp = v;
    if (const char *v = std::getenv("QORGAN_SESSION"))
        creds.session = v;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            usage(stdout);
            return 0;
        }
        if (arg == "--login-only") {
            creds.keep = true;
            continue;
        }
        if ((arg == "--socket" || arg == "-c" || arg == "--user") && i + 1 < argc) {
            if (arg == "-c")
                command = argv[++i];
            else if (arg == "--user")
                creds.user = argv[++i];
            else
                socket_path = argv[++i];
            continue;
        }
        std::fprintf(stderr, "qorgan: unknown or incomplete option '%s'\n", arg.c_str());
        usage(stderr);
        return 2;
    }

    auto fd = qorgan::connect_unix(socket_path);
    if (!fd) {
        std::fprintf(stderr, "error: cannot reach qorgand at %s: %s\n", socket_path.c_str(),
                     fd.error().message.c_str());
        return 1;
    }
    bool interactive = !command && isatty(STDIN_FILENO);
    if (interactive) { // Ctrl-C stops the pager, not the shell
        struct sigaction act {};
        act.sa_handler = on_sigint;
        sigemptyset(&act.sa_mask);
        sigaction(SIGINT, &act, nullptr);
    }
    std::setlocale(LC_CTYPE, "");
    Shell shell(*fd, interactive, creds);
    if (shell.hello() && !shell.login())
        return 1;
    if (creds.keep) { // the token for QORGAN_SESSION; the session stays until exit or expiry
        std::printf("%s\n", shell.token().c_str());
        return shell.token().empty() ? 1 : 0;
    }
    if (command)
        return shell.run_line(*command) ? 0 : 1;
    if (!interactive)
        return script_loop(shell);
    shell.fetch_prompt();
    return interactive_loop(shell);
}

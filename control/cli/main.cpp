// SPDX-License-Identifier: GPL-2.0-or-later
// qorgan, the console shell: line editing, completion, `?` help, pipes and paging on the
// client; everything else is qorgand's, reached over its UNIX socket.
#include "common/framing.h"
#include "control/cli/monitor.h"
#include "control/cli/pipes.h"

#include <histedit.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
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

class Shell {
public:
    Shell(int fd, bool interactive) : _fd(fd), _interactive(interactive) {
        if (interactive)
            _have_termios = tcgetattr(STDIN_FILENO, &_termios) == 0;
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
        auto fetch = [this]() -> Result<Json> {
            return call({{"op", "counters"}}, quick_timeout_ms);
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
        history(hist, &ev, H_ENTER, line.c_str());
        if (!history_path.empty())
            history(hist, &ev, H_SAVE, history_path.c_str());
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
    std::fputs("usage: qorgan [--socket PATH] [-c COMMAND]\n"
               "  --socket PATH  qorgand's socket (default $QORGAN_SOCKET or "
               "/run/qorgan/qorgand.sock)\n"
               "  -c COMMAND     run one command and exit (status 1 if it failed)\n"
               "Without -c, reads commands from standard input: with line editing on a\n"
               "terminal, line by line otherwise.\n",
               to);
}

} // namespace

int main(int argc, char **argv) {
    std::string socket_path = default_socket;
    if (const char *env = std::getenv("QORGAN_SOCKET"); env && *env)
        socket_path = env;
    std::optional<std::string> command;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            usage(stdout);
            return 0;
        }
        if ((arg == "--socket" || arg == "-c") && i + 1 < argc) {
            if (arg == "-c")
                command = argv[++i];
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
    Shell shell(*fd, interactive);
    if (command)
        return shell.run_line(*command) ? 0 : 1;
    if (!interactive)
        return script_loop(shell);
    shell.fetch_prompt();
    return interactive_loop(shell);
}

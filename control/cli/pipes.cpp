// SPDX-License-Identifier: GPL-2.0-or-later
// Parsing and applying the shell's output pipes; see pipes.h.
#include "control/cli/pipes.h"

#include <array>

namespace qorgan::cli {

namespace {

struct PipeWord {
    const char *word;
    const char *help;
};

constexpr std::array<PipeWord, 5> pipe_words{{
    {"count", "Count the lines of output"},
    {"display", "Show additional kinds of information (display set)"},
    {"except", "Show only lines that do not match a regular expression"},
    {"match", "Show only lines that match a regular expression"},
    {"no-more", "Do not page the output"},
}};

constexpr const char *expected_pipes = "expected match, except, count, no-more or display set";

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// Removes one pair of surrounding double quotes and the backslash escapes inside them.
std::string unquote(std::string_view s) {
    if (s.size() < 2 || s.front() != '"' || s.back() != '"')
        return std::string(s);
    std::string out;
    for (size_t i = 1; i + 1 < s.size(); ++i) {
        if (s[i] == '\\' && i + 2 < s.size())
            ++i;
        out += s[i];
    }
    return out;
}

// Splits at '|' outside double quotes; a backslash inside quotes escapes the next character.
std::vector<std::string_view> split_pipes(std::string_view line, bool &unterminated) {
    std::vector<std::string_view> parts;
    bool quoted = false;
    size_t start = 0;
    for (size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (quoted && c == '\\') {
            ++i;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (c == '|' && !quoted) {
            parts.push_back(line.substr(start, i - start));
            start = i + 1;
        }
    }
    parts.push_back(line.substr(std::min(start, line.size())));
    unterminated = quoted;
    return parts;
}

// The pipe keyword that `typed` names exactly or as a unique prefix, or nullptr.
const PipeWord *find_pipe_word(std::string_view typed) {
    const PipeWord *found = nullptr;
    for (const auto &p : pipe_words) {
        std::string_view w = p.word;
        if (w == typed)
            return &p;
        if (!typed.empty() && w.starts_with(typed))
            found = found ? nullptr : &p; // the keywords differ in their first letter
    }
    return found;
}

Error pipe_error(std::string message) {
    return Error{{}, std::move(message)};
}

} // namespace

bool inside_quotes(std::string_view text) {
    bool unterminated = false;
    split_pipes(text, unterminated);
    return unterminated;
}

std::string_view last_word(std::string_view text) {
    size_t space = text.find_last_of(" \t");
    return space == std::string_view::npos ? text : text.substr(space + 1);
}

Result<PipedLine> parse_pipes(std::string_view line) {
    bool unterminated = false;
    auto parts = split_pipes(line, unterminated);
    if (unterminated)
        return pipe_error("unterminated quoted string: add the closing \"");
    PipedLine out;
    out.command = std::string(trim(parts[0]));
    for (size_t i = 1; i < parts.size(); ++i) {
        std::string_view segment = trim(parts[i]);
        size_t space = segment.find_first_of(" \t");
        std::string_view typed = segment.substr(0, space);
        std::string_view arg =
            space == std::string_view::npos ? std::string_view{} : trim(segment.substr(space));
        if (typed.empty())
            return pipe_error(std::string("empty pipe after '|': ") + expected_pipes);
        const PipeWord *word = find_pipe_word(typed);
        if (!word)
            return pipe_error("unknown pipe '" + std::string(typed) + "': " + expected_pipes);
        std::string_view name = word->word;
        if (name == "display") {
            out.command += " | display";
            if (!arg.empty())
                out.command += " " + std::string(arg);
            continue;
        }
        if (name == "count" || name == "no-more") {
            if (!arg.empty())
                return pipe_error("'| " + std::string(name) + "' takes no argument (got '" +
                                  std::string(arg) + "')");
            if (name == "no-more")
                out.no_more = true;
            else
                out.filters.push_back(Filter{Filter::Kind::count, {}, {}});
            continue;
        }
        std::string pattern = unquote(arg);
        if (pattern.empty())
            return pipe_error("'| " + std::string(name) + "' needs a regular expression");
        Filter f;
        f.kind = name == "match" ? Filter::Kind::match : Filter::Kind::except;
        f.pattern = pattern;
        try {
            f.regex = std::regex(pattern, std::regex::extended | std::regex::nosubs);
        } catch (const std::regex_error &e) {
            return pipe_error("bad regular expression in '| " + std::string(name) + " " + pattern +
                              "': " + e.what());
        }
        out.filters.push_back(std::move(f));
    }
    return out;
}

std::string apply_filters(const std::vector<Filter> &filters, std::string_view output) {
    std::vector<std::string_view> lines;
    while (!output.empty()) {
        size_t nl = output.find('\n');
        lines.push_back(output.substr(0, nl));
        output = nl == std::string_view::npos ? std::string_view{} : output.substr(nl + 1);
    }
    std::string count_line; // owns the text of a "Count:" line
    for (const auto &f : filters) {
        if (f.kind == Filter::Kind::count) {
            count_line = "Count: " + std::to_string(lines.size()) + " lines";
            lines.assign(1, count_line);
            continue;
        }
        std::vector<std::string_view> kept;
        for (auto l : lines) {
            bool hit = std::regex_search(l.begin(), l.end(), f.regex);
            if (hit == (f.kind == Filter::Kind::match))
                kept.push_back(l);
        }
        lines = std::move(kept);
    }
    std::string out;
    for (auto l : lines) {
        out += l;
        out += '\n';
    }
    return out;
}

std::vector<PipeCompletion> complete_pipe(std::string_view before_cursor, bool &in_pipe) {
    bool unterminated = false;
    auto parts = split_pipes(before_cursor, unterminated);
    in_pipe = parts.size() > 1;
    std::vector<PipeCompletion> out;
    if (!in_pipe || unterminated)
        return out;
    std::string_view segment = parts.back();
    while (!segment.empty() && (segment.front() == ' ' || segment.front() == '\t'))
        segment.remove_prefix(1);
    size_t space = segment.find_first_of(" \t");
    if (space == std::string_view::npos) {
        for (const auto &p : pipe_words)
            if (std::string_view(p.word).starts_with(segment))
                out.push_back({p.word, p.help});
        return out;
    }
    const PipeWord *word = find_pipe_word(segment.substr(0, space));
    if (!word)
        return out;
    std::string_view name = word->word;
    std::string_view arg = last_word(segment.substr(space));
    if (name == "display" && std::string_view("set").starts_with(arg))
        out.push_back({"set", "Show the configuration as set commands"});
    else if (name == "match" || name == "except")
        out.push_back({"", "<regex>  Regular expression (quote it if it contains '|')"});
    return out;
}

} // namespace qorgan::cli

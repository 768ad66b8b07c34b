// SPDX-License-Identifier: GPL-2.0-or-later
// Output pipes of the qorgan shell (`| match`, `| except`, `| count`, `| no-more`): parsed
// outside quotes, applied to qorgand's output on the client; `| display set` goes to qorgand.
#pragma once

#include "common/result.h"

#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace qorgan::cli {

struct Filter {
    enum class Kind { match, except, count };
    Kind kind = Kind::count;
    std::string pattern; // as typed, for messages
    std::regex regex;    // match and except only
};

struct PipedLine {
    std::string command; // what is sent to qorgand, including any `| display ...`
    std::vector<Filter> filters;
    bool no_more = false;
};

// Splits a line into the command and its pipes. Quotes (") protect '|'; a regex with a '|' or
// spaces at its ends must be quoted. Errors name the pipe that is wrong and what is allowed.
Result<PipedLine> parse_pipes(std::string_view line);

// Applies the filters in order to a block of output lines; the result ends in '\n' unless
// it is empty.
std::string apply_filters(const std::vector<Filter> &filters, std::string_view output);

// True when the end of `text` is inside a double-quoted string.
bool inside_quotes(std::string_view text);

// The last (partial) word of `text`: "" when it ends in a space.
std::string_view last_word(std::string_view text);

// When the text before the cursor is inside a pipe, the completions for that pipe as
// {word, help}; `in_pipe` is false (and the list empty) otherwise.
struct PipeCompletion {
    std::string word;
    std::string help;
};
std::vector<PipeCompletion> complete_pipe(std::string_view before_cursor, bool &in_pipe);

} // namespace qorgan::cli

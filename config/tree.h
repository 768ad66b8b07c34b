// SPDX-License-Identifier: GPL-2.0-or-later
// The generic config tree (statements, lists, blocks) parsed from text, and its
// canonical printer. Knows nothing of the schema: the `set a b c` form shares it.
#pragma once

#include "common/result.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qorgan::config {

struct Word {
    std::string text; // unquoted content
    Location where;
};

// `[ w1 w2 ]`: one value holding several words, always the last value of a statement.
struct List {
    std::vector<Word> items;
    Location where; // of the '['
};

// One statement: `words... [list] ;` or `words... [list] { children }`.
// The root node has no words and holds the top-level statements as children.
struct Node {
    std::vector<Word> words;
    std::optional<List> list;
    std::vector<Node> children;
    bool has_block = false;
    Location where; // of the first word

    std::string_view keyword() const {
        return words.empty() ? std::string_view{} : std::string_view{words.front().text};
    }
};

// Open blocks deeper than this are refused so a hostile file cannot exhaust the stack.
inline constexpr std::size_t max_block_depth = 32;

// Parses a whole text into a root node; `file` only labels locations.
Result<Node> parse_tree(std::string_view text, const std::string &file);

// Canonical text: one statement per line, 4-space indents, words quoted only when
// needed. parse_tree(print_tree(t)) equals t apart from locations.
std::string print_tree(const Node &root);

// A word as the printer writes it: bare if possible, else "quoted" with \" and \\.
std::string quote_word(std::string_view text);

// The statement's words and list as text, shortened for error messages.
std::string describe_statement(const Node &n);

// Structural equality ignoring locations (the round-trip property).
bool same_tree(const Node &a, const Node &b);

} // namespace qorgan::config

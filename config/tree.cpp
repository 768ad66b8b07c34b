// SPDX-License-Identifier: GPL-2.0-or-later
// Recursive-descent parser from tokens to the generic tree, and the canonical printer.
#include "config/tree.h"

#include "config/lexer.h"

namespace qorgan::config {

namespace {

constexpr std::size_t max_described = 80;

class Parser {
public:
    Parser(std::string_view text, const std::string &file) : _lexer(text, file) {}

    Result<Node> parse() {
        if (auto s = fill(); !s)
            return s.error();
        Node root;
        root.where = _next.where;
        root.where.line = 1;
        root.where.column = 1;
        if (auto s = block(root); !s)
            return s.error();
        return root;
    }

private:
    Status fill() {
        auto t = _lexer.next();
        if (!t)
            return t.error();
        _next = std::move(t.value());
        return Ok{};
    }

    bool at_word() const {
        return _next.kind == TokenKind::word || _next.kind == TokenKind::string;
    }

    // Statements until the '}' closing `parent` (or the end of input for the root).
    Status block(Node &parent) {
        for (;;) {
            if (_next.kind == TokenKind::end) {
                if (_open.empty())
                    return Ok{};
                std::size_t n = _open.size();
                return Error{_next.where, "unexpected end of file: " + std::to_string(n) +
                                              (n == 1 ? " block" : " blocks") +
                                              " still open (opened at " + _open.back().to_string() +
                                              ")"};
            }
            if (_next.kind == TokenKind::close_brace) {
                if (_open.empty())
                    return Error{_next.where, "unexpected '}'"};
                return fill();
            }
            if (!at_word())
                return Error{_next.where, "unexpected " + describe_token(_next) +
                                              "; expected a word to start a statement"};
            Node node;
            if (auto s = statement(node); !s)
                return s;
            parent.children.push_back(std::move(node));
        }
    }

    Status list(Node &node) {
        List l;
        l.where = _next.where;
        if (auto s = fill(); !s)
            return s;
        for (;;) {
            if (at_word()) {
                l.items.push_back(Word{std::move(_next.text), std::move(_next.where)});
                if (auto s = fill(); !s)
                    return s;
                continue;
            }
            if (_next.kind == TokenKind::close_bracket)
                break;
            if (_next.kind == TokenKind::end)
                return Error{_next.where, "unexpected end of file in the list opened at " +
                                              l.where.to_string() + "; expected ']'"};
            return Error{_next.where, "unexpected " + describe_token(_next) +
                                          " in a list; expected a word or ']'"};
        }
        if (l.items.empty())
            return Error{l.where, "empty list; expected at least one word between '[' and ']'"};
        node.list = std::move(l);
        return fill();
    }

    Status statement(Node &node) {
        node.where = _next.where;
        while (at_word()) {
            node.words.push_back(Word{std::move(_next.text), std::move(_next.where)});
            if (auto s = fill(); !s)
                return s;
        }
        if (_next.kind == TokenKind::open_bracket)
            if (auto s = list(node); !s)
                return s;
        if (_next.kind == TokenKind::semicolon)
            return fill();
        if (_next.kind != TokenKind::open_brace)
            return Error{_next.where,
                         "expected ';' or '{' after '" + describe_statement(node) + "'"};
        if (_open.size() == max_block_depth)
            return Error{_next.where, "blocks nested deeper than " +
                                          std::to_string(max_block_depth) + "; expected at most " +
                                          std::to_string(max_block_depth) + " levels"};
        node.has_block = true;
        _open.push_back(node.where);
        if (auto s = fill(); !s)
            return s;
        if (auto s = block(node); !s)
            return s;
        _open.pop_back();
        return Ok{};
    }

    Lexer _lexer;
    Token _next;
    std::vector<Location> _open; // statements whose block is open, outermost first
};

void print_statement(const Node &n, std::size_t depth, std::string &out) {
    out.append(depth * 4, ' ');
    bool first = true;
    for (const Word &w : n.words) {
        if (!first)
            out.push_back(' ');
        out += quote_word(w.text);
        first = false;
    }
    if (n.list) {
        out += first ? "[" : " [";
        for (const Word &w : n.list->items) {
            out.push_back(' ');
            out += quote_word(w.text);
        }
        out += " ]";
    }
    if (!n.has_block) {
        out += ";\n";
        return;
    }
    out += " {\n";
    for (const Node &c : n.children)
        print_statement(c, depth + 1, out);
    out.append(depth * 4, ' ');
    out += "}\n";
}

bool same_words(const std::vector<Word> &a, const std::vector<Word> &b) {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].text != b[i].text)
            return false;
    return true;
}

} // namespace

Result<Node> parse_tree(std::string_view text, const std::string &file) {
    return Parser(text, file).parse();
}

std::string quote_word(std::string_view text) {
    if (is_bare_word(text))
        return std::string(text);
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\')
            out.push_back('\\');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

std::string describe_statement(const Node &n) {
    std::string out;
    for (const Word &w : n.words) {
        if (!out.empty())
            out.push_back(' ');
        out += quote_word(w.text);
        if (out.size() > max_described)
            break;
    }
    if (n.list && out.size() <= max_described) {
        out += out.empty() ? "[" : " [";
        for (const Word &w : n.list->items) {
            out.push_back(' ');
            out += quote_word(w.text);
            if (out.size() > max_described)
                break;
        }
        out += " ]";
    }
    if (out.size() > max_described) {
        out.resize(max_described);
        out += "...";
    }
    return out;
}

std::string print_tree(const Node &root) {
    std::string out;
    for (const Node &c : root.children)
        print_statement(c, 0, out);
    return out;
}

bool same_tree(const Node &a, const Node &b) {
    if (!same_words(a.words, b.words) || a.has_block != b.has_block ||
        a.list.has_value() != b.list.has_value() || a.children.size() != b.children.size())
        return false;
    if (a.list && !same_words(a.list->items, b.list->items))
        return false;
    for (std::size_t i = 0; i < a.children.size(); ++i)
        if (!same_tree(a.children[i], b.children[i]))
            return false;
    return true;
}

} // namespace qorgan::config

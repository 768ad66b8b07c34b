// SPDX-License-Identifier: GPL-2.0-or-later
// Lexer for the config text form (see lexer.h and docs/CONFIG.md).
#include "config/lexer.h"

#include <cstdio>

namespace qorgan::config {

namespace {

std::string byte_name(unsigned char c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", c);
    return buf;
}

const char *const expected_token =
    "expected a word, a \"string\", ';', '{', '}', '[', ']' or a # comment";

} // namespace

bool is_bare_word_char(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (c) {
    case '_':
    case '.':
    case ':':
    case '/':
    case '-':
    case '+':
    case ',':
    case '*':
        return true;
    default:
        return false;
    }
}

bool is_bare_word(std::string_view s) {
    if (s.empty())
        return false;
    for (char c : s)
        if (!is_bare_word_char(c))
            return false;
    return true;
}

std::string describe_token(const Token &t) {
    switch (t.kind) {
    case TokenKind::word:
    case TokenKind::string:
        return "'" + t.text + "'";
    case TokenKind::semicolon:
        return "';'";
    case TokenKind::open_brace:
        return "'{'";
    case TokenKind::close_brace:
        return "'}'";
    case TokenKind::open_bracket:
        return "'['";
    case TokenKind::close_bracket:
        return "']'";
    case TokenKind::end:
        break;
    }
    return "end of file";
}

void Lexer::advance() {
    if (_text[_pos] == '\n') {
        ++_line;
        _column = 1;
    } else {
        ++_column;
    }
    ++_pos;
}

void Lexer::skip_blanks_and_comments() {
    while (_pos < _text.size()) {
        char c = _text[_pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            advance();
        } else if (c == '#') {
            while (_pos < _text.size() && _text[_pos] != '\n')
                advance();
        } else {
            return;
        }
    }
}

Result<Token> Lexer::lex_string(Location start) {
    advance(); // the opening quote
    Token t{TokenKind::string, {}, std::move(start)};
    for (;;) {
        if (_pos >= _text.size() || _text[_pos] == '\n')
            return Error{t.where, "unterminated string"};
        unsigned char c = static_cast<unsigned char>(_text[_pos]);
        if (c == '"') {
            advance();
            return t;
        }
        if (c == '\\') {
            Location at = here();
            advance();
            if (_pos >= _text.size() || (_text[_pos] != '"' && _text[_pos] != '\\')) {
                if (_pos >= _text.size() || _text[_pos] == '\n')
                    return Error{t.where, "unterminated string"};
                unsigned char e = static_cast<unsigned char>(_text[_pos]);
                std::string shown =
                    (e >= 0x20 && e < 0x7f) ? std::string(1, char(e)) : byte_name(e);
                return Error{at,
                             "invalid escape '\\" + shown + "' in string; expected \\\" or \\\\"};
            }
            c = static_cast<unsigned char>(_text[_pos]);
        } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return Error{here(), "control character " + byte_name(c) +
                                     " in string; expected printable text or a tab"};
        }
        if (t.text.size() == max_token_bytes)
            return Error{t.where, "string longer than " + std::to_string(max_token_bytes) +
                                      " bytes; expected at most " +
                                      std::to_string(max_token_bytes)};
        t.text.push_back(char(c));
        advance();
    }
}

Result<Token> Lexer::next() {
    skip_blanks_and_comments();
    Location start = here();
    if (_pos >= _text.size())
        return Token{TokenKind::end, {}, std::move(start)};
    char c = _text[_pos];
    TokenKind single = TokenKind::end;
    switch (c) {
    case ';':
        single = TokenKind::semicolon;
        break;
    case '{':
        single = TokenKind::open_brace;
        break;
    case '}':
        single = TokenKind::close_brace;
        break;
    case '[':
        single = TokenKind::open_bracket;
        break;
    case ']':
        single = TokenKind::close_bracket;
        break;
    case '"':
        return lex_string(std::move(start));
    default:
        break;
    }
    if (single != TokenKind::end) {
        advance();
        return Token{single, std::string(1, c), std::move(start)};
    }
    if (!is_bare_word_char(c)) {
        unsigned char u = static_cast<unsigned char>(c);
        std::string shown = (u > 0x20 && u < 0x7f) ? "character '" + std::string(1, c) + "'"
                                                   : "byte " + byte_name(u);
        return Error{start, "unexpected " + shown + "; " + expected_token};
    }
    Token t{TokenKind::word, {}, std::move(start)};
    while (_pos < _text.size() && is_bare_word_char(_text[_pos])) {
        if (t.text.size() == max_token_bytes)
            return Error{t.where, "word longer than " + std::to_string(max_token_bytes) +
                                      " bytes; expected at most " +
                                      std::to_string(max_token_bytes)};
        t.text.push_back(_text[_pos]);
        advance();
    }
    return t;
}

} // namespace qorgan::config

// SPDX-License-Identifier: GPL-2.0-or-later
// Lexer for the config text form: words, quoted strings, ; { } [ ] and # comments,
// each token with its file:line:column (columns count bytes from 1).
#pragma once

#include "common/result.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace qorgan::config {

enum class TokenKind : uint8_t {
    word,          // bare: letters, digits and _ . : / - + , *
    string,        // "double quoted", text holds the content without escapes
    semicolon,     // ;
    open_brace,    // {
    close_brace,   // }
    open_bracket,  // [
    close_bracket, // ]
    end,           // end of input
};

struct Token {
    TokenKind kind = TokenKind::end;
    std::string text;
    Location where;
};

// A hostile file must not make one token arbitrarily large; counted on the content.
inline constexpr std::size_t max_token_bytes = 4096;

bool is_bare_word_char(char c);
// True when `s` can be written without quotes (non-empty, only bare characters).
bool is_bare_word(std::string_view s);
// How a token is named in error messages: "';'", "'address'", "end of file".
std::string describe_token(const Token &t);

class Lexer {
public:
    Lexer(std::string_view text, std::string file) : _text(text), _file(std::move(file)) {}

    // The next token; after the end it keeps returning TokenKind::end.
    Result<Token> next();

private:
    void skip_blanks_and_comments();
    Location here() const { return Location{_file, _line, _column}; }
    void advance();
    Result<Token> lex_string(Location start);

    std::string_view _text;
    std::string _file;
    std::size_t _pos = 0;
    int _line = 1;
    int _column = 1;
};

} // namespace qorgan::config

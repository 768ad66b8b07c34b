// SPDX-License-Identifier: GPL-2.0-or-later
// Lexer of the config text form: token kinds, escapes, comments, locations, errors.
#include "config/lexer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace qorgan;
using namespace qorgan::config;

namespace {

std::vector<Token> lex_all(std::string_view text) {
    Lexer lexer(text, "t.conf");
    std::vector<Token> out;
    for (;;) {
        auto t = lexer.next();
        EXPECT_TRUE(t.ok()) << t.error().to_string();
        if (!t)
            return out;
        out.push_back(*t);
        if (t->kind == TokenKind::end)
            return out;
    }
}

// The first error the lexer reports on `text`, as "file:line:col: message".
std::string lex_error(std::string_view text) {
    Lexer lexer(text, "t.conf");
    for (int i = 0; i < 10000; ++i) {
        auto t = lexer.next();
        if (!t)
            return t.error().to_string();
        if (t->kind == TokenKind::end)
            return "no error";
    }
    return "no end";
}

} // namespace

TEST(ConfigLexer, EveryTokenKind) {
    auto t = lex_all("a_b.c:d/e-f+g,h*9 \"quoted string\" ; { } [ ]");
    ASSERT_EQ(t.size(), 8u);
    EXPECT_EQ(t[0].kind, TokenKind::word);
    EXPECT_EQ(t[0].text, "a_b.c:d/e-f+g,h*9");
    EXPECT_EQ(t[1].kind, TokenKind::string);
    EXPECT_EQ(t[1].text, "quoted string");
    EXPECT_EQ(t[2].kind, TokenKind::semicolon);
    EXPECT_EQ(t[3].kind, TokenKind::open_brace);
    EXPECT_EQ(t[4].kind, TokenKind::close_brace);
    EXPECT_EQ(t[5].kind, TokenKind::open_bracket);
    EXPECT_EQ(t[6].kind, TokenKind::close_bracket);
    EXPECT_EQ(t[7].kind, TokenKind::end);
}

TEST(ConfigLexer, PunctuationEndsAWord) {
    auto t = lex_all("mtu 1500;x{y}[z]");
    ASSERT_EQ(t.size(), 11u);
    EXPECT_EQ(t[1].text, "1500");
    EXPECT_EQ(t[2].kind, TokenKind::semicolon);
    EXPECT_EQ(t[3].text, "x");
    EXPECT_EQ(t[4].kind, TokenKind::open_brace);
    EXPECT_EQ(t[5].text, "y");
    EXPECT_EQ(t[9].kind, TokenKind::close_bracket);
}

TEST(ConfigLexer, StringEscapesAndTab) {
    auto t = lex_all(R"("a \"b\" c\\d)"
                     "\t"
                     R"(e" "")");
    ASSERT_EQ(t.size(), 3u);
    EXPECT_EQ(t[0].text, "a \"b\" c\\d\te");
    EXPECT_EQ(t[1].kind, TokenKind::string);
    EXPECT_EQ(t[1].text, "");
}

TEST(ConfigLexer, StringKeepsUtf8AndPunctuation) {
    auto t = lex_all("\"қорған; { } # not a comment\"");
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0].text, "қорған; { } # not a comment");
}

TEST(ConfigLexer, CommentsRunToEndOfLine) {
    auto t =
        lex_all("# whole line ; {\nmtu 1500; # trailing { [\n  #\nx#y\n# last line no newline");
    ASSERT_EQ(t.size(), 5u);
    EXPECT_EQ(t[0].text, "mtu");
    EXPECT_EQ(t[2].kind, TokenKind::semicolon);
    EXPECT_EQ(t[3].text, "x"); // '#' is not a word character: it ends the word
    EXPECT_EQ(t[4].kind, TokenKind::end);
}

TEST(ConfigLexer, LocationsCountLinesAndByteColumns) {
    auto t = lex_all("a\n  bb \"c\";\r\n\tq\n\n   }");
    ASSERT_EQ(t.size(), 7u);
    EXPECT_EQ(t[0].where.to_string(), "t.conf:1:1");
    EXPECT_EQ(t[1].where.to_string(), "t.conf:2:3");
    EXPECT_EQ(t[2].where.to_string(), "t.conf:2:6");
    EXPECT_EQ(t[3].where.to_string(), "t.conf:2:9");
    EXPECT_EQ(t[4].where.to_string(), "t.conf:3:2"); // a tab is one byte
    EXPECT_EQ(t[5].where.to_string(), "t.conf:5:4");
    EXPECT_EQ(t[6].where.to_string(), "t.conf:5:5"); // end of input
}

TEST(ConfigLexer, ColumnsCountBytesNotCharacters) {
    auto t = lex_all("\"ұ\" x"); // two-byte letter
    ASSERT_EQ(t.size(), 3u);
    EXPECT_EQ(t[1].where.column, 6);
}

TEST(ConfigLexer, EndRepeats) {
    Lexer lexer("", "t.conf");
    for (int i = 0; i < 3; ++i) {
        auto t = lexer.next();
        ASSERT_TRUE(t.ok());
        EXPECT_EQ(t->kind, TokenKind::end);
        EXPECT_EQ(t->where.to_string(), "t.conf:1:1");
    }
}

TEST(ConfigLexer, ErrorUnterminatedStringAtNewline) {
    EXPECT_EQ(lex_error("a;\ndescription \"abc\n\";"), "t.conf:2:13: unterminated string");
}

TEST(ConfigLexer, ErrorUnterminatedStringAtEnd) {
    EXPECT_EQ(lex_error("x \"abc"), "t.conf:1:3: unterminated string");
}

TEST(ConfigLexer, ErrorUnterminatedStringAfterBackslash) {
    EXPECT_EQ(lex_error("x \"abc\\"), "t.conf:1:3: unterminated string");
    EXPECT_EQ(lex_error("x \"abc\\\n\""), "t.conf:1:3: unterminated string");
}

TEST(ConfigLexer, ErrorInvalidEscape) {
    EXPECT_EQ(lex_error(R"(x "a\nb")"),
              R"(t.conf:1:5: invalid escape '\n' in string; expected \" or \\)");
}

TEST(ConfigLexer, ErrorInvalidEscapeOfControlByte) {
    EXPECT_EQ(lex_error("x \"a\\\x01\""),
              R"(t.conf:1:5: invalid escape '\0x01' in string; expected \" or \\)");
}

TEST(ConfigLexer, ErrorControlCharacterInString) {
    EXPECT_EQ(lex_error("x \"a\rb\""),
              "t.conf:1:5: control character 0x0d in string; expected printable text or a tab");
    EXPECT_EQ(lex_error("x \"\x7f\""),
              "t.conf:1:4: control character 0x7f in string; expected printable text or a tab");
}

TEST(ConfigLexer, ErrorUnexpectedCharacter) {
    EXPECT_EQ(lex_error("mtu = 1500;"),
              "t.conf:1:5: unexpected character '='; expected a word, a \"string\", ';', '{', "
              "'}', '[', ']' or a # comment");
}

TEST(ConfigLexer, ErrorUnexpectedByte) {
    EXPECT_EQ(lex_error(std::string("a\n\0", 3)),
              "t.conf:2:1: unexpected byte 0x00; expected a word, a \"string\", ';', '{', "
              "'}', '[', ']' or a # comment");
    EXPECT_EQ(lex_error("\xd2\xb1"), "t.conf:1:1: unexpected byte 0xd2; expected a word, a "
                                     "\"string\", ';', '{', '}', '[', ']' or a # comment");
}

TEST(ConfigLexer, WordLengthLimit) {
    std::string ok(max_token_bytes, 'a');
    auto t = lex_all(ok + ";");
    ASSERT_EQ(t.size(), 3u);
    EXPECT_EQ(t[0].text.size(), max_token_bytes);
    EXPECT_EQ(lex_error("x\n " + ok + "a;"),
              "t.conf:2:2: word longer than 4096 bytes; expected at most 4096");
}

TEST(ConfigLexer, StringLengthLimitCountsContent) {
    // 4096 escaped quotes are 8192 bytes of text but 4096 of content: accepted.
    std::string escaped;
    for (std::size_t i = 0; i < max_token_bytes; ++i)
        escaped += "\\\"";
    auto t = lex_all("\"" + escaped + "\"");
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0].text, std::string(max_token_bytes, '"'));
    EXPECT_EQ(lex_error("x \"" + std::string(max_token_bytes + 1, 'b') + "\""),
              "t.conf:1:3: string longer than 4096 bytes; expected at most 4096");
}

TEST(ConfigLexer, BareWordCharacters) {
    EXPECT_TRUE(is_bare_word("2001:db8::/32"));
    EXPECT_TRUE(is_bare_word("1024-65535"));
    EXPECT_FALSE(is_bare_word(""));
    EXPECT_FALSE(is_bare_word("a b"));
    EXPECT_FALSE(is_bare_word("iface=x"));
    EXPECT_FALSE(is_bare_word("a#b"));
}

TEST(ConfigLexer, DescribeToken) {
    EXPECT_EQ(describe_token(Token{TokenKind::word, "mtu", {}}), "'mtu'");
    EXPECT_EQ(describe_token(Token{TokenKind::semicolon, ";", {}}), "';'");
    EXPECT_EQ(describe_token(Token{TokenKind::open_brace, "{", {}}), "'{'");
    EXPECT_EQ(describe_token(Token{TokenKind::close_brace, "}", {}}), "'}'");
    EXPECT_EQ(describe_token(Token{TokenKind::open_bracket, "[", {}}), "'['");
    EXPECT_EQ(describe_token(Token{TokenKind::close_bracket, "]", {}}), "']'");
    EXPECT_EQ(describe_token(Token{TokenKind::end, "", {}}), "end of file");
}

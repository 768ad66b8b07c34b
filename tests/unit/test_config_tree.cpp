// SPDX-License-Identifier: GPL-2.0-or-later
// Generic config tree: statements, blocks, lists, every parse error, limits, printer.
#include "config/config.h"
#include "config/tree.h"

#include <gtest/gtest.h>

#include <string>

using namespace qorgan;
using namespace qorgan::config;

namespace {

std::string tree_error(std::string_view text) {
    auto t = parse_tree(text, "lab.conf");
    return t ? "no error" : t.error().to_string();
}

Node parse_ok(std::string_view text) {
    auto t = parse_tree(text, "lab.conf");
    EXPECT_TRUE(t.ok()) << t.error().to_string();
    return t ? *t : Node{};
}

void expect_round_trip(std::string_view text) {
    Node first = parse_ok(text);
    std::string printed = print_tree(first);
    auto second = parse_tree(printed, "printed.conf");
    ASSERT_TRUE(second.ok()) << second.error().to_string() << "\n" << printed;
    EXPECT_TRUE(same_tree(first, *second)) << printed;
    EXPECT_EQ(print_tree(*second), printed); // printing is canonical
}

std::string nested(std::size_t depth) {
    std::string text;
    for (std::size_t i = 0; i < depth; ++i)
        text += "b {\n";
    text += "leaf;\n";
    for (std::size_t i = 0; i < depth; ++i)
        text += "}\n";
    return text;
}

} // namespace

TEST(ConfigTree, StatementsBlocksAndNesting) {
    Node root =
        parse_ok("interfaces {\n    inner0 {\n        mtu 1500;\n        disable;\n    }\n}\n"
                 "zones { }\n");
    ASSERT_EQ(root.children.size(), 2u);
    const Node &ifs = root.children[0];
    EXPECT_EQ(ifs.keyword(), "interfaces");
    EXPECT_TRUE(ifs.has_block);
    EXPECT_EQ(ifs.where.to_string(), "lab.conf:1:1");
    ASSERT_EQ(ifs.children.size(), 1u);
    const Node &inner = ifs.children[0];
    EXPECT_EQ(inner.where.to_string(), "lab.conf:2:5");
    ASSERT_EQ(inner.children.size(), 2u);
    const Node &mtu = inner.children[0];
    ASSERT_EQ(mtu.words.size(), 2u);
    EXPECT_EQ(mtu.words[1].text, "1500");
    EXPECT_EQ(mtu.words[1].where.to_string(), "lab.conf:3:13");
    EXPECT_FALSE(mtu.has_block);
    EXPECT_FALSE(mtu.list.has_value());
    EXPECT_EQ(inner.children[1].keyword(), "disable");
    EXPECT_TRUE(root.children[1].has_block);
    EXPECT_TRUE(root.children[1].children.empty());
}

TEST(ConfigTree, ListIsOneValue) {
    Node root = parse_ok("destination-port [ 80 \"443\" ];\nrule 1 [ a ] { x; }");
    const Node &ports = root.children[0];
    ASSERT_EQ(ports.words.size(), 1u);
    ASSERT_TRUE(ports.list.has_value());
    ASSERT_EQ(ports.list->items.size(), 2u);
    EXPECT_EQ(ports.list->items[0].text, "80");
    EXPECT_EQ(ports.list->items[1].text, "443");
    EXPECT_EQ(ports.list->items[1].where.to_string(), "lab.conf:1:23");
    EXPECT_EQ(ports.list->where.to_string(), "lab.conf:1:18");
    const Node &rule = root.children[1];
    EXPECT_TRUE(rule.list.has_value());
    EXPECT_TRUE(rule.has_block);
    ASSERT_EQ(rule.children.size(), 1u);
}

TEST(ConfigTree, QuotedWordsAreWords) {
    Node root = parse_ok("device \"net_af_packet0,iface=dp-inner\";");
    ASSERT_EQ(root.children[0].words.size(), 2u);
    EXPECT_EQ(root.children[0].words[1].text, "net_af_packet0,iface=dp-inner");
}

TEST(ConfigTree, EmptyInputIsAnEmptyRoot) {
    Node root = parse_ok("  # only a comment\n");
    EXPECT_TRUE(root.children.empty());
    EXPECT_TRUE(root.words.empty());
}

TEST(ConfigTree, ErrorMissingSemicolonBeforeClose) {
    EXPECT_EQ(tree_error("interfaces {\n    inner0 {\n        address 198.18.1.1/24\n    }\n}\n"),
              "lab.conf:4:5: expected ';' or '{' after 'address 198.18.1.1/24'");
}

TEST(ConfigTree, ErrorMissingSemicolonAfterList) {
    EXPECT_EQ(tree_error("destination-port [ 80 443 ] 8080;"),
              "lab.conf:1:29: expected ';' or '{' after 'destination-port [ 80 443 ]'");
}

TEST(ConfigTree, ErrorMissingSemicolonAtEnd) {
    EXPECT_EQ(tree_error("zone \"a b\"\n"),
              "lab.conf:2:1: expected ';' or '{' after 'zone \"a b\"'");
}

TEST(ConfigTree, ErrorDescriptionIsShortened) {
    std::string words;
    for (int i = 0; i < 30; ++i)
        words += "word" + std::to_string(i) + " ";
    std::string err = tree_error(words + "]");
    EXPECT_EQ(err, "lab.conf:1:" + std::to_string(words.size() + 1) +
                       ": expected ';' or '{' after '" + words.substr(0, 80) + "...'");
}

TEST(ConfigTree, ErrorUnexpectedCloseBrace) {
    EXPECT_EQ(tree_error("a;\nb { }\n}\n"), "lab.conf:3:1: unexpected '}'");
}

TEST(ConfigTree, ErrorStatementCannotStartWithPunctuation) {
    EXPECT_EQ(tree_error("a { ; }"), "lab.conf:1:5: unexpected ';'; expected a word to start a "
                                     "statement");
    EXPECT_EQ(tree_error("[ a ];"), "lab.conf:1:1: unexpected '['; expected a word to start a "
                                    "statement");
    EXPECT_EQ(tree_error("{ }"), "lab.conf:1:1: unexpected '{'; expected a word to start a "
                                 "statement");
}

TEST(ConfigTree, ErrorEndOfFileWithOpenBlocks) {
    EXPECT_EQ(tree_error("interfaces {\n    inner0 {\n        mtu 1500;\n"),
              "lab.conf:4:1: unexpected end of file: 2 blocks still open (opened at "
              "lab.conf:2:5)");
    EXPECT_EQ(tree_error("zones {"),
              "lab.conf:1:8: unexpected end of file: 1 block still open (opened at lab.conf:1:1)");
}

TEST(ConfigTree, ErrorEmptyList) {
    EXPECT_EQ(tree_error("source [ ];"),
              "lab.conf:1:8: empty list; expected at least one word between '[' and ']'");
}

TEST(ConfigTree, ErrorBadTokenInList) {
    EXPECT_EQ(tree_error("source [ a [ b ] ];"),
              "lab.conf:1:12: unexpected '[' in a list; expected a word or ']'");
    EXPECT_EQ(tree_error("source [ a ; ]"),
              "lab.conf:1:12: unexpected ';' in a list; expected a word or ']'");
}

TEST(ConfigTree, ErrorEndOfFileInList) {
    EXPECT_EQ(tree_error("x {\nsource [ a b"),
              "lab.conf:2:13: unexpected end of file in the list opened at lab.conf:2:8; "
              "expected ']'");
}

TEST(ConfigTree, LexerErrorsPassThrough) {
    EXPECT_EQ(tree_error("a {\n  description \"x;\n}"), "lab.conf:2:15: unterminated string");
    EXPECT_EQ(tree_error("a [ \"x ]"), "lab.conf:1:5: unterminated string");
    EXPECT_EQ(tree_error("a \"b\\q\";"),
              R"(lab.conf:1:5: invalid escape '\q' in string; expected \" or \\)");
}

TEST(ConfigTree, LexerErrorsAtEveryParserPosition) {
    const char *tail = ": unexpected character '@'; expected a word, a \"string\", ';', '{', '}', "
                       "'[', ']' or a # comment";
    EXPECT_EQ(tree_error("@"), std::string("lab.conf:1:1") + tail);
    EXPECT_EQ(tree_error("a @"), std::string("lab.conf:1:3") + tail);
    EXPECT_EQ(tree_error("a; @"), std::string("lab.conf:1:4") + tail);
    EXPECT_EQ(tree_error("a { @"), std::string("lab.conf:1:5") + tail);
    EXPECT_EQ(tree_error("a { } @"), std::string("lab.conf:1:7") + tail);
    EXPECT_EQ(tree_error("a [ @"), std::string("lab.conf:1:5") + tail);
    EXPECT_EQ(tree_error("a [ b @"), std::string("lab.conf:1:7") + tail);
    EXPECT_EQ(tree_error("a [ b ] @"), std::string("lab.conf:1:9") + tail);
}

TEST(ConfigTree, DepthLimitAcceptsMaximum) {
    Node root = parse_ok(nested(max_block_depth));
    const Node *n = &root;
    std::size_t depth = 0;
    while (!n->children.empty() && n->children[0].has_block) {
        n = &n->children[0];
        ++depth;
    }
    EXPECT_EQ(depth, max_block_depth);
}

TEST(ConfigTree, ErrorDepthLimit) {
    EXPECT_EQ(tree_error(nested(max_block_depth + 1)),
              "lab.conf:33:3: blocks nested deeper than 32; expected at most 32 levels");
    // A hostile file far deeper fails the same way instead of exhausting the stack.
    EXPECT_EQ(tree_error(std::string(1000000, '{').insert(0, "a ")),
              "lab.conf:1:4: unexpected '{'; expected a word to start a statement");
    std::string deep;
    for (int i = 0; i < 100000; ++i)
        deep += "a{";
    EXPECT_EQ(tree_error(deep),
              "lab.conf:1:66: blocks nested deeper than 32; expected at most 32 levels");
}

TEST(ConfigTree, ErrorTokenLengthLimit) {
    EXPECT_EQ(tree_error("a " + std::string(5000, 'x') + ";"),
              "lab.conf:1:3: word longer than 4096 bytes; expected at most 4096");
}

TEST(ConfigTree, PrinterIsCanonical) {
    Node root = parse_ok("interfaces{inner0{device \"net_af_packet0,iface=dp-inner\";"
                         "address 198.18.1.1/24;disable;}}empty { }\n"
                         "x \"\" \"a\\\"b\\\\c\" [ 80 \"4 43\" ];");
    EXPECT_EQ(print_tree(root), "interfaces {\n"
                                "    inner0 {\n"
                                "        device \"net_af_packet0,iface=dp-inner\";\n"
                                "        address 198.18.1.1/24;\n"
                                "        disable;\n"
                                "    }\n"
                                "}\n"
                                "empty {\n"
                                "}\n"
                                "x \"\" \"a\\\"b\\\\c\" [ 80 \"4 43\" ];\n");
}

TEST(ConfigTree, RoundTripDefaultConfig) {
    expect_round_trip(default_config_text());
}

TEST(ConfigTree, RoundTripOddWords) {
    expect_round_trip("a \"{\" \"}\" \";\" \"#\" \"[\" \"\\\\\" \"\\\"\" \"\t\" \"қ\" *;\n"
                      "b [ \"\" x ] { c [ \"d e\" ] { } }\n");
    expect_round_trip(nested(max_block_depth));
}

TEST(ConfigTree, SameTreeIgnoresLocationsOnly) {
    Node a = parse_ok("a b { c [ d ]; }");
    Node b = parse_ok("a   b\n{\n c [d];}");
    EXPECT_TRUE(same_tree(a, b));
    EXPECT_FALSE(same_tree(a, parse_ok("a b { c [ e ]; }")));
    EXPECT_FALSE(same_tree(a, parse_ok("a b { c d; }")));
    EXPECT_FALSE(same_tree(a, parse_ok("a b { c [ d ] { } }")));
    EXPECT_FALSE(same_tree(a, parse_ok("a b { c [ d ]; c; }")));
    EXPECT_FALSE(same_tree(a, parse_ok("a c { c [ d ]; }")));
    EXPECT_FALSE(same_tree(a, parse_ok("a b { c [ d d ]; }")));
}

TEST(ConfigTree, QuoteWord) {
    EXPECT_EQ(quote_word("198.18.1.0/24"), "198.18.1.0/24");
    EXPECT_EQ(quote_word(""), "\"\"");
    EXPECT_EQ(quote_word("a b"), "\"a b\"");
    EXPECT_EQ(quote_word("a\"\\"), "\"a\\\"\\\\\"");
}

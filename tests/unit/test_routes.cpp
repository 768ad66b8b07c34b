// SPDX-License-Identifier: GPL-2.0-or-later
// RouteTable: connected, local and static routes resolve to the right next hop; bad
// static routes are refused with their config location.
#include "config/config.h"
#include "dataplane/routes.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cstring>

using namespace qorgan;
using namespace qorgan::dp;

namespace {

const char *base_config = R"(
interfaces {
    a0 { device "net_null0"; address 198.18.1.1/24; address 2001:db8:1::1/64; zone z; }
    b0 { device "net_null1"; address 203.0.113.1/24; address 2001:db8:100::1/64; zone z; }
    c0 { device "net_null2"; address 192.0.2.1/24; zone z; disable; }
}
zones { z { loop outer; } }
)";

config::Config load(const std::string &extra) {
    auto c = config::load_text(std::string(base_config) + extra, "routes.conf");
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().to_string());
    return c.value();
}

std::vector<RouteInterface> bind(const config::Config &c) {
    std::vector<RouteInterface> v;
    for (size_t i = 0; i < c.interfaces.size(); i++)
        v.push_back(RouteInterface{&c.interfaces[i], static_cast<uint16_t>(10 + i)});
    return v;
}

uint32_t v4(const char *s) {
    in_addr a{};
    inet_pton(AF_INET, s, &a);
    return a.s_addr;
}

std::array<uint8_t, 16> v6(const char *s) {
    std::array<uint8_t, 16> a{};
    inet_pton(AF_INET6, s, a.data());
    return a;
}

} // namespace

TEST(Routes, ConnectedLocalAndStatic) {
    auto c = load(R"(routes {
        route 0.0.0.0/0 { via 203.0.113.254; }
        route 198.51.100.0/24 { interface a0; }
        route ::/0 { via 2001:db8:100::fe; }
    })");
    auto t = RouteTable::build(c, bind(c), 0);
    ASSERT_TRUE(t.ok()) << t.error().to_string();
    const RouteTable &r = *t.value();

    const NextHop &local = r.next_hop(r.lookup4(v4("198.18.1.1")));
    EXPECT_EQ(local.kind, NextHopKind::local);
    EXPECT_EQ(local.port, 10);

    const NextHop &conn = r.next_hop(r.lookup4(v4("198.18.1.77")));
    EXPECT_EQ(conn.kind, NextHopKind::connected);
    EXPECT_EQ(conn.port, 10);

    const NextHop &def = r.next_hop(r.lookup4(v4("8.8.8.8")));
    EXPECT_EQ(def.kind, NextHopKind::gateway);
    EXPECT_EQ(def.port, 11);
    uint32_t gw;
    std::memcpy(&gw, def.gateway, 4);
    EXPECT_EQ(gw, v4("203.0.113.254"));

    const NextHop &dev = r.next_hop(r.lookup4(v4("198.51.100.9")));
    EXPECT_EQ(dev.kind, NextHopKind::connected);
    EXPECT_EQ(dev.port, 10);

    auto a = v6("2001:db8:1::1");
    EXPECT_EQ(r.next_hop(r.lookup6(a.data())).kind, NextHopKind::local);
    auto b = v6("2001:db8:100::99");
    EXPECT_EQ(r.next_hop(r.lookup6(b.data())).kind, NextHopKind::connected);
    EXPECT_EQ(r.next_hop(r.lookup6(b.data())).port, 11);
    auto far = v6("2001:db8:ffff::1");
    EXPECT_EQ(r.next_hop(r.lookup6(far.data())).kind, NextHopKind::gateway);
}

TEST(Routes, DisabledInterfaceContributesNothing) {
    // R139-13: a disabled port neither answers nor routes.
    auto c = load("");
    auto t = RouteTable::build(c, bind(c), 0);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t.value()->next_hop(t.value()->lookup4(v4("192.0.2.1"))).kind, NextHopKind::none);
    EXPECT_EQ(t.value()->next_hop(t.value()->lookup4(v4("192.0.2.9"))).kind, NextHopKind::none);
}

TEST(Routes, NoDefaultMeansNoRoute) {
    auto c = load("");
    auto t = RouteTable::build(c, bind(c), 0);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t.value()->next_hop(t.value()->lookup4(v4("198.51.100.1"))).kind, NextHopKind::none);
}

TEST(Routes, ViaOutsideConnectedSubnetsIsRefused) {
    auto c = load("routes {\n    route 198.51.100.0/24 { via 192.0.2.254; }\n}\n");
    auto t = RouteTable::build(c, bind(c), 0);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().to_string().find("routes.conf:"), std::string::npos);
    EXPECT_NE(t.error().message.find("next hop 192.0.2.254 is on no connected subnet"),
              std::string::npos)
        << t.error().message;
}

TEST(Routes, RouteToDisabledInterfaceIsRefused) {
    auto c = load("routes {\n    route 198.51.100.0/24 { interface c0; }\n}\n");
    auto t = RouteTable::build(c, bind(c), 0);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message.find("interface 'c0' is disabled"), std::string::npos)
        << t.error().message;
}

// SPDX-License-Identifier: GPL-2.0-or-later
// The embedded default configuration: the lab of scripts/lab (namespace qg-gw).
#include "config/config.h"

namespace qorgan::config {

namespace {

constexpr std::string_view default_text =
    R"conf(# Qorgan default configuration: the four-LAN lab of scripts/lab.
interfaces {
    inner0 {
        device "net_af_packet0,iface=dp-inner";
        address 198.18.1.1/24;
        address 2001:db8:1::1/64;
        zone inner;
    }
    outer0 {
        device "net_af_packet1,iface=dp-outer";
        address 198.18.2.1/24;
        address 2001:db8:2::1/64;
        zone outer;
    }
    dmz0 {
        device "net_af_packet2,iface=dp-dmz";
        address 198.18.3.1/24;
        address 2001:db8:3::1/64;
        zone dmz;
    }
    inet0 {
        device "net_af_packet3,iface=dp-inet";
        address 203.0.113.1/24;
        address 2001:db8:100::1/64;
        zone internet;
    }
}
zones {
    inner { loop inner; }
    outer { loop outer; }
    dmz { loop shielded; }
    internet { loop internet; }
}
policy {
    inner0 {
        ingress {
            rule 5 {
                description "R139-7: no inner to outer traffic except via the shielded subnet";
                destination 198.18.2.0/24;
                action drop;
                log;
            }
            rule 6 {
                description "R139-7: no inner to outer traffic except via the shielded subnet";
                destination 2001:db8:2::/64;
                action drop;
                log;
            }
            rule 10 {
                description "R139-7: inner hosts reach the shielded web server";
                protocol tcp;
                destination 198.18.3.0/24;
                destination-port [ 80 443 ];
                action accept;
            }
            rule 11 {
                description "R139-7: inner hosts reach the shielded web server";
                protocol tcp;
                destination 2001:db8:3::/64;
                destination-port [ 80 443 ];
                action accept;
            }
            rule 20 {
                description "R139-8: inner hosts ping the gateway, never the Internet";
                protocol icmp;
                icmp-type echo-request;
                destination [ 198.18.1.1 198.18.3.0/24 ];
                action accept;
            }
            rule 21 {
                description "R139-8: inner hosts ping the gateway, never the Internet";
                protocol icmpv6;
                icmp-type echo-request;
                destination [ 2001:db8:1::1 2001:db8:3::/64 ];
                action accept;
            }
        }
        egress {
            rule 1000 { action accept; }
        }
    }
    outer0 {
        ingress {
            rule 5 {
                description "R139-7: no outer to inner traffic except via the shielded subnet";
                destination 198.18.1.0/24;
                action drop;
                log;
            }
            rule 6 {
                description "R139-7: no outer to inner traffic except via the shielded subnet";
                destination 2001:db8:1::/64;
                action drop;
                log;
            }
            rule 10 {
                description "outer hosts browse the Internet";
                protocol tcp;
                destination-port [ 80 443 ];
                action accept;
            }
            rule 20 {
                description "outer hosts resolve names";
                protocol udp;
                destination-port 53;
                action accept;
            }
            rule 21 {
                description "outer hosts resolve names";
                protocol tcp;
                destination-port 53;
                action accept;
            }
            rule 30 {
                description "iperf3 to the Internet test server";
                protocol tcp;
                destination 203.0.113.10;
                destination-port 5201;
                action accept;
            }
            rule 31 {
                description "iperf3 to the Internet test server";
                protocol tcp;
                destination 2001:db8:100::10;
                destination-port 5201;
                action accept;
            }
            rule 32 {
                description "iperf3 to the Internet test server";
                protocol udp;
                destination 203.0.113.10;
                destination-port 5201;
                action accept;
            }
            rule 33 {
                description "iperf3 to the Internet test server";
                protocol udp;
                destination 2001:db8:100::10;
                destination-port 5201;
                action accept;
            }
            rule 40 {
                description "R139-7: outer hosts reach the shielded web server";
                protocol tcp;
                destination 198.18.3.0/24;
                destination-port 80;
                action accept;
            }
            rule 41 {
                description "R139-7: outer hosts reach the shielded web server";
                protocol tcp;
                destination 2001:db8:3::/64;
                destination-port 80;
                action accept;
            }
            rule 50 {
                description "outer hosts ping";
                protocol icmp;
                icmp-type echo-request;
                action accept;
            }
            rule 51 {
                description "outer hosts ping";
                protocol icmpv6;
                icmp-type echo-request;
                action accept;
            }
            rule 60 {
                description "lab: TCP reset test";
                protocol tcp;
                destination-port 8080;
                action reject;
            }
            rule 61 {
                description "lab: ICMP unreachable test";
                protocol udp;
                destination-port 9;
                action reject;
            }
            rule 70 {
                description "telnet is refused and logged";
                protocol tcp;
                destination-port 23;
                action drop;
                log;
            }
        }
        egress {
            rule 1000 { action accept; }
        }
    }
    dmz0 {
        ingress {
            rule 10 {
                description "the shielded server resolves names";
                protocol udp;
                destination 203.0.113.10;
                destination-port 53;
                action accept;
            }
            rule 11 {
                description "the shielded server resolves names";
                protocol udp;
                destination 2001:db8:100::10;
                destination-port 53;
                action accept;
            }
            rule 20 {
                description "diagnostics: the shielded subnet pings its gateway";
                protocol icmp;
                icmp-type echo-request;
                destination 198.18.3.1;
                action accept;
            }
            rule 21 {
                description "diagnostics: the shielded subnet pings its gateway";
                protocol icmpv6;
                icmp-type echo-request;
                destination 2001:db8:3::1;
                action accept;
            }
        }
        egress {
            rule 1000 { action accept; }
        }
    }
    inet0 {
        ingress {
            rule 10 {
                description "the published shielded web server";
                protocol tcp;
                destination 198.18.3.10;
                destination-port 80;
                action accept;
            }
            rule 11 {
                description "the published shielded web server";
                protocol tcp;
                destination 2001:db8:3::10;
                destination-port 80;
                action accept;
            }
            rule 20 {
                description "the Internet pings the gateway only";
                protocol icmp;
                icmp-type echo-request;
                destination 203.0.113.1;
                action accept;
            }
            rule 21 {
                description "the Internet pings the gateway only";
                protocol icmpv6;
                icmp-type echo-request;
                destination 2001:db8:100::1;
                action accept;
            }
        }
        egress {
            rule 10 {
                description "R139-8: inner hosts never reach the Internet";
                source 198.18.1.0/24;
                action drop;
                log;
            }
            rule 11 {
                description "R139-8: inner hosts never reach the Internet";
                source 2001:db8:1::/64;
                action drop;
                log;
            }
            rule 1000 { action accept; }
        }
    }
}
routes {
    route 198.51.100.0/24 { via 203.0.113.254; }
}
nat {
    # R90-1-6: no inside address reaches the Internet.
    source lan-internet {
        interface inet0;
        from [ 198.18.1.0/24 198.18.2.0/24 198.18.3.0/24 ];
    }
    # R128-d, R139-10-1: the shielded web server published as 203.0.113.50.
    static web {
        interface inet0;
        inside 198.18.3.10;
        outside 203.0.113.50;
    }
}
security {
    categories {
        # R134-1 blocks VPN, remote access, p2p, games, unknown and malicious applications on
        # every forwarded flow. R134-2: the lab's measurement tool, iperf3 (an application
        # nDPI does not know), is agreed for the outer hosts.
        exception lab-measurement {
            source [ 198.18.2.0/24 2001:db8:2::/64 ];
            organization "Qorgan lab";
            category unknown;
            reference "lab: iperf3 from the outer hosts to the Internet test server";
        }
    }
}
dataplane {
    workers 1;
    max-flows 262144;
    idle-sleep 50;
    timeouts {
        tcp-syn 30;
        tcp-established 3600;
        tcp-closing 120;
        tcp-closed 10;
        udp 60;
        udp-stream 180;
        icmp 30;
        other 60;
    }
}
)conf";

} // namespace

std::string_view default_config_text() {
    return default_text;
}

} // namespace qorgan::config

// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target for category blocking's parsers of untrusted input: the inspector that
// turns a flow's packets into what nDPI sees (TCP turns coalesced, retransmissions, gaps,
// headers of any length), nDPI 4.2 behind it, and the malicious list file parser. The first
// byte picks which; for flows, every verdict must come once and the table must end empty.
#include "classifiers/category_map.h"
#include "classifiers/inspector.h"
#include "classifiers/lists.h"
#include "classifiers/module.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

using namespace qorgan::dpi;

namespace {

const ModuleSet &modules() {
    static std::shared_ptr<ModuleSet> set = [] {
        MaliciousList l;
        l.domains = {"evil.example"};
        auto s = ModuleSet::create(l, 1);
        if (!s)
            std::abort();
        return s.value();
    }();
    return *set;
}

void put32(uint8_t *p, uint32_t v) {
    p[0] = uint8_t(v >> 24);
    p[1] = uint8_t(v >> 16);
    p[2] = uint8_t(v >> 8);
    p[3] = uint8_t(v);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4)
        return 0;
    if (data[0] & 0x80) {
        // A list file: whatever it says, an error names a line or the entries are valid.
        auto l = parse_list(std::string_view(reinterpret_cast<const char *>(data + 1), size - 1),
                            "fuzz.list");
        if (l)
            AddressSet set(l.value().addresses);
        return 0;
    }
    static Inspector in(4);
    const Module &m = modules().module(0);
    uint8_t proto = (data[0] & 3) == 0 ? 6 : (data[0] & 3) == 1 ? 17 : 47;
    uint8_t family = (data[0] & 4) ? 6 : 4;
    uint32_t budget = uint32_t(data[1] % 16) + 1;
    uint32_t src[4] = {0x0a0012c6u, 1, 2, 3}, dst[4] = {0x0a7100cbu, 4, 5, 6};
    uint32_t h = in.open();
    if (h == 0)
        std::abort();
    uint32_t seq[2] = {1000, 70000};
    bool decided = false;
    size_t off = 2;
    std::vector<uint8_t> pkt;
    while (off + 2 <= size && !decided) {
        uint8_t ctl = data[off], len = data[off + 1];
        off += 2;
        size_t n = std::min<size_t>(len, size - off);
        unsigned dir = ctl & 1;
        pkt.clear();
        if (proto == 6) {
            pkt.assign(20, 0);
            pkt[12] = uint8_t(((ctl >> 4) & 0xf) << 4); // any data offset, even a wrong one
            pkt[13] = uint8_t(ctl & 0x1e ? (ctl & 0x1e) | 0x10 : 0x18);
            // Bits 5-6 of ctl move the sequence number: in order, back (a retransmission) or
            // ahead (a gap).
            uint32_t s = seq[dir] + ((ctl & 0x20) ? uint32_t(n) : 0) - ((ctl & 0x40) ? 7u : 0);
            put32(&pkt[4], s);
            put32(&pkt[8], seq[dir ^ 1]);
            seq[dir] += uint32_t(n);
        } else if (proto == 17) {
            pkt.assign(8, 0);
        }
        pkt.insert(pkt.end(), data + off, data + off + n);
        off += n;
        PacketView v;
        v.family = family;
        v.proto = proto;
        v.src = src;
        v.dst = dst;
        v.sport = 0x3412;
        v.dport = uint16_t(data[1]) << 8 | 0x01;
        v.reply = dir;
        v.l4 = pkt.data();
        v.l4_len = uint32_t(pkt.size());
        v.now_ms = off;
        if (auto d = in.feed(m, h, v, budget)) {
            decided = true;
            (void)category_of(*d);
            (void)modules().name_of(d->protocol());
        }
    }
    in.close(h);
    if (in.in_use() != 0)
        std::abort();
    return 0;
}

// SPDX-License-Identifier: GPL-2.0-or-later
// The control socket's ipsec-* ops (docs/IPSEC.md) answered from the IPsec state and the
// running configuration. Pure (no DPDK), so unit tests drive it with a fake crypto backend.
#pragma once

#include "common/framing.h"
#include "config/model.h"
#include "dataplane/control_request.h"
#include "dataplane/ipsec_state.h"

#include <cstdint>
#include <functional>
#include <optional>

namespace qorgan::dp {

// The gateway's address towards a peer (the running snapshot's Snapshot::source_towards),
// or nothing when no interface leads there.
using LocalAddress = std::function<std::optional<config::Address>(const config::Address &peer)>;

// The peers of the running configuration as qorgan-ike reads them (secrets included); a
// peer without a local-address gets local_for's.
Json ipsec_peers_json(const config::Config &conf, uint32_t revision, const LocalAddress &local_for);

// Answers one ipsec op; `ipsec` may be null when the dataplane runs without ESP.
Json ipsec_handle(const Request &req, IpsecState *ipsec, const config::Config &conf,
                  uint32_t revision, uint64_t now_ms, const LocalAddress &local_for = {});

} // namespace qorgan::dp

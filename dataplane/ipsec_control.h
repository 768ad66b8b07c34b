// SPDX-License-Identifier: GPL-2.0-or-later
// The control socket's ipsec-* ops (docs/IPSEC.md) answered from the IPsec state and the
// running configuration. Pure (no DPDK), so unit tests drive it with a fake crypto backend.
#pragma once

#include "common/framing.h"
#include "config/model.h"
#include "dataplane/control_request.h"
#include "dataplane/ipsec_state.h"

#include <cstdint>

namespace qorgan::dp {

// The gateway's address towards `peer` by the configuration's connected subnets and static
// routes (longest prefix), or family 0 when no interface leads there.
config::Address local_address_towards(const config::Config &conf, const config::Address &peer);

// The peers of the running configuration as qorgan-ike reads them (secrets included).
Json ipsec_peers_json(const config::Config &conf, uint32_t revision);

// Answers one ipsec op; `ipsec` may be null when the dataplane runs without ESP.
Json ipsec_handle(const Request &req, IpsecState *ipsec, const config::Config &conf,
                  uint32_t revision, uint64_t now_ms);

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
// nDPI 4.2 creates some of a module's LRU caches (BitTorrent peers, STUN, TLS certificates,
// mining hosts, ...) lazily, the first time a dissector wants one: on a worker that would be
// an allocation on the hot path, and a module-owned block in the worker's arena. They are
// created here instead, with the module, on the thread that builds it. The module's
// structure is only public with NDPI_LIB_COMPILATION: its layout is checked against the
// library through a field the API also returns, and nothing is touched when they differ.
#define NDPI_LIB_COMPILATION
#include "classifiers/ndpi_caches.h"

#include <ndpi/ndpi_api.h>

namespace qorgan::dpi {

bool precreate_caches(ndpi_detection_module_struct *m) {
    if (m->ndpi_num_supported_protocols != ndpi_get_num_supported_protocols(m))
        return false;
    // The sizes nDPI 4.2 itself uses when it creates them.
    struct {
        ndpi_lru_cache **cache;
        uint32_t entries;
    } caches[] = {
        {&m->ookla_cache, 1024},   {&m->bittorrent_cache, 32768}, {&m->zoom_cache, 512},
        {&m->stun_cache, 1024},    {&m->tls_cert_cache, 1024},    {&m->mining_cache, 1024},
        {&m->msteams_cache, 1024},
    };
    for (auto &c : caches)
        if (!*c.cache && !(*c.cache = ndpi_lru_cache_init(c.entries)))
            return false;
    return true;
}

} // namespace qorgan::dpi

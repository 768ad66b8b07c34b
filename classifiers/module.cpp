// SPDX-License-Identifier: GPL-2.0-or-later
#include "classifiers/module.h"

#include "classifiers/dpi_arena.h"
#include "classifiers/ndpi_caches.h"

#include <ndpi/ndpi_api.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace qorgan::dpi {

namespace {

// nDPI's initialisation touches global state: never two at once in this process.
std::mutex init_lock;
// libgcrypt (nDPI's QUIC decryption) is initialised by the first module only: a later module
// is built while workers already use it.
bool gcrypt_ready = false;

} // namespace

Result<std::unique_ptr<Module>> Module::create(const std::vector<std::string> &domains) {
    Arena::install_hooks();
    Arena::Unbound from_malloc;
    std::lock_guard<std::mutex> g(init_lock);
    std::unique_ptr<Module> m(new Module);
    m->_m = ndpi_init_detection_module(gcrypt_ready ? ndpi_dont_init_libgcrypt : ndpi_no_prefs);
    gcrypt_ready = true;
    if (!m->_m)
        return Error{{}, "nDPI: cannot create a detection module (out of memory?)"};
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(m->_m, &all);
    for (const std::string &d : domains)
        if (ndpi_load_hostname_category(
                m->_m, d.c_str(), static_cast<ndpi_protocol_category_t>(CUSTOM_CATEGORY_MALWARE)) !=
            0)
            return Error{{}, "nDPI refused the malicious domain " + d};
    ndpi_finalize_initialization(m->_m);
    if (!domains.empty())
        ndpi_enable_loaded_categories(m->_m);
    // Not fatal when it cannot: nDPI then makes them lazily on the worker, from its arena
    // (module-owned blocks freed later by another thread go back through the remote list).
    m->_caches_ready = precreate_caches(m->_m);
    return m;
}

Module::~Module() {
    Arena::Unbound from_malloc;
    if (_m)
        ndpi_exit_detection_module(_m);
}

Result<std::shared_ptr<ModuleSet>> ModuleSet::create(MaliciousList lists, unsigned workers) {
    std::shared_ptr<ModuleSet> set(new ModuleSet(std::move(lists)));
    for (unsigned w = 0; w < std::max(workers, 1u); w++) {
        auto m = Module::create(set->_lists.domains);
        if (!m)
            return m.error();
        set->_modules.push_back(std::move(m.value()));
    }
    ndpi_detection_module_struct *m = set->_modules[0]->get();
    unsigned n = ndpi_get_num_supported_protocols(m);
    set->_names.reserve(n);
    for (unsigned i = 0; i < n; i++) {
        const char *name = ndpi_get_proto_name(m, uint16_t(i));
        set->_names.emplace_back(i == 0 || !name ? "unknown" : name);
    }
    return set;
}

const std::string &ModuleSet::name_of(uint16_t protocol) const {
    static const std::string unknown = "unknown";
    return protocol < _names.size() ? _names[protocol] : unknown;
}

std::optional<uint16_t> ModuleSet::id_of(std::string_view name) const {
    auto same = [&](const std::string &n) {
        return n.size() == name.size() &&
               std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
                   return std::tolower(static_cast<unsigned char>(a)) ==
                          std::tolower(static_cast<unsigned char>(b));
               });
    };
    for (size_t i = 1; i < _names.size(); i++)
        if (same(_names[i]))
            return uint16_t(i);
    return std::nullopt;
}

} // namespace qorgan::dpi

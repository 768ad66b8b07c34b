// SPDX-License-Identifier: GPL-2.0-or-later
// nDPI 4.2 detection modules: one per worker (a module keeps per-packet scratch state and
// must never be shared), built with the malicious domain list loaded. nDPI cannot reload a
// list in place, so a changed list means a new ModuleSet built aside (off the hot path) and
// swapped in with the next policy snapshot; an unchanged list keeps the running set.
#pragma once

#include "classifiers/lists.h"
#include "common/result.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct ndpi_detection_module_struct;

namespace qorgan::dpi {

class Module {
public:
    // Guessing on give-up stays off (the caller never asks for it), so "unknown" means that
    // nDPI recognised nothing. domains: loaded as nDPI's Malware category.
    static Result<std::unique_ptr<Module>> create(const std::vector<std::string> &domains);
    ~Module();
    Module(const Module &) = delete;
    Module &operator=(const Module &) = delete;

    ndpi_detection_module_struct *get() const { return _m; }
    // Whether nDPI's lazily made caches were made with the module (ndpi_caches.h).
    bool caches_ready() const { return _caches_ready; }

private:
    Module() = default;
    ndpi_detection_module_struct *_m = nullptr;
    bool _caches_ready = false;
};

class ModuleSet {
public:
    // Builds one module per worker, one at a time (nDPI's initialisation is not reentrant).
    static Result<std::shared_ptr<ModuleSet>> create(MaliciousList lists, unsigned workers);

    Module &module(unsigned worker) const { return *_modules[worker]; }
    unsigned workers() const { return unsigned(_modules.size()); }
    const MaliciousList &lists() const { return _lists; }
    const AddressSet &addresses() const { return _addresses; }

    // nDPI's name for a protocol id ("BitTorrent"), "unknown" for 0 or an id out of range.
    const std::string &name_of(uint16_t protocol) const;
    // A protocol id by its nDPI name, case-insensitively.
    std::optional<uint16_t> id_of(std::string_view name) const;
    size_t protocols() const { return _names.size(); }

private:
    ModuleSet(MaliciousList lists) : _lists(std::move(lists)), _addresses(_lists.addresses) {}
    MaliciousList _lists;
    AddressSet _addresses;
    std::vector<std::unique_ptr<Module>> _modules;
    std::vector<std::string> _names;
};

} // namespace qorgan::dpi

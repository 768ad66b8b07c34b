// SPDX-License-Identifier: GPL-2.0-or-later
// Creates the LRU caches nDPI 4.2 would otherwise create lazily on a worker (ndpi_caches.cpp).
#pragma once

struct ndpi_detection_module_struct;

namespace qorgan::dpi {

// False when the module's layout is not the one this build knows (nothing was touched) or
// a cache could not be made.
bool precreate_caches(ndpi_detection_module_struct *m);

} // namespace qorgan::dpi

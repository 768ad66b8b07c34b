// SPDX-License-Identifier: GPL-2.0-or-later
// QR codes drawn as text, so TOTP enrolment works over SSH and on a serial console.
#pragma once

#include "common/result.h"

#include <string>

namespace qorgan::auth {

// Modules of quiet zone drawn around the symbol.
inline constexpr int qr_quiet_zone = 2;

// A QR code (libqrencode, ECC level M, 8-bit mode) drawn for a terminal, with a 2-module
// quiet zone; every line ends with '\n'. ascii=false uses Unicode half blocks (two module
// rows per text line), ascii=true uses "##"/"  " (two characters per module, one line per
// row). Light modules are drawn in ink and dark ones left blank: terminals and serial
// consoles show light text on black, which then reads as the usual dark-on-light code.
Result<std::string> qr_terminal(const std::string &text, bool ascii);

} // namespace qorgan::auth

// SPDX-License-Identifier: GPL-2.0-or-later
// libqrencode's module matrix turned into lines of text.
#include "control/auth/qr.h"

#include <qrencode.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace qorgan::auth {

Result<std::string> qr_terminal(const std::string &text, bool ascii) {
    if (text.empty())
        return Error{{}, "nothing to draw: the QR code text is empty"};
    errno = 0;
    std::unique_ptr<QRcode, decltype(&QRcode_free)> code(
        QRcode_encodeData(static_cast<int>(text.size()),
                          reinterpret_cast<const unsigned char *>(text.data()), 0, QR_ECLEVEL_M),
        &QRcode_free);
    if (!code)
        return Error{{},
                     "cannot make a QR code of " + std::to_string(text.size()) +
                         " bytes: " + (errno == ERANGE ? "too long" : std::strerror(errno))};
    const int width = code->width;
    const int side = width + 2 * qr_quiet_zone;
    // libqrencode: bit 0 of each byte is set for a dark module.
    auto dark = [&](int row, int col) {
        row -= qr_quiet_zone;
        col -= qr_quiet_zone;
        if (row < 0 || col < 0 || row >= width || col >= width)
            return false;
        return (code->data[row * width + col] & 1) != 0;
    };
    std::string out;
    if (ascii) {
        for (int row = 0; row < side; row++) {
            for (int col = 0; col < side; col++)
                out += dark(row, col) ? "  " : "##";
            out += '\n';
        }
        return out;
    }
    // Rows past the bottom count as quiet zone, i.e. light.
    for (int row = 0; row < side; row += 2) {
        for (int col = 0; col < side; col++) {
            bool top = !dark(row, col);
            bool bottom = row + 1 >= side || !dark(row + 1, col);
            out += top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
        }
        out += '\n';
    }
    return out;
}

} // namespace qorgan::auth

// SPDX-License-Identifier: GPL-2.0-or-later
// A certificate peer's own files (certificate, private key, CA), read and checked by
// qorgan-ike before it hands them to charon (R128-h, docs/IPSEC.md "qorgan-ike"): each file
// readable and PEM; the key is the certificate's; the certificate chains to the configured CA
// (the CA is the trust anchor, so it may be an intermediate); no name of the certificate or
// the CA (subject or issuer attribute, subjectAltName) embeds a NUL byte, which a reader that
// stops at the NUL would take for another, shorter name. Validity dates are left to charon and
// the peer. What was checked is what gets written: the caller copies these bytes, not the
// paths again.
#pragma once

#include "common/result.h"
#include "ike/swanctl_render.h"

#include <string>

namespace qorgan::ike {

struct CertificateFiles {
    std::string certificate; // PEM, as read
    std::string ca;
    std::string private_key; // wiped by the destructor
    CertificateFiles() = default;
    CertificateFiles(const CertificateFiles &) = delete;
    CertificateFiles &operator=(const CertificateFiles &) = delete;
    CertificateFiles(CertificateFiles &&) = default;
    CertificateFiles &operator=(CertificateFiles &&) = default;
    ~CertificateFiles();
};

// Errors read "ipsec peer 'NAME': certificate /path: not a PEM certificate" and the like:
// the peer, the field, the file and what is wrong.
Result<CertificateFiles> load_certificate_files(const Peer &peer);

// The first NUL-embedding name of a PEM certificate ("subject CN", "subjectAltName DNS"),
// empty when there is none or the text is no certificate. For the tests and the checks above.
std::string nul_in_names(const std::string &pem);

} // namespace qorgan::ike

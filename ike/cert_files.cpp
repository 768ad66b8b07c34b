// SPDX-License-Identifier: GPL-2.0-or-later
// A certificate peer's files, checked before charon gets them; see cert_files.h.
#include "ike/cert_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <sys/stat.h>
#include <tuple>

namespace qorgan::ike {

namespace {

template <typename T, void (*F)(T *)>
struct Deleter {
    void operator()(T *p) const { F(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

Error file_error(const Peer &p, const char *field, const std::string &path,
                 const std::string &what) {
    return Error{{}, "ipsec peer '" + p.name + "': " + field + " " + path + ": " + what};
}

// At most 1 MiB: a certificate or a key is a few KiB.
Result<std::string> read_file(const Peer &p, const char *field, const std::string &path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0)
        return file_error(p, field, path, std::string("cannot read: ") + std::strerror(errno));
    if (!S_ISREG(st.st_mode))
        return file_error(p, field, path, "not a regular file");
    if (st.st_size > (1 << 20))
        return file_error(p, field, path, "larger than 1 MiB");
    std::ifstream f(path, std::ios::binary);
    if (!f)
        return file_error(p, field, path, std::string("cannot read: ") + std::strerror(errno));
    std::ostringstream s;
    s << f.rdbuf();
    if (f.bad())
        return file_error(p, field, path, "read error");
    return s.str();
}

X509Ptr parse_certificate(const std::string &pem) {
    std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>> bio(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    ERR_clear_error();
    return cert;
}

// Never asks for a passphrase: an encrypted key is refused (charon could not use it either
// without a secret, and qorgan-ike has none to give).
int no_passphrase(char *, int, int, void *) {
    return -1;
}

KeyPtr parse_key(const std::string &pem) {
    std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>> bio(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    KeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
    ERR_clear_error();
    return key;
}

// True when the string holds a NUL once read as UTF-8 (a BMPString's zero high bytes are
// encoding, not NULs; its U+0000 is one).
bool has_nul(const ASN1_STRING *s) {
    unsigned char *utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, s);
    if (len < 0) {
        ERR_clear_error();
        // not convertible: judge the raw bytes
        return std::memchr(ASN1_STRING_get0_data(s), 0, ASN1_STRING_length(s)) != nullptr;
    }
    bool nul = std::memchr(utf8, 0, static_cast<size_t>(len)) != nullptr;
    OPENSSL_free(utf8);
    return nul;
}

std::string nul_in_name(const X509_NAME *name, const char *which) {
    for (int i = 0; i < X509_NAME_entry_count(name); i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        if (!has_nul(X509_NAME_ENTRY_get_data(e)))
            continue;
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
        const char *sn = nid == NID_undef ? "attribute" : OBJ_nid2sn(nid);
        return std::string(which) + " " + sn;
    }
    return "";
}

std::string nul_in_certificate(X509 *cert) {
    auto n = nul_in_name(X509_get_subject_name(cert), "subject");
    if (n.empty())
        n = nul_in_name(X509_get_issuer_name(cert), "issuer");
    if (!n.empty())
        return n;
    NamesPtr names(static_cast<GENERAL_NAMES *>(
        X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names.get(), i);
        switch (g->type) {
        case GEN_DNS:
            if (has_nul(g->d.dNSName))
                return "subjectAltName DNS";
            break;
        case GEN_EMAIL:
            if (has_nul(g->d.rfc822Name))
                return "subjectAltName email";
            break;
        case GEN_URI:
            if (has_nul(g->d.uniformResourceIdentifier))
                return "subjectAltName URI";
            break;
        case GEN_DIRNAME: {
            auto d = nul_in_name(g->d.directoryName, "subjectAltName DirName");
            if (!d.empty())
                return d;
            break;
        }
        default:
            break;
        }
    }
    ERR_clear_error();
    return "";
}

// X509_verify_cert with the CA as the only trust anchor; dates are not checked here.
std::string chain_error(X509 *cert, X509 *ca) {
    StorePtr store(X509_STORE_new());
    StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (!store || !ctx || X509_STORE_add_cert(store.get(), ca) != 1 ||
        X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1) {
        ERR_clear_error();
        return "cannot set up the verification";
    }
    X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
    int ok = X509_verify_cert(ctx.get());
    ERR_clear_error();
    if (ok == 1)
        return "";
    return X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

} // namespace

CertificateFiles::~CertificateFiles() {
    if (!private_key.empty())
        OPENSSL_cleanse(private_key.data(), private_key.size());
}

std::string nul_in_names(const std::string &pem) {
    auto cert = parse_certificate(pem);
    return cert ? nul_in_certificate(cert.get()) : "";
}

Result<CertificateFiles> load_certificate_files(const Peer &p) {
    CertificateFiles out;
    for (auto [field, path, to] : {std::tuple{"certificate", &p.certificate, &out.certificate},
                                   std::tuple{"ca", &p.ca, &out.ca},
                                   std::tuple{"private_key", &p.private_key, &out.private_key}}) {
        auto text = read_file(p, field, *path);
        if (!text)
            return text.error();
        *to = std::move(*text);
    }
    auto cert = parse_certificate(out.certificate);
    if (!cert)
        return file_error(p, "certificate", p.certificate, "not a PEM certificate");
    auto ca = parse_certificate(out.ca);
    if (!ca)
        return file_error(p, "ca", p.ca, "not a PEM certificate");
    auto key = parse_key(out.private_key);
    if (!key)
        return file_error(p, "private_key", p.private_key,
                          "not a PEM private key (an encrypted key is not accepted)");
    if (auto n = nul_in_certificate(cert.get()); !n.empty())
        return file_error(p, "certificate", p.certificate, "a NUL byte in its " + n);
    if (auto n = nul_in_certificate(ca.get()); !n.empty())
        return file_error(p, "ca", p.ca, "a NUL byte in its " + n);
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
        ERR_clear_error();
        return file_error(p, "private_key", p.private_key,
                          "not the key of the certificate " + p.certificate);
    }
    if (auto e = chain_error(cert.get(), ca.get()); !e.empty())
        return file_error(p, "certificate", p.certificate,
                          "does not chain to the configured ca " + p.ca + ": " + e);
    return out;
}

} // namespace qorgan::ike

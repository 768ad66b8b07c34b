// SPDX-License-Identifier: GPL-2.0-or-later
// qorgan-ike's checks of a certificate peer's own files before charon gets them (R128-h,
// docs/IPSEC.md "qorgan-ike"): readable, PEM, the key the certificate's, the certificate
// chained to the configured CA, no NUL byte in a name. Keys and certificates are made here,
// at test time (ECDSA P-256), never committed.
#include "ike/cert_files.h"
#include "temp_dir.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <sys/stat.h>

using namespace qorgan::ike;

namespace {

struct Made {
    EVP_PKEY *key = nullptr;
    X509 *cert = nullptr;
    Made() = default;
    Made(const Made &) = delete;
    Made &operator=(const Made &) = delete;
    ~Made() {
        X509_free(cert);
        EVP_PKEY_free(key);
    }
    std::string cert_pem() const {
        BIO *b = BIO_new(BIO_s_mem());
        PEM_write_bio_X509(b, cert);
        char *p;
        long n = BIO_get_mem_data(b, &p);
        std::string s(p, static_cast<size_t>(n));
        BIO_free(b);
        return s;
    }
    std::string key_pem(const char *passphrase = nullptr) const {
        BIO *b = BIO_new(BIO_s_mem());
        PEM_write_bio_PKCS8PrivateKey(b, key, passphrase ? EVP_aes_256_cbc() : nullptr, passphrase,
                                      passphrase ? 8 : 0, nullptr, nullptr);
        char *p;
        long n = BIO_get_mem_data(b, &p);
        std::string s(p, static_cast<size_t>(n));
        BIO_free(b);
        return s;
    }
};

// A certificate with the CN `cn` (any bytes, a NUL too), signed by `issuer` (itself when
// null), a CA or not, with a DNS subjectAltName when `dns` is given (any bytes too).
void make(Made &m, const std::string &cn, const Made *issuer, bool ca,
          const std::string &dns = "") {
    m.key = EVP_EC_gen("P-256");
    ASSERT_NE(m.key, nullptr);
    m.cert = X509_new();
    X509_set_version(m.cert, 2);
    static long serial = 1;
    ASN1_INTEGER_set(X509_get_serialNumber(m.cert), serial++);
    X509_gmtime_adj(X509_getm_notBefore(m.cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(m.cert), 2 * 86400);
    X509_NAME *name = X509_get_subject_name(m.cert);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char *>("Qorgan Test"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char *>(cn.data()),
                               static_cast<int>(cn.size()), -1, 0);
    X509_set_issuer_name(m.cert, issuer ? X509_get_subject_name(issuer->cert) : name);
    X509_set_pubkey(m.cert, m.key);
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    bc->ca = ca ? 0xff : 0;
    X509_add1_ext_i2d(m.cert, NID_basic_constraints, bc, 1, X509V3_ADD_DEFAULT);
    BASIC_CONSTRAINTS_free(bc);
    if (ca) {
        ASN1_BIT_STRING *usage = ASN1_BIT_STRING_new();
        ASN1_BIT_STRING_set_bit(usage, 5, 1); // keyCertSign
        ASN1_BIT_STRING_set_bit(usage, 6, 1); // cRLSign
        X509_add1_ext_i2d(m.cert, NID_key_usage, usage, 1, X509V3_ADD_DEFAULT);
        ASN1_BIT_STRING_free(usage);
    }
    if (!dns.empty()) {
        GENERAL_NAMES *names = GENERAL_NAMES_new();
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
        ASN1_STRING_set(s, dns.data(), static_cast<int>(dns.size()));
        GENERAL_NAME_set0_value(g, GEN_DNS, s);
        sk_GENERAL_NAME_push(names, g);
        X509_add1_ext_i2d(m.cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT);
        GENERAL_NAMES_free(names);
    }
    ASSERT_GT(X509_sign(m.cert, issuer ? issuer->key : m.key, EVP_sha256()), 0);
}

const std::string nul_cn("site1.example\0.evil.example", 27);

class CertFiles : public ::testing::Test {
protected:
    void SetUp() override {
        make(ca, "Test CA", nullptr, true);
        make(other_ca, "Other CA", nullptr, true);
        make(intermediate, "Test Intermediate", &ca, true);
        make(gw, "gw.example", &ca, false, "gw.example");
        make(gw_by_intermediate, "gw2.example", &intermediate, false);
        make(gw_by_other, "gw.example", &other_ca, false);
        make(gw_nul_cn, nul_cn, &ca, false);
        make(gw_nul_san, "gw.example", &ca, false, std::string("gw.example\0.evil", 16));
        make(ca_nul, std::string("Test CA\0 evil", 13), nullptr, true);
        make(gw_by_ca_nul, "gw.example", &ca_nul, false);
    }

    std::string write(const std::string &name, const std::string &text, mode_t mode = 0600) {
        std::string path = dir.path() + "/" + name;
        std::ofstream(path, std::ios::binary) << text;
        chmod(path.c_str(), mode);
        return path;
    }

    // A certificate peer "site1" whose files are these texts.
    Peer peer(const Made &cert, const Made &ca_cert, const Made &key) {
        Peer p;
        p.name = "site1";
        p.auth = "certificate";
        p.certificate = write("cert.pem", cert.cert_pem());
        p.ca = write("ca.pem", ca_cert.cert_pem());
        p.private_key = write("key.pem", key.key_pem());
        return p;
    }

    std::string refusal(const Peer &p) {
        auto r = load_certificate_files(p);
        return r ? "" : r.error().message;
    }

    qorgan::test::TempDir dir{"qorgan-cert-files"};
    Made ca, other_ca, intermediate, gw, gw_by_intermediate, gw_by_other, gw_nul_cn, gw_nul_san,
        ca_nul, gw_by_ca_nul;
};

TEST_F(CertFiles, AChainedCertificateWithItsKeyLoadsAsRead) {
    Peer p = peer(gw, ca, gw);
    auto r = load_certificate_files(p);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->certificate, gw.cert_pem());
    EXPECT_EQ(r->ca, ca.cert_pem());
    EXPECT_EQ(r->private_key, gw.key_pem());
}

TEST_F(CertFiles, AnIntermediateCaIsATrustAnchor) {
    Peer p = peer(gw_by_intermediate, intermediate, gw_by_intermediate);
    EXPECT_EQ(refusal(p), "");
}

TEST_F(CertFiles, AMissingFileOrAFolderNamesThePeerTheFieldAndThePath) {
    Peer p = peer(gw, ca, gw);
    p.ca = dir.path() + "/no-such-ca.pem";
    EXPECT_EQ(refusal(p),
              "ipsec peer 'site1': ca " + p.ca + ": cannot read: No such file or directory");
    p = peer(gw, ca, gw);
    p.private_key = dir.path(); // a folder
    EXPECT_EQ(refusal(p), "ipsec peer 'site1': private_key " + dir.path() + ": not a regular file");
}

TEST_F(CertFiles, TextThatIsNotPemIsRefusedPerFile) {
    Peer p = peer(gw, ca, gw);
    p.certificate = write("cert.txt", "hello\n");
    EXPECT_EQ(refusal(p),
              "ipsec peer 'site1': certificate " + p.certificate + ": not a PEM certificate");
    p = peer(gw, ca, gw);
    p.ca = write("ca.der", std::string("\x30\x82\x01\x00", 4));
    EXPECT_EQ(refusal(p), "ipsec peer 'site1': ca " + p.ca + ": not a PEM certificate");
    p = peer(gw, ca, gw);
    p.private_key = write("key.txt", gw.cert_pem()); // a certificate where the key should be
    EXPECT_EQ(refusal(p), "ipsec peer 'site1': private_key " + p.private_key +
                              ": not a PEM private key (an encrypted key is not accepted)");
}

TEST_F(CertFiles, AnEncryptedKeyIsRefusedWithoutAPrompt) {
    Peer p = peer(gw, ca, gw);
    p.private_key = write("enc.pem", gw.key_pem("passphrase"));
    EXPECT_NE(refusal(p).find("not a PEM private key"), std::string::npos);
}

TEST_F(CertFiles, AnotherCertificatesKeyIsRefused) {
    Peer p = peer(gw, ca, gw_by_other);
    EXPECT_EQ(refusal(p), "ipsec peer 'site1': private_key " + p.private_key +
                              ": not the key of the certificate " + p.certificate);
}

TEST_F(CertFiles, ACertificateOfAnotherCaIsRefused) {
    Peer p = peer(gw_by_other, ca, gw_by_other);
    EXPECT_EQ(refusal(p), "ipsec peer 'site1': certificate " + p.certificate +
                              ": does not chain to the configured ca " + p.ca +
                              ": unable to get local issuer certificate");
    // the CA's issuer is not enough: the CA configured is the trust anchor
    p = peer(gw_by_intermediate, ca, gw_by_intermediate);
    EXPECT_NE(refusal(p).find("does not chain to the configured ca"), std::string::npos);
}

TEST_F(CertFiles, ANulByteInANameIsRefused) {
    EXPECT_EQ(nul_in_names(gw.cert_pem()), "");
    EXPECT_EQ(nul_in_names(gw_nul_cn.cert_pem()), "subject CN");
    EXPECT_EQ(nul_in_names(gw_nul_san.cert_pem()), "subjectAltName DNS");
    EXPECT_EQ(nul_in_names(gw_by_ca_nul.cert_pem()), "issuer CN");
    Peer p = peer(gw_nul_cn, ca, gw_nul_cn);
    EXPECT_EQ(refusal(p), "ipsec peer 'site1': certificate " + p.certificate +
                              ": a NUL byte in its subject CN");
    p = peer(gw_nul_san, ca, gw_nul_san);
    EXPECT_EQ(refusal(p), "ipsec peer 'site1': certificate " + p.certificate +
                              ": a NUL byte in its subjectAltName DNS");
    p = peer(gw_by_ca_nul, ca_nul, gw_by_ca_nul);
    EXPECT_EQ(refusal(p),
              "ipsec peer 'site1': certificate " + p.certificate + ": a NUL byte in its issuer CN");
    p = peer(gw, ca_nul, gw);
    EXPECT_EQ(refusal(p), "ipsec peer 'site1': ca " + p.ca + ": a NUL byte in its subject CN");
}

} // namespace

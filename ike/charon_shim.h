/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A plain C API between strongSwan's libcharon and qorgan-ike's C++ (strongSwan's headers
 * do not compile as C++). The shim embeds charon and gives it a kernel_ipsec_t whose SAs and
 * policies go to these callbacks (docs/IPSEC.md "qorgan-ike"). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { QK_ADDR_LEN = 64 };

/* One SA as charon hands it over. SPI in host order; addresses as text; keys only valid
 * during the callback (charon wipes them afterwards). */
typedef struct qk_sa {
    uint32_t spi;
    int inbound;
    char src[QK_ADDR_LEN];
    char dst[QK_ADDR_LEN];
    uint32_t reqid;
    int tunnel;       /* tunnel mode; transport otherwise */
    uint16_t enc_alg; /* IKEv2 transform IDs (IANA): 20 = AES-GCM-16, 12 = AES-CBC */
    uint16_t int_alg; /* 12 = HMAC-SHA2-256-128, 0 = none (AEAD) */
    const uint8_t *enc_key;
    size_t enc_key_len;
    const uint8_t *int_key;
    size_t int_key_len;
    int esn;
    uint32_t replay_window;
    int encap; /* UDP encapsulation (NAT-T) with these ports */
    uint16_t encap_sport;
    uint16_t encap_dport;
    uint64_t soft_bytes, hard_bytes, soft_packets, hard_packets; /* 0: no limit */
} qk_sa_t;

typedef struct qk_sa_update {
    uint32_t spi;
    char src[QK_ADDR_LEN];
    char dst[QK_ADDR_LEN];
    char new_src[QK_ADDR_LEN];
    char new_dst[QK_ADDR_LEN];
    int new_encap;
    uint16_t encap_sport;
    uint16_t encap_dport;
} qk_sa_update_t;

enum qk_policy_dir { QK_DIR_IN = 0, QK_DIR_OUT = 1, QK_DIR_FWD = 2 };

typedef struct qk_policy {
    int dir;                   /* enum qk_policy_dir */
    char src[QK_ADDR_LEN + 4]; /* "net/len" */
    char dst[QK_ADDR_LEN + 4];
    uint8_t proto; /* 0: any */
    uint32_t reqid;
    int tunnel;
    char tunnel_src[QK_ADDR_LEN]; /* the SA's endpoints, "" when not given */
    char tunnel_dst[QK_ADDR_LEN];
    int ipsec; /* 1: protect; 0: pass or drop policy (not forwarded) */
} qk_policy_t;

/* Every callback returns 0 on success, non-zero on failure (charon logs it). */
typedef struct qk_callbacks {
    void *ctx;
    int (*add_sa)(void *ctx, const qk_sa_t *sa);
    int (*update_sa)(void *ctx, const qk_sa_update_t *update);
    int (*query_sa)(void *ctx, uint32_t spi, const char *dst, uint64_t *bytes, uint64_t *packets,
                    uint64_t *idle_ms);
    int (*del_sa)(void *ctx, uint32_t spi, const char *dst);
    int (*flush_sas)(void *ctx);
    int (*add_policy)(void *ctx, const qk_policy_t *policy);
    int (*del_policy)(void *ctx, const qk_policy_t *policy);
    int (*flush_policies)(void *ctx);
} qk_callbacks_t;

/* library_init with this strongswan.conf, libcharon_init, the kernel-ipsec feature, the
 * loggers (charon.filelog of the settings, else stderr at log_level) and the plugins of
 * "charon.load". Call once, with SIGINT/SIGTERM/SIGHUP blocked. 0 on success. */
int qk_charon_init(const char *settings_file, const qk_callbacks_t *callbacks, int log_level);
/* Starts charon's threads. */
void qk_charon_start(void);
/* Reports an expired SA to charon (volume lifetimes, which the dataplane counts). */
void qk_charon_expire(uint32_t spi, const char *dst, int hard);
/* Stops charon (IKE SAs are deleted, which removes their SAs) and the library. */
void qk_charon_deinit(void);

#ifdef __cplusplus
}
#endif

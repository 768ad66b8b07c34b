/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Embeds charon and registers a kernel_ipsec_t that hands SAs and policies to qorgan-ike's
 * callbacks (charon_shim.h). charon and lib are per-process singletons, so this file's state
 * is one static instance too. */
#include "ike/charon_shim.h"

#include <daemon.h>
#include <kernel/kernel_ipsec.h>
#include <library.h>
#include <plugins/plugin_feature.h>
#include <processing/jobs/callback_job.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/* The plugins charon loads when the settings name none (those not installed are skipped
 * by qorgan-ike when it writes charon.load). */
#define QK_DEFAULT_PLUGINS                                                                     \
    "random nonce openssl aes sha1 sha2 hmac gcm kdf x509 pem pkcs1 pkcs8 pubkey revocation " \
    "constraints socket-default kernel-netlink vici"

/* An SPI charon knows: allocated by get_spi (inbound) or installed by add_sa. */
typedef struct {
    uint64_t id; /* never reused: an expiry job finds its SA by it */
    uint32_t spi; /* network order, as charon gives it */
    host_t *dst;
    bool installed;
} sa_entry_t;

typedef struct {
    uint64_t id;
    uint32_t spi;
    host_t *dst;
    uint32_t hard_offset; /* 0: this is the hard expiry; else seconds from soft to hard */
} expiry_t;

static struct {
    kernel_ipsec_t public;
    qk_callbacks_t cb;
    pthread_mutex_t lock;
    linked_list_t *sas; /* sa_entry_t */
    uint64_t next_id;
} qk = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void host_text(host_t *host, char *out, size_t len)
{
    chunk_t a = host->get_address(host);
    int family = host->get_family(host);
    out[0] = '\0';
    if (!inet_ntop(family, a.ptr, out, (socklen_t)len))
    {
        out[0] = '\0';
    }
}

static void entry_destroy(sa_entry_t *e)
{
    e->dst->destroy(e->dst);
    free(e);
}

/* Caller holds qk.lock. */
static sa_entry_t *find_sa(uint32_t spi, host_t *dst)
{
    enumerator_t *en = qk.sas->create_enumerator(qk.sas);
    sa_entry_t *e, *found = NULL;
    while (en->enumerate(en, &e))
    {
        if (e->spi == spi && (!dst || e->dst->ip_equals(e->dst, dst)))
        {
            found = e;
            break;
        }
    }
    en->destroy(en);
    return found;
}

static sa_entry_t *add_entry(uint32_t spi, host_t *dst)
{
    sa_entry_t *e = calloc(1, sizeof(*e));
    e->id = ++qk.next_id;
    e->spi = spi;
    e->dst = dst->clone(dst);
    qk.sas->insert_last(qk.sas, e);
    return e;
}

METHOD(kernel_ipsec_t, get_features, kernel_feature_t, kernel_ipsec_t *this)
{
    return 0;
}

/* Random, unique among the SPIs charon holds, never 0-255 (reserved, RFC 4303 2.1). */
METHOD(kernel_ipsec_t, get_spi, status_t, kernel_ipsec_t *this, host_t *src, host_t *dst,
       uint8_t protocol, uint32_t *spi)
{
    for (int tries = 0; tries < 100; tries++)
    {
        uint32_t v;
        if (getrandom(&v, sizeof(v), 0) != sizeof(v))
        {
            return FAILED;
        }
        if (v < 256)
        {
            continue;
        }
        pthread_mutex_lock(&qk.lock);
        if (find_sa(htonl(v), NULL))
        {
            pthread_mutex_unlock(&qk.lock);
            continue;
        }
        add_entry(htonl(v), dst);
        pthread_mutex_unlock(&qk.lock);
        *spi = htonl(v);
        return SUCCESS;
    }
    return FAILED;
}

METHOD(kernel_ipsec_t, get_cpi, status_t, kernel_ipsec_t *this, host_t *src, host_t *dst,
       uint16_t *cpi)
{
    return NOT_SUPPORTED;
}

static job_requeue_t sa_expired(expiry_t *x)
{
    bool alive;
    pthread_mutex_lock(&qk.lock);
    {
        enumerator_t *en = qk.sas->create_enumerator(qk.sas);
        sa_entry_t *e;
        alive = false;
        while (en->enumerate(en, &e))
        {
            if (e->id == x->id && e->installed)
            {
                alive = true;
                break;
            }
        }
        en->destroy(en);
    }
    pthread_mutex_unlock(&qk.lock);
    if (!alive)
    {
        return JOB_REQUEUE_NONE;
    }
    charon->kernel->expire(charon->kernel, IPPROTO_ESP, x->spi, x->dst, x->hard_offset == 0);
    if (x->hard_offset)
    {
        expiry_t *hard = calloc(1, sizeof(*hard));
        *hard = (expiry_t){.id = x->id, .spi = x->spi, .dst = x->dst->clone(x->dst)};
        lib->scheduler->schedule_job(
            lib->scheduler,
            (job_t *)callback_job_create((callback_job_cb_t)sa_expired, hard,
                                         (callback_job_cleanup_t)NULL, NULL),
            x->hard_offset);
    }
    x->dst->destroy(x->dst);
    free(x);
    return JOB_REQUEUE_NONE;
}

/* No kernel expires SAs by time for us: schedule soft (rekey) then hard (life), as
 * kernel-libipsec does. */
static void schedule_expiry(uint64_t id, uint32_t spi, host_t *dst, lifetime_cfg_t *lt)
{
    if (!lt || !lt->time.life)
    {
        return;
    }
    expiry_t *x = calloc(1, sizeof(*x));
    x->id = id;
    x->spi = spi;
    x->dst = dst->clone(dst);
    uint32_t timeout = (uint32_t)lt->time.rekey;
    x->hard_offset = (uint32_t)(lt->time.life - lt->time.rekey);
    if (lt->time.life <= lt->time.rekey || lt->time.rekey == 0)
    {
        x->hard_offset = 0;
        timeout = (uint32_t)lt->time.life;
    }
    lib->scheduler->schedule_job(lib->scheduler,
                                 (job_t *)callback_job_create((callback_job_cb_t)sa_expired, x,
                                                              (callback_job_cleanup_t)NULL, NULL),
                                 timeout);
}

METHOD(kernel_ipsec_t, add_sa, status_t, kernel_ipsec_t *this, kernel_ipsec_sa_id_t *id,
       kernel_ipsec_add_sa_t *data)
{
    qk_sa_t sa;
    memset(&sa, 0, sizeof(sa));
    sa.spi = ntohl(id->spi);
    sa.inbound = data->inbound;
    host_text(id->src, sa.src, sizeof(sa.src));
    host_text(id->dst, sa.dst, sizeof(sa.dst));
    sa.reqid = data->reqid;
    sa.tunnel = data->mode == MODE_TUNNEL;
    sa.enc_alg = data->enc_alg;
    sa.int_alg = data->int_alg == AUTH_UNDEFINED ? 0 : data->int_alg; /* AEAD: none */
    /* The callback copies what it keeps: charon wipes the keys after this call. */
    sa.enc_key = data->enc_key.ptr;
    sa.enc_key_len = data->enc_key.len;
    sa.int_key = data->int_key.ptr;
    sa.int_key_len = data->int_key.len;
    sa.esn = data->esn;
    sa.replay_window = data->replay_window;
    sa.encap = data->encap;
    if (data->encap)
    {
        sa.encap_sport = id->src->get_port(id->src);
        sa.encap_dport = id->dst->get_port(id->dst);
    }
    if (data->lifetime)
    {
        sa.soft_bytes = data->lifetime->bytes.rekey;
        sa.hard_bytes = data->lifetime->bytes.life;
        sa.soft_packets = data->lifetime->packets.rekey;
        sa.hard_packets = data->lifetime->packets.life;
    }
    if (id->proto != IPPROTO_ESP || data->ipcomp != IPCOMP_NONE)
    {
        DBG1(DBG_KNL, "qorgan: only ESP without IPComp is supported");
        return NOT_SUPPORTED;
    }
    if (qk.cb.add_sa(qk.cb.ctx, &sa) != 0)
    {
        return FAILED;
    }
    pthread_mutex_lock(&qk.lock);
    sa_entry_t *e = find_sa(id->spi, id->dst);
    if (!e)
    {
        e = add_entry(id->spi, id->dst);
    }
    e->installed = true;
    uint64_t entry_id = e->id;
    pthread_mutex_unlock(&qk.lock);
    schedule_expiry(entry_id, id->spi, id->dst, data->lifetime);
    return SUCCESS;
}

METHOD(kernel_ipsec_t, update_sa, status_t, kernel_ipsec_t *this, kernel_ipsec_sa_id_t *id,
       kernel_ipsec_update_sa_t *data)
{
    qk_sa_update_t u;
    memset(&u, 0, sizeof(u));
    u.spi = ntohl(id->spi);
    host_text(id->src, u.src, sizeof(u.src));
    host_text(id->dst, u.dst, sizeof(u.dst));
    host_text(data->new_src, u.new_src, sizeof(u.new_src));
    host_text(data->new_dst, u.new_dst, sizeof(u.new_dst));
    u.new_encap = data->new_encap;
    if (data->new_encap)
    {
        u.encap_sport = data->new_src->get_port(data->new_src);
        u.encap_dport = data->new_dst->get_port(data->new_dst);
    }
    if (qk.cb.update_sa(qk.cb.ctx, &u) != 0)
    {
        return FAILED;
    }
    pthread_mutex_lock(&qk.lock);
    sa_entry_t *e = find_sa(id->spi, id->dst);
    if (e)
    {
        e->dst->destroy(e->dst);
        e->dst = data->new_dst->clone(data->new_dst);
    }
    pthread_mutex_unlock(&qk.lock);
    return SUCCESS;
}

METHOD(kernel_ipsec_t, query_sa, status_t, kernel_ipsec_t *this, kernel_ipsec_sa_id_t *id,
       kernel_ipsec_query_sa_t *data, uint64_t *bytes, uint64_t *packets, time_t *time)
{
    char dst[QK_ADDR_LEN];
    uint64_t b = 0, p = 0, idle_ms = 0;
    host_text(id->dst, dst, sizeof(dst));
    if (qk.cb.query_sa(qk.cb.ctx, ntohl(id->spi), dst, &b, &p, &idle_ms) != 0)
    {
        return FAILED;
    }
    if (bytes)
    {
        *bytes = b;
    }
    if (packets)
    {
        *packets = p;
    }
    if (time)
    {
        time_t now = time_monotonic(NULL);
        time_t idle = (time_t)(idle_ms / 1000);
        *time = p ? (idle < now ? now - idle : 0) : 0; /* 0: never used */
    }
    return SUCCESS;
}

METHOD(kernel_ipsec_t, del_sa, status_t, kernel_ipsec_t *this, kernel_ipsec_sa_id_t *id,
       kernel_ipsec_del_sa_t *data)
{
    pthread_mutex_lock(&qk.lock);
    sa_entry_t *e = find_sa(id->spi, id->dst);
    bool installed = e && e->installed;
    if (e)
    {
        qk.sas->remove(qk.sas, e, NULL);
        entry_destroy(e);
    }
    pthread_mutex_unlock(&qk.lock);
    if (!e)
    {
        return NOT_FOUND;
    }
    if (!installed)
    {
        return SUCCESS; /* an SPI allocated for a negotiation that never finished */
    }
    char dst[QK_ADDR_LEN];
    host_text(id->dst, dst, sizeof(dst));
    return qk.cb.del_sa(qk.cb.ctx, ntohl(id->spi), dst) == 0 ? SUCCESS : FAILED;
}

METHOD(kernel_ipsec_t, flush_sas, status_t, kernel_ipsec_t *this)
{
    pthread_mutex_lock(&qk.lock);
    qk.sas->destroy_function(qk.sas, (void *)entry_destroy);
    qk.sas = linked_list_create();
    pthread_mutex_unlock(&qk.lock);
    return qk.cb.flush_sas(qk.cb.ctx) == 0 ? SUCCESS : FAILED;
}

static bool policy_of(kernel_ipsec_policy_id_t *id, kernel_ipsec_manage_policy_t *data,
                      qk_policy_t *p)
{
    host_t *net;
    uint8_t len;
    char addr[QK_ADDR_LEN];
    memset(p, 0, sizeof(*p));
    p->dir = id->dir == POLICY_IN ? QK_DIR_IN : id->dir == POLICY_OUT ? QK_DIR_OUT : QK_DIR_FWD;
    if (!id->src_ts->to_subnet(id->src_ts, &net, &len))
    {
        /* a range that is no subnet: the subnet that covers it is given back anyway */
    }
    host_text(net, addr, sizeof(addr));
    snprintf(p->src, sizeof(p->src), "%s/%u", addr, len);
    net->destroy(net);
    if (!id->dst_ts->to_subnet(id->dst_ts, &net, &len))
    {
    }
    host_text(net, addr, sizeof(addr));
    snprintf(p->dst, sizeof(p->dst), "%s/%u", addr, len);
    net->destroy(net);
    p->proto = id->src_ts->get_protocol(id->src_ts);
    p->ipsec = data->type == POLICY_IPSEC;
    if (data->sa)
    {
        p->reqid = data->sa->reqid;
        p->tunnel = data->sa->mode == MODE_TUNNEL;
    }
    if (data->src)
    {
        host_text(data->src, p->tunnel_src, sizeof(p->tunnel_src));
    }
    if (data->dst)
    {
        host_text(data->dst, p->tunnel_dst, sizeof(p->tunnel_dst));
    }
    return p->ipsec;
}

METHOD(kernel_ipsec_t, add_policy, status_t, kernel_ipsec_t *this, kernel_ipsec_policy_id_t *id,
       kernel_ipsec_manage_policy_t *data)
{
    qk_policy_t p;
    if (!policy_of(id, data, &p))
    {
        return SUCCESS; /* pass/drop policies: not used by Qorgan's connections */
    }
    return qk.cb.add_policy(qk.cb.ctx, &p) == 0 ? SUCCESS : FAILED;
}

METHOD(kernel_ipsec_t, query_policy, status_t, kernel_ipsec_t *this,
       kernel_ipsec_policy_id_t *id, kernel_ipsec_query_policy_t *data, time_t *use_time)
{
    return NOT_SUPPORTED;
}

METHOD(kernel_ipsec_t, del_policy, status_t, kernel_ipsec_t *this, kernel_ipsec_policy_id_t *id,
       kernel_ipsec_manage_policy_t *data)
{
    qk_policy_t p;
    if (!policy_of(id, data, &p))
    {
        return SUCCESS;
    }
    return qk.cb.del_policy(qk.cb.ctx, &p) == 0 ? SUCCESS : FAILED;
}

METHOD(kernel_ipsec_t, flush_policies, status_t, kernel_ipsec_t *this)
{
    return qk.cb.flush_policies(qk.cb.ctx) == 0 ? SUCCESS : FAILED;
}

/* IKE's sockets need no bypass: the dataplane hands IKE to the host, not to a policy. */
METHOD(kernel_ipsec_t, bypass_socket, bool, kernel_ipsec_t *this, int fd, int family)
{
    return TRUE;
}

METHOD(kernel_ipsec_t, enable_udp_decap, bool, kernel_ipsec_t *this, int fd, int family,
       uint16_t port)
{
    return TRUE; /* the dataplane tells ESP-in-UDP from IKE (non-ESP marker) itself */
}

METHOD(kernel_ipsec_t, destroy, void, kernel_ipsec_t *this)
{
    pthread_mutex_lock(&qk.lock);
    if (qk.sas)
    {
        qk.sas->destroy_function(qk.sas, (void *)entry_destroy);
        qk.sas = NULL;
    }
    pthread_mutex_unlock(&qk.lock);
}

static kernel_ipsec_t *qk_kernel_create(void)
{
    qk.public = (kernel_ipsec_t){
        .get_features = _get_features,
        .get_spi = _get_spi,
        .get_cpi = _get_cpi,
        .add_sa = _add_sa,
        .update_sa = _update_sa,
        .query_sa = _query_sa,
        .del_sa = _del_sa,
        .flush_sas = _flush_sas,
        .add_policy = _add_policy,
        .query_policy = _query_policy,
        .del_policy = _del_policy,
        .flush_policies = _flush_policies,
        .bypass_socket = _bypass_socket,
        .enable_udp_decap = _enable_udp_decap,
        .destroy = _destroy,
    };
    pthread_mutex_lock(&qk.lock);
    if (!qk.sas)
    {
        qk.sas = linked_list_create();
    }
    pthread_mutex_unlock(&qk.lock);
    return &qk.public;
}

int qk_charon_init(const char *settings_file, const qk_callbacks_t *callbacks, int log_level)
{
    static plugin_feature_t features[] = {
        PLUGIN_CALLBACK(kernel_ipsec_register, qk_kernel_create),
        PLUGIN_PROVIDE(CUSTOM, "kernel-ipsec"),
    };
    level_t levels[DBG_MAX];

    qk.cb = *callbacks;
    if (!library_init((char *)settings_file, "charon"))
    {
        library_deinit();
        return -1;
    }
    if (!libcharon_init())
    {
        libcharon_deinit();
        library_deinit();
        return -1;
    }
    /* Before initialize(): the first kernel-ipsec registered wins, so kernel-netlink may
     * stay loaded for addresses and routes. */
    lib->plugins->add_static_features(lib->plugins, "qorgan-kernel-ipsec", features,
                                      countof(features), TRUE, NULL, NULL);
    for (int group = 0; group < DBG_MAX; group++)
    {
        levels[group] = (level_t)log_level;
    }
    charon->set_default_loggers(charon, levels, TRUE);
    charon->load_loggers(charon);
    char *plugins = lib->settings->get_str(lib->settings, "charon.load", QK_DEFAULT_PLUGINS);
    if (!charon->initialize(charon, plugins))
    {
        libcharon_deinit();
        library_deinit();
        return -1;
    }
    lib->plugins->status(lib->plugins, LEVEL_CTRL);
    return 0;
}

void qk_charon_start(void)
{
    charon->start(charon);
}

void qk_charon_expire(uint32_t spi, const char *dst, int hard)
{
    host_t *host = host_create_from_string((char *)dst, 0);
    if (!host)
    {
        return;
    }
    charon->kernel->expire(charon->kernel, IPPROTO_ESP, htonl(spi), host, hard != 0);
    host->destroy(host);
}

void qk_charon_deinit(void)
{
    libcharon_deinit();
    library_deinit();
}

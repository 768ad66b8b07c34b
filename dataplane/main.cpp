// SPDX-License-Identifier: GPL-2.0-or-later
// qorgan-dataplane: starts EAL on the ports the configuration names, compiles the policy
// snapshot, launches the workers and runs the slow path, link monitor and reloads on the
// main lcore. The control socket (docs/CONTROL-PROTOCOL.md) applies configurations and
// answers show commands; SIGHUP reloads the configuration file; SIGTERM/SIGINT stop.
#include "config/config.h"
#include "config/schema.h"
#include "dataplane/conntrack.h"
#include "dataplane/control_socket.h"
#include "dataplane/esp_backend.h"
#include "dataplane/exception_tun.h"
#include "dataplane/mbuf_priv.h"
#include "dataplane/ports.h"
#include "dataplane/slowpath.h"
#include "dataplane/snapshot.h"
#include "dataplane/telemetry.h"
#include "dataplane/worker.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace qorgan;
using namespace qorgan::dp;

namespace {

volatile std::sig_atomic_t got_stop = 0;
volatile std::sig_atomic_t got_reload = 0;

void on_signal(int sig) {
    if (sig == SIGHUP)
        got_reload = 1;
    else
        got_stop = 1;
}

struct Options {
    std::string config_path; // empty: the embedded default
    std::string file_prefix = "qorgan";
    std::string ready_file;
    std::string control_socket = default_control_socket;
    bool no_huge = false;
    bool check = false;
    std::string exception_tun = default_exception_tun; // empty: --no-exception-tun
    std::vector<config::Prefix> exception_routes;
};

void usage(FILE *out) {
    std::fprintf(out,
                 "usage: qorgan-dataplane [--config FILE] [--check] [--no-huge]\n"
                 "                        [--file-prefix NAME] [--ready-file PATH]\n"
                 "                        [--control-socket PATH]\n"
                 "                        [--exception-tun NAME | --no-exception-tun]\n"
                 "                        [--exception-route PREFIX]...\n"
                 "  --config FILE      configuration (default: the embedded lab config)\n"
                 "  --check            load and validate the configuration, then exit\n"
                 "  --no-huge          run without hugepages (also chosen when none are free)\n"
                 "  --file-prefix NAME EAL runtime name; telemetry: dpdk-telemetry.py -f NAME\n"
                 "  --ready-file PATH  written once the ports forward; removed at exit\n"
                 "  --control-socket PATH  UNIX socket for qorgand (default %s)\n"
                 "  --exception-tun NAME   TUN to the host kernel for IKE to the gateway\n"
                 "                         (default %s; docs/IPSEC.md)\n"
                 "  --no-exception-tun     run without it (IKE to the gateway is dropped)\n"
                 "  --exception-route PREFIX  the host kernel routes PREFIX through the TUN\n"
                 "                         (repeatable; the peers its IKE daemon talks to)\n",
                 default_control_socket, default_exception_tun);
}

bool parse_options(int argc, char **argv, Options &o) {
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto value = [&](std::string &dst) {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "qorgan-dataplane: %s needs a value\n", a.c_str());
                return false;
            }
            dst = argv[++i];
            return true;
        };
        if (a == "--config") {
            if (!value(o.config_path))
                return false;
        } else if (a == "--file-prefix") {
            if (!value(o.file_prefix))
                return false;
        } else if (a == "--ready-file") {
            if (!value(o.ready_file))
                return false;
        } else if (a == "--control-socket") {
            if (!value(o.control_socket))
                return false;
        } else if (a == "--exception-tun") {
            if (!value(o.exception_tun))
                return false;
            if (o.exception_tun.empty()) {
                std::fprintf(stderr, "qorgan-dataplane: --exception-tun needs a name\n");
                return false;
            }
        } else if (a == "--no-exception-tun") {
            o.exception_tun.clear();
        } else if (a == "--exception-route") {
            std::string text;
            if (!value(text))
                return false;
            auto p = config::parse_prefix(text);
            if (!p) {
                std::fprintf(stderr, "qorgan-dataplane: --exception-route '%s': not a prefix\n",
                             text.c_str());
                return false;
            }
            o.exception_routes.push_back(*p);
        } else if (a == "--no-huge") {
            o.no_huge = true;
        } else if (a == "--check") {
            o.check = true;
        } else if (a == "-h" || a == "--help") {
            usage(stdout);
            std::exit(0);
        } else {
            std::fprintf(stderr, "qorgan-dataplane: unknown option '%s'\n", a.c_str());
            usage(stderr);
            return false;
        }
    }
    return true;
}

// The configuration text and the label its errors carry: the file, or the embedded default.
struct ConfigText {
    std::string text;
    std::string label;
};

Result<ConfigText> read_config(const Options &o) {
    if (o.config_path.empty())
        return ConfigText{std::string(config::default_config_text()), "<default>"};
    std::ifstream in(o.config_path, std::ios::binary);
    if (!in)
        return Error{Location{o.config_path}, std::string("cannot open: ") + std::strerror(errno)};
    std::stringstream ss;
    ss << in.rdbuf();
    return ConfigText{ss.str(), o.config_path};
}

Result<config::Config> load_config(const Options &o) {
    auto t = read_config(o);
    if (!t)
        return t.error();
    return config::load_text(t->text, t->label);
}

// Free hugepage memory in MiB, from /proc/meminfo.
uint64_t free_hugepage_mib() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    uint64_t free_pages = 0, size_kb = 0, v;
    while (in >> key >> v) {
        if (key == "HugePages_Free:")
            free_pages = v;
        else if (key == "Hugepagesize:")
            size_kb = v;
        std::string rest;
        std::getline(in, rest);
    }
    return free_pages * size_kb / 1024;
}

uint64_t now_ms() {
    return rte_get_tsc_cycles() / (rte_get_tsc_hz() / 1000);
}

struct WorkerSlot {
    std::unique_ptr<Worker> worker;
    const std::atomic<bool> *stop;
};

int worker_main(void *arg) {
    auto *slot = static_cast<WorkerSlot *>(arg);
    return slot->worker->run(*slot->stop);
}

rte_ring *make_ring(const std::string &name, unsigned size, unsigned elem = 0) {
    unsigned flags = RING_F_SP_ENQ | RING_F_SC_DEQ;
    if (elem)
        return rte_ring_create_elem(name.c_str(), elem, size, static_cast<int>(rte_socket_id()),
                                    flags);
    return rte_ring_create(name.c_str(), size, static_cast<int>(rte_socket_id()), flags);
}

} // namespace

int main(int argc, char **argv) {
    Options opt;
    if (!parse_options(argc, argv, opt))
        return 2;
    auto loaded = load_config(opt);
    if (!loaded) {
        std::fprintf(stderr, "qorgan-dataplane: %s\n", loaded.error().to_string().c_str());
        return 1;
    }
    config::Config conf = std::move(loaded.value());
    if (opt.check) {
        std::printf("configuration OK: %zu interfaces, %zu policies, %zu routes\n",
                    conf.interfaces.size(), conf.policies.size(), conf.routes.size());
        return 0;
    }
    unsigned workers = conf.dataplane.workers;

    // EAL arguments come from the configuration: the admin never writes them.
    std::vector<std::string> eal = {"qorgan-dataplane", "--file-prefix", opt.file_prefix,
                                    "--log-level", "*:notice"};
    unsigned ncpu = std::max(1u, std::thread::hardware_concurrency());
    std::string lcores;
    for (unsigned i = 0; i <= workers; i++)
        lcores += (i ? "," : "") + std::to_string(i) + "@" + std::to_string(i % ncpu);
    eal.insert(eal.end(), {"--lcores", lcores});
    if (opt.no_huge || free_hugepage_mib() < 512) {
        if (!opt.no_huge)
            std::fprintf(stderr, "qorgan-dataplane: fewer than 512 MiB of hugepages free; "
                                 "running with --no-huge (slower I/O)\n");
        eal.insert(eal.end(), {"--no-huge", "-m", "1024"});
    } else {
        eal.push_back("--huge-unlink"); // the pages go back to the system when we exit
    }
    bool any_pci = false;
    for (const auto &ifc : conf.interfaces) {
        if (is_vdev(ifc.device)) {
            std::string dev = ifc.device;
            if (dev.rfind("net_af_packet", 0) == 0) {
                if (workers > 1 && dev.find("qpairs=") == std::string::npos)
                    dev += ",qpairs=" + std::to_string(workers);
                // A deeper kernel ring than the PMD's 512 frames rides out a worker that
                // the host scheduler holds back for a few milliseconds.
                if (dev.find("framecnt=") == std::string::npos)
                    dev += ",framecnt=4096";
            }
            eal.insert(eal.end(), {"--vdev", dev});
        } else {
            any_pci = true;
            eal.insert(eal.end(), {"-a", device_name(ifc.device)});
        }
    }
    if (!any_pci)
        eal.push_back("--no-pci");
    std::vector<char *> eal_argv;
    for (auto &s : eal)
        eal_argv.push_back(s.data());
    if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
        std::fprintf(stderr, "qorgan-dataplane: EAL start failed: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGHUP, on_signal);

    int socket = static_cast<int>(rte_socket_id());
    unsigned nports = static_cast<unsigned>(conf.interfaces.size());
    unsigned nb_mbufs = std::max(8191u, nports * workers * 4096u + 4095u);
    rte_mempool *pool = rte_pktmbuf_pool_create("qorgan_mbufs", nb_mbufs, 256, mbuf_priv_size,
                                                RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    if (!pool) {
        std::fprintf(stderr, "qorgan-dataplane: mbuf pool: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    auto ports_r = Ports::open(conf, workers, pool);
    if (!ports_r) {
        std::fprintf(stderr, "qorgan-dataplane: %s\n", ports_r.error().to_string().c_str());
        rte_eal_cleanup();
        return 1;
    }
    Ports ports = std::move(ports_r.value());
    std::mutex ports_lock, snapshot_lock;

    uint32_t epoch = 1;
    auto snap_r = build_snapshot(conf, ports.bindings(), workers, epoch, socket);
    if (!snap_r) {
        std::fprintf(stderr, "qorgan-dataplane: %s\n", snap_r.error().to_string().c_str());
        ports.stop_all();
        rte_eal_cleanup();
        return 1;
    }
    std::atomic<Snapshot *> active{snap_r.value().release()};

    size_t rcu_size = rte_rcu_qsbr_get_memsize(workers);
    auto *rcu =
        static_cast<rte_rcu_qsbr *>(rte_zmalloc("qorgan_rcu", rcu_size, RTE_CACHE_LINE_SIZE));
    rte_rcu_qsbr_init(rcu, workers);

    NeighborTable neighbors(4096);
    std::vector<std::unique_ptr<WorkerCounters>> counters;
    std::vector<std::unique_ptr<FlowTable>> flows;
    std::vector<WorkerSlot> slots(workers);
    std::vector<std::unique_ptr<SessionSlot>> session_slots;
    std::atomic<bool> stop{false};
    SlowPathEnv spe;
    auto main_counters = std::make_unique<WorkerCounters>();
    spe.neighbors = &neighbors;
    spe.pool = pool;
    spe.counters = main_counters.get();
    spe.log = stdout;
    TelemetrySources tel;
    tel.snapshot_lock = &snapshot_lock;
    tel.active = &active;
    tel.ports_lock = &ports_lock;
    tel.ports = &ports;
    tel.neighbors = &neighbors;
    tel.counters.push_back(main_counters.get());

    // The exception path (docs/IPSEC.md): a TUN to the host kernel for IKE to the gateway.
    std::unique_ptr<ExceptionTun> tun;
    if (!opt.exception_tun.empty()) {
        auto sealed = seal_kernel_ports(conf);
        // The smallest MTU of the ports, and no more than an mbuf of the pool holds after an
        // Ethernet header: the kernel fragments what is bigger, the slow path reads it whole.
        uint16_t mtu = RTE_MBUF_DEFAULT_DATAROOM - RTE_ETHER_HDR_LEN;
        for (const auto &ifc : conf.interfaces)
            if (!ifc.disabled)
                mtu = std::min(mtu, ifc.mtu);
        auto opened = sealed ? ExceptionTun::open(opt.exception_tun, std::max<uint16_t>(mtu, 1280))
                             : Result<std::unique_ptr<ExceptionTun>>(sealed.error());
        if (!opened) {
            std::fprintf(stderr,
                         "qorgan-dataplane: exception path: %s (--no-exception-tun runs "
                         "without it)\n",
                         opened.error().to_string().c_str());
            ports.stop_all();
            rte_eal_cleanup();
            return 1;
        }
        tun = std::move(opened.value());
        spe.tun = tun.get();
    }
    // Screen: the SYN cookie key (one for all workers: a RST may reach another worker than
    // its SYN), buffers for reassembled datagrams (up to 16 KiB, 256 per worker) and the
    // indirect mbufs that fragment them again.
    uint8_t cookie_key[16];
    if (RAND_bytes(cookie_key, sizeof(cookie_key)) != 1) {
        std::fprintf(stderr, "qorgan-dataplane: no random bytes for the SYN cookie key\n");
        return 1;
    }
    rte_mempool *jumbo =
        rte_pktmbuf_pool_create("qorgan_jumbo", 256 * workers + 255, 32, mbuf_priv_size,
                                16384 + RTE_PKTMBUF_HEADROOM, socket);
    rte_mempool *indirect =
        rte_pktmbuf_pool_create("qorgan_indirect", 2048 * workers + 2047, 64, 0, 0, socket);
    if (!jumbo || !indirect) {
        std::fprintf(stderr, "qorgan-dataplane: reassembly pools: %s\n", rte_strerror(rte_errno));
        return 1;
    }

    // NAT hand-off rings (multi-producer: any worker may hand a packet to worker w).
    std::vector<rte_ring *> handoff;
    for (unsigned w = 0; w < workers && workers > 1; w++) {
        handoff.push_back(rte_ring_create(("qg_handoff_" + std::to_string(w)).c_str(), 2048,
                                          static_cast<int>(rte_socket_id()), RING_F_SC_DEQ));
        if (!handoff.back()) {
            std::fprintf(stderr, "qorgan-dataplane: hand-off ring: %s\n", rte_strerror(rte_errno));
            return 1;
        }
    }
    for (unsigned w = 0; w < workers; w++) {
        auto ft = FlowTable::create(("qg_flows_" + std::to_string(w)).c_str(),
                                    conf.dataplane.max_flows, socket, conf.dataplane.timeouts);
        if (!ft) {
            std::fprintf(stderr, "qorgan-dataplane: flow table: %s\n",
                         ft.error().to_string().c_str());
            return 1;
        }
        flows.push_back(std::move(ft.value()));
        counters.push_back(std::make_unique<WorkerCounters>());
        WorkerEnv env;
        env.id = w;
        for (const auto &st : ports.states())
            if (st.admin_up)
                env.rx_ports.push_back(st.port);
        env.active = &active;
        env.rcu = rcu;
        env.neighbors = &neighbors;
        env.to_main = make_ring("qg_to_main_" + std::to_string(w), 1024);
        env.from_main = make_ring("qg_from_main_" + std::to_string(w), 1024);
        env.log_ring = make_ring("qg_log_" + std::to_string(w), 4096, sizeof(RuleLog));
        env.event_ring = make_ring("qg_events_" + std::to_string(w), 1024, sizeof(ScreenEvent));
        env.category_ring =
            make_ring("qg_categories_" + std::to_string(w), 1024, sizeof(CategoryEvent));
        if (!env.to_main || !env.from_main || !env.log_ring || !env.event_ring ||
            !env.category_ring) {
            std::fprintf(stderr, "qorgan-dataplane: rings: %s\n", rte_strerror(rte_errno));
            return 1;
        }
        env.counters = counters.back().get();
        env.flows = flows.back().get();
        env.port_up = ports.up();
        env.pool = pool;
        env.tsc_hz = rte_get_tsc_hz();
        env.idle_sleep_us = conf.dataplane.idle_sleep_us;
        env.handoff = handoff;
        std::memcpy(env.cookie_key, cookie_key, sizeof(cookie_key));
        env.jumbo_pool = jumbo;
        env.indirect_pool = indirect;
        session_slots.push_back(std::make_unique<SessionSlot>(session_limit_max));
        env.sessions = session_slots.back().get();
        spe.from_workers.push_back(env.to_main);
        spe.log_rings.push_back(env.log_ring);
        spe.event_rings.push_back(env.event_ring);
        spe.category_rings.push_back(env.category_ring);
        // Sized at start (docs/CATEGORIES.md): a changed inspected-flows takes a restart.
        env.inspected_flows = conf.security.categories.inspected_flows;
        env.exception_path = tun != nullptr;
        if (w == 0)
            spe.to_worker = env.from_main;
        tel.counters.push_back(counters.back().get());
        tel.flows.push_back(flows.back().get());
        slots[w].worker = std::make_unique<Worker>(std::move(env));
        slots[w].stop = &stop;
    }
    // IPsec (docs/IPSEC.md): the ESP engine has a queue pair per worker and one for the main
    // lcore; SAs and policies come from qorgan-ike through the control socket. Without a
    // crypto device the dataplane runs without IPsec (the ipsec-* ops say so).
    std::string esp_error;
    std::unique_ptr<esp::Engine> engine =
        esp::Engine::create(workers + 1, conf.ipsec.max_sas, esp_error);
    std::unique_ptr<EspBackend> esp_backend;
    std::atomic<const IpsecTable *> ipsec_active{nullptr};
    std::unique_ptr<IpsecState> ipsec;
    if (engine) {
        esp_backend = std::make_unique<EspBackend>(*engine);
        ipsec = std::make_unique<IpsecState>(*esp_backend, conf.ipsec.max_sas, ipsec_active, [rcu] {
            uint64_t token = rte_rcu_qsbr_start(rcu);
            rte_rcu_qsbr_check(rcu, token, true);
        });
        for (auto &slot : slots)
            slot.worker->set_ipsec(&ipsec_active, engine.get());
        std::printf("qorgan-dataplane: ESP on %s, at most %u SAs\n", engine->driver(),
                    conf.ipsec.max_sas);
    } else {
        std::printf("qorgan-dataplane: no IPsec: %s\n", esp_error.c_str());
    }
    SlowPath slow(spe);
    tel.pools = {pool, jumbo, indirect};
    telemetry_register(&tel);

    ControlEnv cenv;
    cenv.active = &active;
    cenv.snapshot_lock = &snapshot_lock;
    cenv.rcu = rcu;
    cenv.ports = &ports;
    cenv.ports_lock = &ports_lock;
    cenv.neighbors = &neighbors;
    cenv.counters = tel.counters;
    for (auto &ss : session_slots)
        cenv.sessions.push_back(ss.get());
    cenv.workers = workers;
    cenv.socket_id = socket;
    cenv.ipsec = ipsec.get();
    cenv.exception_tun = tun ? tun->name() : "";
    // Rule-log records that name the old epoch are written out before it is freed.
    cenv.before_free = [&slow](const Snapshot &old) { slow.poll(old, now_ms()); };
    auto first_text = read_config(opt);
    ControlService control(std::move(cenv), first_text ? first_text->label : "<default>",
                           first_text ? sha256_hex(first_text->text) : "");
    std::error_code mkdir_error; // the socket's folder (/run/qorgan) may not exist yet
    std::filesystem::create_directories(std::filesystem::path(opt.control_socket).parent_path(),
                                        mkdir_error);
    auto control_socket = ControlSocket::open(opt.control_socket, control);
    if (!control_socket) {
        std::fprintf(stderr, "qorgan-dataplane: control socket: %s\n",
                     control_socket.error().to_string().c_str());
        ports.stop_all();
        rte_eal_cleanup();
        return 1;
    }

    // The TUN holds the running snapshot's addresses and routes: at start and after every
    // apply or SIGHUP (the routes after the addresses, their preferred sources).
    auto sync_tun = [&](const Snapshot &s) {
        // The configured IPsec peers are reached through the TUN too: charon's IKE to them
        // leaves by the dataplane (docs/IPSEC.md).
        std::vector<config::Prefix> routes = opt.exception_routes;
        for (const config::IpsecPeer &p : s.conf.ipsec.peers)
            if (std::find(routes.begin(), routes.end(), p.address) == routes.end())
                routes.push_back(p.address);
        auto a = tun->sync_addresses(s);
        auto r = tun->sync_routes(s, routes);
        if (!a || !r)
            std::printf("event exception-sync-failed epoch=%u error=\"%s\"\n", s.epoch,
                        (!a ? a.error() : r.error()).to_string().c_str());
        else
            std::printf("event exception-sync epoch=%u tun=%s addresses=%zu routes=%zu\n", s.epoch,
                        tun->name().c_str(), tun->addresses().size(), routes.size());
        std::fflush(stdout);
        return s.epoch;
    };
    uint32_t tun_epoch = tun ? sync_tun(*active.load()) : 0; // the epoch the TUN holds

    unsigned w = 0;
    unsigned lcore;
    RTE_LCORE_FOREACH_WORKER(lcore) {
        if (w < workers)
            rte_eal_remote_launch(worker_main, &slots[w++], lcore);
    }
    std::printf("qorgan-dataplane: %u ports, %u workers, policy epoch %u: forwarding\n", nports,
                workers, epoch);
    std::fflush(stdout);
    if (!opt.ready_file.empty()) {
        std::ofstream(opt.ready_file) << getpid() << "\n";
    }

    uint64_t next_link_poll = 0, next_tick = 0;
    while (!got_stop) {
        uint64_t now = now_ms();
        Snapshot *s = active.load(std::memory_order_acquire);
        if (tun && s->epoch != tun_epoch)
            tun_epoch = sync_tun(*s);
        unsigned handled = slow.poll(*s, now);
        if (now >= next_tick) {
            slow.tick(*s, now);
            next_tick = now + 100;
        }
        if (now >= next_link_poll) {
            std::lock_guard<std::mutex> g(ports_lock);
            ports.poll_links(stdout);
            next_link_poll = now + 500;
        }
        handled += control_socket.value()->poll();
        if (got_reload) {
            // A later SIGHUP re-reads the file, replacing a configuration applied through
            // the control socket (docs/CONTROL-PROTOCOL.md).
            got_reload = 0;
            auto text = read_config(opt);
            Result<Applied> r =
                text ? control.publish(text->text, text->label, 0, sha256_hex(text->text))
                     : Result<Applied>(text.error());
            if (!r)
                std::printf("event reload-failed epoch=%u error=\"%s\"\n", control.epoch(),
                            r.error().to_string().c_str());
            else
                std::printf("event reload epoch=%u\n", r->epoch);
            std::fflush(stdout);
        }
        if (!handled)
            usleep(200);
    }

    control_socket.value().reset();
    std::printf("qorgan-dataplane: stopping\n");
    std::fflush(stdout);
    stop.store(true);
    rte_eal_mp_wait_lcore();
    {
        std::lock_guard<std::mutex> g(ports_lock);
        ports.stop_all();
    }
    if (!opt.ready_file.empty())
        unlink(opt.ready_file.c_str());
    tun.reset(); // the device goes with its fd
    // The workers' tables live in DPDK memory: they go before the EAL does (a reassembly
    // table freed after rte_eal_cleanup() faulted in librte_ip_frag at every stop).
    slots.clear();
    flows.clear();
    ipsec.reset(); // its SAs go back to the engine, which goes before the EAL
    esp_backend.reset();
    engine.reset();
    slow.release(); // its mbufs too (freed after rte_eal_cleanup(), one faulted at every stop)
    rte_eal_cleanup();
    return 0;
}

// SPDX-License-Identifier: GPL-2.0-or-later
// The dataplane control socket (docs/CONTROL-PROTOCOL.md): ControlService answers typed
// requests and owns the one publish path (used by apply and by the SIGHUP reload);
// ControlSocket serves the UNIX socket from the main lcore's loop without blocking it.
#pragma once

#include "common/framing.h"
#include "common/result.h"
#include "config/model.h"
#include "dataplane/control_request.h"
#include "dataplane/counters.h"
#include "dataplane/ipsec_state.h"
#include "dataplane/neighbors.h"
#include "dataplane/ports.h"
#include "dataplane/snapshot.h"
#include "dataplane/worker.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

struct rte_rcu_qsbr;

namespace qorgan::dp {

inline constexpr const char *default_control_socket = "/run/qorgan/dataplane.sock";

// What the service reads and publishes to; all owned by main.cpp (or a test).
struct ControlEnv {
    std::atomic<Snapshot *> *active = nullptr;
    std::mutex *snapshot_lock = nullptr; // held while the active pointer changes (telemetry)
    rte_rcu_qsbr *rcu = nullptr;
    const Ports *ports = nullptr;
    std::mutex *ports_lock = nullptr;
    const NeighborTable *neighbors = nullptr;
    std::vector<const WorkerCounters *> counters; // workers and the main lcore
    std::vector<SessionSlot *> sessions;          // one per worker, index = worker id
    unsigned workers = 1;
    int socket_id = 0;
    // Called after the RCU grace period, before the old snapshot is freed (the main loop
    // passes the slow path's log drain: records that name the old epoch).
    std::function<void(const Snapshot &old)> before_free;
    uint32_t session_timeout_ms = 2000; // how long a dump waits for every worker
    IpsecState *ipsec = nullptr;        // SAs and policies (null: no crypto device)
    std::string exception_tun;          // the exception path's TUN; empty: none
};

struct Applied {
    uint32_t epoch = 0;
    uint64_t micros = 0; // parse + compile + publish
};

class ControlService {
public:
    // `source` names where the running snapshot came from ("<default>" or a path) and
    // `sha256` its text's hash; the running snapshot is *env.active.
    ControlService(ControlEnv env, std::string source, std::string sha256);

    // The one publish path: loads text, builds the next snapshot, refuses a change of
    // interfaces, swaps it in, waits for the workers' quiescent state and frees the old.
    // Nothing changes on error. `label` names the text in errors and in status.
    Result<Applied> publish(std::string_view text, const std::string &label, uint32_t revision,
                            const std::string &sha256);

    Json handle(const Request &req);
    // Parses the message then handles it; a malformed one gets an error reply.
    Json handle(const Json &msg);

    uint32_t epoch() const;
    uint32_t revision() const { return _revision; }
    const std::string &source() const { return _source; }

private:
    Json status() const;
    Json apply(const Request &req);
    Json interfaces() const;
    Json rules() const;
    Json sessions(const Request &req);
    Json routes() const;
    Json neighbors() const;
    Json drops() const;
    Json nat() const;
    Json screen() const;
    Json screen_blocked(bool clear);
    Json applications() const;
    Json exception() const;
    // The "nat" object of a translated session record.
    Json nat_record(const SessionRecord &r) const;
    // Turns a request filter into the workers' form; an unknown interface is an error.
    Result<SessionFilter> session_filter(const RequestFilter &f) const;
    // Submits to every worker and waits for them all; an error names a silent worker.
    // Runs one request on every worker's slot; returns what they matched in all.
    Result<uint64_t> run_sessions(SessionSlot::Op op, const SessionFilter &f, uint32_t limit);
    const Snapshot &snap() const { return *_env.active->load(std::memory_order_acquire); }
    std::string iface_name(uint16_t port) const;

    ControlEnv _env;
    std::string _source;
    std::string _sha256;
    uint32_t _revision = 0;
    uint64_t _started_ms;
};

// Lowercase hex SHA-256 of text.
std::string sha256_hex(std::string_view text);

class ControlSocket {
public:
    static Result<std::unique_ptr<ControlSocket>> open(const std::string &path,
                                                       ControlService &service);
    ~ControlSocket();
    ControlSocket(const ControlSocket &) = delete;
    ControlSocket &operator=(const ControlSocket &) = delete;

    // Accepts new clients and answers the requests that have arrived; never waits for
    // one. Returns how many requests were answered.
    unsigned poll();

    static constexpr size_t max_clients = 16;

private:
    ControlSocket(std::string path, int fd, ControlService &service)
        : _path(std::move(path)), _listen(fd), _service(service) {}
    // Answers one request on fd; false when the connection should close.
    bool serve(int fd);

    std::string _path;
    int _listen;
    ControlService &_service;
    std::vector<int> _clients;
};

} // namespace qorgan::dp

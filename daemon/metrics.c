/* metrics.c — see metrics.h.
 *
 * Why libmicrohttpd: a Prometheus scraper and a load balancer's health
 * probe speak ordinary HTTP/1.1, with keep-alive, partial reads and
 * timeouts; a well-kept library handles that, and the request path never
 * sees it. Its internal polling thread is one thread, off the workers. */
#include "metrics.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "log.h"
#include "snapmeta.h"
#include "version.h"
#include "worker.h"

struct metrics {
    struct MHD_Daemon *d;
    server *srv;
};

/* ---- text building ------------------------------------------------------ */

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n + 1) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* A label value: \, " and newline escaped (exposition format 0.0.4). */
static void put_label(buf *b, const char *v) {
    for (; v && *v; v++) {
        if (*v == '\\' || *v == '"')
            put(b, "\\%c", *v);
        else if (*v == '\n')
            put(b, "\\n");
        else
            put(b, "%c", *v);
    }
}

static void family(buf *b, const char *name, const char *type, const char *help) {
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample1(buf *b, const char *name, const char *label, const char *value, uint64_t v) {
    put(b, "%s{%s=\"", name, label);
    put_label(b, value);
    put(b, "\"} %llu\n", (unsigned long long)v);
}

/* ---- other subsystems' counters -------------------------------------------
 * Each is the one place its subsystem is wired in; until it lands, the
 * family is written with no samples (auth) or as the zero that is true
 * without it (audit: no trail kept, nothing queued, nothing lost). */

/* Issue 9 (auth.c): each(ud, channel, auth failures, rate-limited requests)
 * for every channel loaded since start (counters outlive reloads), and
 * "-" for failed `auth` naming no known channel. Nothing without an auth
 * file. */
static void each_channel(server *srv, void (*each)(void *ud, const char *channel, uint64_t auth_failures,
                                                     uint64_t rate_limited),
                         void *ud) {
    if (srv->cfg.auth_file)
        auth_counters_each(each, ud);
}

/* WIRE (issue 10, audit.c): records queued for the writer thread now, and
 * records lost since start (--audit-full drop). */
static void audit_counters(server *srv, uint64_t *backlog, uint64_t *lost) {
    (void)srv;
    *backlog = 0;
    *lost = 0;
}

typedef struct {
    buf *b;
    bool limited; /* the rate-limited pass, else the auth-failures pass */
} channel_pass;

static void put_channel(void *ud, const char *channel, uint64_t failures, uint64_t limited) {
    channel_pass *p = ud;
    sample1(p->b, p->limited ? "eligd_rate_limited_total" : "eligd_auth_failures_total", "channel", channel,
            p->limited ? limited : failures);
}

/* ---- the page ----------------------------------------------------------- */

/* Seconds since the RFC 3339 UTC time s (elig_meta.created), or -1. */
static double age_of(const char *s) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return -1;
    time_t t = timegm(&tm);
    return difftime(time(NULL), t);
}

static void put_snapshot(server *srv, buf *b) {
    uint64_t gen;
    snap_ref *ref = snap_holder_acquire(&srv->snaps, &gen);
    const elig_meta *m = elig_snap_meta(ref->snap);
    const char *sha = snapmeta_content_sha256(m);
    family(b, "eligd_snapshot_info", "gauge", "The snapshot serving: its id and content hash (value 1).");
    put(b, "eligd_snapshot_info{id=\"");
    put_label(b, m->id);
    put(b, "\",content_sha256=\"");
    put_label(b, sha ? sha : "");
    put(b, "\",created=\"");
    put_label(b, m->created);
    put(b, "\"} 1\n");
    family(b, "eligd_snapshot_age_seconds", "gauge", "Seconds since the serving snapshot was built.");
    put(b, "eligd_snapshot_age_seconds %.0f\n", age_of(m->created));
    family(b, "eligd_snapshot_loaded_timestamp_seconds", "gauge",
           "When the serving snapshot was loaded (start or reload), Unix time.");
    put(b, "eligd_snapshot_loaded_timestamp_seconds %.3f\n",
        (double)atomic_load(&srv->loaded_at_ms) / 1000.0);
    family(b, "eligd_snapshot_generation", "gauge", "Snapshot generation: 1 at start, +1 per successful reload.");
    put(b, "eligd_snapshot_generation %llu\n", (unsigned long long)gen);
    family(b, "eligd_snapshot_rows", "gauge", "Rows of the serving snapshot, by table.");
    sample1(b, "eligd_snapshot_rows", "table", "households", m->households);
    sample1(b, "eligd_snapshot_rows", "table", "members", m->members);
    sample1(b, "eligd_snapshot_rows", "table", "enrollments", m->enrollments);
    snap_ref_release(ref);
}

static void put_latency(buf *b, const stats_totals *t) {
    family(b, "eligd_request_duration_seconds", "histogram",
           "Time from the start of processing the read that completed a request to its response being handed "
           "to the socket.");
    uint64_t cum = 0;
    for (int i = 0; i < STATS_LATENCY_BUCKETS; i++) {
        cum += t->latency[i];
        if (i < STATS_LATENCY_BOUNDS)
            put(b, "eligd_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                (double)stats_latency_bound_ns(i) / 1e9, (unsigned long long)cum);
        else
            put(b, "eligd_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    put(b, "eligd_request_duration_seconds_sum %.9f\n", (double)t->latency_sum_ns / 1e9);
    put(b, "eligd_request_duration_seconds_count %llu\n", (unsigned long long)cum);
}

static void put_traffic(buf *b, const stats_totals *t) {
    family(b, "eligd_requests_total", "counter", "Requests received, by method (unknown: a name not in the protocol).");
    for (int i = 0; i < STATS_METHOD_SLOTS; i++)
        sample1(b, "eligd_requests_total", "method", i == STATS_METHOD_UNKNOWN ? "unknown" : elig_method_name(i),
                t->requests[i]);
    family(b, "eligd_answers_total", "counter", "Check answers (one per check_batch item), by reason.");
    for (int i = 0; i < ELIG_REASON_COUNT; i++)
        sample1(b, "eligd_answers_total", "reason", elig_reason_code(i), t->answers[i]);
    family(b, "eligd_errors_total", "counter", "Error responses, by error code.");
    for (int i = 1; i < STATS_ERRCODE_SLOTS; i++)
        if (elig_errcode_name(i))
            sample1(b, "eligd_errors_total", "code", elig_errcode_name(i), t->errors[i]);
    put_latency(b, t);
}

static void put_connections(server *srv, buf *b, const stats_totals *t) {
    family(b, "eligd_connections", "gauge", "Client connections open now.");
    put(b, "eligd_connections %u\n", atomic_load(&srv->connections));
    family(b, "eligd_connections_accepted_total", "counter", "Client connections accepted (refused ones included).");
    put(b, "eligd_connections_accepted_total %llu\n", (unsigned long long)t->accepted);
    family(b, "eligd_connections_closed_total", "counter",
           "Connections the server closed or refused, by cause (closes by the client are not counted).");
    for (int i = 0; i < CONN_CLOSE_COUNT; i++)
        sample1(b, "eligd_connections_closed_total", "cause", conn_close_cause_name(i), t->closes[i]);
    family(b, "eligd_buffer_bytes", "gauge", "Bytes of connection buffers held now (cap: --max-buffer-memory).");
    put(b, "eligd_buffer_bytes %zu\n", atomic_load(&srv->buffer_bytes));
    family(b, "eligd_buffer_bytes_limit", "gauge", "--max-buffer-memory.");
    put(b, "eligd_buffer_bytes_limit %zu\n", srv->cfg.max_buffer_memory);
}

static void put_others(server *srv, buf *b) {
    channel_pass p = {b, false};
    family(b, "eligd_auth_failures_total", "counter", "Failed `auth` calls, by channel named.");
    each_channel(srv, put_channel, &p);
    p.limited = true;
    family(b, "eligd_rate_limited_total", "counter", "Requests refused with rate_limited, by channel.");
    each_channel(srv, put_channel, &p);
    uint64_t backlog, lost;
    audit_counters(srv, &backlog, &lost);
    family(b, "eligd_audit_backlog", "gauge", "Audit records waiting for the writer thread.");
    put(b, "eligd_audit_backlog %llu\n", (unsigned long long)backlog);
    family(b, "eligd_audit_lost_total", "counter", "Audit records lost (--audit-full drop) since start.");
    put(b, "eligd_audit_lost_total %llu\n", (unsigned long long)lost);
}

int metrics_render(server *srv, buf *b) {
    stats_totals t;
    server_stats(srv, &t);
    server_health_state h = server_health(srv, &t, NULL, 0);
    family(b, "eligd_build_info", "gauge", "The eligd version (value 1).");
    put(b, "eligd_build_info{version=\"%s\"} 1\n", ELIGD_VERSION);
    family(b, "eligd_uptime_seconds", "gauge", "Seconds since eligd started.");
    put(b, "eligd_uptime_seconds %.3f\n", (double)(server_now_ms() - srv->start_ms) / 1000.0);
    family(b, "eligd_health", "gauge", "1 for the health eligd is in now (as /health), 0 for the others.");
    static const server_health_state all[] = {SERVER_HEALTH_OK, SERVER_HEALTH_STARTING, SERVER_HEALTH_DEGRADED,
                                              SERVER_HEALTH_DRAINING};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        sample1(b, "eligd_health", "state", server_health_name(all[i]), all[i] == h);
    if (atomic_load(&srv->phase) != SERVER_STARTING) {
        put_traffic(b, &t);
        put_connections(srv, b, &t);
        family(b, "eligd_read_errors_total", "counter",
               "Snapshot reads that failed while answering (answered unavailable).");
        put(b, "eligd_read_errors_total %llu\n", (unsigned long long)t.read_errors);
    }
    if (atomic_load(&srv->snaps_ready))
        put_snapshot(srv, b);
    family(b, "eligd_reloads_total", "counter", "Snapshot reloads (SIGHUP or the reload method), by result.");
    sample1(b, "eligd_reloads_total", "result", "ok", atomic_load(&srv->reloads_ok));
    sample1(b, "eligd_reloads_total", "result", "failed", atomic_load(&srv->reloads_failed));
    put_others(srv, b);
    return b->failed ? -1 : 0;
}

int metrics_health(server *srv, buf *b) {
    stats_totals t;
    char why[300];
    server_stats(srv, &t);
    server_health_state h = server_health(srv, &t, why, sizeof why);
    if (h == SERVER_HEALTH_OK) {
        put(b, "ok\n");
        return 200;
    }
    put(b, "{\"status\":\"%s\",\"reason\":\"", server_health_name(h));
    put_label(b, why); /* the same escapes as JSON needs for these words */
    put(b, "\"}\n");
    return 503;
}

/* ---- HTTP --------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *hc, unsigned status, const char *type, buf *body) {
    struct MHD_Response *r;
    if (body->failed) {
        buf_free(body);
        static const char oom[] = "out of memory\n";
        r = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        type = "text/plain; charset=utf-8";
    } else {
        /* libmicrohttpd frees the body once sent, through the seam that
         * allocated it (alloc.h). */
        r = MHD_create_response_from_buffer_with_free_callback(body->len, body->data, elig_free);
    }
    if (!r) {
        buf_free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(hc, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *hc, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state) {
    (void)version, (void)upload, (void)upload_size, (void)state;
    metrics *m = cls;
    buf body = {0};
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        put(&body, "only GET and HEAD\n");
        return reply(hc, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", &body);
    }
    if (strcmp(url, "/metrics") == 0) {
        metrics_render(m->srv, &body);
        return reply(hc, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &body);
    }
    if (strcmp(url, "/health") == 0) {
        int status = metrics_health(m->srv, &body);
        return reply(hc, (unsigned)status,
                     status == 200 ? "text/plain; charset=utf-8" : "application/json", &body);
    }
    put(&body, "not found: try /metrics or /health\n");
    return reply(hc, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", &body);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_warn("metrics: %s", msg);
}

int metrics_start(server *srv, metrics **out) {
    const server_config *cfg = &srv->cfg;
    *out = NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->metrics_port);
    int rc = getaddrinfo(cfg->metrics_host, port, &hints, &res);
    if (rc != 0) {
        log_error("--metrics-listen %s:%d: cannot resolve: %s", cfg->metrics_host, cfg->metrics_port,
                  gai_strerror(rc));
        return -1;
    }
    metrics *m = elig_calloc(1, sizeof *m);
    if (!m) {
        freeaddrinfo(res);
        log_error("--metrics-listen: out of memory");
        return -1;
    }
    m->srv = srv;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (res->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    m->d = MHD_start_daemon(flags, (uint16_t)cfg->metrics_port, NULL, NULL, on_request, m,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, /* first: it logs the others */
                            MHD_OPTION_SOCK_ADDR, res->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)METRICS_MAX_CLIENTS, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT_S,
                            MHD_OPTION_END);
    freeaddrinfo(res);
    if (!m->d) {
        log_error("--metrics-listen %s:%d: cannot listen (address in use?)", cfg->metrics_host, cfg->metrics_port);
        elig_free(m);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
    log_info("metrics: serving http://%s%s%s:%u/metrics and /health", strchr(cfg->metrics_host, ':') ? "[" : "",
             cfg->metrics_host, strchr(cfg->metrics_host, ':') ? "]" : "",
             info ? (unsigned)info->port : (unsigned)cfg->metrics_port);
    *out = m;
    return 0;
}

void metrics_stop(metrics *m) {
    if (!m)
        return;
    MHD_stop_daemon(m->d);
    elig_free(m);
}

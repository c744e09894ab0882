/* metrics.h — the operations endpoint (SPEC 9): HTTP on --metrics-listen,
 * served by libmicrohttpd in a thread of its own.
 *
 *   GET /metrics  the Prometheus text format (version 0.0.4): every counter
 *                 of stats.h summed over the workers, the connections, the
 *                 snapshot (id, content hash, age, generation, rows), the
 *                 reloads, the health, and the families that auth.c and
 *                 audit.c fill (metrics.c, "Other subsystems' counters").
 *   GET /health   200 `ok`, or 503 with a JSON body
 *                 {"status": "starting|degraded|draining", "reason": "..."}.
 *   HEAD          as GET without the body; other methods 405, other paths
 *                 404.
 *
 * Threads: the HTTP thread only reads: the workers' counters (relaxed
 * atomic loads, stats.h), the connection count, the snapshot holder
 * (taking and dropping a reference) and the server's phase. It never
 * touches a connection or a worker's loop, so a slow scraper cannot slow
 * an answer. At most METRICS_MAX_CLIENTS scrapers at once, each given
 * METRICS_TIMEOUT_S to finish.
 *
 * Lifetime: started before the snapshot is opened (so /health can say
 * `starting`), stopped after the workers' loops have ended and before
 * the workers and the snapshot are freed. */
#ifndef ELIGD_METRICS_H
#define ELIGD_METRICS_H

#include <stddef.h>

#include "buf.h"
#include "server.h"

#define METRICS_MAX_CLIENTS 16
#define METRICS_TIMEOUT_S 10

/* Listens on srv->cfg.metrics_host:metrics_port and starts the HTTP
 * thread. 0 with *out set, or -1 (logged: the address, and why). */
int metrics_start(server *srv, metrics **out);

/* Stops the thread and closes the socket; m may be NULL. */
void metrics_stop(metrics *m);

/* The /metrics page as it would be served now, appended to out. 0 or -1
 * if out could not grow. (Also what a test calls in-process.) */
int metrics_render(server *srv, buf *out);

/* /health: the status code (200 or 503) and the body appended to out. */
int metrics_health(server *srv, buf *out);

#endif

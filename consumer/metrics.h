/*
 * metrics.h - the operations endpoints: /metrics (Prometheus text format),
 * /healthz (alive: the main loop ticks) and /readyz (ready to work: group
 * joined, broker reachable, WinApi1024 loaded, not shutting down).
 *
 * The server is libmicrohttpd with its own polling thread; each request takes
 * one statusSnapshot() and renders from it, so the consumer's threads are
 * never blocked by a scrape.
 *
 * Ownership: metricsStart() returns a server stopped and freed by
 * metricsStop(); rendered texts are malloc'ed and freed by the caller.
 * Thread-safety: the server only reads the status through statusSnapshot().
 */
#ifndef APIVECTOR_METRICS_H
#define APIVECTOR_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "status.h"

/* The main loop counts as stalled (/healthz 503) after this long without a tick. */
#define METRICS_STALL_MS 10000

typedef struct metrics_server metrics_server;

/* Listens on bind_addr:port (IPv4 or IPv6 literal). */
av_status metricsStart(const char *bind_addr, int port, status *st, metrics_server **out, char *err,
                       size_t errlen);

void metricsStop(metrics_server *m);

/* The Prometheus exposition of a snapshot; *len receives its length. */
char *metricsRender(const status_snapshot *s, size_t *len);

/* Health and readiness of a snapshot at now_ms: 1 ok, 0 not, with the JSON
 * body to answer ({"status": "...", "reasons": [...]}) malloc'ed in *body. */
int metricsHealthy(const status_snapshot *s, int64_t now_ms, char **body);
int metricsReady(const status_snapshot *s, int64_t now_ms, char **body);

#endif

/*
 * metrics.c - the embedded HTTP server for /metrics, /healthz and /readyz.
 *
 * libmicrohttpd runs its own polling thread; a request takes a snapshot of
 * the status and answers from it. Health is about the process (is the main
 * loop still ticking?), readiness about the work (is there a group, a
 * broker, a WinApi1024 table?): Kubernetes restarts a pod that is not
 * healthy and only takes it out of rotation when it is not ready.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"

struct metrics_server {
    struct MHD_Daemon *daemon;
    status *st;
};

/* {"status": "ok"|"unavailable", "reasons": [...]} */
static char *metricsVerdict(int ok, const char *const *reasons, size_t n) {
    size_t cap = 64;
    for (size_t i = 0; i < n; i++)
        cap += strlen(reasons[i]) + 4;
    char *body = malloc(cap);
    if (!body)
        return NULL;
    size_t o = (size_t)snprintf(body, cap, "{\"status\": \"%s\", \"reasons\": [",
                                ok ? "ok" : "unavailable");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(body + o, cap - o, "%s\"%s\"", i ? ", " : "", reasons[i]);
    snprintf(body + o, cap - o, "]}\n");
    return body;
}

int metricsHealthy(const status_snapshot *s, int64_t now_ms, char **body) {
    char reason[96];
    const char *reasons[1] = {NULL};
    size_t n = 0;
    if (now_ms - s->loop_tick_ms > METRICS_STALL_MS) {
        snprintf(reason, sizeof(reason), "main loop stalled for %lld ms",
                 (long long)(now_ms - s->loop_tick_ms));
        reasons[n++] = reason;
    }
    *body = metricsVerdict(n == 0, reasons, n);
    return n == 0;
}

int metricsReady(const status_snapshot *s, int64_t now_ms, char **body) {
    const char *reasons[5] = {NULL};
    size_t n = 0;
    if (!s->group_joined)
        reasons[n++] = "consumer group not joined";
    if (!s->broker_reachable)
        reasons[n++] = "no Kafka broker reachable";
    if (!s->winapi_loaded)
        reasons[n++] = "WinApi1024 table not loaded";
    if (s->shutting_down)
        reasons[n++] = "shutting down";
    if (now_ms - s->loop_tick_ms > METRICS_STALL_MS)
        reasons[n++] = "main loop stalled";
    *body = metricsVerdict(n == 0, reasons, n);
    return n == 0;
}

static enum MHD_Result metricsReply(struct MHD_Connection *c, unsigned code, char *body, size_t len,
                                    const char *type) {
    if (!body)
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result metricsHandle(void *cls, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_size, void **req_cls) {
    metrics_server *m = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return metricsReply(c, MHD_HTTP_METHOD_NOT_ALLOWED, strdup("GET only\n"), 9, "text/plain");
    status_snapshot s;
    statusSnapshot(m->st, &s);
    int64_t now = clockWallMs();
    enum MHD_Result ret;
    char *body = NULL;
    if (strcmp(url, "/metrics") == 0) {
        size_t len = 0;
        body = metricsRender(&s, &len);
        ret = metricsReply(c, MHD_HTTP_OK, body, len, "text/plain; version=0.0.4; charset=utf-8");
    } else if (strcmp(url, "/healthz") == 0) {
        int ok = metricsHealthy(&s, now, &body);
        ret = metricsReply(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body,
                           body ? strlen(body) : 0, "application/json");
    } else if (strcmp(url, "/readyz") == 0) {
        int ok = metricsReady(&s, now, &body);
        ret = metricsReply(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body,
                           body ? strlen(body) : 0, "application/json");
    } else {
        ret = metricsReply(c, MHD_HTTP_NOT_FOUND, strdup("not found\n"), 10, "text/plain");
    }
    statusSnapshotFree(&s);
    return ret;
}

static int metricsAddress(const char *bind_addr, int port, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, bind_addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, bind_addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return 1;
    }
    return -1;
}

av_status metricsStart(const char *bind_addr, int port, status *st, metrics_server **out, char *err,
                       size_t errlen) {
    *out = NULL;
    struct sockaddr_storage ss;
    int v6 = metricsAddress(bind_addr, port, &ss);
    if (v6 < 0)
        return avErrorf(err, errlen, AV_ERR_USAGE, "metrics_bind: '%s' is not an IP address",
                        bind_addr);
    metrics_server *m = calloc(1, sizeof(*m));
    if (!m)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "metrics: out of memory");
    m->st = st;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | (v6 ? MHD_USE_IPv6 : 0);
    m->daemon =
        MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, metricsHandle, m, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 64U,
                         MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
    if (!m->daemon) {
        free(m);
        return avErrorf(err, errlen, AV_ERR_IO, "metrics: cannot listen on %s:%d", bind_addr, port);
    }
    *out = m;
    return AV_OK;
}

void metricsStop(metrics_server *m) {
    if (!m)
        return;
    MHD_stop_daemon(m->daemon);
    free(m);
}

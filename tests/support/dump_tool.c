/*
 * dump_tool.c - test driver for the dump source: fetch one dump URL and print
 * one JSON line about it.
 *
 *   dump-tool [options] URL
 *     --max-bytes N          max_dump_bytes (default 2 GiB)
 *     --root DIR             allowed file:// root (repeatable)
 *     --max-redirects N      redirect limit (default 3)
 *     --connect-timeout-ms N / --timeout-ms N
 *     --insecure / --ca FILE TLS options
 *     --tmp-dir DIR          O_TMPFILE folder; --no-memfd spools there
 *     --sha256 HEX / --size N  what the event announces
 *     --threads N            open the URL from N threads at once; all must
 *                            agree (exercises the no-shared-state promise)
 *
 * Output (stdout, one line):
 *   {"ok":bool,"size":N,"sha256":"..","error_status":"ok|permanent|..","error":"..",
 *    "backing":"<readlink of the dump's fd>","first_byte":N,"seals":N,"elapsed_ms":N,
 *    "name":".."}
 * "backing" lets a script see whether a memfd ("memfd:...") or an unnamed
 * O_TMPFILE ("/dir/#123 (deleted)") held the dump. Exit status: 0 ok, 1 the
 * dump failed, 2 bad usage.
 */
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dumpsrc.h"
#include "http.h"

#define DUMP_TOOL_MAX_ROOTS 8
#define DUMP_TOOL_MAX_THREADS 64

/* Result of one dumpsrcOpen, filled by a worker thread. */
typedef struct dump_tool_run {
    const dumpsrc_config *cfg;
    const dumpsrc_request *req;
    av_status st;
    char err[AV_ERRLEN];
    uint64_t size;
    char sha256[SHA256_HEXLEN];
    char backing[256];
    int first_byte; /* -1 for an empty dump */
    int seals;      /* F_GET_SEALS of the fd, -1 where seals do not apply */
} dump_tool_run;

static void *dumpToolWorker(void *arg) {
    dump_tool_run *r = arg;
    dumpsrc_dump *d = NULL;
    r->err[0] = '\0';
    r->first_byte = -1;
    r->seals = -1;
    r->st = dumpsrcOpen(r->cfg, r->req, &d, r->err, sizeof(r->err));
    if (r->st != AV_OK)
        return NULL;
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dumpsrcFd(d));
    ssize_t n = readlink(proc, r->backing, sizeof(r->backing) - 1);
    r->backing[n > 0 ? n : 0] = '\0';
    r->seals = fcntl(dumpsrcFd(d), F_GET_SEALS);
    r->size = dumpsrcSize(d);
    snprintf(r->sha256, sizeof(r->sha256), "%s", dumpsrcSha256Hex(d));
    if (r->size > 0)
        r->first_byte = dumpsrcData(d)[0];
    dumpsrcClose(d);
    return NULL;
}

static int dumpToolUsage(void) {
    fprintf(stderr, "usage: dump-tool [--max-bytes N] [--root DIR]... [--max-redirects N]\n"
                    "  [--connect-timeout-ms N] [--timeout-ms N] [--insecure] [--ca FILE]\n"
                    "  [--tmp-dir DIR] [--no-memfd] [--sha256 HEX] [--size N] [--threads N] URL\n");
    return 2;
}

static double dumpToolNowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Folds the runs into one result: the first failure wins, and runs that
 * succeeded must agree on size and digest. */
static void dumpToolMerge(dump_tool_run *runs, int n, dump_tool_run *out) {
    *out = runs[0];
    for (int i = 0; i < n; i++) {
        if (runs[i].st != AV_OK) {
            *out = runs[i];
            return;
        }
    }
    for (int i = 1; i < n; i++) {
        if (runs[i].size != runs[0].size || strcmp(runs[i].sha256, runs[0].sha256) != 0) {
            out->st = AV_ERR_IO;
            snprintf(out->err, sizeof(out->err), "thread %d saw a different dump than thread 0", i);
            return;
        }
    }
}

static void dumpToolPrint(const dump_tool_run *r, const char *url, double ms) {
    char name[256];
    if (dumpsrcNameFromUrl(url, name, sizeof(name)) != AV_OK)
        name[0] = '\0';
    json_t *o =
        json_pack("{s:b,s:I,s:s,s:s,s:s,s:s,s:i,s:i,s:I,s:s}", "ok", r->st == AV_OK, "size",
                  (json_int_t)(r->st == AV_OK ? r->size : 0), "sha256",
                  r->st == AV_OK ? r->sha256 : "", "error_status", avStatusName(r->st), "error",
                  r->err, "backing", r->st == AV_OK ? r->backing : "", "first_byte", r->first_byte,
                  "seals", r->seals, "elapsed_ms", (json_int_t)ms, "name", name);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    printf("%s\n", s ? s : "{\"ok\":false,\"error\":\"cannot format output\"}");
    free(s);
    json_decref(o);
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"max-bytes", required_argument, NULL, 'm'},
        {"root", required_argument, NULL, 'r'},
        {"max-redirects", required_argument, NULL, 'R'},
        {"connect-timeout-ms", required_argument, NULL, 'c'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"insecure", no_argument, NULL, 'k'},
        {"ca", required_argument, NULL, 'C'},
        {"tmp-dir", required_argument, NULL, 'T'},
        {"no-memfd", no_argument, NULL, 'M'},
        {"sha256", required_argument, NULL, 's'},
        {"size", required_argument, NULL, 'S'},
        {"threads", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    const char *roots[DUMP_TOOL_MAX_ROOTS];
    dumpsrc_config cfg;
    dumpsrc_request req = {0};
    int nthreads = 1, ch;
    dumpsrcConfigInit(&cfg);
    cfg.file_roots = roots;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
            case 'm':
                cfg.max_dump_bytes = strtoull(optarg, NULL, 10);
                break;
            case 'r':
                if (cfg.nfile_roots == DUMP_TOOL_MAX_ROOTS)
                    return dumpToolUsage();
                roots[cfg.nfile_roots++] = optarg;
                break;
            case 'R':
                cfg.max_redirects = strtol(optarg, NULL, 10);
                break;
            case 'c':
                cfg.connect_timeout_ms = strtol(optarg, NULL, 10);
                break;
            case 't':
                cfg.timeout_ms = strtol(optarg, NULL, 10);
                break;
            case 'k':
                cfg.tls_insecure = 1;
                break;
            case 'C':
                cfg.ca_bundle = optarg;
                break;
            case 'T':
                cfg.tmp_dir = optarg;
                break;
            case 'M':
                cfg.no_memfd = 1;
                break;
            case 's':
                req.sha256 = optarg;
                break;
            case 'S':
                req.has_size = 1;
                req.expected_size = strtoull(optarg, NULL, 10);
                break;
            case 'n':
                nthreads = atoi(optarg);
                break;
            default:
                return dumpToolUsage();
        }
    }
    if (optind != argc - 1 || nthreads < 1 || nthreads > DUMP_TOOL_MAX_THREADS)
        return dumpToolUsage();
    req.url = argv[optind];

    char err[AV_ERRLEN];
    if (httpGlobalInit(err, sizeof(err)) != AV_OK) {
        fprintf(stderr, "dump-tool: %s\n", err);
        return 2;
    }
    dump_tool_run runs[DUMP_TOOL_MAX_THREADS], result;
    pthread_t tids[DUMP_TOOL_MAX_THREADS];
    double t0 = dumpToolNowMs();
    for (int i = 0; i < nthreads; i++) {
        runs[i] = (dump_tool_run){.cfg = &cfg, .req = &req};
        if (pthread_create(&tids[i], NULL, dumpToolWorker, &runs[i]) != 0) {
            fprintf(stderr, "dump-tool: cannot start thread %d\n", i);
            return 2;
        }
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(tids[i], NULL);
    dumpToolMerge(runs, nthreads, &result);
    dumpToolPrint(&result, req.url, dumpToolNowMs() - t0);
    return result.st == AV_OK ? 0 : 1;
}

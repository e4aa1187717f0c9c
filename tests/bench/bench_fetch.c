/*
 * bench_fetch.c - how fast the artifact store answers from each tier.
 *
 * Needs a live Redis and HTTP server: run it through tests/bench/bench_fetch.sh,
 * which starts both on loopback. Prints three figures for one artifact:
 *
 *   cold     origin download + encode + decode + store into Redis (Redis key
 *            deleted first, fresh store each run)
 *   redis    a new process's first lookup: Redis read + decode (fresh store,
 *            Redis warm)
 *   process  the steady state: artifactGet + artifactRelease on a warm store,
 *            per call, single-threaded and from several threads at once
 *            (target: under 1 microsecond)
 *
 * The codec comes from a table so the real ones can be measured here: today
 * only "blob" (decode = copy the bytes); the ApiScout DB codec (JSON -> compact
 * binary -> parsed DB) is meant to be added as another row.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "artifact.h"
#include "codecs.h"
#include "http.h"
#include "rcache.h"

typedef struct bench_codec {
    const char *name;
    void (*make)(artifact_codec *out);
} bench_codec;

static av_status blobDecode(const unsigned char *in, size_t len, void **obj, size_t *footprint,
                            void *ctx, char *err, size_t errlen) {
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "out of memory");
    memcpy(copy, in, len);
    *obj = copy;
    *footprint = len;
    return AV_OK;
}

static void blobDestroy(void *obj) {
    free(obj);
}

static void blobCodec(artifact_codec *out) {
    *out = (artifact_codec){.kind = "benchblob", .decode = blobDecode, .destroy = blobDestroy};
}

/* The consumer's DB codec: JSON -> compact form in Redis -> loaded DB. */
static void dbCodec(artifact_codec *out) {
    *out = *codecDb(false);
}

static const bench_codec BENCH_CODECS[] = {
    {"blob", blobCodec},
    {"db", dbCodec},
};

typedef struct bench {
    artifact_config cfg;
    artifact_codec codec;
    const char *url;
    const char *name;
    int runs;
    long lookups;
    int threads;
    artifact_store *store; /* for the process-tier threads */
} bench;

static double benchNow(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void benchDie(const char *what, const char *err) {
    fprintf(stderr, "bench_fetch: %s: %s\n", what, err);
    exit(1);
}

/* One artifactGet on a fresh store; returns seconds and checks the tier. */
static double benchOnce(bench *b, const char *want_tier) {
    char err[AV_ERRLEN];
    artifact_store *s;
    artifact_ref *ref = NULL;
    artifact_info info;
    if (artifactStoreNew(&b->cfg, &s, err, sizeof(err)) != AV_OK)
        benchDie("store", err);
    double t0 = benchNow();
    if (artifactGet(s, &b->codec, b->name, b->url, NULL, &ref, &info, err, sizeof(err)) != AV_OK)
        benchDie("artifactGet", err);
    double dt = benchNow() - t0;
    if (strcmp(info.tier, want_tier) != 0) {
        fprintf(stderr, "bench_fetch: expected tier %s, got %s\n", want_tier, info.tier);
        exit(1);
    }
    artifactRelease(ref);
    artifactStoreFree(s);
    return dt;
}

static void benchReport(const char *label, double *t, int n) {
    double min = t[0], sum = 0;
    for (int i = 0; i < n; i++) {
        sum += t[i];
        if (t[i] < min)
            min = t[i];
    }
    printf("%-28s min %9.2f ms   mean %9.2f ms   (%d runs)\n", label, min * 1e3, sum / n * 1e3, n);
}

static void benchDeleteKey(rcache *rc, const char *kind, const char *name) {
    char err[AV_ERRLEN];
    if (rcacheDelete(rc, kind, name, err, sizeof(err)) != AV_OK)
        benchDie("redis DEL", err);
}

static void *benchLookups(void *arg) {
    bench *b = arg;
    char err[AV_ERRLEN];
    for (long i = 0; i < b->lookups; i++) {
        artifact_ref *ref;
        if (artifactGet(b->store, &b->codec, b->name, b->url, NULL, &ref, NULL, err, sizeof(err)) !=
            AV_OK)
            benchDie("lookup", err);
        artifactRelease(ref);
    }
    return NULL;
}

static void benchProcessTier(bench *b, int threads) {
    pthread_t t[64];
    double t0 = benchNow();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, benchLookups, b);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double dt = benchNow() - t0;
    double per = dt / (double)(b->lookups * threads) * 1e9;
    printf("process tier, %2d thread%s      %8.1f ns per lookup (wall / all calls), %.0f "
           "lookups/s\n",
           threads, threads == 1 ? " " : "s", per, (double)(b->lookups * threads) / dt);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bench_fetch URL REDIS_PORT CODEC [RUNS] [LOOKUPS] [THREADS]\n"
                        "codecs:");
        for (size_t i = 0; i < sizeof(BENCH_CODECS) / sizeof(BENCH_CODECS[0]); i++)
            fprintf(stderr, " %s", BENCH_CODECS[i].name);
        fprintf(stderr, "\n");
        return 2;
    }
    bench b = {.url = argv[1], .name = "bench", .runs = 5, .lookups = 2000000, .threads = 2};
    b.cfg.redis_host = "127.0.0.1";
    b.cfg.redis_port = atoi(argv[2]);
    b.cfg.max_artifact_bytes = 1ULL << 30;
    int found = 0;
    for (size_t i = 0; i < sizeof(BENCH_CODECS) / sizeof(BENCH_CODECS[0]); i++)
        if (strcmp(BENCH_CODECS[i].name, argv[3]) == 0) {
            BENCH_CODECS[i].make(&b.codec);
            found = 1;
        }
    if (!found)
        benchDie("codec", argv[3]);
    if (argc > 4)
        b.runs = atoi(argv[4]) > 0 ? atoi(argv[4]) : 1;
    if (argc > 5)
        b.lookups = atol(argv[5]);
    if (argc > 6)
        b.threads = atoi(argv[6]) > 0 && atoi(argv[6]) <= 64 ? atoi(argv[6]) : 2;

    char err[AV_ERRLEN];
    rcache *rc;
    rcache_config rcfg = {.host = b.cfg.redis_host, .port = b.cfg.redis_port};
    if (httpGlobalInit(err, sizeof(err)) != AV_OK ||
        rcacheNew(&rcfg, &rc, err, sizeof(err)) != AV_OK)
        benchDie("setup", err);

    double t[64];
    int runs = b.runs > 64 ? 64 : b.runs;
    for (int i = 0; i < runs; i++) {
        benchDeleteKey(rc, b.codec.kind, b.name);
        t[i] = benchOnce(&b, "origin");
    }
    benchReport("cold: origin+encode+decode", t, runs);
    for (int i = 0; i < runs; i++)
        t[i] = benchOnce(&b, "redis");
    benchReport("warm: Redis read+decode", t, runs);

    artifact_ref *ref = NULL;
    if (artifactStoreNew(&b.cfg, &b.store, err, sizeof(err)) != AV_OK ||
        artifactGet(b.store, &b.codec, b.name, b.url, NULL, &ref, NULL, err, sizeof(err)) != AV_OK)
        benchDie("warm-up", err);
    artifactRelease(ref);
    benchProcessTier(&b, 1);
    if (b.threads > 1)
        benchProcessTier(&b, b.threads);
    artifact_stats st;
    artifactStoreStats(b.store, &st);
    printf("process-tier store: %llu process hits, %llu Redis loads, %llu origin fetches\n",
           (unsigned long long)st.process_hits, (unsigned long long)st.redis_hits,
           (unsigned long long)st.origin_fetches);
    artifactStoreFree(b.store);
    rcacheFree(rc);
    return 0;
}

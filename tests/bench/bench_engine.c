/*
 * bench_engine.c - speed and memory of the engine, printed as figures.
 *
 * Generates everything deterministically (xorshift PRNG, fixed seed):
 *  - a mixed DB: 60 DLLs (30 x 32-bit, 30 x 64-bit), 40,200 exports, with API
 *    names taken from the WinApi1024 table so vectors get bits, as JSON;
 *  - a dense DB: one export every 16 bytes over 100 MB of address space;
 *  - a 64 MiB dump of random bytes with planted IAT-like runs of export
 *    addresses (32- and 64-bit), scattered pointers and FF 15 call sites;
 *  - a 10,000-vector collection over 500 families.
 * Then times: DB load from JSON and from the compact form, the whole scan
 * (crawl, reference sites, import table, filters, vectors: what `apivector
 * scan` does) with each DB, and collection queries (all scores, top 10, best
 * per family). Prints MB/s, ms, hit counts and peak RSS. Never asserts on time.
 *
 * usage: bench_engine [WINAPI1024_PATH] [--no-dense] [--write-db FILE]
 *   --write-db writes the mixed DB's JSON, e.g. for bench_fetch.sh FILE db
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "apidb.h"
#include "collection.h"
#include "fileio.h"
#include "match.h"
#include "scan.h"

#ifndef APISCOUT_DATA_DIR
#define APISCOUT_DATA_DIR "../shared/apiscout"
#endif

#define DUMP_BYTES (64u << 20)

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long peakRssMb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sbufAdd(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sbufAdd(sbuf *b, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int w = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if ((size_t)w < b->cap - b->n) {
            b->n += (size_t)w;
            return;
        }
        b->cap = b->cap ? b->cap * 2 : 1 << 20;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
}

typedef struct mixed_db {
    char *json;
    size_t len;
    uint64_t *addr32, *addr64; /* export addresses, for planting */
    size_t n32, n64;
} mixed_db;

/* The i-th distinct DLL of the WinApi1024 table, so vectors get bits. */
static const char *winapiDllName(const winapi_table *t, unsigned i) {
    unsigned seen = 0;
    for (unsigned b = 0; b < WINAPI_BITS; b++) {
        unsigned k = 0;
        while (k < b && strcmp(winapiDll(t, k), winapiDll(t, b)) != 0)
            k++;
        if (k == b && seen++ == i)
            return winapiDll(t, b);
    }
    return NULL;
}

/* Name of export e of a DLL: its WinApi1024 functions first, then synthetic. */
static const char *exportName(const winapi_table *t, const char *dll, int e, char *buf) {
    int n = 0;
    for (unsigned b = 0; b < WINAPI_BITS; b++)
        if (strcmp(winapiDll(t, b), dll) == 0 && n++ == e)
            return winapiFunction(t, b);
    snprintf(buf, 32, "Synthetic%d", e);
    return buf;
}

/* 60 DLLs of 670 exports (30 x 32-bit, 30 x 64-bit), named after WinApi1024 DLLs. */
static void makeMixedDb(const winapi_table *t, mixed_db *m) {
    sbuf b = {0};
    m->addr32 = malloc(30 * 670 * sizeof(uint64_t));
    m->addr64 = malloc(30 * 670 * sizeof(uint64_t));
    sbufAdd(&b, "{\"os_name\":\"bench_mixed\",\"os_version\":\"6.1\",\"dlls\":{");
    unsigned ndll = 0;
    while (winapiDllName(t, ndll))
        ndll++;
    for (int d = 0; d < 60; d++) {
        int is64 = d >= 30;
        const char *dll = winapiDllName(t, (unsigned)d % ndll);
        uint64_t base = is64 ? 0x7FEF0000000ULL + (uint64_t)(d - 30) * 0x400000
                             : 0x70000000ULL + (uint64_t)d * 0x200000;
        sbufAdd(&b,
                "%s\"%d_6.1_%s_0x%llx\":{\"aslr_offset\":0,\"base_address\":%llu,"
                "\"bitness\":%d,\"exports\":[",
                d ? "," : "", is64 ? 64 : 32, dll, (unsigned long long)base,
                (unsigned long long)base, is64 ? 64 : 32);
        for (int e = 0; e < 670; e++) {
            char buf[32];
            uint64_t rva = 0x1000 + (uint64_t)e * 0x900 + (rnd() % 0x800);
            sbufAdd(&b, "%s{\"address\":%llu,\"name\":\"%s\",\"ordinal\":%d}", e ? "," : "",
                    (unsigned long long)rva, exportName(t, dll, e, buf), e + 1);
            if (is64)
                m->addr64[m->n64++] = base + rva;
            else
                m->addr32[m->n32++] = base + rva;
        }
        sbufAdd(&b, "]}");
    }
    sbufAdd(&b, "}}");
    m->json = b.p;
    m->len = b.n;
}

/* One export every 16 bytes over 100 MB, split into 100 DLLs of 1 MB. */
static char *makeDenseDb(size_t *len) {
    sbuf b = {0};
    sbufAdd(&b, "{\"os_name\":\"bench_dense\",\"dlls\":{");
    for (int d = 0; d < 100; d++) {
        uint64_t base = 0x10000000ULL + (uint64_t)d * 1000000;
        sbufAdd(&b,
                "%s\"32_1_dense%d.dll_0x%llx\":{\"aslr_offset\":0,\"base_address\":%llu,"
                "\"bitness\":32,\"exports\":[",
                d ? "," : "", d, (unsigned long long)base, (unsigned long long)base);
        for (int e = 0; e < 1000000 / 16; e++)
            sbufAdd(&b, "%s{\"address\":%d,\"name\":\"F%d\",\"ordinal\":1}", e ? "," : "", e * 16,
                    e & 1023);
        sbufAdd(&b, "]}");
    }
    sbufAdd(&b, "}}");
    *len = b.n;
    return b.p;
}

/* Random bytes; every 64 KiB an IAT-like run of 40 export addresses with
 * FF 15 call sites pointing at it; 20,000 scattered pointers. */
static unsigned char *makeDump(const mixed_db *m) {
    unsigned char *d = malloc(DUMP_BYTES);
    for (size_t i = 0; i < DUMP_BYTES; i += 8) {
        uint64_t r = rnd();
        memcpy(d + i, &r, 8);
    }
    for (size_t blk = 0; blk + 65536 <= DUMP_BYTES; blk += 65536) {
        int is64 = (blk / 65536) % 3 == 0;
        size_t at = blk + 0x100, w = is64 ? 8 : 4;
        for (int k = 0; k < 40; k++) {
            uint64_t a = is64 ? m->addr64[rnd() % m->n64] : m->addr32[rnd() % m->n32];
            memcpy(d + at + (size_t)k * w, &a, w);
        }
        for (int k = 0; k < 20; k++) {
            size_t site = blk + 0x1000 + (size_t)k * 64;
            uint32_t target = (uint32_t)(at + (rnd() % 40) * w);
            d[site] = 0xFF;
            d[site + 1] = 0x15;
            memcpy(d + site + 2, &target, 4);
        }
    }
    for (int k = 0; k < 20000; k++) {
        size_t at = rnd() % (DUMP_BYTES - 8);
        uint64_t a = m->addr32[rnd() % m->n32];
        memcpy(d + at, &a, 4);
    }
    return d;
}

static apidb *timeJsonLoad(const char *name, const char *json, size_t len, double *ms) {
    char err[AV_ERRLEN];
    apidb *db;
    double t0 = now();
    if (apidbParseJson(json, len, name, 0, &db, err, sizeof(err)) != AV_OK) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    *ms = (now() - t0) * 1e3;
    return db;
}

static void benchLoad(const char *label, const char *json, size_t len, apidb **out) {
    double json_ms, best_pack = 1e9;
    apidb *db = timeJsonLoad(label, json, len, &json_ms);
    unsigned char *packed;
    size_t plen;
    char err[AV_ERRLEN];
    apidbPack(db, &packed, &plen, err, sizeof(err));
    for (int i = 0; i < 5; i++) {
        apidb *u;
        double t0 = now();
        if (apidbUnpack(packed, plen, label, &u, err, sizeof(err)) != AV_OK) {
            fprintf(stderr, "%s\n", err);
            exit(1);
        }
        double ms = (now() - t0) * 1e3;
        best_pack = ms < best_pack ? ms : best_pack;
        apidbFree(u);
    }
    printf("db %-12s exports=%zu distinct=%zu json=%.1f MB  load json: %8.1f ms   "
           "compact (%.1f MB): %6.2f ms\n",
           label, apidbExportsRead(db), apidbCount(db), len / 1e6, json_ms, plen / 1e6, best_pack);
    free(packed);
    *out = db;
}

static void benchScan(const char *label, const winapi_table *t, const apidb *db,
                      const unsigned char *dump) {
    scan_options o;
    scanOptionsInit(&o);
    o.has_base_address = 1;
    o.base_address = 0x00400000;
    double best = 1e9;
    size_t hits = 0, filtered = 0, refs = 0;
    unsigned bits = 0;
    for (int i = 0; i < 3; i++) {
        scan_result *r;
        char err[AV_ERRLEN];
        double t0 = now();
        if (scanRun(t, &db, 1, dump, DUMP_BYTES, &o, &r, err, sizeof(err)) != AV_OK) {
            fprintf(stderr, "%s\n", err);
            exit(1);
        }
        double s = now() - t0;
        best = s < best ? s : best;
        hits = r->dbs[0].crawl.n;
        filtered = r->dbs[0].filtered.n;
        bits = r->dbs[0].stats.in_api_vector;
        refs = r->refs.n32 + r->refs.n64;
        scanFree(r);
    }
    printf("scan %-10s 64 MiB: %7.1f ms  %7.0f MB/s   hits=%zu filtered=%zu ref_sites=%zu "
           "vector_bits=%u\n",
           label, best * 1e3, DUMP_BYTES / 1e6 / best, hits, filtered, refs, bits);
}

static void benchMatch(void) {
    sbuf b = {0};
    for (int i = 0; i < 10000; i++) {
        apivector v = {0};
        for (int k = 0; k < 60; k++)
            vectorSet(&v, (unsigned)(rnd() % WINAPI_BITS));
        char text[VECTOR_TEXT_MAX + 1];
        vectorCompress(&v, text);
        sbufAdd(&b, "win.fam%d;sample%d;0;0;%s\n", i % 500, i, text);
    }
    char err[AV_ERRLEN];
    collection *c;
    double t0 = now();
    collectionParse(b.p, b.n, "bench.csv", &c, err, sizeof(err));
    double parse_ms = (now() - t0) * 1e3;
    size_t n = collectionSize(c);
    match_hit *hits = malloc(n * sizeof(*hits)), top[10];
    match_family *fam = malloc(collectionFamilyCount(c) * sizeof(*fam));
    apivector q = collectionEntries(c)[1234].vector;
    int reps = 200;
    size_t nf = 0, nt = 0;
    t0 = now();
    for (int i = 0; i < reps; i++) {
        q.w[i % 16] ^= 1ULL << (i % 64); /* a different query each time */
        matchCollection(c, &q, hits);
        nt = matchTop(hits, n, 10, top);
        nf = matchFamilies(c, hits, n, fam);
    }
    double per_query = (now() - t0) / reps * 1e3;
    printf("match 10,000 vectors / 500 families: parse %.1f ms, query (all scores + top %zu + "
           "best of %zu families): %.3f ms\n",
           parse_ms, nt, nf, per_query);
    free(hits);
    free(fam);
    collectionFree(c);
    free(b.p);
}

int main(int argc, char **argv) {
    const char *wpath = APISCOUT_DATA_DIR "/winapi1024v1.txt", *write_db = NULL;
    int no_dense = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-dense") == 0)
            no_dense = 1;
        else if (strcmp(argv[i], "--write-db") == 0 && i + 1 < argc)
            write_db = argv[++i];
        else
            wpath = argv[i];
    }
    char err[AV_ERRLEN], *text;
    size_t len;
    winapi_table *t;
    if (fileRead(wpath, 1 << 20, &text, &len, err, sizeof(err)) != AV_OK ||
        winapiParse(text, len, wpath, &t, err, sizeof(err)) != AV_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    free(text);
    mixed_db m = {0};
    makeMixedDb(t, &m);
    if (write_db) {
        FILE *f = fopen(write_db, "w");
        if (!f || fwrite(m.json, 1, m.len, f) != m.len || fclose(f) != 0) {
            fprintf(stderr, "%s: cannot write\n", write_db);
            return 1;
        }
        printf("wrote the mixed DB (%zu bytes) to %s\n", m.len, write_db);
    }
    unsigned char *dump = makeDump(&m);
    printf("peak RSS after generating inputs: %ld MB\n", peakRssMb());
    apidb *mixed, *dense;
    benchLoad("mixed", m.json, m.len, &mixed);
    free(m.json);
    long before = peakRssMb();
    benchScan("mixed", t, mixed, dump);
    printf("peak RSS: %ld MB (before scans %ld MB: the scan adds memory per hit, not per byte)\n",
           peakRssMb(), before);
    dense = NULL;
    if (!no_dense) {
        char *dj = makeDenseDb(&len);
        benchLoad("dense", dj, len, &dense);
        free(dj);
        benchScan("dense", t, dense, dump);
    }
    benchMatch();
    printf("peak RSS: %ld MB\n", peakRssMb());
    apidbFree(mixed);
    apidbFree(dense);
    free(m.addr32);
    free(m.addr64);
    free(dump);
    winapiFree(t);
    return 0;
}

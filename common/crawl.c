/*
 * crawl.c - the byte-by-byte scan of a dump against the DBs' indexes.
 *
 * At every offset one unaligned 8-byte load gives both candidate values: the
 * low 4 bytes are the uint32 of the 32-bit pass and all 8 the uint64 of the
 * 64-bit pass. Each is first tested against the union of the DBs' 65536-bit
 * filters (8 KiB each, L1 resident); on random data and on ordinary memory
 * only a few percent survive, and only those probe each DB's hash. Hits are
 * appended per DB and per width, so the final rows are "32-bit by offset,
 * then 64-bit by offset" without sorting. The last 7 offsets are handled by a
 * bounds-checked tail loop.
 */
#include "crawl.h"

#include <stdlib.h>
#include <string.h>

typedef struct row_vec {
    crawl_row *v;
    size_t n, cap;
} row_vec;

typedef struct crawl_state {
    const apidb *const *dbs;
    size_t ndbs;
    row_vec *r32; /* per DB */
    row_vec *r64;
    int oom;
} crawl_state;

static void rowPush(crawl_state *cs, row_vec *rv, uint64_t offset, uint64_t address,
                    const apidb_entry *e, unsigned bitness) {
    if (rv->n == rv->cap) {
        size_t cap = rv->cap ? rv->cap * 2 : 64;
        crawl_row *p = realloc(rv->v, cap * sizeof(*p));
        if (!p) {
            cs->oom = 1;
            return;
        }
        rv->v = p;
        rv->cap = cap;
    }
    rv->v[rv->n++] = (crawl_row){offset, address, e, (uint8_t)bitness, -1, 1};
}

static void crawlProbe(crawl_state *cs, uint64_t offset, uint64_t value, unsigned bitness) {
    for (size_t i = 0; i < cs->ndbs; i++) {
        const apidb_entry *e = apidbFind(cs->dbs[i], value, bitness);
        if (e)
            rowPush(cs, bitness == 32 ? &cs->r32[i] : &cs->r64[i], offset, value, e, bitness);
    }
}

static inline int filterHas(const uint64_t *f, uint32_t k) {
    return (int)((f[k >> 6] >> (k & 63)) & 1);
}

/* The main loop: offsets with 8 bytes left. */
static void crawlBody(crawl_state *cs, const unsigned char *d, size_t len, const uint64_t *f32,
                      const uint64_t *f64, int has64) {
    if (len < 8)
        return;
    size_t end = len - 7;
    for (size_t o = 0; o < end; o++) {
        uint64_t v;
        memcpy(&v, d + o, 8);
        uint32_t lo = (uint32_t)v;
        if (__builtin_expect(filterHas(f32, lo >> 16), 0))
            crawlProbe(cs, o, lo, 32);
        if (has64 && __builtin_expect(filterHas(f64, apidbFold64(v)), 0))
            crawlProbe(cs, o, v, 64);
    }
}

/* Offsets with 4 to 7 bytes left: only the 32-bit pass reaches them. */
static void crawlTail(crawl_state *cs, const unsigned char *d, size_t len, const uint64_t *f32) {
    size_t start = len >= 7 ? len - 7 : 0;
    for (size_t o = start; o + 4 <= len; o++) {
        uint32_t lo;
        memcpy(&lo, d + o, 4);
        if (filterHas(f32, lo >> 16))
            crawlProbe(cs, o, lo, 32);
    }
}

/* Concatenates a DB's 32-bit and 64-bit rows into its result. */
static int crawlJoin(row_vec *a, row_vec *b, crawl_rows *out) {
    out->n = a->n + b->n;
    out->rows = malloc((out->n ? out->n : 1) * sizeof(crawl_row));
    if (!out->rows)
        return 0;
    if (a->n)
        memcpy(out->rows, a->v, a->n * sizeof(crawl_row));
    if (b->n)
        memcpy(out->rows + a->n, b->v, b->n * sizeof(crawl_row));
    return 1;
}

av_status crawlRun(const apidb *const *dbs, size_t ndbs, const unsigned char *dump, size_t len,
                   crawl_rows *out, char *err, size_t errlen) {
    uint64_t f32[1024] = {0}, f64[1024] = {0};
    int has64 = 0;
    for (size_t i = 0; i < ndbs; i++) {
        const uint64_t *a = apidbFilter32(dbs[i]), *b = apidbFilter64(dbs[i]);
        for (size_t w = 0; w < 1024; w++) {
            f32[w] |= a[w];
            f64[w] |= b[w];
        }
        has64 |= apidbHas64(dbs[i]);
        out[i] = (crawl_rows){0};
    }
    crawl_state cs = {dbs, ndbs, calloc(ndbs ? ndbs : 1, sizeof(row_vec)),
                      calloc(ndbs ? ndbs : 1, sizeof(row_vec)), 0};
    av_status st = AV_OK;
    if (!cs.r32 || !cs.r64) {
        st = avErrorf(err, errlen, AV_ERR_NOMEM, "crawl: out of memory");
    } else {
        crawlBody(&cs, dump, len, f32, f64, has64);
        crawlTail(&cs, dump, len, f32);
        for (size_t i = 0; i < ndbs && !cs.oom; i++)
            cs.oom = !crawlJoin(&cs.r32[i], &cs.r64[i], &out[i]);
        if (cs.oom)
            st = avErrorf(err, errlen, AV_ERR_NOMEM, "crawl: out of memory for hits");
    }
    for (size_t i = 0; cs.r32 && cs.r64 && i < ndbs; i++) {
        free(cs.r32[i].v);
        free(cs.r64[i].v);
        if (st != AV_OK)
            crawlRowsFree(&out[i]);
    }
    free(cs.r32);
    free(cs.r64);
    return st;
}

void crawlRowsFree(crawl_rows *r) {
    free(r->rows);
    r->rows = NULL;
    r->n = 0;
}

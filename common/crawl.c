/*
 * crawl.c - the byte-by-byte scan of a dump against the DBs' indexes.
 *
 * Three stages keep the scan at memory speed:
 *  1. A byte pre-filter. A 32-bit export address has one of few values in
 *     its top byte, a 64-bit one in its bytes 5 and 7; on x86-64 with AVX2,
 *     32 offsets at a time are tested against those byte sets with pshufb
 *     lookups, so the common case costs a fraction of a cycle per offset.
 *     Without AVX2 a scalar loop does stage 2 directly.
 *  2. The DBs' 65536-bit filters (top 16 bits of a uint32, a fold of bits
 *     16..63 of a uint64): L1-resident, a bit test each.
 *  3. Survivors are collected in batches; for each batch the hash slots of
 *     every candidate are computed and prefetched first, then probed, so
 *     cache misses in a large DB overlap instead of queuing.
 * Hits are appended per DB and per width, so rows come out as "32-bit by
 * offset, then 64-bit by offset" without sorting.
 */
#include "crawl.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define CRAWL_BATCH 64

typedef struct row_vec {
    crawl_row *v;
    size_t n, cap;
} row_vec;

typedef struct crawl_cand {
    uint64_t offset, value;
    unsigned bitness;
} crawl_cand;

typedef struct crawl_state {
    const apidb *const *dbs;
    size_t ndbs;
    row_vec *r32; /* per DB */
    row_vec *r64;
    int oom;
    uint64_t f32[1024], f64[1024]; /* union of the DBs' filters */
    uint64_t s3[4], s5[4], s7[4];  /* union of the DBs' byte sets */
    int has64;
    crawl_cand batch[CRAWL_BATCH];
    uint64_t slot[CRAWL_BATCH];
    size_t nbatch;
} crawl_state;

static void rowPush(crawl_state *cs, row_vec *rv, const crawl_cand *c, const apidb_entry *e) {
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
    rv->v[rv->n++] = (crawl_row){c->offset, c->value, e, (uint8_t)c->bitness, -1, 1};
}

static void crawlFlush(crawl_state *cs) {
    for (size_t i = 0; i < cs->ndbs; i++) {
        const apidb *db = cs->dbs[i];
        for (size_t k = 0; k < cs->nbatch; k++)
            cs->slot[k] = apidbSlot(db, cs->batch[k].value);
        for (size_t k = 0; k < cs->nbatch; k++) {
            const crawl_cand *c = &cs->batch[k];
            const apidb_entry *e = apidbFindAt(db, c->value, c->bitness, cs->slot[k]);
            if (e)
                rowPush(cs, c->bitness == 32 ? &cs->r32[i] : &cs->r64[i], c, e);
        }
    }
    cs->nbatch = 0;
}

static inline void crawlCandidate(crawl_state *cs, uint64_t offset, uint64_t value,
                                  unsigned bitness) {
    cs->batch[cs->nbatch++] = (crawl_cand){offset, value, bitness};
    if (cs->nbatch == CRAWL_BATCH)
        crawlFlush(cs);
}

static inline int filterHas(const uint64_t *f, uint32_t k) {
    return (int)((f[k >> 6] >> (k & 63)) & 1);
}

static inline void crawlTest32(crawl_state *cs, const unsigned char *d, size_t o) {
    uint32_t v;
    memcpy(&v, d + o, 4);
    if (filterHas(cs->f32, v >> 16))
        crawlCandidate(cs, o, v, 32);
}

static inline void crawlTest64(crawl_state *cs, const unsigned char *d, size_t o) {
    uint64_t v;
    memcpy(&v, d + o, 8);
    if (filterHas(cs->f64, apidbFold64(v)))
        crawlCandidate(cs, o, v, 64);
}

/* Offsets from `from` on, with the scalar filters: 8 bytes left for both
 * widths, then 4..7 bytes left for the 32-bit pass only. */
static void crawlScalar(crawl_state *cs, const unsigned char *d, size_t len, size_t from) {
    for (size_t o = from; o + 8 <= len; o++) {
        crawlTest32(cs, d, o);
        if (cs->has64)
            crawlTest64(cs, d, o);
    }
    size_t tail = len >= 7 ? len - 7 : 0;
    for (size_t o = tail > from ? tail : from; o + 4 <= len; o++)
        crawlTest32(cs, d, o);
}

#if defined(__x86_64__)
/* Per-lane pshufb tables for a 256-bit byte set: lo[L] has bit H set when
 * byte (H << 4 | L) is in the set, H = 0..7; hi[L] the same for H = 8..15. */
typedef struct byteset_tables {
    unsigned char lo[32], hi[32];
} byteset_tables;

static void bytesetTables(const uint64_t *set, byteset_tables *t) {
    memset(t, 0, sizeof(*t));
    for (unsigned b = 0; b < 256; b++) {
        if (!((set[b >> 6] >> (b & 63)) & 1))
            continue;
        unsigned L = b & 15, H = b >> 4;
        unsigned char *row = H < 8 ? t->lo : t->hi;
        row[L] |= (unsigned char)(1u << (H & 7));
        row[L + 16] |= (unsigned char)(1u << (H & 7));
    }
}

__attribute__((target("avx2"))) static inline uint32_t
bytesetMatch(const unsigned char *p, __m256i lo, __m256i hi, __m256i bitpos) {
    __m256i x = _mm256_loadu_si256((const __m256i *)p);
    __m256i nib = _mm256_set1_epi8(0x0F);
    __m256i L = _mm256_and_si256(x, nib);
    __m256i H = _mm256_and_si256(_mm256_srli_epi16(x, 4), nib);
    __m256i row = _mm256_blendv_epi8(_mm256_shuffle_epi8(lo, L), _mm256_shuffle_epi8(hi, L),
                                     _mm256_cmpgt_epi8(H, _mm256_set1_epi8(7)));
    __m256i bit = _mm256_shuffle_epi8(bitpos, H);
    return (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_and_si256(row, bit), bit));
}

/* Stage 1 for blocks of 32 offsets; returns the first offset not done. */
__attribute__((target("avx2"))) static size_t crawlAvx2(crawl_state *cs, const unsigned char *d,
                                                        size_t len) {
    byteset_tables t3, t5, t7;
    bytesetTables(cs->s3, &t3);
    bytesetTables(cs->s5, &t5);
    bytesetTables(cs->s7, &t7);
    const __m256i bitpos =
        _mm256_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16,
                         32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
    __m256i lo3 = _mm256_loadu_si256((const __m256i *)t3.lo);
    __m256i hi3 = _mm256_loadu_si256((const __m256i *)t3.hi);
    __m256i lo5 = _mm256_loadu_si256((const __m256i *)t5.lo);
    __m256i hi5 = _mm256_loadu_si256((const __m256i *)t5.hi);
    __m256i lo7 = _mm256_loadu_si256((const __m256i *)t7.lo);
    __m256i hi7 = _mm256_loadu_si256((const __m256i *)t7.hi);
    size_t o = 0;
    /* Each block reads up to d[o + 7 + 31] and loads 8 bytes at o + 31. */
    for (; o + 40 <= len; o += 32) {
        uint32_t m32 = bytesetMatch(d + o + 3, lo3, hi3, bitpos);
        uint32_t m64 = cs->has64 ? bytesetMatch(d + o + 5, lo5, hi5, bitpos) &
                                       bytesetMatch(d + o + 7, lo7, hi7, bitpos)
                                 : 0;
        for (; m32; m32 &= m32 - 1)
            crawlTest32(cs, d, o + (size_t)__builtin_ctz(m32));
        for (; m64; m64 &= m64 - 1)
            crawlTest64(cs, d, o + (size_t)__builtin_ctz(m64));
    }
    return o;
}
#endif

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

static void crawlUnion(crawl_state *cs) {
    for (size_t i = 0; i < cs->ndbs; i++) {
        const apidb *db = cs->dbs[i];
        const uint64_t *a = apidbFilter32(db), *b = apidbFilter64(db);
        for (size_t w = 0; w < 1024; w++) {
            cs->f32[w] |= a[w];
            cs->f64[w] |= b[w];
        }
        for (size_t w = 0; w < 4; w++) {
            cs->s3[w] |= apidbByteSet(db, 3)[w];
            cs->s5[w] |= apidbByteSet(db, 5)[w];
            cs->s7[w] |= apidbByteSet(db, 7)[w];
        }
        cs->has64 |= apidbHas64(db);
    }
}

static void crawlScan(crawl_state *cs, const unsigned char *d, size_t len, unsigned flags) {
    size_t from = 0;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!(flags & CRAWL_SCALAR) && __builtin_cpu_supports("avx2"))
        from = crawlAvx2(cs, d, len);
#else
    (void)flags;
#endif
    crawlScalar(cs, d, len, from);
    crawlFlush(cs);
}

av_status crawlRun(const apidb *const *dbs, size_t ndbs, const unsigned char *dump, size_t len,
                   crawl_rows *out, char *err, size_t errlen) {
    return crawlRunFlags(dbs, ndbs, dump, len, 0, out, err, errlen);
}

av_status crawlRunFlags(const apidb *const *dbs, size_t ndbs, const unsigned char *dump, size_t len,
                        unsigned flags, crawl_rows *out, char *err, size_t errlen) {
    crawl_state *cs = calloc(1, sizeof(*cs));
    if (!cs)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "crawl: out of memory");
    cs->dbs = dbs;
    cs->ndbs = ndbs;
    cs->r32 = calloc(ndbs ? ndbs : 1, sizeof(row_vec));
    cs->r64 = calloc(ndbs ? ndbs : 1, sizeof(row_vec));
    for (size_t i = 0; i < ndbs; i++)
        out[i] = (crawl_rows){0};
    av_status st = AV_OK;
    if (!cs->r32 || !cs->r64) {
        st = avErrorf(err, errlen, AV_ERR_NOMEM, "crawl: out of memory");
    } else {
        crawlUnion(cs);
        crawlScan(cs, dump, len, flags);
        for (size_t i = 0; i < ndbs && !cs->oom; i++)
            cs->oom = !crawlJoin(&cs->r32[i], &cs->r64[i], &out[i]);
        if (cs->oom)
            st = avErrorf(err, errlen, AV_ERR_NOMEM, "crawl: out of memory for hits");
    }
    for (size_t i = 0; cs->r32 && cs->r64 && i < ndbs; i++) {
        free(cs->r32[i].v);
        free(cs->r64[i].v);
        if (st != AV_OK)
            crawlRowsFree(&out[i]);
    }
    free(cs->r32);
    free(cs->r64);
    free(cs);
    return st;
}

void crawlRowsFree(crawl_rows *r) {
    free(r->rows);
    r->rows = NULL;
    r->n = 0;
}

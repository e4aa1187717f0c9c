/*
 * refs.c - find FF 15 / FF 25 reference sites and index them by target.
 *
 * Sites are found with memchr() for the 0xFF byte, which keeps the pass at
 * memory speed on ordinary data. Both readings of a site are kept as
 * (target, site) pairs; sorting them makes a row's references a binary
 * search plus a contiguous run, already in ascending site order.
 */
#include "refs.h"

#include <stdlib.h>
#include <string.h>

typedef struct pair_vec {
    refs_pair *v;
    size_t n, cap;
} pair_vec;

static int pairPush(pair_vec *pv, uint64_t target, uint64_t site) {
    if (pv->n == pv->cap) {
        size_t cap = pv->cap ? pv->cap * 2 : 256;
        refs_pair *p = realloc(pv->v, cap * sizeof(*p));
        if (!p)
            return 0;
        pv->v = p;
        pv->cap = cap;
    }
    pv->v[pv->n++] = (refs_pair){target, site};
    return 1;
}

static int pairCompare(const void *a, const void *b) {
    const refs_pair *x = a, *y = b;
    if (x->target != y->target)
        return x->target < y->target ? -1 : 1;
    return x->site < y->site ? -1 : (x->site > y->site);
}

av_status refsCollect(const unsigned char *d, size_t len, uint64_t base, refs_table *out, char *err,
                      size_t errlen) {
    memset(out, 0, sizeof(*out));
    pair_vec v32 = {0}, v64 = {0};
    int ok = 1;
    /* A site needs its opcode and 4 operand bytes: s + 6 <= len. */
    for (size_t s = 0; ok && len >= 6 && s + 6 <= len;) {
        const unsigned char *p = memchr(d + s, 0xFF, len - 5 - s);
        if (!p)
            break;
        s = (size_t)(p - d);
        unsigned char op = d[s + 1];
        if (op == 0x15 || op == 0x25) {
            uint32_t u;
            memcpy(&u, d + s + 2, 4);
            __int128 t32 = (__int128)u - (__int128)base;
            if (t32 > 0 && t32 < (__int128)len)
                ok = pairPush(&v32, (uint64_t)t32, s);
            int64_t t64 = (int64_t)(int32_t)u + (int64_t)s + (op == 0x15 ? 6 : 7);
            if (ok && t64 > 0 && (uint64_t)t64 < len)
                ok = pairPush(&v64, (uint64_t)t64, s);
            s += 2; /* FF 15 / FF 25 cannot overlap another site */
        } else {
            s += 1;
        }
    }
    if (!ok) {
        free(v32.v);
        free(v64.v);
        return avErrorf(err, errlen, AV_ERR_NOMEM, "reference sites: out of memory");
    }
    if (v32.n)
        qsort(v32.v, v32.n, sizeof(refs_pair), pairCompare);
    if (v64.n)
        qsort(v64.v, v64.n, sizeof(refs_pair), pairCompare);
    *out = (refs_table){v32.v, v32.n, v64.v, v64.n};
    return AV_OK;
}

void refsFree(refs_table *t) {
    free(t->by32);
    free(t->by64);
    memset(t, 0, sizeof(*t));
}

const refs_pair *refsFind(const refs_table *t, unsigned bitness, uint64_t offset, size_t *n) {
    const refs_pair *v = bitness == 64 ? t->by64 : t->by32;
    size_t cnt = bitness == 64 ? t->n64 : t->n32;
    size_t lo = 0, hi = cnt;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].target < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < cnt && v[end].target == offset)
        end++;
    *n = end - lo;
    return *n ? v + lo : NULL;
}

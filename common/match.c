/*
 * match.c - scoring and ranking.
 *
 * The intersection weight is summed over the set bits of a AND b only: with
 * rank = 1023 - bit, a word's contribution is 1023 * popcount - sum of bit
 * positions, so a typical entry costs 16 ANDs and a few dozen ctz steps. The
 * union weight is weight(a) + weight(b) - intersection, with the entries'
 * weights precomputed by the collection.
 */
#include "match.h"

#include <stdlib.h>
#include <string.h>

static uint32_t matchIntersection(const apivector *a, const apivector *b) {
    uint32_t w = 0;
    for (unsigned i = 0; i < 16; i++)
        for (uint64_t x = a->w[i] & b->w[i]; x; x &= x - 1)
            w += WINAPI_BITS - 1 - (i * 64 + (unsigned)__builtin_ctzll(x));
    return w;
}

static double matchRatio(uint32_t inter, uint32_t wa, uint32_t wb) {
    uint32_t uni = wa + wb - inter;
    return uni ? (double)inter / (double)uni : 0.0;
}

double matchScore(const apivector *a, const apivector *b) {
    return matchRatio(matchIntersection(a, b), vectorWeight(a), vectorWeight(b));
}

void matchCollection(const collection *c, const apivector *v, match_hit *out) {
    const collection_entry *e = collectionEntries(c);
    size_t n = collectionSize(c);
    uint32_t wv = vectorWeight(v);
    for (size_t i = 0; i < n; i++) {
        out[i].entry = (uint32_t)i;
        out[i].score = matchRatio(matchIntersection(v, &e[i].vector), wv, e[i].weight);
    }
}

/* 1 when x ranks before y in result order. */
static int matchBefore(const match_hit *x, const match_hit *y) {
    return x->score > y->score || (x->score == y->score && x->entry < y->entry);
}

static int matchCompare(const void *a, const void *b) {
    const match_hit *x = a, *y = b;
    return matchBefore(x, y) ? -1 : (matchBefore(y, x) ? 1 : 0);
}

void matchSort(match_hit *hits, size_t n) {
    if (n > 1)
        qsort(hits, n, sizeof(*hits), matchCompare);
}

size_t matchTop(const match_hit *hits, size_t n, size_t k, match_hit *out) {
    size_t m = 0;
    for (size_t i = 0; i < n && k > 0; i++) {
        if (m == k && !matchBefore(&hits[i], &out[k - 1]))
            continue;
        size_t j = m < k ? m++ : k - 1; /* insertion into the sorted top list */
        while (j > 0 && matchBefore(&hits[i], &out[j - 1])) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = hits[i];
    }
    return m;
}

static int familyCompare(const void *a, const void *b) {
    const match_family *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->family < y->family ? -1 : (x->family > y->family);
}

size_t matchFamilies(const collection *c, const match_hit *hits, size_t n, match_family *out) {
    size_t nf = collectionFamilyCount(c);
    const collection_entry *e = collectionEntries(c);
    for (size_t f = 0; f < nf; f++)
        out[f] = (match_family){(uint32_t)f, UINT32_MAX, -1.0};
    for (size_t i = 0; i < n; i++) {
        match_family *mf = &out[e[hits[i].entry].family];
        if (mf->entry == UINT32_MAX || matchBefore(&hits[i], &(match_hit){mf->entry, mf->score})) {
            mf->entry = hits[i].entry;
            mf->score = hits[i].score;
        }
    }
    size_t m = 0;
    for (size_t f = 0; f < nf; f++)
        if (out[f].entry != UINT32_MAX)
            out[m++] = out[f];
    if (m > 1)
        qsort(out, m, sizeof(*out), familyCompare);
    return m;
}

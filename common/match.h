/*
 * match.h - weighted Jaccard matching of ApiVectors against collections.
 *
 * score(a, b) = sum of ranks over bits set in both / sum of ranks over bits
 * set in either, 0 when both are empty (or hold only the rank-0 bit); ranks
 * are the WinApi1024 weights, which follow from bit positions (rank = 1023 -
 * bit). Scores are computed as the reference computes them, integer sums and
 * one division, so they are bit-identical to it.
 *
 * Result order is the reference's: score descending, equal scores in entry
 * order. matchTop() and matchFamilies() give the top k and the best score
 * per family without sorting all scores, which keeps a query against 10,000
 * vectors well under a millisecond.
 *
 * Ownership: outputs go to caller arrays. Thread-safety: pure functions.
 */
#ifndef APIVECTOR_MATCH_H
#define APIVECTOR_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "collection.h"
#include "vector.h"

typedef struct match_hit {
    uint32_t entry; /* index into collectionEntries() */
    double score;
} match_hit;

typedef struct match_family {
    uint32_t family; /* index for collectionFamily() */
    uint32_t entry;  /* the entry with the family's best score */
    double score;
} match_family;

double matchScore(const apivector *a, const apivector *b);

/* Scores every entry: out[i] is entry i (room for collectionSize() hits). */
void matchCollection(const collection *c, const apivector *v, match_hit *out);

/* Sorts hits into result order (score descending, then entry order). */
void matchSort(match_hit *hits, size_t n);

/* The k best hits in result order, without sorting the rest; returns how
 * many were written to out (min(k, n)). */
size_t matchTop(const match_hit *hits, size_t n, size_t k, match_hit *out);

/* Best hit per family, in result order of those best hits (ties: family
 * order). out needs room for collectionFamilyCount(); returns the count. */
size_t matchFamilies(const collection *c, const match_hit *hits, size_t n, match_family *out);

#endif

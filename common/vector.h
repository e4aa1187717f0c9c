/*
 * vector.h - ApiVectors: 1024 bits, one per WinApi1024 entry.
 *
 * A vector is built from a DB's filtered rows (the set of normalized
 * (dll, api) pairs, see apidb.h) or from an API list, and written in the
 * reference's compressed text form: the bits as 6-bit groups (with "00"
 * appended to make 1026 bits) mapped to
 * "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz@}]^+-*\/?,._", then runs
 * of 3 or more equal characters written as <char><count>.
 *
 * Ownership: vectors are plain values. Thread-safety: all functions are pure.
 */
#ifndef APIVECTOR_VECTOR_H
#define APIVECTOR_VECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "apidb.h"
#include "crawl.h"
#include "error.h"
#include "winapi.h"

/* Longest compressed form: 171 symbols, no runs. */
#define VECTOR_TEXT_MAX 172

typedef struct apivector {
    uint64_t w[16]; /* bit i = w[i / 64] >> (i % 64) */
} apivector;

typedef struct vector_stats {
    unsigned num_unique_apis; /* distinct normalized (dll, api) pairs */
    unsigned in_api_vector;   /* bits set */
    double percentage;        /* 100 * in / unique, 0 when unique is 0 */
} vector_stats;

static inline int vectorTest(const apivector *v, unsigned bit) {
    return (int)((v->w[bit >> 6] >> (bit & 63)) & 1);
}

static inline void vectorSet(apivector *v, unsigned bit) {
    v->w[bit >> 6] |= 1ULL << (bit & 63);
}

unsigned vectorPopcount(const apivector *v);

/* Sum of the ranks (weights) of the set bits: rank = 1023 - bit. */
uint32_t vectorWeight(const apivector *v);

/* Vector of a DB's rows. Fails only with AV_ERR_NOMEM. */
av_status vectorFromRows(const winapi_table *t, const apidb *db, const crawl_row *rows, size_t n,
                         apivector *out, vector_stats *stats, char *err, size_t errlen);

/* Vector of "dll!Api" strings, each treated as a row whose dll field is
 * "<dll>_x" (so the dll is the text before '!'). An item without '!' is an
 * AV_ERR_PARSE naming its index. */
av_status vectorFromApiList(const winapi_table *t, const char *const *apis, size_t n,
                            apivector *out, vector_stats *stats, char *err, size_t errlen);

/* Writes the compressed form, NUL-terminated, into buf[VECTOR_TEXT_MAX + 1]. */
void vectorCompress(const apivector *v, char *buf);

/* Parses a compressed vector. Errors name the position: an invalid character,
 * a count that overflows, or a length other than 1026 bits. */
av_status vectorDecompress(const char *text, size_t len, apivector *out, char *err, size_t errlen);

/* 100 * sqrt(#bits with rank > 64 / #bits) * min(#bits, 20) / 20; 0 for none. */
double vectorConfidence(const winapi_table *t, const apivector *v);

/* Calls fn(dll, function, ctx) for each set bit in bit order. */
void vectorForEachApi(const winapi_table *t, const apivector *v,
                      void (*fn)(const char *dll, const char *function, void *ctx), void *ctx);

#endif

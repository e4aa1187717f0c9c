/*
 * engine_fixtures.h - small inputs for the engine's unit tests, built in code.
 *
 * The tests never copy upstream data: a WinApi1024 table is generated here
 * (line i is "g<i>;s;dll<i%4>.dll!Fn<i>;<rank>" with rank = (mul*i + add) %
 * 1024, a permutation whenever mul is odd), any line can be replaced by a
 * caller-chosen API, DB JSON is written inline by each test, and dumps are
 * byte arrays filled with the little-endian helpers below. The "canonical"
 * table (mul = add = 1023) puts line i at bit i (rank 1023 - i), which lets a
 * test name the API of a bit directly: fxWinapiCanonical() takes (bit, api)
 * overrides for the few bits a test cares about.
 *
 * Every helper asserts through cmocka, so a broken fixture fails the test
 * that uses it. All functions are static inline: each test file takes what
 * it needs. Not thread-safe (plain helpers for single-threaded tests).
 */
#ifndef APIVECTOR_ENGINE_FIXTURES_H
#define APIVECTOR_ENGINE_FIXTURES_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apidb.h"
#include "error.h"
#include "winapi.h"

/* A growing NUL-terminated text buffer. */
typedef struct fx_buf {
    char *p;
    size_t len, cap;
} fx_buf;

static inline void fxAppendf(fx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void fxAppendf(fx_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Rank of generated line i (0-based). */
static inline unsigned fxRank(unsigned mul, unsigned add, unsigned i) {
    return (mul * i + add) % WINAPI_BITS;
}

/* The table text; apis (may be NULL, or 1024 entries that may be NULL)
 * replaces the dll!Function field of line i. Caller frees the text. */
static inline char *fxWinapiText(unsigned mul, unsigned add, const char *const *apis, size_t *len) {
    fx_buf b = {0};
    for (unsigned i = 0; i < WINAPI_BITS; i++) {
        if (apis && apis[i])
            fxAppendf(&b, "g%u;s;%s;%u\n", i, apis[i], fxRank(mul, add, i));
        else
            fxAppendf(&b, "g%u;s;dll%u.dll!Fn%u;%u\n", i, i % 4, i, fxRank(mul, add, i));
    }
    *len = b.len;
    return b.p;
}

typedef struct fx_api {
    unsigned bit;
    const char *api; /* "dll!Function" */
} fx_api;

/* The canonical table (line i = bit i = rank 1023 - i) with overrides. */
static inline winapi_table *fxWinapiCanonical(const fx_api *over, size_t n) {
    const char *apis[WINAPI_BITS] = {0};
    for (size_t i = 0; i < n; i++)
        apis[over[i].bit] = over[i].api;
    size_t len;
    char *text = fxWinapiText(1023, 1023, apis, &len);
    winapi_table *t = NULL;
    char err[AV_ERRLEN] = "";
    av_status st = winapiParse(text, len, "canonical", &t, err, sizeof(err));
    free(text);
    if (st != AV_OK)
        fail_msg("fixture table rejected: %s", err);
    return t;
}

/* Parses DB JSON that the test expects to be valid. */
static inline apidb *fxDb(const char *json, int ignore_aslr) {
    apidb *db = NULL;
    char err[AV_ERRLEN] = "";
    av_status st =
        apidbParseJson(json, strlen(json), "fixture.json", ignore_aslr, &db, err, sizeof(err));
    if (st != AV_OK)
        fail_msg("fixture DB rejected: %s", err);
    return db;
}

/* Little-endian stores into a dump under construction. */
static inline void fxPut16(unsigned char *d, size_t off, uint16_t v) {
    d[off] = (unsigned char)v;
    d[off + 1] = (unsigned char)(v >> 8);
}

static inline void fxPut32(unsigned char *d, size_t off, uint32_t v) {
    for (int i = 0; i < 4; i++)
        d[off + (size_t)i] = (unsigned char)(v >> (8 * i));
}

static inline void fxPut64(unsigned char *d, size_t off, uint64_t v) {
    for (int i = 0; i < 8; i++)
        d[off + (size_t)i] = (unsigned char)(v >> (8 * i));
}

/* A seeded xorshift64* generator for the randomized comparisons. */
static inline uint64_t fxRand(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* Asserts a status and that the message contains `needle`. */
#define fx_assert_err(st, expected, err, needle)                                                   \
    do {                                                                                           \
        av_status fx_st_ = (st);                                                                   \
        if (fx_st_ != (expected))                                                                  \
            fail_msg("status %s, expected %s (message: %s)", avStatusName(fx_st_),                 \
                     avStatusName(expected), (err));                                               \
        if (!strstr((err), (needle)))                                                              \
            fail_msg("message \"%s\" lacks \"%s\"", (err), (needle));                              \
    } while (0)

#endif

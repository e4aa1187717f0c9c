/*
 * vector.c - build, compress, decompress and score ApiVectors.
 *
 * Building from rows uses the DB's precomputed normalized pair ids: a bitmap
 * over the ids de-duplicates the rows, and only the first row of each pair
 * costs a WinApi1024 hash lookup. Building from an API list normalizes the
 * strings here instead and de-duplicates them by sorting.
 */
#include "vector.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char VECTOR_ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz@}]^+-*/?,._";

#define VECTOR_SYMBOLS 171 /* 1026 bits / 6 */

unsigned vectorPopcount(const apivector *v) {
    unsigned n = 0;
    for (int i = 0; i < 16; i++)
        n += (unsigned)__builtin_popcountll(v->w[i]);
    return n;
}

uint32_t vectorWeight(const apivector *v) {
    uint32_t w = 0;
    for (unsigned i = 0; i < 16; i++)
        for (uint64_t x = v->w[i]; x; x &= x - 1)
            w += WINAPI_BITS - 1 - (i * 64 + (unsigned)__builtin_ctzll(x));
    return w;
}

static void vectorStatsFinish(const apivector *v, unsigned unique, vector_stats *stats) {
    stats->num_unique_apis = unique;
    stats->in_api_vector = vectorPopcount(v);
    stats->percentage = unique ? 100.0 * stats->in_api_vector / unique : 0.0;
}

av_status vectorFromRows(const winapi_table *t, const apidb *db, const crawl_row *rows, size_t n,
                         apivector *out, vector_stats *stats, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    size_t nnorm = apidbNormCount(db);
    uint64_t *seen = calloc(nnorm / 64 + 1, sizeof(uint64_t));
    if (!seen)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "vector: out of memory");
    unsigned unique = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = rows[i].entry->norm;
        if (seen[id >> 6] & (1ULL << (id & 63)))
            continue;
        seen[id >> 6] |= 1ULL << (id & 63);
        unique++;
        const char *dll, *api;
        size_t dll_len, api_len;
        apidbNormPair(db, id, &dll, &dll_len, &api, &api_len);
        int bit = winapiLookup(t, dll, dll_len, api, api_len);
        if (bit >= 0)
            vectorSet(out, (unsigned)bit);
    }
    free(seen);
    vectorStatsFinish(out, unique, stats);
    return AV_OK;
}

typedef struct norm_item {
    const char *dll, *api;
    size_t dll_len, api_len;
} norm_item;

static int normItemCompare(const void *a, const void *b) {
    const norm_item *x = a, *y = b;
    if (x->dll_len != y->dll_len)
        return x->dll_len < y->dll_len ? -1 : 1;
    if (x->api_len != y->api_len)
        return x->api_len < y->api_len ? -1 : 1;
    int c = memcmp(x->dll, y->dll, x->dll_len);
    return c ? c : memcmp(x->api, y->api, x->api_len);
}

/* The reference's normalization of one "dll!Api" item. */
static void normItemFrom(const char *s, const char *bang, norm_item *it) {
    it->dll = s;
    it->dll_len = (size_t)(bang - s);
    if (it->dll_len >= 5 && memcmp(s, "msvcr", 5) == 0) {
        it->dll = "msvcrt.dll";
        it->dll_len = 10;
    }
    it->api = bang + 1;
    size_t n = strcspn(it->api, "!@");
    if (n > 0 && (it->api[n - 1] == 'A' || it->api[n - 1] == 'W'))
        n--;
    it->api_len = n;
}

av_status vectorFromApiList(const winapi_table *t, const char *const *apis, size_t n,
                            apivector *out, vector_stats *stats, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    norm_item *items = malloc((n ? n : 1) * sizeof(*items));
    if (!items)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "vector: out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *bang = strchr(apis[i], '!');
        if (!bang) {
            free(items);
            return avErrorf(err, errlen, AV_ERR_PARSE, "API list item %zu (\"%.80s\"): no '!'", i,
                            apis[i]);
        }
        normItemFrom(apis[i], bang, &items[i]);
    }
    if (n)
        qsort(items, n, sizeof(*items), normItemCompare);
    unsigned unique = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && normItemCompare(&items[i - 1], &items[i]) == 0)
            continue;
        unique++;
        int bit = winapiLookup(t, items[i].dll, items[i].dll_len, items[i].api, items[i].api_len);
        if (bit >= 0)
            vectorSet(out, (unsigned)bit);
    }
    free(items);
    vectorStatsFinish(out, unique, stats);
    return AV_OK;
}

static unsigned vectorSymbol(const apivector *v, unsigned j) {
    unsigned s = 0;
    for (unsigned b = 6 * j; b < 6 * j + 6; b++)
        s = (s << 1) | (b < WINAPI_BITS ? (unsigned)vectorTest(v, b) : 0u);
    return s;
}

void vectorCompress(const apivector *v, char *buf) {
    char sym[VECTOR_SYMBOLS];
    for (unsigned j = 0; j < VECTOR_SYMBOLS; j++)
        sym[j] = VECTOR_ALPHABET[vectorSymbol(v, j)];
    size_t o = 0;
    for (unsigned j = 0; j < VECTOR_SYMBOLS;) {
        unsigned run = 1;
        while (j + run < VECTOR_SYMBOLS && sym[j + run] == sym[j])
            run++;
        if (run <= 2) {
            for (unsigned r = 0; r < run; r++)
                buf[o++] = sym[j];
        } else {
            buf[o++] = sym[j];
            o += (size_t)snprintf(buf + o, VECTOR_TEXT_MAX + 1 - o, "%u", run);
        }
        j += run;
    }
    buf[o] = '\0';
}

static int vectorSymbolValue(char c) {
    const char *p = c ? strchr(VECTOR_ALPHABET, c) : NULL;
    return p ? (int)(p - VECTOR_ALPHABET) : -1;
}

av_status vectorDecompress(const char *text, size_t len, apivector *out, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    size_t nsym = 0;
    for (size_t i = 0; i < len;) {
        int val = vectorSymbolValue(text[i]);
        if (val < 0)
            return avErrorf(err, errlen, AV_ERR_PARSE,
                            "vector: invalid character 0x%02x at position %zu",
                            (unsigned char)text[i], i);
        size_t start = i++;
        size_t count = 1;
        if (i < len && text[i] >= '0' && text[i] <= '9') {
            count = 0;
            for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
                count = count * 10 + (size_t)(text[i] - '0');
                if (count > VECTOR_SYMBOLS)
                    return avErrorf(err, errlen, AV_ERR_PARSE,
                                    "vector: run at position %zu overflows 1024 bits", start);
            }
        }
        if (nsym + count > VECTOR_SYMBOLS)
            return avErrorf(err, errlen, AV_ERR_PARSE,
                            "vector: run at position %zu overflows 1024 bits", start);
        for (size_t r = 0; r < count; r++, nsym++)
            for (unsigned b = 0; b < 6; b++) {
                unsigned bit = (unsigned)(6 * nsym + b);
                if (bit < WINAPI_BITS && ((unsigned)val >> (5 - b)) & 1)
                    vectorSet(out, bit);
            }
    }
    if (nsym != VECTOR_SYMBOLS)
        return avErrorf(err, errlen, AV_ERR_PARSE,
                        "vector: %zu symbols (%zu bits), expected 171 (1026 bits)", nsym, nsym * 6);
    return AV_OK;
}

double vectorConfidence(const winapi_table *t, const apivector *v) {
    unsigned total = 0, rare = 0;
    for (unsigned b = 0; b < WINAPI_BITS; b++) {
        if (!vectorTest(v, b))
            continue;
        total++;
        rare += winapiRank(t, b) > 64;
    }
    if (total == 0)
        return 0.0;
    return 100.0 * sqrt(1.0 * rare / total) * (1.0 * (total < 20 ? total : 20) / 20);
}

void vectorForEachApi(const winapi_table *t, const apivector *v,
                      void (*fn)(const char *dll, const char *function, void *ctx), void *ctx) {
    for (unsigned b = 0; b < WINAPI_BITS; b++)
        if (vectorTest(v, b))
            fn(winapiDll(t, b), winapiFunction(t, b), ctx);
}

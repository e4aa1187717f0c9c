/*
 * winapi.c - parse the WinApi1024 table and look APIs up in it.
 *
 * Lines are validated strictly (four `;` fields, `dll!Function`, an integer
 * rank 0..1023 seen once), then placed by rank: bit = 1023 - rank, which is
 * the reference's "sort by rank descending". Lookups go through a small open
 * addressing hash over "dll!function" so the vectorizer pays one hash per
 * unique API, not a scan of 1024 strings.
 */
#include "winapi.h"

#include <stdlib.h>
#include <string.h>

#define WINAPI_HASH_SLOTS 4096 /* power of two, 4x the entries */

struct winapi_table {
    char *dll[WINAPI_BITS];
    char *fn[WINAPI_BITS];
    size_t dll_len[WINAPI_BITS];
    size_t fn_len[WINAPI_BITS];
    int16_t slots[WINAPI_HASH_SLOTS]; /* bit + 1, 0 = empty */
};

static uint64_t winapiHash(const char *dll, size_t dll_len, const char *fn, size_t fn_len) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < dll_len; i++)
        h = (h ^ (unsigned char)dll[i]) * 1099511628211ULL;
    h = (h ^ '!') * 1099511628211ULL;
    for (size_t i = 0; i < fn_len; i++)
        h = (h ^ (unsigned char)fn[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

void winapiFree(winapi_table *t) {
    if (!t)
        return;
    for (int i = 0; i < WINAPI_BITS; i++) {
        free(t->dll[i]);
        free(t->fn[i]);
    }
    free(t);
}

int winapiLookup(const winapi_table *t, const char *dll, size_t dll_len, const char *fn,
                 size_t fn_len) {
    uint64_t h = winapiHash(dll, dll_len, fn, fn_len);
    for (size_t probe = 0; probe < WINAPI_HASH_SLOTS; probe++) {
        int slot = t->slots[(h + probe) & (WINAPI_HASH_SLOTS - 1)];
        if (slot == 0)
            return -1;
        int bit = slot - 1;
        if (t->dll_len[bit] == dll_len && t->fn_len[bit] == fn_len &&
            memcmp(t->dll[bit], dll, dll_len) == 0 && memcmp(t->fn[bit], fn, fn_len) == 0)
            return bit;
    }
    return -1;
}

unsigned winapiRank(const winapi_table *t, unsigned bit) {
    (void)t;
    return WINAPI_BITS - 1 - bit;
}

const char *winapiDll(const winapi_table *t, unsigned bit) {
    return t->dll[bit];
}

const char *winapiFunction(const winapi_table *t, unsigned bit) {
    return t->fn[bit];
}

static char *winapiDup(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Parses one line (without its newline) into the table. */
static av_status winapiParseLine(winapi_table *t, const char *line, size_t n, const char *source,
                                 size_t lineno, char *err, size_t errlen) {
    const char *field[4];
    size_t flen[4];
    size_t nf = 0;
    const char *start = line;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || line[i] == ';') {
            if (nf == 4)
                return avErrorf(err, errlen, AV_ERR_PARSE, "%s:%zu: more than 4 ';' fields", source,
                                lineno);
            field[nf] = start;
            flen[nf] = (size_t)(line + i - start);
            nf++;
            start = line + i + 1;
        }
    }
    if (nf != 4)
        return avErrorf(err, errlen, AV_ERR_PARSE,
                        "%s:%zu: expected 4 ';' fields (group;subgroup;dll!Function;rank), got %zu",
                        source, lineno, nf);
    /* The reference strips whitespace around the API and rank fields. */
    while (flen[2] && (*field[2] == ' ' || *field[2] == '\t'))
        field[2]++, flen[2]--;
    while (flen[2] && (field[2][flen[2] - 1] == ' ' || field[2][flen[2] - 1] == '\t'))
        flen[2]--;
    const char *bang = memchr(field[2], '!', flen[2]);
    if (!bang || bang == field[2] || bang == field[2] + flen[2] - 1 ||
        memchr(bang + 1, '!', (size_t)(field[2] + flen[2] - bang - 1)))
        return avErrorf(err, errlen, AV_ERR_PARSE,
                        "%s:%zu: third field must be dll!Function with exactly one '!'", source,
                        lineno);
    unsigned long rank = 0;
    size_t digits = 0;
    size_t i = 0;
    while (i < flen[3] && (field[3][i] == ' ' || field[3][i] == '\t'))
        i++;
    for (; i < flen[3] && field[3][i] >= '0' && field[3][i] <= '9'; i++, digits++) {
        rank = rank * 10 + (unsigned long)(field[3][i] - '0');
        if (rank > 100000)
            break;
    }
    while (i < flen[3] && (field[3][i] == ' ' || field[3][i] == '\t' || field[3][i] == '\r'))
        i++;
    if (digits == 0 || i != flen[3] || rank >= WINAPI_BITS)
        return avErrorf(err, errlen, AV_ERR_PARSE, "%s:%zu: rank must be an integer 0..1023",
                        source, lineno);
    unsigned bit = (unsigned)(WINAPI_BITS - 1 - rank);
    if (t->dll[bit])
        return avErrorf(err, errlen, AV_ERR_PARSE, "%s:%zu: rank %lu appears twice", source, lineno,
                        rank);
    size_t dll_len = (size_t)(bang - field[2]);
    size_t fn_len = flen[2] - dll_len - 1;
    if (winapiLookup(t, field[2], dll_len, bang + 1, fn_len) >= 0)
        return avErrorf(err, errlen, AV_ERR_PARSE, "%s:%zu: %.*s appears twice", source, lineno,
                        (int)flen[2], field[2]);
    t->dll[bit] = winapiDup(field[2], dll_len);
    t->fn[bit] = winapiDup(bang + 1, fn_len);
    if (!t->dll[bit] || !t->fn[bit])
        return avErrorf(err, errlen, AV_ERR_NOMEM, "%s: out of memory", source);
    t->dll_len[bit] = dll_len;
    t->fn_len[bit] = fn_len;
    uint64_t h = winapiHash(field[2], dll_len, bang + 1, fn_len);
    while (t->slots[h & (WINAPI_HASH_SLOTS - 1)])
        h++;
    t->slots[h & (WINAPI_HASH_SLOTS - 1)] = (int16_t)(bit + 1);
    return AV_OK;
}

av_status winapiParse(const char *text, size_t len, const char *source, winapi_table **out,
                      char *err, size_t errlen) {
    *out = NULL;
    winapi_table *t = calloc(1, sizeof(*t));
    if (!t)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "%s: out of memory", source);
    size_t count = 0, lineno = 0, pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        lineno++;
        if (n > 0 && text[pos + n - 1] == '\r')
            n--;
        if (n > 0) {
            if (count == WINAPI_BITS) {
                winapiFree(t);
                return avErrorf(err, errlen, AV_ERR_PARSE, "%s:%zu: more than %d API lines", source,
                                lineno, WINAPI_BITS);
            }
            av_status st = winapiParseLine(t, text + pos, n, source, lineno, err, errlen);
            if (st != AV_OK) {
                winapiFree(t);
                return st;
            }
            count++;
        }
        pos += (nl ? (size_t)(nl - (text + pos)) + 1 : len - pos);
    }
    if (count != WINAPI_BITS) {
        winapiFree(t);
        return avErrorf(err, errlen, AV_ERR_PARSE, "%s: %zu API lines, expected exactly %d", source,
                        count, WINAPI_BITS);
    }
    *out = t;
    return AV_OK;
}

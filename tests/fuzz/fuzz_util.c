/*
 * fuzz_util.c - shared helpers of the fuzz targets: failing checks and a
 * WinApi1024 table generated in code (see fuzz_util.h).
 *
 * The generated table uses rank = (i * 389) mod 1024 for line i: 389 is odd,
 * so this is a permutation of 0..1023, and it scatters the named APIs over
 * high and low ranks, which makes confidence values vary.
 */
#include "fuzz_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuzzFail(const char *file, int line, const char *cond, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s:%d: check `%s` failed: ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

char *fuzzWinapiText(const char *const *apis, size_t napis, size_t *len) {
    if (napis > WINAPI_BITS)
        abort();
    size_t cap = 64 * WINAPI_BITS;
    for (size_t i = 0; i < napis; i++)
        cap += strlen(apis[i]);
    char *text = malloc(cap);
    if (!text)
        abort();
    size_t o = 0;
    for (size_t i = 0; i < WINAPI_BITS; i++) {
        unsigned rank = (unsigned)((i * 389) % WINAPI_BITS);
        int n;
        if (i < napis)
            n = snprintf(text + o, cap - o, "grp%zu;sub;%s;%u\n", i % 7, apis[i], rank);
        else
            n = snprintf(text + o, cap - o, "grp%zu;sub;synth%zu.dll!Synth%zu;%u\n", i % 7, i % 13,
                         i, rank);
        if (n < 0 || (size_t)n >= cap - o)
            abort();
        o += (size_t)n;
    }
    *len = o;
    return text;
}

winapi_table *fuzzWinapiTable(const char *const *apis, size_t napis) {
    size_t len;
    char *text = fuzzWinapiText(apis, napis, &len);
    char err[AV_ERRLEN];
    winapi_table *t = NULL;
    if (winapiParse(text, len, "generated", &t, err, sizeof(err)) != AV_OK) {
        fprintf(stderr, "generated WinApi1024 table rejected: %s\n", err);
        abort();
    }
    free(text);
    return t;
}

uint64_t fuzzLe(const uint8_t *p, unsigned size) {
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int fuzzErrorNamesSource(const char *err) {
    return strncmp(err, FUZZ_SOURCE, strlen(FUZZ_SOURCE)) == 0;
}

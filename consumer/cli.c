/*
 * cli.c - helpers shared by the subcommands: number parsing, locating and
 * loading the WinApi1024 table, error output.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fileio.h"
#include "match.h"

#ifndef APISCOUT_DATA_DIR
#define APISCOUT_DATA_DIR "../shared/apiscout"
#endif

int cliParseU64(const char *s, uint64_t *out) {
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

const char *cliWinapiPath(const char *flag_value) {
    if (flag_value)
        return flag_value;
    const char *env = getenv("APIVECTOR_WINAPI1024");
    return env && *env ? env : APISCOUT_DATA_DIR "/winapi1024v1.txt";
}

winapi_table *cliLoadWinapi(const char *path) {
    char err[AV_ERRLEN];
    char *text;
    size_t len;
    winapi_table *t = NULL;
    if (fileRead(path, 16u << 20, &text, &len, err, sizeof(err)) != AV_OK ||
        winapiParse(text, len, path, &t, err, sizeof(err)) != AV_OK) {
        fprintf(stderr, "apivector: WinApi1024: %s\n", err);
        t = NULL;
    }
    free(text);
    return t;
}

void cliError(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "apivector %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

collection *cliLoadCollection(const char *cmd, const char *path) {
    char err[AV_ERRLEN];
    char *text;
    size_t len;
    collection *c = NULL;
    if (fileRead(path, 1u << 30, &text, &len, err, sizeof(err)) != AV_OK ||
        collectionParse(text, len, path, &c, err, sizeof(err)) != AV_OK) {
        cliError(cmd, "collection: %s", err);
        c = NULL;
    }
    free(text);
    for (size_t i = 0; c && i < collectionWarningCount(c) && collectionWarning(c, i); i++)
        fprintf(stderr, "apivector %s: warning: %s\n", cmd, collectionWarning(c, i));
    return c;
}

void cliPrintMatches(const collection *c, const apivector *v, size_t k) {
    size_t n = collectionSize(c);
    match_hit *hits = malloc((n ? n : 1) * sizeof(*hits));
    match_hit *top = malloc((k ? k : 1) * sizeof(*top));
    match_family *fam = malloc((collectionFamilyCount(c) + 1) * sizeof(*fam));
    if (hits && top && fam) {
        matchCollection(c, v, hits);
        size_t nf = matchFamilies(c, hits, n, fam), nt = matchTop(hits, n, k, top);
        printf("Top %zu family matches:\n", k);
        for (size_t i = 0; i < nf && i < k; i++)
            printf("  %-30s %-40s %.3f\n", collectionFamily(c, fam[i].family),
                   collectionEntries(c)[fam[i].entry].sample, fam[i].score);
        printf("Top %zu individual matches:\n", k);
        for (size_t i = 0; i < nt; i++) {
            const collection_entry *e = &collectionEntries(c)[top[i].entry];
            printf("  %-30s %-40s %.3f\n", collectionFamily(c, e->family), e->sample, top[i].score);
        }
    }
    free(hits);
    free(top);
    free(fam);
}

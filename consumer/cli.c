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

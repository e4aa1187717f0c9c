/*
 * secret.c - secrets from config, environment or file (see secret.h).
 *
 * The file is read with a bound so a mistaken path (a dump, /dev/zero) cannot
 * exhaust memory, and buffers that held the secret are wiped before free.
 */
#include "secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Trims blanks and validates; returns a malloc'd copy in *out. */
static av_status secretAccept(const char *src, size_t len, const char *origin, char **out,
                              char *err, size_t errlen) {
    while (len && (*src == ' ' || *src == '\t' || *src == '\r' || *src == '\n')) {
        src++;
        len--;
    }
    while (len && (src[len - 1] == ' ' || src[len - 1] == '\t' || src[len - 1] == '\r' ||
                   src[len - 1] == '\n'))
        len--;
    if (len == 0)
        return avErrorf(err, errlen, AV_ERR_NOTFOUND, "secret from %s is empty", origin);
    if (len > SECRET_MAX)
        return avErrorf(err, errlen, AV_ERR_LIMIT, "secret from %s is longer than %d bytes", origin,
                        SECRET_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)src[i] < 0x20 || src[i] == 0x7f)
            return avErrorf(err, errlen, AV_ERR_PARSE,
                            "secret from %s has a control character at offset %zu", origin, i);
    char *copy = malloc(len + 1);
    if (!copy)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "out of memory for a secret");
    memcpy(copy, src, len);
    copy[len] = '\0';
    *out = copy;
    return AV_OK;
}

static av_status secretFromFile(const char *path, char **out, char *err, size_t errlen) {
    char origin[300];
    char buf[SECRET_MAX + 2];
    snprintf(origin, sizeof(origin), "file %s", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return avErrorf(err, errlen, AV_ERR_IO, "cannot open secret file %s: %s", path,
                        strerror(errno));
    size_t n = fread(buf, 1, sizeof(buf), f);
    int failed = ferror(f);
    fclose(f);
    av_status st;
    if (failed)
        st = avErrorf(err, errlen, AV_ERR_IO, "cannot read secret file %s", path);
    else if (n == sizeof(buf))
        st = avErrorf(err, errlen, AV_ERR_LIMIT, "secret file %s is larger than %d bytes", path,
                      SECRET_MAX);
    else
        st = secretAccept(buf, n, origin, out, err, errlen);
    memset(buf, 0, sizeof(buf));
    return st;
}

av_status secretLoad(const char *value, const char *env_name, const char *file_path, char **out,
                     char *err, size_t errlen) {
    *out = NULL;
    if (value && value[0])
        return secretAccept(value, strlen(value), "the configuration", out, err, errlen);
    if (env_name && env_name[0]) {
        const char *v = getenv(env_name);
        if (v && v[0]) {
            char origin[160];
            snprintf(origin, sizeof(origin), "environment variable %.128s", env_name);
            return secretAccept(v, strlen(v), origin, out, err, errlen);
        }
    }
    if (file_path && file_path[0])
        return secretFromFile(file_path, out, err, errlen);
    return avErrorf(
        err, errlen, AV_ERR_NOTFOUND, "no secret given (value, environment %s, file %s)",
        env_name && env_name[0] ? env_name : "-", file_path && file_path[0] ? file_path : "-");
}

void secretFree(char *secret) {
    if (secret) {
        memset(secret, 0, strlen(secret));
        free(secret);
    }
}

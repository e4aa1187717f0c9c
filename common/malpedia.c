/*
 * malpedia.c - Malpedia header and response validation (see malpedia.h).
 *
 * The check is deliberately shallow: it only has to tell a collection from an
 * HTML error page, a JSON error object or a cut-off body. Parsing the vectors
 * is the collection module's job once the store has accepted the bytes.
 */
#include "malpedia.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

av_status malpediaAuthHeader(const char *apikey, char **out, char *err, size_t errlen) {
    *out = NULL;
    size_t n = apikey ? strlen(apikey) : 0;
    if (n == 0)
        return avErrorf(err, errlen, AV_ERR_PARSE, "Malpedia API key is empty");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)apikey[i];
        if (ch <= ' ' || ch >= 0x7f)
            return avErrorf(err, errlen, AV_ERR_PARSE,
                            "Malpedia API key has a blank or non-printable character at offset "
                            "%zu",
                            i);
    }
    static const char prefix[] = "Authorization: apitoken ";
    char *h = malloc(sizeof(prefix) + n);
    if (!h)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "out of memory for the Malpedia header");
    memcpy(h, prefix, sizeof(prefix) - 1);
    memcpy(h + sizeof(prefix) - 1, apikey, n + 1);
    *out = h;
    return AV_OK;
}

static size_t malpediaCountFields(const unsigned char *line, size_t len) {
    size_t fields = 1;
    for (size_t i = 0; i < len; i++)
        if (line[i] == ';')
            fields++;
    return fields;
}

av_status malpediaCheck(const unsigned char *in, size_t len, char *err, size_t errlen) {
    if (len < MALPEDIA_MIN_BYTES)
        return avErrorf(err, errlen, AV_ERR_PARSE,
                        "Malpedia answer has %zu bytes, fewer than %d: not a collection", len,
                        MALPEDIA_MIN_BYTES);
    size_t lineno = 0, records = 0, pos = 0;
    while (pos < len) {
        const unsigned char *nl = memchr(in + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - in) : len;
        size_t l = end - pos;
        lineno++;
        if (l && in[pos + l - 1] == '\r')
            l--;
        if (l > 0 && in[pos] != '#') {
            if (memchr(in + pos, '\0', l))
                return avErrorf(err, errlen, AV_ERR_PARSE,
                                "Malpedia answer line %zu has a NUL byte: not a collection",
                                lineno);
            size_t f = malpediaCountFields(in + pos, l);
            if (f < MALPEDIA_MIN_FIELDS)
                return avErrorf(err, errlen, AV_ERR_PARSE,
                                "Malpedia answer line %zu has %zu ';'-separated fields, expected "
                                "at least %d: not a collection",
                                lineno, f, MALPEDIA_MIN_FIELDS);
            records++;
        }
        pos = end + 1;
    }
    if (records == 0)
        return avErrorf(err, errlen, AV_ERR_PARSE, "Malpedia answer has no records");
    return AV_OK;
}

av_status malpediaValidate(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen,
                           void *ctx, char *err, size_t errlen) {
    av_status st = malpediaCheck(in, len, err, errlen);
    if (st != AV_OK)
        return st;
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "out of memory copying %zu bytes", len);
    memcpy(copy, in, len);
    *out = copy;
    *outlen = len;
    return AV_OK;
}

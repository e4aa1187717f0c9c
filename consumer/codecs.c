/*
 * codecs.c - the artifact codecs of the consumer (see codecs.h).
 *
 * Each codec is a static constant table of functions. The DB encoder parses
 * the JSON once and keeps only the packed form, so every other consumer that
 * finds the DB in Redis skips JSON parsing; everything else is cached as the
 * origin sent it, after a validating parse, and parsed again on decode (the
 * store decodes what it caches in every process, the fetching one included,
 * so all hold identical objects).
 */
#include "codecs.h"

#include <stdlib.h>
#include <string.h>

#include "apidb.h"
#include "collection.h"
#include "malpedia.h"
#include "winapi.h"

/* WinApi1024 has no footprint accessor; its size is dominated by the names,
 * which are about the text's size, plus the lookup index. */
#define CODEC_WINAPI_OVERHEAD (64 * 1024)

static av_status codecCopy(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen,
                           char *err, size_t errlen) {
    *out = malloc(len ? len : 1);
    if (!*out)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "out of memory copying %zu bytes", len);
    if (len)
        memcpy(*out, in, len);
    *outlen = len;
    return AV_OK;
}

/* ------------------------------------------------------------------ DB */

static av_status codecDbEncodeWith(const unsigned char *in, size_t len, int ignore_aslr,
                                   unsigned char **out, size_t *outlen, char *err, size_t errlen) {
    apidb *db = NULL;
    av_status st = apidbParseJson((const char *)in, len, "DB JSON", ignore_aslr, &db, err, errlen);
    if (st != AV_OK)
        return st;
    st = apidbPack(db, out, outlen, err, errlen);
    apidbFree(db);
    return st;
}

static av_status codecDbEncode(const unsigned char *in, size_t len, unsigned char **out,
                               size_t *outlen, void *ctx, char *err, size_t errlen) {
    return codecDbEncodeWith(in, len, 0, out, outlen, err, errlen);
}

static av_status codecDbEncodeNoAslr(const unsigned char *in, size_t len, unsigned char **out,
                                     size_t *outlen, void *ctx, char *err, size_t errlen) {
    return codecDbEncodeWith(in, len, 1, out, outlen, err, errlen);
}

static av_status codecDbDecode(const unsigned char *in, size_t len, void **obj, size_t *footprint,
                               void *ctx, char *err, size_t errlen) {
    apidb *db = NULL;
    av_status st = apidbUnpack(in, len, "cached DB", &db, err, errlen);
    if (st != AV_OK)
        return st;
    *obj = db;
    *footprint = apidbFootprint(db);
    return AV_OK;
}

static void codecDbDestroy(void *obj) {
    apidbFree(obj);
}

static const artifact_codec CODEC_DB = {"db1", codecDbEncode, codecDbDecode, codecDbDestroy, NULL};
static const artifact_codec CODEC_DB_NOASLR = {"db1-noaslr", codecDbEncodeNoAslr, codecDbDecode,
                                               codecDbDestroy, NULL};

const artifact_codec *codecDb(bool ignore_aslr) {
    return ignore_aslr ? &CODEC_DB_NOASLR : &CODEC_DB;
}

/* ---------------------------------------------------------- collections */

static av_status codecCollectionEncode(const unsigned char *in, size_t len, unsigned char **out,
                                       size_t *outlen, void *ctx, char *err, size_t errlen) {
    collection *c = NULL;
    av_status st = collectionParse((const char *)in, len, "collection", &c, err, errlen);
    if (st != AV_OK)
        return st;
    /* Malformed lines are exactly the warnings: content but no entry at all
     * is not a collection, it is an error page. */
    if (collectionSize(c) == 0 && collectionWarningCount(c) > 0) {
        st = avErrorf(err, errlen, AV_ERR_PARSE,
                      "not a collection: none of its %zu non-comment lines is valid (%s)",
                      collectionWarningCount(c),
                      collectionWarning(c, 0) ? collectionWarning(c, 0) : "");
        collectionFree(c);
        return st;
    }
    collectionFree(c);
    return codecCopy(in, len, out, outlen, err, errlen);
}

static av_status codecCollectionDecode(const unsigned char *in, size_t len, void **obj,
                                       size_t *footprint, void *ctx, char *err, size_t errlen) {
    collection *c = NULL;
    av_status st = collectionParse((const char *)in, len, "collection", &c, err, errlen);
    if (st != AV_OK)
        return st;
    *obj = c;
    *footprint = collectionFootprint(c);
    return AV_OK;
}

static void codecCollectionDestroy(void *obj) {
    collectionFree(obj);
}

static const artifact_codec CODEC_COLLECTION = {
    "collection", codecCollectionEncode, codecCollectionDecode, codecCollectionDestroy, NULL};
static const artifact_codec CODEC_MALPEDIA = {"malpedia", malpediaValidate, codecCollectionDecode,
                                              codecCollectionDestroy, NULL};

const artifact_codec *codecCollection(void) {
    return &CODEC_COLLECTION;
}

const artifact_codec *codecMalpedia(void) {
    return &CODEC_MALPEDIA;
}

/* -------------------------------------------------------------- WinApi1024 */

static av_status codecWinapiEncode(const unsigned char *in, size_t len, unsigned char **out,
                                   size_t *outlen, void *ctx, char *err, size_t errlen) {
    winapi_table *t = NULL;
    av_status st = winapiParse((const char *)in, len, "WinApi1024", &t, err, errlen);
    if (st != AV_OK)
        return st;
    winapiFree(t);
    return codecCopy(in, len, out, outlen, err, errlen);
}

static av_status codecWinapiDecode(const unsigned char *in, size_t len, void **obj,
                                   size_t *footprint, void *ctx, char *err, size_t errlen) {
    winapi_table *t = NULL;
    av_status st = winapiParse((const char *)in, len, "WinApi1024", &t, err, errlen);
    if (st != AV_OK)
        return st;
    *obj = t;
    *footprint = 2 * len + CODEC_WINAPI_OVERHEAD;
    return AV_OK;
}

static void codecWinapiDestroy(void *obj) {
    winapiFree(obj);
}

static const artifact_codec CODEC_WINAPI = {"winapi", codecWinapiEncode, codecWinapiDecode,
                                            codecWinapiDestroy, NULL};

const artifact_codec *codecWinapi(void) {
    return &CODEC_WINAPI;
}

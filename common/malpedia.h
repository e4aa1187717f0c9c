/*
 * malpedia.h - Malpedia's ApiVector collection as an artifact.
 *
 * Malpedia serves its ApiScout collection at an authenticated URL (header
 * "Authorization: apitoken <key>"), refreshed daily. This module holds the
 * defaults, builds the header, and validates a download before the artifact
 * store accepts it as a new version (malpediaValidate as the codec's encode):
 * a response under MALPEDIA_MIN_BYTES, or one whose non-empty, non-comment
 * lines do not all have at least five ';'-separated fields, is an error page
 * or a truncated answer, not a collection. The store then keeps serving the
 * previous copy, marked stale.
 *
 * The key never appears in a message from here. Thread-safety: reentrant.
 */
#ifndef APIVECTOR_MALPEDIA_H
#define APIVECTOR_MALPEDIA_H

#include <stddef.h>

#include "error.h"

#define MALPEDIA_DEFAULT_URL "https://malpedia.caad.fkie.fraunhofer.de/api/list/apiscout/csv"
#define MALPEDIA_TTL_SECONDS 86400
#define MALPEDIA_MIN_BYTES 20
#define MALPEDIA_MIN_FIELDS 5

/* Builds "Authorization: apitoken <key>" into a malloc'd string (free it with
 * secretFree). AV_ERR_PARSE if the key is empty or has characters that do
 * not belong in a header. */
av_status malpediaAuthHeader(const char *apikey, char **out, char *err, size_t errlen);

/* Checks that in[0..len) looks like the collection CSV; the message names
 * the first bad line. */
av_status malpediaCheck(const unsigned char *in, size_t len, char *err, size_t errlen);

/* artifact_codec.encode: malpediaCheck, then a copy of the input as is. */
av_status malpediaValidate(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen,
                           void *ctx, char *err, size_t errlen);

#endif

/*
 * origin.h - download one artifact from its origin, with retries.
 *
 * The artifact store's only path to the support server (or Malpedia): one
 * conditional GET through httpGet into memory, retried with equal-jitter
 * exponential backoff (backoff.h) while the failure is transient, never when
 * it is permanent or a size limit. The sha256 of the body is computed here so
 * the store can key its caches by content.
 *
 * Ownership: a successful 200 result owns data (free with originResultFree).
 * Thread-safety: reentrant; the random state for the jitter is the caller's.
 */
#ifndef APIVECTOR_ORIGIN_H
#define APIVECTOR_ORIGIN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sha256.h"

typedef struct origin_options {
    long connect_timeout_ms; /* 0 = http default */
    long timeout_ms;         /* 0 = http default */
    uint64_t max_bytes;      /* 0 = unlimited */
    int retries;             /* extra attempts after a transient failure */
    long backoff_base_ms;
    long backoff_max_ms;
    long max_redirects;
    int tls_insecure;
    const char *ca_bundle;
} origin_options;

typedef struct origin_result {
    long status;         /* 200 or 304 on success; last status seen on failure */
    unsigned char *data; /* body of a 200 (malloc'd), NULL otherwise */
    size_t len;
    char sha256[SHA256_HEXLEN]; /* of the body of a 200 */
    unsigned char digest[SHA256_LEN];
    char etag[256];
    char last_modified[64];
    int attempts;
} origin_result;

/* GETs url. what names the artifact in messages ("db/win7_x64"); headers is
 * a NULL-terminated "Name: value" list or NULL; the validators may be NULL or
 * "". rng is the caller's jitter state (backoffRandom). On failure the
 * message reads "<what>: GET <url>: <reason> (after N attempts)". */
av_status originFetch(const origin_options *opt, const char *what, const char *url,
                      const char *const *headers, const char *if_none_match,
                      const char *if_modified_since, uint64_t *rng, origin_result *res, char *err,
                      size_t errlen);

/* Frees the body of a result; the result may be reused afterwards. */
void originResultFree(origin_result *res);

#endif

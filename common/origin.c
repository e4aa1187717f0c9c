/*
 * origin.c - one artifact download with retries (see origin.h).
 *
 * Each attempt starts from an empty buffer: a truncated body is worthless,
 * the support server does not do ranges, and artifacts are small next to the
 * time a retry waits anyway.
 */
#include "origin.h"

#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "http.h"

void originResultFree(origin_result *res) {
    if (res) {
        free(res->data);
        res->data = NULL;
        res->len = 0;
    }
}

static av_status originAttempt(const origin_options *opt, const char *url,
                               const char *const *headers, const char *inm, const char *ims,
                               origin_result *res, char *err, size_t errlen) {
    http_request req = {
        .url = url,
        .headers = headers,
        .if_none_match = inm,
        .if_modified_since = ims,
        .connect_timeout_ms = opt->connect_timeout_ms,
        .timeout_ms = opt->timeout_ms,
        .max_bytes = opt->max_bytes,
        .max_redirects = opt->max_redirects,
        .tls_insecure = opt->tls_insecure,
        .ca_bundle = opt->ca_bundle,
    };
    http_buffer buf = {0};
    http_response resp;
    av_status st = httpGet(&req, httpBufferSink, &buf, &resp, err, errlen);
    res->status = resp.status;
    if (st != AV_OK || resp.status == 304) {
        free(buf.data);
        if (st == AV_OK) {
            memcpy(res->etag, resp.etag, sizeof(res->etag));
            memcpy(res->last_modified, resp.last_modified, sizeof(res->last_modified));
        }
        return st;
    }
    st = sha256Digest(buf.data ? buf.data : (unsigned char *)"", buf.len, res->digest, err, errlen);
    if (st != AV_OK) {
        free(buf.data);
        return st;
    }
    sha256Hex(res->digest, res->sha256);
    res->data = buf.data ? buf.data : calloc(1, 1);
    res->len = buf.len;
    memcpy(res->etag, resp.etag, sizeof(res->etag));
    memcpy(res->last_modified, resp.last_modified, sizeof(res->last_modified));
    if (!res->data)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "out of memory");
    return AV_OK;
}

av_status originFetch(const origin_options *opt, const char *what, const char *url,
                      const char *const *headers, const char *if_none_match,
                      const char *if_modified_since, uint64_t *rng, origin_result *res, char *err,
                      size_t errlen) {
    char msg[AV_ERRLEN];
    backoff bo;
    memset(res, 0, sizeof(*res));
    backoffInit(&bo, (uint32_t)(opt->backoff_base_ms > 0 ? opt->backoff_base_ms : 1),
                (uint32_t)(opt->backoff_max_ms > 0 ? opt->backoff_max_ms : 1), backoffRandom(rng));
    int max_attempts = 1 + (opt->retries > 0 ? opt->retries : 0);
    av_status st = AV_OK;
    for (int attempt = 1; attempt <= max_attempts; attempt++) {
        res->attempts = attempt;
        st = originAttempt(opt, url, headers, if_none_match, if_modified_since, res, msg,
                           sizeof(msg));
        if (st != AV_ERR_TRANSIENT || attempt == max_attempts)
            break;
        backoffSleepMs(backoffNext(&bo));
    }
    if (st != AV_OK)
        return avErrorf(err, errlen, st, "%s: %s (after %d attempt%s)", what, msg, res->attempts,
                        res->attempts == 1 ? "" : "s");
    return AV_OK;
}

/*
 * http.h - one bounded HTTP(S) GET with libcurl, streamed into a caller sink.
 *
 * Every network read apivector does (support-server artifacts, Malpedia,
 * dumps) goes through httpGet(), so limits and error classes are the same
 * everywhere:
 *
 *   - the body is handed to the caller's sink chunk by chunk as it arrives; it
 *     is never buffered here, and max_bytes is enforced while streaming (a
 *     Content-Length above the limit is refused before the first byte, and a
 *     body that keeps growing is aborted at the limit);
 *   - connect and total timeouts, a redirect limit (0 = never follow), TLS
 *     peer and host verification on unless the caller turns it off, an
 *     optional CA bundle, and only http/https (file:// only when the caller
 *     asks for it; a redirect may never lead to file://);
 *   - failures are classified for the caller:
 *       AV_ERR_TRANSIENT  connect/resolve failure, timeout, 5xx, 408, 429,
 *                         a truncated body, TLS handshake or verification
 *                         failure (an operator can fix those; retry later)
 *       AV_ERR_PERMANENT  any other 4xx, a malformed or non-allowed URL, a
 *                         redirect when none are allowed, too many redirects,
 *                         file:// that does not exist or cannot be read
 *       AV_ERR_LIMIT      the body exceeds max_bytes
 *       AV_ERR_USAGE      bad arguments
 *       whatever the sink returns, when the sink refuses a chunk
 *     304 Not Modified is not an error: httpGet returns AV_OK with
 *     resp->status == 304 and the sink is never called.
 *
 * Messages name the URL with any user:password and query string removed
 * (presigned URLs carry secrets in the query); header values are never put
 * into a message, so an Authorization header is safe to pass.
 *
 * Thread-safety: httpGet is reentrant (one curl easy handle per call,
 * CURLOPT_NOSIGNAL set). Call httpGlobalInit() once at program start, before
 * any thread calls httpGet.
 */
#ifndef APIVECTOR_HTTP_H
#define APIVECTOR_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define HTTP_DEFAULT_TIMEOUT_MS 120000

/* Protocol bits for http_request.protocols; 0 means HTTP_PROTO_HTTP|HTTPS. */
#define HTTP_PROTO_HTTP 0x1
#define HTTP_PROTO_HTTPS 0x2
#define HTTP_PROTO_FILE 0x4

typedef struct http_request {
    const char *url;
    /* NULL-terminated list of "Name: value" lines (e.g. "Authorization:
     * apitoken K"), or NULL. The values never appear in error messages. */
    const char *const *headers;
    /* Conditional request validators from a cached copy, or NULL. */
    const char *if_none_match;     /* sent as If-None-Match */
    const char *if_modified_since; /* sent as If-Modified-Since */
    long connect_timeout_ms;       /* 0 = HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
    long timeout_ms;               /* whole transfer; 0 = HTTP_DEFAULT_TIMEOUT_MS */
    uint64_t max_bytes;            /* body limit; 0 = unlimited */
    long max_redirects;            /* 0 = do not follow redirects */
    int tls_insecure;              /* 1 = skip certificate checks (tests only) */
    const char *ca_bundle;         /* PEM CA bundle path; NULL = system store */
    int protocols;                 /* HTTP_PROTO_* bits; 0 = http + https */
} http_request;

typedef struct http_response {
    long status;            /* final HTTP status; 200 for a file:// read */
    char etag[256];         /* ETag of the final response, "" if none or too long */
    char last_modified[64]; /* Last-Modified, "" if none or too long */
    uint64_t body_bytes;    /* bytes handed to the sink */
    int64_t content_length; /* announced length, -1 if not announced */
} http_response;

/* Receives the body in order, chunk by chunk. Return AV_OK to go on; any
 * other status aborts the transfer and httpGet returns that status with the
 * message the sink wrote into err (sinks should name what they refused). */
typedef av_status (*http_sink)(const unsigned char *data, size_t len, void *sink_ctx, char *err,
                               size_t errlen);

/* Initialises libcurl's global state. Call once from main before starting
 * threads; not thread-safe. Returns AV_ERR_IO if libcurl cannot start. */
av_status httpGlobalInit(char *err, size_t errlen);

/* Runs one GET as described at the top of this file. resp is always filled
 * (status 0 when no response arrived). The sink is called only for a 2xx
 * response body. On AV_OK the whole body was delivered (or status is 304).
 * Error messages look like "GET http://host/path: HTTP 404". */
av_status httpGet(const http_request *req, http_sink write_fn, void *sink_ctx, http_response *resp,
                  char *err, size_t errlen);

/* A sink that appends to a growing heap buffer: set up an http_buffer zeroed,
 * pass httpBufferSink and &buf, then own buf.data (free() it). max_bytes in
 * the request bounds its size. */
typedef struct http_buffer {
    unsigned char *data;
    size_t len;
    size_t cap;
} http_buffer;
av_status httpBufferSink(const unsigned char *data, size_t len, void *sink_ctx, char *err,
                         size_t errlen);

/* Copies url into out with any "user:password@" removed and the query string
 * and fragment replaced by "?...", for messages and logs. Always terminates
 * out (truncating if needed). */
void httpUrlRedact(const char *url, char *out, size_t outlen);

#endif

/*
 * http.c - one bounded GET with libcurl (see http.h for the contract).
 *
 * A fresh easy handle per call keeps httpGet reentrant without any shared
 * state; artifact and dump fetches are rare enough that losing connection
 * reuse costs nothing measurable. The write callback is where the limits
 * live: it checks the announced Content-Length on the first chunk, counts
 * bytes as they arrive and aborts (by returning a short count) the moment the
 * limit would be crossed, so an endless body never reaches the sink. Bodies
 * of non-2xx answers (error pages, redirects) are read and dropped.
 *
 * After the transfer the curl result and the HTTP status are mapped to the
 * av_status classes the callers act on: transient (retry later), permanent
 * (never retry), limit.
 */
#include "http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

/* State shared between httpGet and the libcurl callbacks of one transfer. */
typedef struct http_transfer {
    CURL *curl;
    http_sink sink;
    void *sink_ctx;
    http_response *resp;
    uint64_t max_bytes;
    int is_file;
    int limit_hit;
    int checked_length;
    av_status sink_status;
    char sink_err[AV_ERRLEN];
} http_transfer;

av_status httpGlobalInit(char *err, size_t errlen) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return avErrorf(err, errlen, AV_ERR_IO, "libcurl global initialisation failed");
    return AV_OK;
}

void httpUrlRedact(const char *url, char *out, size_t outlen) {
    if (!out || outlen == 0)
        return;
    if (!url) {
        snprintf(out, outlen, "(null)");
        return;
    }
    const char *p = url;
    const char *scheme_end = strstr(url, "://");
    size_t o = 0;
    if (scheme_end) {
        size_t n = (size_t)(scheme_end - url) + 3;
        const char *auth = scheme_end + 3;
        size_t authlen = strcspn(auth, "/?#");
        const char *at = memchr(auth, '@', authlen);
        o = snprintf(out, outlen, "%.*s", (int)n, url);
        p = at ? at + 1 : auth;
    }
    size_t keep = strcspn(p, "?#");
    if (o < outlen)
        o += snprintf(out + o, outlen - o, "%.*s", (int)keep, p);
    if (p[keep] != '\0' && o < outlen)
        snprintf(out + o, outlen - o, "?...");
}

/* Copies a header value without surrounding blanks, or leaves dst empty if it
 * does not fit: a cut ETag would make every revalidation miss, an empty one
 * only costs a full download. */
static void httpCopyHeaderValue(char *dst, size_t dstlen, const char *v, size_t len) {
    while (len && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    while (len && isspace((unsigned char)v[len - 1]))
        len--;
    if (len >= dstlen) {
        dst[0] = '\0';
        return;
    }
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static size_t httpHeaderCallback(char *buf, size_t size, size_t nitems, void *userdata) {
    http_transfer *t = userdata;
    size_t len = size * nitems;
    /* Each response of a redirect chain starts with its status line: only
     * the validators of the final response count. */
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        t->resp->etag[0] = '\0';
        t->resp->last_modified[0] = '\0';
        return len;
    }
    if (len > 5 && strncasecmp(buf, "ETag:", 5) == 0)
        httpCopyHeaderValue(t->resp->etag, sizeof(t->resp->etag), buf + 5, len - 5);
    else if (len > 14 && strncasecmp(buf, "Last-Modified:", 14) == 0)
        httpCopyHeaderValue(t->resp->last_modified, sizeof(t->resp->last_modified), buf + 14,
                            len - 14);
    return len;
}

static int httpStatusIsSuccess(const http_transfer *t, long code) {
    return (t->is_file && code == 0) || (code >= 200 && code < 300);
}

static size_t httpWriteCallback(char *data, size_t size, size_t nmemb, void *userdata) {
    http_transfer *t = userdata;
    size_t len = size * nmemb;
    long code = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
    if (!httpStatusIsSuccess(t, code))
        return len; /* error page or redirect body: drop it */
    if (!t->checked_length) {
        curl_off_t cl = -1;
        t->checked_length = 1;
        curl_easy_getinfo(t->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        if (t->max_bytes && cl > 0 && (uint64_t)cl > t->max_bytes) {
            t->limit_hit = 1;
            return 0;
        }
    }
    if (t->max_bytes && t->resp->body_bytes + len > t->max_bytes) {
        t->limit_hit = 1;
        return 0;
    }
    if (t->sink) {
        av_status st = t->sink((const unsigned char *)data, len, t->sink_ctx, t->sink_err,
                               sizeof(t->sink_err));
        if (st != AV_OK) {
            t->sink_status = st;
            return 0;
        }
    }
    t->resp->body_bytes += len;
    return len;
}

/* Refuses header values with CR or LF: a validator read back from a cache
 * must not be able to inject request headers. */
static int httpHeaderValueIsSafe(const char *v) {
    return strpbrk(v, "\r\n") == NULL;
}

static av_status httpBuildHeaders(const http_request *req, struct curl_slist **out,
                                  const char *shown, char *err, size_t errlen) {
    struct curl_slist *list = NULL;
    char line[512];
    *out = NULL;
    for (const char *const *h = req->headers; h && *h; h++) {
        if (!httpHeaderValueIsSafe(*h) || !strchr(*h, ':')) {
            curl_slist_free_all(list);
            return avErrorf(err, errlen, AV_ERR_USAGE,
                            "GET %s: request header %td is not a single \"Name: value\" line",
                            shown, h - req->headers);
        }
        struct curl_slist *n = curl_slist_append(list, *h);
        if (!n)
            goto nomem;
        list = n;
    }
    const char *names[2] = {"If-None-Match", "If-Modified-Since"};
    const char *values[2] = {req->if_none_match, req->if_modified_since};
    for (int i = 0; i < 2; i++) {
        if (!values[i] || !values[i][0])
            continue;
        if (!httpHeaderValueIsSafe(values[i]) ||
            (size_t)snprintf(line, sizeof(line), "%s: %s", names[i], values[i]) >= sizeof(line)) {
            continue; /* unusable validator: fall back to an unconditional GET */
        }
        struct curl_slist *n = curl_slist_append(list, line);
        if (!n)
            goto nomem;
        list = n;
    }
    *out = list;
    return AV_OK;
nomem:
    curl_slist_free_all(list);
    return avErrorf(err, errlen, AV_ERR_NOMEM, "GET %s: out of memory building headers", shown);
}

static void httpProtocolString(int protocols, char *buf, size_t len) {
    if (protocols == 0)
        protocols = HTTP_PROTO_HTTP | HTTP_PROTO_HTTPS;
    snprintf(buf, len, "%s%s%s", (protocols & HTTP_PROTO_HTTP) ? "http," : "",
             (protocols & HTTP_PROTO_HTTPS) ? "https," : "",
             (protocols & HTTP_PROTO_FILE) ? "file," : "");
    size_t n = strlen(buf);
    if (n)
        buf[n - 1] = '\0';
}

static av_status httpSetOptions(CURL *c, const http_request *req, http_transfer *t,
                                struct curl_slist *headers, char *errbuf) {
    char protos[32];
    httpProtocolString(req->protocols, protos, sizeof(protos));
    long cto =
        req->connect_timeout_ms > 0 ? req->connect_timeout_ms : HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    long to = req->timeout_ms > 0 ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
    CURLcode rc = CURLE_OK;
#define HTTP_SETOPT(opt, val)                                                                      \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    HTTP_SETOPT(CURLOPT_URL, req->url);
    HTTP_SETOPT(CURLOPT_PROTOCOLS_STR, protos);
    HTTP_SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    HTTP_SETOPT(CURLOPT_NOSIGNAL, 1L);
    HTTP_SETOPT(CURLOPT_ERRORBUFFER, errbuf);
    HTTP_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, cto);
    HTTP_SETOPT(CURLOPT_TIMEOUT_MS, to);
    HTTP_SETOPT(CURLOPT_FOLLOWLOCATION, req->max_redirects > 0 ? 1L : 0L);
    HTTP_SETOPT(CURLOPT_MAXREDIRS, req->max_redirects > 0 ? req->max_redirects : 0L);
    HTTP_SETOPT(CURLOPT_SSL_VERIFYPEER, req->tls_insecure ? 0L : 1L);
    HTTP_SETOPT(CURLOPT_SSL_VERIFYHOST, req->tls_insecure ? 0L : 2L);
    if (req->ca_bundle)
        HTTP_SETOPT(CURLOPT_CAINFO, req->ca_bundle);
    if (req->max_bytes)
        HTTP_SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_bytes);
    HTTP_SETOPT(CURLOPT_HTTPHEADER, headers);
    HTTP_SETOPT(CURLOPT_HEADERFUNCTION, httpHeaderCallback);
    HTTP_SETOPT(CURLOPT_HEADERDATA, t);
    HTTP_SETOPT(CURLOPT_WRITEFUNCTION, httpWriteCallback);
    HTTP_SETOPT(CURLOPT_WRITEDATA, t);
    HTTP_SETOPT(CURLOPT_USERAGENT, "apivector/" APIVECTOR_VERSION);
#undef HTTP_SETOPT
    return rc == CURLE_OK ? AV_OK : AV_ERR_USAGE;
}

/* Maps a failed curl transfer to the caller's retry decision. */
static av_status httpClassifyCurl(CURLcode rc) {
    switch (rc) {
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_TOO_MANY_REDIRECTS:
        case CURLE_FILE_COULDNT_READ_FILE:
        case CURLE_REMOTE_FILE_NOT_FOUND:
        case CURLE_LOGIN_DENIED:
            return AV_ERR_PERMANENT;
        case CURLE_FILESIZE_EXCEEDED:
            return AV_ERR_LIMIT;
        default:
            return AV_ERR_TRANSIENT;
    }
}

static av_status httpClassifyStatus(const http_transfer *t, long code, const char *shown, char *err,
                                    size_t errlen) {
    if (httpStatusIsSuccess(t, code))
        return AV_OK;
    if (code == 304)
        return AV_OK;
    if (code >= 300 && code < 400)
        return avErrorf(err, errlen, AV_ERR_PERMANENT,
                        "GET %s: HTTP %ld redirect not followed (redirects are not allowed)", shown,
                        code);
    if (code == 408 || code == 429 || code >= 500 || code < 200)
        return avErrorf(err, errlen, AV_ERR_TRANSIENT, "GET %s: HTTP %ld", shown, code);
    return avErrorf(err, errlen, AV_ERR_PERMANENT, "GET %s: HTTP %ld", shown, code);
}

static av_status httpFinish(http_transfer *t, CURLcode rc, const char *errbuf, const char *shown,
                            char *err, size_t errlen) {
    http_response *resp = t->resp;
    long code = 0;
    curl_off_t cl = -1;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(t->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    resp->status = (t->is_file && code == 0 && rc == CURLE_OK) ? 200 : code;
    resp->content_length = cl >= 0 ? (int64_t)cl : -1;
    if (t->limit_hit || rc == CURLE_FILESIZE_EXCEEDED)
        return avErrorf(err, errlen, AV_ERR_LIMIT, "GET %s: body exceeds the limit of %llu bytes",
                        shown, (unsigned long long)t->max_bytes);
    if (t->sink_status != AV_OK)
        return avErrorf(err, errlen, t->sink_status, "%s", t->sink_err);
    if (rc != CURLE_OK) {
        const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
        return avErrorf(err, errlen, httpClassifyCurl(rc), "GET %s: %s", shown, why);
    }
    av_status st = httpClassifyStatus(t, resp->status, shown, err, errlen);
    if (st != AV_OK)
        return st;
    if (resp->status != 304 && resp->content_length >= 0 &&
        (uint64_t)resp->content_length != resp->body_bytes)
        return avErrorf(err, errlen, AV_ERR_TRANSIENT,
                        "GET %s: truncated body (%llu of %lld bytes)", shown,
                        (unsigned long long)resp->body_bytes, (long long)resp->content_length);
    return AV_OK;
}

av_status httpGet(const http_request *req, http_sink write_fn, void *sink_ctx, http_response *resp,
                  char *err, size_t errlen) {
    char shown[512];
    char errbuf[CURL_ERROR_SIZE];
    if (!resp)
        return avErrorf(err, errlen, AV_ERR_USAGE, "httpGet: resp is NULL");
    memset(resp, 0, sizeof(*resp));
    resp->content_length = -1;
    if (!req || !req->url)
        return avErrorf(err, errlen, AV_ERR_USAGE, "httpGet: no URL given");
    httpUrlRedact(req->url, shown, sizeof(shown));
    errbuf[0] = '\0';

    http_transfer t = {0};
    t.sink = write_fn;
    t.sink_ctx = sink_ctx;
    t.resp = resp;
    t.max_bytes = req->max_bytes;
    t.is_file = strncasecmp(req->url, "file:", 5) == 0;
    t.sink_status = AV_OK;

    struct curl_slist *headers = NULL;
    av_status st = httpBuildHeaders(req, &headers, shown, err, errlen);
    if (st != AV_OK)
        return st;
    t.curl = curl_easy_init();
    if (!t.curl) {
        curl_slist_free_all(headers);
        return avErrorf(err, errlen, AV_ERR_NOMEM, "GET %s: cannot create a curl handle", shown);
    }
    if (httpSetOptions(t.curl, req, &t, headers, errbuf) != AV_OK) {
        st = avErrorf(err, errlen, AV_ERR_USAGE, "GET %s: libcurl refused an option: %s", shown,
                      errbuf[0] ? errbuf : "unsupported option");
    } else {
        CURLcode rc = curl_easy_perform(t.curl);
        st = httpFinish(&t, rc, errbuf, shown, err, errlen);
    }
    curl_easy_cleanup(t.curl);
    curl_slist_free_all(headers);
    return st;
}

av_status httpBufferSink(const unsigned char *data, size_t len, void *sink_ctx, char *err,
                         size_t errlen) {
    http_buffer *b = sink_ctx;
    if (len > SIZE_MAX - b->len - 1)
        return avErrorf(err, errlen, AV_ERR_LIMIT, "response body too large for memory");
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + len + 1)
            cap = cap > SIZE_MAX / 2 ? b->len + len + 1 : cap * 2;
        unsigned char *n = realloc(b->data, cap);
        if (!n)
            return avErrorf(err, errlen, AV_ERR_NOMEM, "out of memory buffering %zu bytes",
                            b->len + len);
        b->data = n;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0'; /* text bodies may be used as C strings */
    return AV_OK;
}

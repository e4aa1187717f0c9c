/*
 * dumpsrc.h - get the bytes of one process memory dump, read-only, without a heap copy.
 *
 * An event names its dump by URL. dumpsrcOpen() makes the dump available as a
 * read-only memory mapping plus its SHA-256 and size:
 *
 *   http:// and https://  the body is streamed (through httpGet) into an
 *                         anonymous temp file - a memfd, or, when memfds are
 *                         unavailable or turned off, an O_TMPFILE in tmp_dir -
 *                         hashed as it arrives, then mapped PROT_READ.
 *                         Nothing is ever left on disk under a name.
 *   file://               only below one of the configured file roots (after
 *                         realpath(), so "..", percent-encoding and symlinks
 *                         cannot escape; no roots = file:// disabled); the
 *                         file itself is mapped read-only and hashed in place.
 *
 * Limits are checked before and while bytes arrive, never after: the maximum
 * dump size (a larger Content-Length or st_size is refused up front and an
 * endless body is cut at the limit), the expected size when the event gives
 * one, the redirect limit and the connect/total timeouts.
 *
 * Errors (message names the URL without user:password or query, and what failed):
 *   AV_ERR_PERMANENT  HTTP 4xx, unsupported scheme, malformed URL, too many
 *                     redirects, file:// outside the roots / missing / not a
 *                     regular file, sha256 or size different from the event's
 *   AV_ERR_TRANSIENT  HTTP 5xx/408/429, connect or DNS failure, timeout,
 *                     truncated body, TLS failure, a local resource shortage
 *                     while opening a file:// dump
 *   AV_ERR_LIMIT      the dump is larger than max_dump_bytes (never retry)
 *   AV_ERR_IO         the local temp file could not be created or written
 *   AV_ERR_NOMEM, AV_ERR_USAGE  as usual
 *
 * Thread-safety: no shared mutable state; any number of threads may call
 * dumpsrcOpen concurrently (httpGlobalInit() must have run once first). A
 * dumpsrc_dump may be read by many threads at once; dumpsrcClose must be
 * called exactly once, after all readers are done.
 */
#ifndef APIVECTOR_DUMPSRC_H
#define APIVECTOR_DUMPSRC_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sha256.h"

#define DUMPSRC_DEFAULT_MAX_BYTES (2ULL << 30) /* 2 GiB */
#define DUMPSRC_DEFAULT_MAX_REDIRECTS 3
#define DUMPSRC_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DUMPSRC_DEFAULT_TIMEOUT_MS 300000
#define DUMPSRC_DEFAULT_TMP_DIR "/tmp"

/* How a dump is fetched. Strings and the root list are borrowed for the
 * duration of each dumpsrcOpen call only. Fill it with dumpsrcConfigInit()
 * and then change what differs. */
typedef struct dumpsrc_config {
    uint64_t max_dump_bytes; /* 0 = DUMPSRC_DEFAULT_MAX_BYTES */
    /* Absolute folders file:// dumps may come from; none = file:// disabled.
     * A root that does not exist (yet) matches nothing. */
    const char *const *file_roots;
    size_t nfile_roots;
    long max_redirects;      /* 0 = never follow a redirect */
    long connect_timeout_ms; /* 0 = DUMPSRC_DEFAULT_CONNECT_TIMEOUT_MS */
    long timeout_ms;         /* whole transfer; 0 = DUMPSRC_DEFAULT_TIMEOUT_MS */
    int tls_insecure;        /* 1 = skip certificate checks (tests only) */
    const char *ca_bundle;   /* PEM CA bundle; NULL = system store */
    const char *tmp_dir;     /* O_TMPFILE folder; NULL = DUMPSRC_DEFAULT_TMP_DIR */
    int no_memfd;            /* 1 = spool to tmp_dir (disk) instead of memory */
} dumpsrc_config;

/* What one event asks for. Strings are borrowed for the call. */
typedef struct dumpsrc_request {
    const char *url;    /* http://, https:// or file:// */
    const char *sha256; /* expected digest, 64 hex chars in either case; NULL or "" = none */
    int has_size;       /* 1 = expected_size is meaningful */
    uint64_t expected_size;
} dumpsrc_request;

/* An open dump. Opaque; owned by the caller of dumpsrcOpen until dumpsrcClose. */
typedef struct dumpsrc_dump dumpsrc_dump;

/* Sets every field of cfg to its default (2 GiB, 3 redirects, TLS verified,
 * memfd spooling, no file roots). */
void dumpsrcConfigInit(dumpsrc_config *cfg);

/* Fetches and maps the dump named by req (see the top of this file). On AV_OK
 * *out is a new dump owned by the caller; on error *out is NULL, nothing is
 * left open and err says what failed. */
av_status dumpsrcOpen(const dumpsrc_config *cfg, const dumpsrc_request *req, dumpsrc_dump **out,
                      char *err, size_t errlen);

/* The dump's bytes, mapped read-only; valid until dumpsrcClose. NULL for a
 * 0-byte dump. */
const unsigned char *dumpsrcData(const dumpsrc_dump *d);

/* Size of the dump in bytes. */
uint64_t dumpsrcSize(const dumpsrc_dump *d);

/* SHA-256 of the dump as 64 lowercase hex characters; owned by d. */
const char *dumpsrcSha256Hex(const dumpsrc_dump *d);

/* The descriptor backing the mapping (a memfd, an unnamed O_TMPFILE or the
 * file:// file), owned by d: for diagnostics and for handing the dump on
 * without a copy. Do not close it. */
int dumpsrcFd(const dumpsrc_dump *d);

/* Unmaps and closes the dump and frees d. NULL is ignored. */
void dumpsrcClose(dumpsrc_dump *d);

/* Writes the last path segment of url (query and fragment stripped, no
 * percent-decoding) into out, e.g. "http://h/d/x.dmp?sig=1" -> "x.dmp".
 * Returns AV_ERR_NOTFOUND when the URL has no such segment (no path, or it
 * ends in '/'), AV_ERR_LIMIT when it does not fit in outlen; out is then "". */
av_status dumpsrcNameFromUrl(const char *url, char *out, size_t outlen);

#endif

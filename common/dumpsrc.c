/*
 * dumpsrc.c - fetch a dump by URL into a read-only mapping (see dumpsrc.h).
 *
 * HTTP(S): httpGet streams the body into dumpsrcSpoolSink, which writes each
 * chunk to an anonymous file and feeds the SHA-256 context, so the dump is in
 * memory exactly once (in the memfd's pages or the page cache) and the digest
 * is ready when the last byte lands. httpGet enforces max_dump_bytes while
 * streaming; the sink enforces the event's expected size the same way. The
 * memfd is sealed before it is mapped, so nothing can shrink it under the
 * crawl (a shrunk mapping would SIGBUS).
 *
 * file://: the URL path is percent-decoded, resolved with realpath() and must
 * lie under a realpath()-resolved root. The resolved path is then opened
 * with O_NOFOLLOW and the kernel's own name for the opened descriptor
 * (/proc/self/fd/N) is checked again, so a symlink swapped in between the
 * check and the open cannot lead outside the roots. The file is mapped in
 * place, not copied. Caveat: truncating a file:// dump while it is mapped
 * raises SIGBUS in the reader; dump folders must be written once, then read.
 */
#include "dumpsrc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hex.h"
#include "http.h"

struct dumpsrc_dump {
    int fd;
    const unsigned char *data; /* NULL when size is 0 */
    uint64_t size;
    char sha256[SHA256_HEXLEN];
};

/* Sink state of one HTTP transfer. */
typedef struct dumpsrc_spool {
    int fd;
    sha256_ctx sha;
    uint64_t written;
    const dumpsrc_request *req;
    const char *shown; /* redacted URL for messages */
} dumpsrc_spool;

void dumpsrcConfigInit(dumpsrc_config *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_dump_bytes = DUMPSRC_DEFAULT_MAX_BYTES;
    cfg->max_redirects = DUMPSRC_DEFAULT_MAX_REDIRECTS;
    cfg->connect_timeout_ms = DUMPSRC_DEFAULT_CONNECT_TIMEOUT_MS;
    cfg->timeout_ms = DUMPSRC_DEFAULT_TIMEOUT_MS;
}

static uint64_t dumpsrcMaxBytes(const dumpsrc_config *cfg) {
    return cfg->max_dump_bytes ? cfg->max_dump_bytes : DUMPSRC_DEFAULT_MAX_BYTES;
}

/* ------------------------------------------------------------------------ */
/* Mapping and verification, shared by both sources                        */
/* ------------------------------------------------------------------------ */

static av_status dumpsrcMap(dumpsrc_dump *d, const char *shown, char *err, size_t errlen) {
    if (d->size == 0)
        return AV_OK;
    if (d->size > SIZE_MAX)
        return avErrorf(err, errlen, AV_ERR_LIMIT, "dump %s: %llu bytes cannot be mapped", shown,
                        (unsigned long long)d->size);
    void *p = mmap(NULL, (size_t)d->size, PROT_READ, MAP_PRIVATE, d->fd, 0);
    if (p == MAP_FAILED)
        return avErrorf(err, errlen, errno == ENOMEM ? AV_ERR_NOMEM : AV_ERR_IO,
                        "dump %s: mmap of %llu bytes failed: %s", shown,
                        (unsigned long long)d->size, strerror(errno));
    d->data = p;
    return AV_OK;
}

/* Checks the digest and size against what the event announced. */
static av_status dumpsrcVerify(const dumpsrc_dump *d, const dumpsrc_request *req,
                               const unsigned char expect[SHA256_LEN], const char *shown, char *err,
                               size_t errlen) {
    if (req->has_size && d->size != req->expected_size)
        return avErrorf(err, errlen, AV_ERR_PERMANENT,
                        "dump %s: size mismatch (expected %llu bytes, got %llu)", shown,
                        (unsigned long long)req->expected_size, (unsigned long long)d->size);
    if (req->sha256) {
        char want[SHA256_HEXLEN];
        sha256Hex(expect, want);
        if (strcmp(want, d->sha256) != 0)
            return avErrorf(err, errlen, AV_ERR_PERMANENT,
                            "dump %s: sha256 mismatch (expected %s, got %s)", shown, want,
                            d->sha256);
    }
    return AV_OK;
}

static dumpsrc_dump *dumpsrcNew(void) {
    dumpsrc_dump *d = calloc(1, sizeof(*d));
    if (d)
        d->fd = -1;
    return d;
}

void dumpsrcClose(dumpsrc_dump *d) {
    if (!d)
        return;
    if (d->data)
        munmap((void *)d->data, (size_t)d->size);
    if (d->fd >= 0)
        close(d->fd);
    free(d);
}

const unsigned char *dumpsrcData(const dumpsrc_dump *d) {
    return d->data;
}

uint64_t dumpsrcSize(const dumpsrc_dump *d) {
    return d->size;
}

const char *dumpsrcSha256Hex(const dumpsrc_dump *d) {
    return d->sha256;
}

int dumpsrcFd(const dumpsrc_dump *d) {
    return d->fd;
}

/* ------------------------------------------------------------------------ */
/* http:// and https://: spool into an anonymous file                       */
/* ------------------------------------------------------------------------ */

/* A memfd keeps the dump off any disk; O_TMPFILE (with O_EXCL, so it can never
 * be linked into the tree) is the fallback when memfds are unavailable, and
 * the explicit choice when dumps are too big to hold in memory. */
static av_status dumpsrcSpoolCreate(const dumpsrc_config *cfg, const char *shown, int *fd,
                                    char *err, size_t errlen) {
    const char *dir = cfg->tmp_dir ? cfg->tmp_dir : DUMPSRC_DEFAULT_TMP_DIR;
    if (!cfg->no_memfd) {
        *fd = memfd_create("apivector-dump", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (*fd >= 0)
            return AV_OK;
    }
    *fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (*fd >= 0)
        return AV_OK;
    return avErrorf(err, errlen, AV_ERR_IO, "dump %s: cannot create a temp file in %s: %s", shown,
                    dir, strerror(errno));
}

static av_status dumpsrcWriteAll(dumpsrc_spool *s, const unsigned char *p, size_t len, char *err,
                                 size_t errlen) {
    while (len > 0) {
        ssize_t n = write(s->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return avErrorf(err, errlen, AV_ERR_IO, "dump %s: writing the temp file at %llu: %s",
                            s->shown, (unsigned long long)s->written,
                            n < 0 ? strerror(errno) : "no progress");
        p += n;
        len -= (size_t)n;
        s->written += (uint64_t)n;
    }
    return AV_OK;
}

static av_status dumpsrcSpoolSink(const unsigned char *data, size_t len, void *sink_ctx, char *err,
                                  size_t errlen) {
    dumpsrc_spool *s = sink_ctx;
    const dumpsrc_request *req = s->req;
    if (req->has_size && len > req->expected_size - s->written)
        return avErrorf(err, errlen, AV_ERR_PERMANENT,
                        "dump %s: size mismatch (body exceeds the expected %llu bytes)", s->shown,
                        (unsigned long long)req->expected_size);
    av_status st = sha256Update(&s->sha, data, len, err, errlen);
    if (st != AV_OK)
        return st;
    return dumpsrcWriteAll(s, data, len, err, errlen);
}

static void dumpsrcHttpRequest(const dumpsrc_config *cfg, const char *url, http_request *hr) {
    memset(hr, 0, sizeof(*hr));
    hr->url = url;
    hr->connect_timeout_ms =
        cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : DUMPSRC_DEFAULT_CONNECT_TIMEOUT_MS;
    hr->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DUMPSRC_DEFAULT_TIMEOUT_MS;
    hr->max_bytes = dumpsrcMaxBytes(cfg);
    hr->max_redirects = cfg->max_redirects > 0 ? cfg->max_redirects : 0;
    hr->tls_insecure = cfg->tls_insecure;
    hr->ca_bundle = cfg->ca_bundle;
    hr->protocols = HTTP_PROTO_HTTP | HTTP_PROTO_HTTPS;
}

/* Seals are best effort: only a memfd supports them. */
static void dumpsrcSeal(int fd) {
    (void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
}

static av_status dumpsrcOpenHttp(const dumpsrc_config *cfg, const dumpsrc_request *req,
                                 const unsigned char expect[SHA256_LEN], const char *shown,
                                 dumpsrc_dump *d, char *err, size_t errlen) {
    dumpsrc_spool s = {.fd = -1, .req = req, .shown = shown};
    av_status st = dumpsrcSpoolCreate(cfg, shown, &s.fd, err, errlen);
    if (st != AV_OK)
        return st;
    d->fd = s.fd;
    st = sha256Init(&s.sha, err, errlen);
    if (st != AV_OK)
        return st;

    http_request hr;
    http_response resp;
    dumpsrcHttpRequest(cfg, req->url, &hr);
    st = httpGet(&hr, dumpsrcSpoolSink, &s, &resp, err, errlen);
    if (st == AV_OK && resp.body_bytes != s.written)
        st = avErrorf(err, errlen, AV_ERR_IO, "dump %s: spooled %llu of %llu bytes", shown,
                      (unsigned long long)s.written, (unsigned long long)resp.body_bytes);
    if (st != AV_OK) {
        sha256Free(&s.sha);
        return st;
    }
    unsigned char digest[SHA256_LEN];
    st = sha256Final(&s.sha, digest, err, errlen);
    if (st != AV_OK)
        return st;
    sha256Hex(digest, d->sha256);
    d->size = s.written;
    dumpsrcSeal(d->fd);
    st = dumpsrcVerify(d, req, expect, shown, err, errlen);
    if (st != AV_OK)
        return st;
    return dumpsrcMap(d, shown, err, errlen);
}

/* ------------------------------------------------------------------------ */
/* file://: confined to the configured roots                                */
/* ------------------------------------------------------------------------ */

/* Extracts the local path of a file:// URL into path (PATH_MAX bytes),
 * percent-decoded, without query or fragment. */
static av_status dumpsrcFilePath(const char *url, const char *shown, char *path, char *err,
                                 size_t errlen) {
    const char *p = url + strlen("file://");
    if (strncasecmp(p, "localhost/", 10) == 0)
        p += strlen("localhost");
    if (*p != '/')
        return avErrorf(err, errlen, AV_ERR_PERMANENT,
                        "dump %s: file:// URL must name a local absolute path", shown);
    size_t end = strcspn(p, "?#"), o = 0;
    for (size_t i = 0; i < end; i++) {
        char c = p[i];
        if (c == '%') {
            int hi = i + 2 < end ? hexDigitValue(p[i + 1]) : -1;
            int lo = hi >= 0 ? hexDigitValue(p[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi | lo) == 0)
                return avErrorf(err, errlen, AV_ERR_PERMANENT,
                                "dump %s: bad percent escape at offset %zu of the path", shown, i);
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (o + 1 >= PATH_MAX)
            return avErrorf(err, errlen, AV_ERR_PERMANENT, "dump %s: path is too long", shown);
        path[o++] = c;
    }
    path[o] = '\0';
    return AV_OK;
}

/* Collapses ".", ".." and repeated slashes of an absolute path without
 * touching the file system (used only when realpath() cannot resolve it). */
static void dumpsrcNormalize(const char *in, char *out) {
    size_t o = 0;
    const char *p = in;
    while (*p) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n == 0)
            break;
        if (n == 1 && p[0] == '.') {
            /* stay */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else if (o + 1 + n < PATH_MAX) {
            out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
}

static int dumpsrcIsUnder(const char *path, const char *root) {
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/')
        return 1;
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Returns 1 if path lies under one of the roots. Roots are resolved here, per
 * call, so a root that is itself a symlink works and one that does not exist
 * matches nothing. With lexical set, unresolved roots count as well (for a
 * path that could not be resolved either). */
static int dumpsrcInRoots(const dumpsrc_config *cfg, const char *path, int lexical) {
    char root[PATH_MAX];
    for (size_t i = 0; i < cfg->nfile_roots; i++) {
        const char *r = cfg->file_roots[i];
        if (!r || r[0] != '/')
            continue;
        if (realpath(r, root) && dumpsrcIsUnder(path, root))
            return 1;
        if (lexical) {
            dumpsrcNormalize(r, root);
            if (dumpsrcIsUnder(path, root))
                return 1;
        }
    }
    return 0;
}

static av_status dumpsrcOutside(const char *shown, const char *path, const char *resolved,
                                char *err, size_t errlen) {
    if (resolved && strcmp(path, resolved) != 0)
        return avErrorf(err, errlen, AV_ERR_PERMANENT,
                        "dump %s: path %s (resolving to %s) is outside the allowed file roots",
                        shown, path, resolved);
    return avErrorf(err, errlen, AV_ERR_PERMANENT,
                    "dump %s: path %s is outside the allowed file roots", shown, path);
}

/* A shortage of descriptors or memory is worth a retry; anything else about
 * the path (missing, no permission, a loop) will not change by itself. */
static av_status dumpsrcErrnoClass(int e) {
    return (e == EMFILE || e == ENFILE || e == ENOMEM || e == EINTR || e == EIO || e == EAGAIN)
               ? AV_ERR_TRANSIENT
               : AV_ERR_PERMANENT;
}

/* Resolves path, checks it against the roots, opens it and checks again
 * what was actually opened. On AV_OK *fd is an open regular file. */
static av_status dumpsrcFileOpen(const dumpsrc_config *cfg, const char *path, const char *shown,
                                 int *fd, struct stat *st, char *err, size_t errlen) {
    char resolved[PATH_MAX], opened[PATH_MAX], proc[64];
    if (!realpath(path, resolved)) {
        int e = errno;
        dumpsrcNormalize(path, resolved);
        if (!dumpsrcInRoots(cfg, resolved, 1))
            return dumpsrcOutside(shown, path, NULL, err, errlen);
        return avErrorf(err, errlen, dumpsrcErrnoClass(e), "dump %s: cannot resolve %s: %s", shown,
                        path, strerror(e));
    }
    if (!dumpsrcInRoots(cfg, resolved, 0))
        return dumpsrcOutside(shown, path, resolved, err, errlen);
    *fd = open(resolved, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
    if (*fd < 0)
        return avErrorf(err, errlen, dumpsrcErrnoClass(errno), "dump %s: cannot open %s: %s", shown,
                        resolved, strerror(errno));
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", *fd);
    ssize_t n = readlink(proc, opened, sizeof(opened) - 1);
    if (n < 0)
        return avErrorf(err, errlen, AV_ERR_IO, "dump %s: cannot verify what %s opened: %s", shown,
                        resolved, strerror(errno));
    opened[n] = '\0';
    if (!dumpsrcInRoots(cfg, opened, 0))
        return dumpsrcOutside(shown, path, opened, err, errlen);
    if (fstat(*fd, st) != 0)
        return avErrorf(err, errlen, AV_ERR_IO, "dump %s: fstat %s: %s", shown, resolved,
                        strerror(errno));
    if (!S_ISREG(st->st_mode))
        return avErrorf(err, errlen, AV_ERR_PERMANENT, "dump %s: %s is not a regular file", shown,
                        resolved);
    return AV_OK;
}

static av_status dumpsrcOpenFile(const dumpsrc_config *cfg, const dumpsrc_request *req,
                                 const unsigned char expect[SHA256_LEN], const char *shown,
                                 dumpsrc_dump *d, char *err, size_t errlen) {
    char path[PATH_MAX];
    struct stat st;
    if (cfg->nfile_roots == 0)
        return avErrorf(err, errlen, AV_ERR_PERMANENT,
                        "dump %s: file:// dumps are disabled (no file roots configured)", shown);
    for (size_t i = 0; i < cfg->nfile_roots; i++)
        if (!cfg->file_roots[i] || cfg->file_roots[i][0] != '/')
            return avErrorf(err, errlen, AV_ERR_USAGE,
                            "dumpsrc: file root %zu (%s) is not absolute", i,
                            cfg->file_roots[i] ? cfg->file_roots[i] : "(null)");
    av_status rc = dumpsrcFilePath(req->url, shown, path, err, errlen);
    if (rc != AV_OK)
        return rc;
    rc = dumpsrcFileOpen(cfg, path, shown, &d->fd, &st, err, errlen);
    if (rc != AV_OK)
        return rc;
    uint64_t max = dumpsrcMaxBytes(cfg);
    if ((uint64_t)st.st_size > max)
        return avErrorf(err, errlen, AV_ERR_LIMIT,
                        "dump %s: %llu bytes exceed the limit of %llu bytes", shown,
                        (unsigned long long)st.st_size, (unsigned long long)max);
    if (req->has_size && (uint64_t)st.st_size != req->expected_size)
        return avErrorf(err, errlen, AV_ERR_PERMANENT,
                        "dump %s: size mismatch (expected %llu bytes, got %llu)", shown,
                        (unsigned long long)req->expected_size, (unsigned long long)st.st_size);
    d->size = (uint64_t)st.st_size;
    rc = dumpsrcMap(d, shown, err, errlen);
    if (rc != AV_OK)
        return rc;
    rc = sha256DigestHex(d->data ? (const void *)d->data : "", (size_t)d->size, d->sha256, err,
                         errlen);
    if (rc != AV_OK)
        return rc;
    return dumpsrcVerify(d, req, expect, shown, err, errlen);
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                             */
/* ------------------------------------------------------------------------ */

static int dumpsrcHasScheme(const char *url, const char *scheme) {
    size_t n = strlen(scheme);
    return strncasecmp(url, scheme, n) == 0 && strncmp(url + n, "://", 3) == 0;
}

av_status dumpsrcOpen(const dumpsrc_config *cfg, const dumpsrc_request *req, dumpsrc_dump **out,
                      char *err, size_t errlen) {
    char shown[512];
    unsigned char expect[SHA256_LEN];
    if (!out)
        return avErrorf(err, errlen, AV_ERR_USAGE, "dumpsrcOpen: out is NULL");
    *out = NULL;
    if (!cfg || !req || !req->url)
        return avErrorf(err, errlen, AV_ERR_USAGE, "dumpsrcOpen: no config, request or URL");
    httpUrlRedact(req->url, shown, sizeof(shown));
    dumpsrc_request r = *req;
    if (r.sha256 && r.sha256[0] == '\0')
        r.sha256 = NULL;
    if (r.sha256 && sha256FromHex(r.sha256, expect, NULL, 0) != AV_OK)
        return avErrorf(err, errlen, AV_ERR_PERMANENT,
                        "dump %s: expected sha256 \"%.80s\" is not 64 hex characters", shown,
                        r.sha256);
    int is_file = dumpsrcHasScheme(req->url, "file");
    if (!is_file && !dumpsrcHasScheme(req->url, "http") && !dumpsrcHasScheme(req->url, "https"))
        return avErrorf(err, errlen, AV_ERR_PERMANENT,
                        "dump %s: unsupported URL scheme (http, https and file only)", shown);

    dumpsrc_dump *d = dumpsrcNew();
    if (!d)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "dump %s: out of memory", shown);
    av_status st = is_file ? dumpsrcOpenFile(cfg, &r, expect, shown, d, err, errlen)
                           : dumpsrcOpenHttp(cfg, &r, expect, shown, d, err, errlen);
    if (st != AV_OK) {
        dumpsrcClose(d);
        return st;
    }
    *out = d;
    return AV_OK;
}

av_status dumpsrcNameFromUrl(const char *url, char *out, size_t outlen) {
    if (!out || outlen == 0)
        return AV_ERR_USAGE;
    out[0] = '\0';
    if (!url)
        return AV_ERR_USAGE;
    const char *p = url, *scheme_end = strstr(url, "://");
    if (scheme_end) {
        p = scheme_end + 3;
        p += strcspn(p, "/?#"); /* the authority is never a name */
    }
    size_t end = strcspn(p, "?#");
    const char *seg = p;
    for (size_t i = 0; i < end; i++)
        if (p[i] == '/')
            seg = p + i + 1;
    size_t n = (size_t)(p + end - seg);
    if (n == 0)
        return AV_ERR_NOTFOUND;
    if (n >= outlen)
        return AV_ERR_LIMIT;
    memcpy(out, seg, n);
    out[n] = '\0';
    return AV_OK;
}

/*
 * pipeline_fetch.c - everything the pipeline pulls from elsewhere: the
 * WinApi1024 table, the DB named by the event's vm_name, the collections and
 * the dump, and how their failures map to event error codes.
 *
 * Artifact URLs are built from configuration plus, for DBs, the event's
 * vm_name. An event must not be able to point the service at an arbitrary
 * URL, so a vm_name goes into a URL only after pipelineVmNameCheck(): a plain
 * file name of [A-Za-z0-9._+-], no separators, no "..", no control or
 * percent characters. A vm_name that fails is the permanent error
 * unknown_vm_name (it cannot name a DB).
 *
 * Error mapping (the event's error.code):
 *   DB:          HTTP 404/410 -> unknown_vm_name (permanent); anything else
 *                that fails (support server down, 5xx, other 4xx, a DB the
 *                codec refuses, too large) -> artifact_unavailable
 *                (transient: an operator can fix it, the event is retried)
 *   collections: any failure -> artifact_unavailable (transient)
 *   WinApi1024:  never fails an event: the copy loaded at start-up is used,
 *                marked stale, when a refresh fails
 *   dump:        AV_ERR_LIMIT -> dump_too_large; transient and local I/O
 *                failures -> dump_unavailable; permanent failures by their
 *                reason: sha256_mismatch, size_mismatch, file_url_forbidden
 *                (outside dump_file_roots, or file:// disabled),
 *                dump_not_found (HTTP 404/410, no such file), else
 *                invalid_dump_url (scheme, redirects, other 4xx, bad path)
 *   out of memory and argument errors -> internal (transient)
 * dumpsrc reports a permanent failure's reason only in its message, so
 * pipelineDumpError() reads it from there; the integration test covers every
 * class so a changed message shows up as a failing test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codecs.h"
#include "fileio.h"
#include "pipeline_internal.h"
#include "sha256.h"

#define PIPELINE_NAME_MAX 200 /* what rcacheCheckNames() accepts */

av_status pipelineVmNameCheck(const char *vm, char *err, size_t errlen) {
    size_t n = vm ? strlen(vm) : 0;
    if (n == 0 || n > PIPELINE_VM_NAME_MAX)
        return avErrorf(err, errlen, AV_ERR_PARSE, "vm_name has %zu characters, expected 1..%d", n,
                        PIPELINE_VM_NAME_MAX);
    size_t ok = strspn(vm, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-");
    if (ok != n)
        return avErrorf(err, errlen, AV_ERR_PARSE,
                        "vm_name has a character other than [A-Za-z0-9._+-] at offset %zu", ok);
    if (vm[0] == '.' || strstr(vm, ".."))
        return avErrorf(err, errlen, AV_ERR_PARSE, "vm_name starts with '.' or contains \"..\"");
    return AV_OK;
}

char *pipelineUrlJoin(const char *base, const char *path, const char *name) {
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    const char *parts[2] = {path, name};
    size_t cap = bl + 3 + (path ? strlen(path) : 0) + (name ? strlen(name) : 0);
    char *url = malloc(cap);
    if (!url)
        return NULL;
    memcpy(url, base, bl);
    size_t o = bl;
    for (int i = 0; i < 2; i++) {
        const char *s = parts[i];
        if (!s)
            continue;
        while (*s == '/')
            s++;
        size_t l = strlen(s);
        while (l > 0 && s[l - 1] == '/')
            l--;
        if (l == 0)
            continue;
        url[o++] = '/';
        memcpy(url + o, s, l);
        o += l;
    }
    url[o] = '\0';
    return url;
}

/* ------------------------------------------------------------ WinApi1024 */

static av_status pipelineWinapiLocal(pipeline *p, const char *path, char *err, size_t errlen) {
    char *text = NULL, msg[AV_ERRLEN];
    size_t len = 0;
    av_status st = fileRead(path, PIPELINE_WINAPI_MAX_BYTES, &text, &len, msg, sizeof(msg));
    if (st == AV_OK)
        st = winapiParse(text, len, path, &p->winapi_local, msg, sizeof(msg));
    if (st == AV_OK)
        st = sha256DigestHex(text, len, p->winapi_sha256, msg, sizeof(msg));
    free(text);
    return st == AV_OK ? AV_OK : avErrorf(err, errlen, st, "winapi1024: %s", msg);
}

/* A Redis-safe artifact name for the table: its configured location with
 * blanks, ':' and non-ASCII replaced. */
static void pipelineWinapiName(const char *loc, char *name, size_t len) {
    size_t o = 0;
    for (; *loc && o + 1 < len; loc++) {
        unsigned char ch = (unsigned char)*loc;
        name[o++] = (ch <= ' ' || ch >= 0x7f || ch == ':') ? '_' : (char)ch;
    }
    name[o] = '\0';
}

static av_status pipelineWinapiRemote(pipeline *p, char *err, size_t errlen) {
    char name[PIPELINE_NAME_MAX + 1], msg[AV_ERRLEN];
    artifact_info info;
    pipelineWinapiName(p->cfg->winapi1024, name, sizeof(name));
    av_status st = artifactGet(p->store, codecWinapi(), name, p->winapi_url, NULL, &p->winapi_boot,
                               &info, msg, sizeof(msg));
    if (st != AV_OK)
        return avErrorf(err, errlen, st, "winapi1024: %s", msg);
    memcpy(p->winapi_sha256, info.sha256, SHA256_HEXLEN);
    return AV_OK;
}

av_status pipelineWinapiInit(pipeline *p, char *err, size_t errlen) {
    const char *w = p->cfg->winapi1024;
    if (strncmp(w, "file://", 7) == 0) {
        const char *path = w + 7;
        if (strncmp(path, "localhost/", 10) == 0)
            path += 9;
        if (path[0] != '/')
            return avErrorf(err, errlen, AV_ERR_USAGE,
                            "winapi1024: a file:// URL must name an absolute path");
        return pipelineWinapiLocal(p, path, err, errlen);
    }
    if (w[0] == '/')
        return pipelineWinapiLocal(p, w, err, errlen);
    if (strncmp(w, "http://", 7) == 0 || strncmp(w, "https://", 8) == 0)
        p->winapi_url = strdup(w);
    else
        p->winapi_url = pipelineUrlJoin(p->cfg->support_url, w, NULL);
    if (!p->winapi_url)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "winapi1024: out of memory");
    return pipelineWinapiRemote(p, err, errlen);
}

event_error pipelineGetWinapi(pipeline_job *j) {
    pipeline *p = j->p;
    if (p->winapi_local) {
        j->winapi = p->winapi_local;
        j->winapi_sha256 = p->winapi_sha256;
        return EVENT_ERR_NONE;
    }
    char name[PIPELINE_NAME_MAX + 1];
    artifact_info info;
    pipelineWinapiName(p->cfg->winapi1024, name, sizeof(name));
    if (artifactGet(p->store, codecWinapi(), name, p->winapi_url, NULL, &j->winapi_ref, &info,
                    j->msg, sizeof(j->msg)) == AV_OK) {
        memcpy(j->winapi_sha_buf, info.sha256, SHA256_HEXLEN);
        j->winapi = artifactObject(j->winapi_ref);
        j->winapi_sha256 = j->winapi_sha_buf;
        j->winapi_stale = info.stale;
    } else {
        j->winapi = artifactObject(p->winapi_boot);
        j->winapi_sha256 = p->winapi_sha256;
        j->winapi_stale = 1;
    }
    j->msg[0] = '\0';
    return EVENT_ERR_NONE;
}

/* --------------------------------------------------------- DBs, collections */

static event_error pipelineArtifactError(pipeline_job *j, av_status st, const char *what,
                                         const char *msg) {
    pipelineMsgf(j, "%s: %s", what, msg);
    if (st == AV_ERR_NOMEM || st == AV_ERR_USAGE)
        return EVENT_ERR_INTERNAL;
    return EVENT_ERR_ARTIFACT_UNAVAILABLE;
}

event_error pipelineGetDb(pipeline_job *j, const char *vm, artifact_ref **ref, int *stale) {
    pipeline *p = j->p;
    char msg[AV_ERRLEN], file[PIPELINE_VM_NAME_MAX + 8];
    artifact_info info;
    *ref = NULL;
    if (pipelineVmNameCheck(vm, msg, sizeof(msg)) != AV_OK) {
        pipelineMsgf(j, "vm_name \"%.64s\" cannot name a DB: %s", vm, msg);
        return EVENT_ERR_UNKNOWN_VM_NAME;
    }
    snprintf(file, sizeof(file), "%s.json", vm);
    char *url = pipelineUrlJoin(p->cfg->support_url, p->cfg->apiscout_dbs_remote_path, file);
    if (!url) {
        pipelineMsgf(j, "DB %s: out of memory", vm);
        return EVENT_ERR_INTERNAL;
    }
    av_status st = artifactGet(p->store, p->db_codec, vm, url, NULL, ref, &info, msg, sizeof(msg));
    free(url);
    if (st == AV_OK) {
        *stale = info.stale;
        return EVENT_ERR_NONE;
    }
    if (st == AV_ERR_PERMANENT && (info.origin_status == 404 || info.origin_status == 410)) {
        pipelineMsgf(j, "vm_name \"%s\": the support server has no DB: %s", vm, msg);
        return EVENT_ERR_UNKNOWN_VM_NAME;
    }
    return pipelineArtifactError(j, st, "DB", msg);
}

static av_status pipelineFetchSource(pipeline *p, const pipeline_source *s, artifact_ref **ref,
                                     artifact_info *info, char *msg, size_t len) {
    if (s->malpedia)
        return artifactGet(p->mstore, codecMalpedia(), "malpedia", s->url, p->malpedia_headers, ref,
                           info, msg, len);
    return artifactGet(p->store, codecCollection(), s->name, s->url, NULL, ref, info, msg, len);
}

event_error pipelineGetCollections(pipeline_job *j) {
    pipeline *p = j->p;
    if (j->held_loaded)
        return EVENT_ERR_NONE;
    j->held = calloc(p->nsources ? p->nsources : 1, sizeof(*j->held));
    if (!j->held) {
        pipelineMsgf(j, "collections: out of memory");
        return EVENT_ERR_INTERNAL;
    }
    j->held_loaded = 1;
    for (size_t i = 0; i < p->nsources; i++) {
        const pipeline_source *s = &p->sources[i];
        pipeline_held *h = &j->held[j->nheld];
        artifact_info info;
        char msg[AV_ERRLEN], what[300];
        av_status st = pipelineFetchSource(p, s, &h->ref, &info, msg, sizeof(msg));
        if (st != AV_OK) {
            avErrorf(what, sizeof(what), AV_OK, "collection %s", s->name);
            return pipelineArtifactError(j, st, what, msg);
        }
        h->src = s;
        h->c = artifactObject(h->ref);
        h->stale = info.stale;
        memcpy(h->sha256, info.sha256, SHA256_HEXLEN);
        j->nheld++;
    }
    return EVENT_ERR_NONE;
}

void pipelineJobRelease(pipeline_job *j) {
    for (size_t i = 0; i < j->nheld; i++)
        artifactRelease(j->held[i].ref);
    free(j->held);
    j->held = NULL;
    j->nheld = 0;
    artifactRelease(j->winapi_ref);
    j->winapi_ref = NULL;
}

/* --------------------------------------------------------------- the dump */

static int pipelineEndsWith(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static event_error pipelineDumpError(av_status st, const char *msg) {
    static const struct {
        const char *needle;
        event_error code;
    } reasons[] = {
        {": sha256 mismatch (", EVENT_ERR_SHA256_MISMATCH},
        {": size mismatch (", EVENT_ERR_SIZE_MISMATCH},
        {"is outside the allowed file roots", EVENT_ERR_FILE_URL_FORBIDDEN},
        {": file:// dumps are disabled", EVENT_ERR_FILE_URL_FORBIDDEN},
        {": No such file or directory", EVENT_ERR_DUMP_NOT_FOUND},
        {": Not a directory", EVENT_ERR_DUMP_NOT_FOUND},
    };
    switch (st) {
        case AV_ERR_LIMIT:
            return EVENT_ERR_DUMP_TOO_LARGE;
        case AV_ERR_PERMANENT:
            break;
        case AV_ERR_NOMEM:
        case AV_ERR_USAGE:
            return EVENT_ERR_INTERNAL;
        default:
            return EVENT_ERR_DUMP_UNAVAILABLE;
    }
    if (pipelineEndsWith(msg, ": HTTP 404") || pipelineEndsWith(msg, ": HTTP 410"))
        return EVENT_ERR_DUMP_NOT_FOUND;
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (strstr(msg, reasons[i].needle))
            return reasons[i].code;
    return EVENT_ERR_INVALID_DUMP_URL;
}

event_error pipelineOpenDump(pipeline_job *j, dumpsrc_dump **dump) {
    const event_dump *d = &j->ev->dump;
    dumpsrc_request req = {
        .url = d->url,
        .sha256 = d->sha256,
        .has_size = d->has_size,
        .expected_size = d->size,
    };
    av_status st = dumpsrcOpen(&j->p->dumps, &req, dump, j->msg, sizeof(j->msg));
    return st == AV_OK ? EVENT_ERR_NONE : pipelineDumpError(st, j->msg);
}

/* -------------------------------------------------------------- start-up */

av_status pipelineSourcesInit(pipeline *p, char *err, size_t errlen) {
    const config *cfg = p->cfg;
    size_t n = cfg->napivector_lists + (cfg->malpedia_apikey ? 1 : 0);
    p->sources = calloc(n ? n : 1, sizeof(*p->sources));
    if (!p->sources)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "collections: out of memory");
    for (size_t i = 0; i < cfg->napivector_lists; i++) {
        const config_collection *c = &cfg->apivector_lists[i];
        pipeline_source *s = &p->sources[p->nsources];
        size_t len = strlen(c->name);
        if (len == 0 || len > PIPELINE_NAME_MAX || strcspn(c->name, ": \t\r\n") != len)
            return avErrorf(err, errlen, AV_ERR_USAGE,
                            "apivector_lists: \"%.200s\" cannot name a collection (1..%d "
                            "characters, no blanks or ':')",
                            c->name, PIPELINE_NAME_MAX);
        s->name = c->name;
        s->classification = c->classification ? c->classification : "";
        if (!(s->url =
                  pipelineUrlJoin(cfg->support_url, cfg->apivector_lists_remote_path, c->name)))
            return avErrorf(err, errlen, AV_ERR_NOMEM, "collections: out of memory");
        p->nsources++;
        if (cfg->malpedia_apikey && strcmp(c->name, PIPELINE_MALPEDIA_NAME) == 0)
            pipelineLogf(p, CONFIG_LOG_WARN,
                         "apivector_lists: \"%s\" has the name of Malpedia's collection; match "
                         "events of both carry that name",
                         c->name);
    }
    if (cfg->malpedia_apikey) {
        pipeline_source *s = &p->sources[p->nsources];
        s->name = PIPELINE_MALPEDIA_NAME;
        s->classification = "";
        s->malpedia = 1;
        if (!(s->url = strdup(cfg->malpedia_url)))
            return avErrorf(err, errlen, AV_ERR_NOMEM, "collections: out of memory");
        p->nsources++;
    }
    return AV_OK;
}

static void pipelinePreloadSource(pipeline *p, const pipeline_source *s) {
    artifact_ref *ref = NULL;
    artifact_info info;
    char msg[AV_ERRLEN];
    if (pipelineFetchSource(p, s, &ref, &info, msg, sizeof(msg)) != AV_OK) {
        pipelineLogf(p, CONFIG_LOG_WARN, "preloading collection %s: %s", s->name, msg);
        return;
    }
    const collection *c = artifactObject(ref);
    size_t nw = collectionWarningCount(c);
    if (nw > 0)
        pipelineLogf(p, CONFIG_LOG_WARN, "collection %s: %zu malformed lines skipped (%s)", s->name,
                     nw, collectionWarning(c, 0) ? collectionWarning(c, 0) : "");
    artifactRelease(ref);
}

void pipelinePreload(pipeline *p) {
    pipeline_job j = {.p = p};
    for (size_t i = 0; i < p->cfg->apiscout_dbs.n; i++) {
        artifact_ref *ref = NULL;
        int stale = 0;
        if (pipelineGetDb(&j, p->cfg->apiscout_dbs.items[i], &ref, &stale) != EVENT_ERR_NONE)
            pipelineLogf(p, CONFIG_LOG_WARN, "preloading apiscout_dbs: %s", j.msg);
        artifactRelease(ref);
    }
    for (size_t i = 0; i < p->nsources; i++)
        pipelinePreloadSource(p, &p->sources[i]);
}

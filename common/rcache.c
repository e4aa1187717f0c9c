/*
 * rcache.c - Redis client for the artifact cache (see rcache.h for the layout).
 *
 * Every command goes through rcacheBorrow/rcacheReturn: a pool of idle
 * hiredis contexts under a mutex. A context whose err field is set after a
 * command is broken (hiredis cannot resynchronise it) and is closed; any
 * connection failure also opens a short "down" window in which calls fail at
 * once, so a dead Redis costs one connect attempt per retry interval rather
 * than one per event.
 */
#include "rcache.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "clock.h"

#define RCACHE_MAX_POOL 64

struct rcache {
    char *host;
    char *password;
    int port, db;
    long connect_timeout_ms, command_timeout_ms, retry_interval_ms;
    int max_idle;
    pthread_mutex_t lock;
    redisContext *idle[RCACHE_MAX_POOL];
    int nidle;
    int64_t down_until_ms; /* monotonic; guarded by lock */
    char down_reason[AV_ERRLEN];
};

static const char *RCACHE_UNLOCK_LUA =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end";

static const char *RCACHE_REFRESH_LUA =
    "if redis.call('hget', KEYS[1], 'sha256') ~= ARGV[1] then return 0 end "
    "redis.call('hset', KEYS[1], 'fetched_at', ARGV[2], 'fresh_until', ARGV[3], "
    "'etag', ARGV[4], 'last_modified', ARGV[5]) "
    "redis.call('pexpire', KEYS[1], ARGV[6]) return 1";

static struct timeval rcacheTimeval(long ms) {
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

av_status rcacheNew(const rcache_config *cfg, rcache **out, char *err, size_t errlen) {
    *out = NULL;
    if (!cfg || !cfg->host || !cfg->host[0])
        return avErrorf(err, errlen, AV_ERR_USAGE, "redis: no host configured");
    if (cfg->port < 0 || cfg->port > 65535 || cfg->db < 0)
        return avErrorf(err, errlen, AV_ERR_RANGE, "redis: port %d or db %d out of range",
                        cfg->port, cfg->db);
    rcache *rc = calloc(1, sizeof(*rc));
    if (!rc)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "redis: out of memory");
    rc->host = strdup(cfg->host);
    rc->password = cfg->password ? strdup(cfg->password) : NULL;
    if (!rc->host || (cfg->password && !rc->password)) {
        free(rc->host);
        free(rc->password);
        free(rc);
        return avErrorf(err, errlen, AV_ERR_NOMEM, "redis: out of memory");
    }
    rc->port = cfg->port ? cfg->port : 6379;
    rc->db = cfg->db;
    rc->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 500;
    rc->command_timeout_ms = cfg->command_timeout_ms > 0 ? cfg->command_timeout_ms : 5000;
    rc->retry_interval_ms = cfg->retry_interval_ms > 0 ? cfg->retry_interval_ms : 1000;
    rc->max_idle = cfg->max_idle > 0 ? cfg->max_idle : 8;
    if (rc->max_idle > RCACHE_MAX_POOL)
        rc->max_idle = RCACHE_MAX_POOL;
    pthread_mutex_init(&rc->lock, NULL);
    *out = rc;
    return AV_OK;
}

void rcacheFree(rcache *rc) {
    if (!rc)
        return;
    for (int i = 0; i < rc->nidle; i++)
        redisFree(rc->idle[i]);
    if (rc->password) {
        memset(rc->password, 0, strlen(rc->password));
        free(rc->password);
    }
    free(rc->host);
    pthread_mutex_destroy(&rc->lock);
    free(rc);
}

/* Closes every idle connection: after one failed, the others (opened to the
 * same, probably restarted or dead, server) are unlikely to be any better. */
static void rcacheDrainIdle(rcache *rc) {
    redisContext *idle[RCACHE_MAX_POOL];
    pthread_mutex_lock(&rc->lock);
    int n = rc->nidle;
    memcpy(idle, rc->idle, sizeof(idle[0]) * (size_t)n);
    rc->nidle = 0;
    pthread_mutex_unlock(&rc->lock);
    for (int i = 0; i < n; i++)
        redisFree(idle[i]);
}

static av_status rcacheMarkDown(rcache *rc, av_status st, const char *msg, char *err,
                                size_t errlen) {
    rcacheDrainIdle(rc);
    pthread_mutex_lock(&rc->lock);
    rc->down_until_ms = clockMonoMs() + rc->retry_interval_ms;
    snprintf(rc->down_reason, sizeof(rc->down_reason), "%s", msg);
    pthread_mutex_unlock(&rc->lock);
    return avErrorf(err, errlen, st, "%s", msg);
}

/* Runs one setup command (AUTH, SELECT) on a fresh context. */
static av_status rcacheSetupCommand(rcache *rc, redisContext *c, const char *what, int argc,
                                    const char **argv, char *msg, size_t msglen) {
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (!r)
        return avErrorf(msg, msglen, AV_ERR_TRANSIENT, "redis %s:%d: %s failed: %s", rc->host,
                        rc->port, what, c->errstr);
    av_status st = AV_OK;
    if (r->type == REDIS_REPLY_ERROR)
        st = avErrorf(msg, msglen, strcmp(what, "AUTH") == 0 ? AV_ERR_PERMANENT : AV_ERR_TRANSIENT,
                      "redis %s:%d: %s rejected: %s", rc->host, rc->port, what, r->str);
    freeReplyObject(r);
    return st;
}

static av_status rcacheConnect(rcache *rc, redisContext **out, char *err, size_t errlen) {
    char msg[AV_ERRLEN];
    *out = NULL;
    redisContext *c =
        redisConnectWithTimeout(rc->host, rc->port, rcacheTimeval(rc->connect_timeout_ms));
    if (!c || c->err) {
        snprintf(msg, sizeof(msg), "redis %s:%d: cannot connect: %s", rc->host, rc->port,
                 c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return rcacheMarkDown(rc, AV_ERR_TRANSIENT, msg, err, errlen);
    }
    redisSetTimeout(c, rcacheTimeval(rc->command_timeout_ms));
    av_status st = AV_OK;
    if (rc->password) {
        const char *argv[2] = {"AUTH", rc->password};
        st = rcacheSetupCommand(rc, c, "AUTH", 2, argv, msg, sizeof(msg));
    }
    if (st == AV_OK && rc->db) {
        char dbs[16];
        snprintf(dbs, sizeof(dbs), "%d", rc->db);
        const char *argv[2] = {"SELECT", dbs};
        st = rcacheSetupCommand(rc, c, "SELECT", 2, argv, msg, sizeof(msg));
    }
    if (st != AV_OK) {
        redisFree(c);
        return rcacheMarkDown(rc, st, msg, err, errlen);
    }
    *out = c;
    return AV_OK;
}

/* Whether a command failed because the server had closed an idle connection
 * (EOF, reset, broken pipe) - then it never ran and may be sent again. A
 * timeout is not: the command may have run, and SET NX must not run twice. */
static int rcacheClosedUnderUs(const redisContext *c) {
    int e = errno;
    return c->err == REDIS_ERR_EOF || (c->err == REDIS_ERR_IO && (e == ECONNRESET || e == EPIPE));
}

/* Hands out an idle connection (*reused = 1) or a new one (*reused = 0). */
static av_status rcacheBorrow(rcache *rc, redisContext **out, int *reused, char *err,
                              size_t errlen) {
    pthread_mutex_lock(&rc->lock);
    if (rc->nidle > 0) {
        *out = rc->idle[--rc->nidle];
        *reused = 1;
        pthread_mutex_unlock(&rc->lock);
        return AV_OK;
    }
    *reused = 0;
    if (clockMonoMs() < rc->down_until_ms) {
        av_status st =
            avErrorf(err, errlen, AV_ERR_TRANSIENT, "%s (not retried yet)", rc->down_reason);
        pthread_mutex_unlock(&rc->lock);
        return st;
    }
    pthread_mutex_unlock(&rc->lock);
    return rcacheConnect(rc, out, err, errlen);
}

static void rcacheReturn(rcache *rc, redisContext *c) {
    if (c->err) {
        redisFree(c);
        return;
    }
    pthread_mutex_lock(&rc->lock);
    if (rc->nidle < rc->max_idle) {
        rc->idle[rc->nidle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&rc->lock);
    if (c)
        redisFree(c);
}

/* Runs one command and checks the reply for I/O failure and error replies;
 * on AV_OK the caller owns *reply. */
static av_status rcacheRun(rcache *rc, int argc, const char **argv, const size_t *argvlen,
                           redisReply **reply, char *err, size_t errlen) {
    redisContext *c;
    redisReply *r = NULL;
    int reused;
    *reply = NULL;
    /* An idle connection may have been closed by the server (idle timeout,
     * restart) since its last use: that costs one retry on a fresh
     * connection, not a "Redis is down" verdict. */
    for (int attempt = 0; attempt < 2; attempt++) {
        av_status st = rcacheBorrow(rc, &c, &reused, err, errlen);
        if (st != AV_OK)
            return st;
        r = redisCommandArgv(c, argc, argv, argvlen);
        if (r)
            break;
        char msg[AV_ERRLEN];
        snprintf(msg, sizeof(msg), "redis %s:%d: %s failed: %s", rc->host, rc->port, argv[0],
                 c->errstr[0] ? c->errstr : "connection lost");
        int retry = reused && attempt == 0 && rcacheClosedUnderUs(c);
        rcacheReturn(rc, c);
        if (!retry)
            return rcacheMarkDown(rc, AV_ERR_TRANSIENT, msg, err, errlen);
        rcacheDrainIdle(rc);
    }
    av_status st = AV_OK;
    rcacheReturn(rc, c);
    if (r->type == REDIS_REPLY_ERROR) {
        /* A server that wants a password we do not have is a configuration
         * error, not an outage. */
        int auth = strncmp(r->str, "NOAUTH", 6) == 0 || strncmp(r->str, "WRONGPASS", 9) == 0;
        st = avErrorf(err, errlen, auth ? AV_ERR_PERMANENT : AV_ERR_TRANSIENT,
                      "redis %s:%d: %s: %s", rc->host, rc->port, argv[0], r->str);
        freeReplyObject(r);
        return st;
    }
    *reply = r;
    return AV_OK;
}

av_status rcachePing(rcache *rc, char *err, size_t errlen) {
    const char *argv[1] = {"PING"};
    redisReply *r;
    av_status st = rcacheRun(rc, 1, argv, NULL, &r, err, errlen);
    if (st == AV_OK)
        freeReplyObject(r);
    return st;
}

av_status rcacheCheckNames(const char *kind, const char *name, char *err, size_t errlen) {
    size_t kl = kind ? strlen(kind) : 0, nl = name ? strlen(name) : 0;
    if (kl == 0 || kl > 32 || strspn(kind, "abcdefghijklmnopqrstuvwxyz0123456789_-") != kl ||
        strcmp(kind, "lock") == 0)
        return avErrorf(err, errlen, AV_ERR_USAGE,
                        "artifact kind \"%.40s\" is not 1..32 characters of [a-z0-9_-] (or is "
                        "the reserved \"lock\")",
                        kind ? kind : "");
    if (nl == 0 || nl > 200)
        return avErrorf(err, errlen, AV_ERR_USAGE, "%s name has %zu characters, expected 1..200",
                        kind, nl);
    for (size_t i = 0; i < nl; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch <= ' ' || ch >= 0x7f || ch == ':')
            return avErrorf(err, errlen, AV_ERR_USAGE,
                            "%s name has a space, ':' or non-printable character at offset %zu",
                            kind, i);
    }
    return AV_OK;
}

static void rcacheKey(char *buf, const char *kind, const char *name) {
    snprintf(buf, RCACHE_KEYMAX, "apivector:v1:%s:%s", kind, name);
}

static void rcacheLockKey(char *buf, const char *kind, const char *name) {
    snprintf(buf, RCACHE_KEYMAX, "apivector:v1:lock:%s:%s", kind, name);
}

static void rcacheCopyField(char *dst, size_t dstlen, const redisReply *r) {
    dst[0] = '\0';
    if (r->type == REDIS_REPLY_STRING && r->len < dstlen) {
        memcpy(dst, r->str, r->len);
        dst[r->len] = '\0';
    }
}

static int64_t rcacheIntField(const redisReply *r) {
    if (r->type != REDIS_REPLY_STRING)
        return 0;
    return strtoll(r->str, NULL, 10);
}

/* Fills meta from the first five HMGET elements; absent sha256 = absent. */
static void rcacheParseMeta(const redisReply *r, rcache_meta *meta) {
    memset(meta, 0, sizeof(*meta));
    rcacheCopyField(meta->sha256, sizeof(meta->sha256), r->element[0]);
    if (strlen(meta->sha256) != SHA256_HEXLEN - 1) {
        meta->sha256[0] = '\0';
        return;
    }
    meta->present = 1;
    rcacheCopyField(meta->etag, sizeof(meta->etag), r->element[1]);
    rcacheCopyField(meta->last_modified, sizeof(meta->last_modified), r->element[2]);
    meta->fetched_at_ms = rcacheIntField(r->element[3]);
    meta->fresh_until_ms = rcacheIntField(r->element[4]);
}

static av_status rcacheHmget(rcache *rc, const char *kind, const char *name, int with_data,
                             redisReply **out, char *err, size_t errlen) {
    char key[RCACHE_KEYMAX];
    rcacheKey(key, kind, name);
    const char *argv[8] = {"HMGET",         key,          "sha256",      "etag",
                           "last_modified", "fetched_at", "fresh_until", "data"};
    int argc = with_data ? 8 : 7;
    av_status st = rcacheRun(rc, argc, argv, NULL, out, err, errlen);
    if (st != AV_OK)
        return st;
    if ((*out)->type != REDIS_REPLY_ARRAY || (*out)->elements != (size_t)(argc - 2)) {
        freeReplyObject(*out);
        *out = NULL;
        return avErrorf(err, errlen, AV_ERR_TRANSIENT, "redis: unexpected HMGET reply for %s", key);
    }
    return AV_OK;
}

av_status rcacheGetMeta(rcache *rc, const char *kind, const char *name, rcache_meta *meta,
                        char *err, size_t errlen) {
    redisReply *r;
    memset(meta, 0, sizeof(*meta));
    av_status st = rcacheHmget(rc, kind, name, 0, &r, err, errlen);
    if (st != AV_OK)
        return st;
    rcacheParseMeta(r, meta);
    freeReplyObject(r);
    return AV_OK;
}

av_status rcacheGetData(rcache *rc, const char *kind, const char *name, rcache_meta *meta,
                        rcache_blob *blob, char *err, size_t errlen) {
    redisReply *r;
    memset(meta, 0, sizeof(*meta));
    memset(blob, 0, sizeof(*blob));
    av_status st = rcacheHmget(rc, kind, name, 1, &r, err, errlen);
    if (st != AV_OK)
        return st;
    rcacheParseMeta(r, meta);
    if (!meta->present || r->element[5]->type != REDIS_REPLY_STRING) {
        meta->present = 0;
        freeReplyObject(r);
        return AV_OK;
    }
    blob->data = (const unsigned char *)r->element[5]->str;
    blob->len = r->element[5]->len;
    blob->reply = r;
    return AV_OK;
}

void rcacheBlobFree(rcache_blob *blob) {
    if (blob && blob->reply) {
        freeReplyObject(blob->reply);
        memset(blob, 0, sizeof(*blob));
    }
}

/* Sends MULTI, HSET, PEXPIRE, EXEC pipelined and checks the EXEC reply. */
static av_status rcachePutOn(rcache *rc, redisContext *c, const char *key, const rcache_meta *meta,
                             const unsigned char *data, size_t len, int64_t keep_ms, char *err,
                             size_t errlen) {
    char fetched[24], fresh[24], keep[24];
    snprintf(fetched, sizeof(fetched), "%" PRId64, meta->fetched_at_ms);
    snprintf(fresh, sizeof(fresh), "%" PRId64, meta->fresh_until_ms);
    snprintf(keep, sizeof(keep), "%" PRId64, keep_ms > 0 ? keep_ms : 1);
    const char *hset[14] = {"HSET",          key,
                            "sha256",        meta->sha256,
                            "etag",          meta->etag,
                            "last_modified", meta->last_modified,
                            "fetched_at",    fetched,
                            "fresh_until",   fresh,
                            "data",          (const char *)data};
    size_t hlen[14];
    for (int i = 0; i < 13; i++)
        hlen[i] = strlen(hset[i]);
    hlen[13] = len;
    const char *pexp[3] = {"PEXPIRE", key, keep};
    const char *multi[1] = {"MULTI"}, *exec[1] = {"EXEC"};
    redisAppendCommandArgv(c, 1, multi, NULL);
    redisAppendCommandArgv(c, 14, hset, hlen);
    redisAppendCommandArgv(c, 3, pexp, NULL);
    redisAppendCommandArgv(c, 1, exec, NULL);
    av_status st = AV_OK;
    for (int i = 0; i < 4; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || !r)
            return avErrorf(err, errlen, AV_ERR_TRANSIENT, "redis %s:%d: storing %s failed: %s",
                            rc->host, rc->port, key, c->errstr);
        if (st == AV_OK &&
            (r->type == REDIS_REPLY_ERROR || (i == 3 && r->type != REDIS_REPLY_ARRAY)))
            st = avErrorf(err, errlen, AV_ERR_TRANSIENT, "redis %s:%d: storing %s refused: %s",
                          rc->host, rc->port, key,
                          r->type == REDIS_REPLY_ERROR ? r->str : "transaction aborted");
        freeReplyObject(r);
    }
    return st;
}

av_status rcachePut(rcache *rc, const char *kind, const char *name, const rcache_meta *meta,
                    const unsigned char *data, size_t len, int64_t keep_ms, char *err,
                    size_t errlen) {
    char key[RCACHE_KEYMAX];
    redisContext *c;
    char msg[AV_ERRLEN];
    int reused;
    av_status st = AV_OK;
    rcacheKey(key, kind, name);
    for (int attempt = 0; attempt < 2; attempt++) {
        st = rcacheBorrow(rc, &c, &reused, err, errlen);
        if (st != AV_OK)
            return st;
        st = rcachePutOn(rc, c, key, meta, data ? data : (const unsigned char *)"", len, keep_ms,
                         msg, sizeof(msg));
        int broken = c->err != 0;
        int retry = reused && attempt == 0 && rcacheClosedUnderUs(c);
        rcacheReturn(rc, c);
        if (!broken)
            break;
        /* The server closed the connection before EXEC, so sending it all again is safe. */
        if (!retry)
            return rcacheMarkDown(rc, st, msg, err, errlen);
        rcacheDrainIdle(rc);
    }
    if (st != AV_OK)
        return avErrorf(err, errlen, st, "%s", msg);
    return AV_OK;
}

av_status rcacheRefresh(rcache *rc, const char *kind, const char *name, const rcache_meta *meta,
                        int64_t keep_ms, int *updated, char *err, size_t errlen) {
    char key[RCACHE_KEYMAX], fetched[24], fresh[24], keep[24];
    redisReply *r;
    *updated = 0;
    rcacheKey(key, kind, name);
    snprintf(fetched, sizeof(fetched), "%" PRId64, meta->fetched_at_ms);
    snprintf(fresh, sizeof(fresh), "%" PRId64, meta->fresh_until_ms);
    snprintf(keep, sizeof(keep), "%" PRId64, keep_ms > 0 ? keep_ms : 1);
    const char *argv[10] = {"EVAL",     RCACHE_REFRESH_LUA,  "1", key, meta->sha256, fetched, fresh,
                            meta->etag, meta->last_modified, keep};
    av_status st = rcacheRun(rc, 10, argv, NULL, &r, err, errlen);
    if (st != AV_OK)
        return st;
    *updated = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return AV_OK;
}

static av_status rcacheToken(char token[RCACHE_TOKENLEN], char *err, size_t errlen) {
    unsigned char raw[16];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return avErrorf(err, errlen, AV_ERR_IO, "redis lock: no random bytes for a token");
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        token[2 * i] = digits[raw[i] >> 4];
        token[2 * i + 1] = digits[raw[i] & 0xf];
    }
    token[32] = '\0';
    return AV_OK;
}

av_status rcacheLockTry(rcache *rc, const char *kind, const char *name, long ttl_ms,
                        char token[RCACHE_TOKENLEN], int *acquired, char *err, size_t errlen) {
    char key[RCACHE_KEYMAX], ttl[24];
    redisReply *r;
    *acquired = 0;
    av_status st = rcacheToken(token, err, errlen);
    if (st != AV_OK)
        return st;
    rcacheLockKey(key, kind, name);
    snprintf(ttl, sizeof(ttl), "%ld", ttl_ms > 0 ? ttl_ms : 1);
    const char *argv[6] = {"SET", key, token, "NX", "PX", ttl};
    st = rcacheRun(rc, 6, argv, NULL, &r, err, errlen);
    if (st != AV_OK)
        return st;
    *acquired = r->type == REDIS_REPLY_STATUS; /* "OK"; a nil reply means taken */
    freeReplyObject(r);
    return AV_OK;
}

av_status rcacheLockRelease(rcache *rc, const char *kind, const char *name, const char *token,
                            char *err, size_t errlen) {
    char key[RCACHE_KEYMAX];
    redisReply *r;
    rcacheLockKey(key, kind, name);
    const char *argv[5] = {"EVAL", RCACHE_UNLOCK_LUA, "1", key, token};
    av_status st = rcacheRun(rc, 5, argv, NULL, &r, err, errlen);
    if (st == AV_OK)
        freeReplyObject(r);
    return st;
}

av_status rcacheDelete(rcache *rc, const char *kind, const char *name, char *err, size_t errlen) {
    char key[RCACHE_KEYMAX];
    redisReply *r;
    rcacheKey(key, kind, name);
    const char *argv[2] = {"DEL", key};
    av_status st = rcacheRun(rc, 2, argv, NULL, &r, err, errlen);
    if (st == AV_OK)
        freeReplyObject(r);
    return st;
}

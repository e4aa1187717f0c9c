/*
 * rcache.h - the Redis side of the artifact cache (hiredis 0.14).
 *
 * Key layout (the "v1" is bumped if the layout ever changes, so old and new
 * consumers can share one Redis during a rollout):
 *
 *   apivector:v1:<kind>:<name>       hash: sha256, etag, last_modified,
 *                                    fetched_at, fresh_until (ms since the
 *                                    epoch) and data (the encoded artifact);
 *                                    expires after the stale-keep time
 *   apivector:v1:lock:<kind>:<name>  single-flight lock: a random token, set
 *                                    with SET NX PX, deleted only by the
 *                                    holder of that token (Lua, atomic)
 *
 * Meta and data live in one hash so a reader gets a consistent pair in one
 * HMGET; freshness checks read only the small fields.
 *
 * Connections: hiredis contexts are not thread-safe, so an rcache keeps a
 * mutex-protected pool of idle connections; each call borrows one, and a
 * connection that saw an I/O error is closed instead of returned. After a
 * connection failure every call fails fast with AV_ERR_TRANSIENT for
 * retry_interval_ms instead of paying a connect timeout per call while Redis
 * is down.
 *
 * Errors: AV_ERR_TRANSIENT for Redis unreachable, timeouts and error replies;
 * AV_ERR_PERMANENT when Redis rejects the password. Messages name host:port,
 * never the password. Debian's hiredis 0.14 has no TLS: across an untrusted
 * network, run Redis behind a TLS tunnel (stunnel) and point host/port at it.
 *
 * Thread-safety: all functions may be called from any thread at once.
 */
#ifndef APIVECTOR_RCACHE_H
#define APIVECTOR_RCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sha256.h"

#define RCACHE_TOKENLEN 33 /* 32 hex characters and NUL */
#define RCACHE_KEYMAX 320

typedef struct rcache_config {
    const char *host;        /* required */
    int port;                /* 0 = 6379 */
    const char *password;    /* AUTH password, NULL = none */
    int db;                  /* SELECT index, 0 = default */
    long connect_timeout_ms; /* 0 = 500 */
    long command_timeout_ms; /* 0 = 5000 (covers moving a large artifact) */
    long retry_interval_ms;  /* fail fast this long after a failure; 0 = 1000 */
    int max_idle;            /* idle connections kept; 0 = 8 */
} rcache_config;

typedef struct rcache_meta {
    int present; /* 0: no such key (the other fields are empty) */
    char sha256[SHA256_HEXLEN];
    char etag[256];
    char last_modified[64];
    int64_t fetched_at_ms;
    int64_t fresh_until_ms;
} rcache_meta;

/* Encoded artifact bytes read from Redis; owns the reply they live in. */
typedef struct rcache_blob {
    const unsigned char *data;
    size_t len;
    void *reply; /* internal */
} rcache_blob;

typedef struct rcache rcache;

/* Creates the client; connects lazily, so a Redis that is down now is not an
 * error here. The config strings are copied. */
av_status rcacheNew(const rcache_config *cfg, rcache **out, char *err, size_t errlen);

/* Closes all connections and frees the client. No call may be running. */
void rcacheFree(rcache *rc);

/* Connects (with AUTH and SELECT) and PINGs: AV_ERR_TRANSIENT if Redis is
 * unreachable, AV_ERR_PERMANENT if it rejects the password. */
av_status rcachePing(rcache *rc, char *err, size_t errlen);

/* Checks that kind matches [a-z0-9_-]{1,32} and is not "lock", and that name
 * is 1..200 printable ASCII characters without spaces or ':'. */
av_status rcacheCheckNames(const char *kind, const char *name, char *err, size_t errlen);

/* Reads the small fields of an artifact. meta->present = 0 if absent. */
av_status rcacheGetMeta(rcache *rc, const char *kind, const char *name, rcache_meta *meta,
                        char *err, size_t errlen);

/* Reads meta and data in one atomic HMGET. On AV_OK with meta->present the
 * caller owns blob and must call rcacheBlobFree. */
av_status rcacheGetData(rcache *rc, const char *kind, const char *name, rcache_meta *meta,
                        rcache_blob *blob, char *err, size_t errlen);

void rcacheBlobFree(rcache_blob *blob);

/* Stores meta and data and sets the key to expire after keep_ms, in one
 * MULTI/EXEC. */
av_status rcachePut(rcache *rc, const char *kind, const char *name, const rcache_meta *meta,
                    const unsigned char *data, size_t len, int64_t keep_ms, char *err,
                    size_t errlen);

/* After a 304: sets fetched_at, fresh_until, etag and last_modified and
 * renews the expiry, but only if the stored sha256 still equals
 * meta->sha256 (atomic, Lua). *updated tells whether it did. */
av_status rcacheRefresh(rcache *rc, const char *kind, const char *name, const rcache_meta *meta,
                        int64_t keep_ms, int *updated, char *err, size_t errlen);

/* Tries to take the single-flight lock for ttl_ms with a fresh random token
 * (written to token). *acquired tells whether this caller holds it. */
av_status rcacheLockTry(rcache *rc, const char *kind, const char *name, long ttl_ms,
                        char token[RCACHE_TOKENLEN], int *acquired, char *err, size_t errlen);

/* Deletes the lock only if it still holds token (it may have expired and been
 * taken by someone else meanwhile). */
av_status rcacheLockRelease(rcache *rc, const char *kind, const char *name, const char *token,
                            char *err, size_t errlen);

/* Deletes the artifact key (tests and benchmarks start cold with it). */
av_status rcacheDelete(rcache *rc, const char *kind, const char *name, char *err, size_t errlen);

#endif

/*
 * artifact.h - support-server artifacts through a shared Redis cache.
 *
 * A consumer asks for an artifact by kind and name ("db"/"win7_x64",
 * "collection"/"malpedia") and gets a reference-counted handle to the parsed
 * object. Three tiers stand between it and the origin (the support server):
 *
 *   process  a bounded LRU of parsed objects keyed by content sha256
 *            (lru.h). While an artifact was confirmed fresh less than
 *            freshness_check_interval_ms ago and is within its TTL, a lookup
 *            touches no network: two uncontended mutexes and a hash lookup.
 *   redis    the encoded bytes plus sha256, ETag, Last-Modified, fetched_at
 *            and fresh_until under apivector:v1:<kind>:<name> (rcache.h). A
 *            freshness check reads only the small fields; the data is read
 *            only when its sha256 differs from what this process holds.
 *   origin   an HTTP(S) GET (http.h), conditional (If-None-Match /
 *            If-Modified-Since) when a copy exists: a 304 only renews
 *            fresh_until. Transient failures are retried with exponential
 *            backoff and jitter; permanent ones never.
 *
 * Single flight: a process that finds the Redis copy missing or expired
 * takes apivector:v1:lock:<kind>:<name> (SET NX PX, random token). The holder
 * fetches, encodes, stores, and deletes the lock only if it still holds its
 * token. Others poll Redis every 25 ms for a fresh copy and fetch themselves
 * only if lock_wait_ms passes or the holder gave up. Inside one process only
 * one thread per artifact does any of this; the others wait for its result.
 *
 * Degraded modes: Redis unreachable -> straight to the origin, logged at most
 * once a minute through cfg.log_fn, counted in redis_errors. Origin
 * unreachable or 5xx (or an encode that rejects new content) -> the stale
 * copy from Redis or the process, with info->stale = 1. Nothing cached and
 * origin down -> AV_ERR_TRANSIENT. Origin 4xx -> AV_ERR_PERMANENT naming
 * kind/name and URL. Too large -> AV_ERR_LIMIT.
 *
 * Codecs: the store knows no formats. The caller's codec turns origin bytes
 * into the bytes kept in Redis (encode, e.g. DB JSON -> compact binary; NULL
 * keeps the origin bytes) and those into the parsed object (decode). Every
 * process decodes the Redis form, the fetching one included, so all hold
 * identical objects. Put a format version into the kind ("db2") when the
 * encoded form changes, so old and new consumers never read each other's
 * bytes. The content sha256 is of the origin bytes.
 *
 * Secrets: extra_headers (e.g. "Authorization: apitoken <key>") are sent as
 * they are and never written to a message, log line or the stats.
 *
 * Thread-safety: artifactGet, artifactObject, artifactRelease and
 * artifactStoreStats may be called from any number of threads at once.
 * artifactStoreFree must run alone, after all workers stopped calling
 * artifactGet; refs still held stay valid until released.
 */
#ifndef APIVECTOR_ARTIFACT_H
#define APIVECTOR_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sha256.h"

typedef struct artifact_codec {
    const char *kind; /* "db", "collection", "winapi"; part of the Redis key, [a-z0-9_-] */
    /* origin bytes -> the bytes kept in Redis (e.g. DB JSON -> compact binary);
     * *out must be malloc'd (the store frees it). May reject (AV_ERR_PARSE):
     * then the new content is not accepted. NULL = store origin bytes as is. */
    av_status (*encode)(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen,
                        void *ctx, char *err, size_t errlen);
    /* cached bytes -> parsed object, read-only once returned (shared by
     * threads); *footprint = its memory size for the LRU budget. Must reject
     * malformed input with an error rather than trust it. */
    av_status (*decode)(const unsigned char *in, size_t len, void **obj, size_t *footprint,
                        void *ctx, char *err, size_t errlen);
    void (*destroy)(void *obj);
    void *ctx;
} artifact_codec;

/* Log levels for artifact_config.log_fn. */
#define ARTIFACT_LOG_WARN 1
#define ARTIFACT_LOG_ERROR 2

typedef struct artifact_config {
    /* Redis; redis_host NULL = no Redis (process tier and origin only). */
    const char *redis_host;
    int redis_port;                /* 0 = 6379 */
    const char *redis_password;    /* NULL = no AUTH */
    int redis_db;                  /* SELECT index */
    long redis_connect_timeout_ms; /* 0 = 500 */
    long redis_command_timeout_ms; /* 0 = 5000 */

    long ttl_seconds;                 /* freshness; 0 = 300 */
    long stale_ttl_seconds;           /* how long Redis keeps a copy; 0 = 7 days */
    long freshness_check_interval_ms; /* at most one check per artifact per interval; 0 = 5000,
                                         negative = check on every call */
    size_t lru_budget_bytes;          /* 0 = 1 GiB */
    long lock_ttl_ms;                 /* single-flight lock lifetime; 0 = 30000 */
    long lock_wait_ms;                /* wait for another's fetch; 0 = 30000 */

    /* Origin HTTP. */
    long http_connect_timeout_ms; /* 0 = 10000 */
    long http_timeout_ms;         /* whole transfer; 0 = 120000 */
    uint64_t max_artifact_bytes;  /* 0 = 256 MiB */
    int retries;                  /* extra attempts on transient failure; 0 = 3, negative = none */
    long backoff_base_ms;         /* 0 = 200 */
    long backoff_max_ms;          /* 0 = 5000 */
    long max_redirects;           /* 0 = 3, negative = none */
    int tls_insecure;             /* 1 = skip certificate verification (never in production) */
    const char *ca_bundle;        /* PEM CA bundle, NULL = system store */

    /* Called for degraded-mode events (Redis down, serving stale); at most once
     * a minute per kind of event. Never receives secrets. NULL = silent. */
    void (*log_fn)(void *log_ctx, int level, const char *msg);
    void *log_ctx;
} artifact_config;

typedef struct artifact_info {
    char sha256[SHA256_HEXLEN]; /* of the origin bytes */
    const char *tier;           /* "process", "redis" or "origin": where the object came from */
    int stale;                  /* 1: a refresh failed and this is the last good copy */
    int64_t fetched_at_ms;      /* when the origin last confirmed this content (epoch ms) */
    long origin_status;         /* HTTP status this call got from the origin, 0 if none */
} artifact_info;

typedef struct artifact_stats {
    uint64_t process_hits;   /* answers with tier "process" (the object was in memory) */
    uint64_t redis_hits;     /* answers with tier "redis" (data read from Redis and decoded) */
    uint64_t origin_fetches; /* full origin downloads (200) */
    uint64_t not_modified;   /* origin 304 revalidations */
    uint64_t stale_serves;   /* answers with stale = 1 */
    uint64_t redis_errors;   /* failed Redis operations */
    uint64_t origin_errors;  /* failed origin requests (after retries) */
    uint64_t lock_waits;     /* times another holder of the single-flight lock was waited for */
    size_t lru_bytes;
    size_t lru_entries;
    uint64_t lru_evictions;
} artifact_stats;

typedef struct artifact_store artifact_store;

/* A held parsed object; the struct is the LRU entry (lru.h). */
typedef struct lru_entry artifact_ref;

/* Creates a store. Copies what it needs from cfg. With Redis configured it
 * tries one connection: a rejected password is an error here
 * (AV_ERR_PERMANENT, so a misconfiguration is caught at startup), an
 * unreachable Redis is not (the store starts degraded and logs). */
av_status artifactStoreNew(const artifact_config *cfg, artifact_store **out, char *err,
                           size_t errlen);

/* Frees the store (see thread-safety above). NULL is allowed. */
void artifactStoreFree(artifact_store *store);

/* Returns in *out a held reference to the parsed artifact kind/name, fetched
 * from url when needed, as described at the top. extra_headers is a
 * NULL-terminated "Name: value" list or NULL. info may be NULL. On error
 * *out is NULL and err names kind/name and the URL (without secrets). */
av_status artifactGet(artifact_store *store, const artifact_codec *codec, const char *name,
                      const char *url, const char *const *extra_headers, artifact_ref **out,
                      artifact_info *info, char *err, size_t errlen);

/* The parsed object of a held ref (read-only; valid until artifactRelease). */
void *artifactObject(const artifact_ref *ref);

/* Drops a ref from artifactGet. NULL is allowed. */
void artifactRelease(artifact_ref *ref);

/* A snapshot of the counters. */
void artifactStoreStats(artifact_store *store, artifact_stats *out);

#endif

/*
 * artifact_internal.h - state shared by artifact.c (store, fast path) and
 * artifact_load.c (Redis, single flight, origin). Not for other modules.
 *
 * Locking: slots_lock guards the slot table and every slot field except
 * load_lock; load_lock is held by the one thread per artifact that runs the
 * slow path. Order: load_lock, then slots_lock, then the LRU's own lock.
 */
#ifndef APIVECTOR_ARTIFACT_INTERNAL_H
#define APIVECTOR_ARTIFACT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "artifact.h"
#include "lru.h"
#include "origin.h"
#include "rcache.h"

enum { ARTIFACT_TOPIC_REDIS, ARTIFACT_TOPIC_ORIGIN, ARTIFACT_TOPICS };

typedef struct artifact_slot {
    struct artifact_slot *next;
    char key[240]; /* "kind:name" */
    pthread_mutex_t load_lock;
    int users; /* threads inside artifactGet for this slot */
    int have;  /* the fields below describe a copy this process loaded */
    unsigned char lru_key[LRU_KEYLEN];
    char sha256[SHA256_HEXLEN];
    char etag[256];
    char last_modified[64];
    int64_t fetched_at_ms;
    int64_t fresh_until_ms;  /* wall clock, as in Redis */
    int64_t recheck_mono_ms; /* the fast path may answer until then */
    int stale;
} artifact_slot;

typedef struct artifact_counters {
    atomic_uint_fast64_t process_hits, redis_hits, origin_fetches, not_modified, stale_serves,
        redis_errors, origin_errors, lock_waits;
} artifact_counters;

struct artifact_store {
    int64_t ttl_ms, keep_ms;
    long check_interval_ms, lock_ttl_ms, lock_wait_ms;
    origin_options origin;
    char *ca_bundle;
    rcache *rc; /* NULL without Redis */
    lru *cache;
    pthread_mutex_t slots_lock;
    artifact_slot *slots[64];
    artifact_counters stats;
    uint64_t rng_seed;
    atomic_uint_fast64_t rng_counter;
    void (*log_fn)(void *log_ctx, int level, const char *msg);
    void *log_ctx;
    _Atomic int64_t last_log_ms[ARTIFACT_TOPICS];
};

/* One artifactGet call on its slow path. */
typedef struct artifact_call {
    artifact_store *store;
    const artifact_codec *codec;
    artifact_slot *slot;
    const char *name;
    const char *url;
    const char *const *headers;
    artifact_info *info;
} artifact_call;

/* The slow path; called with slot->load_lock held. */
av_status artifactLoad(artifact_call *c, lru_entry **out, char *err, size_t errlen);

/* Reports a degraded-mode event through the caller's log_fn, at most once a
 * minute per topic. */
void artifactLog(artifact_store *s, int topic, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif

/*
 * artifact.c - the artifact store: process LRU, Redis, origin (see artifact.h).
 *
 * Per artifact (kind:name) the store keeps a slot: which content the process
 * holds (its sha256 and the LRU key derived from it), the validators and
 * freshness that came with it, and until when the fast path may answer
 * without asking Redis. Slots and their fields are guarded by one mutex; the
 * fast path holds it only to copy a few fields, then looks the object up in
 * the LRU. A slot also has a load mutex so that within one process only one
 * thread per artifact talks to Redis or the origin; the others block on it and
 * then find the result on the fast path.
 *
 * The slow path, in order: Redis meta fresh -> use the process copy if it has
 * the same sha256, else load and decode the Redis data. Missing or expired ->
 * single flight (take the Redis lock, or wait for its holder's result), then a
 * conditional origin fetch. Redis failing at any point -> the direct path,
 * which is the same without Redis. Origin failing -> the stale copy.
 */
#include "artifact.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "artifact_internal.h"
#include "backoff.h"
#include "lru.h"
#include "rcache.h"

#define ARTIFACT_BUCKETS 64
#define ARTIFACT_LOG_EVERY_MS 60000

static long artifactDefault(long v, long def) {
    return v != 0 ? v : def;
}

static void artifactApplyDefaults(artifact_store *s, const artifact_config *cfg) {
    s->ttl_ms = artifactDefault(cfg->ttl_seconds, 300) * 1000;
    s->keep_ms = (int64_t)artifactDefault(cfg->stale_ttl_seconds, 7 * 86400) * 1000;
    s->check_interval_ms = artifactDefault(cfg->freshness_check_interval_ms, 5000);
    if (s->check_interval_ms < 0)
        s->check_interval_ms = 0;
    s->lock_ttl_ms = artifactDefault(cfg->lock_ttl_ms, 30000);
    s->lock_wait_ms = artifactDefault(cfg->lock_wait_ms, 30000);
    s->origin.connect_timeout_ms = cfg->http_connect_timeout_ms;
    s->origin.timeout_ms = cfg->http_timeout_ms;
    s->origin.max_bytes = cfg->max_artifact_bytes ? cfg->max_artifact_bytes : 256ULL << 20;
    s->origin.retries = cfg->retries == 0 ? 3 : (cfg->retries < 0 ? 0 : cfg->retries);
    s->origin.backoff_base_ms = artifactDefault(cfg->backoff_base_ms, 200);
    s->origin.backoff_max_ms = artifactDefault(cfg->backoff_max_ms, 5000);
    s->origin.max_redirects =
        cfg->max_redirects == 0 ? 3 : (cfg->max_redirects < 0 ? 0 : cfg->max_redirects);
    s->origin.tls_insecure = cfg->tls_insecure;
    s->log_fn = cfg->log_fn;
    s->log_ctx = cfg->log_ctx;
}

static av_status artifactConnectRedis(artifact_store *s, const artifact_config *cfg, char *err,
                                      size_t errlen) {
    rcache_config rcfg = {
        .host = cfg->redis_host,
        .port = cfg->redis_port,
        .password = cfg->redis_password,
        .db = cfg->redis_db,
        .connect_timeout_ms = cfg->redis_connect_timeout_ms,
        .command_timeout_ms = cfg->redis_command_timeout_ms,
    };
    char msg[AV_ERRLEN];
    av_status st = rcacheNew(&rcfg, &s->rc, err, errlen);
    if (st != AV_OK)
        return st;
    st = rcachePing(s->rc, msg, sizeof(msg));
    if (st == AV_ERR_PERMANENT)
        return avErrorf(err, errlen, st, "%s", msg);
    if (st != AV_OK) {
        atomic_fetch_add(&s->stats.redis_errors, 1);
        artifactLog(s, ARTIFACT_TOPIC_REDIS, ARTIFACT_LOG_WARN,
                    "artifact store starts without Redis: %s", msg);
    }
    return AV_OK;
}

av_status artifactStoreNew(const artifact_config *cfg, artifact_store **out, char *err,
                           size_t errlen) {
    *out = NULL;
    if (!cfg)
        return avErrorf(err, errlen, AV_ERR_USAGE, "artifact store: no configuration");
    artifact_store *s = calloc(1, sizeof(*s));
    if (!s)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "artifact store: out of memory");
    pthread_mutex_init(&s->slots_lock, NULL);
    artifactApplyDefaults(s, cfg);
    s->rng_seed = (uint64_t)clockWallMs() ^ ((uint64_t)(uintptr_t)s << 16);
    av_status st = AV_OK;
    if (cfg->ca_bundle && !(s->ca_bundle = strdup(cfg->ca_bundle)))
        st = avErrorf(err, errlen, AV_ERR_NOMEM, "artifact store: out of memory");
    s->origin.ca_bundle = s->ca_bundle;
    if (st == AV_OK)
        st = lruNew(cfg->lru_budget_bytes ? cfg->lru_budget_bytes : (size_t)1 << 30, &s->cache, err,
                    errlen);
    if (st == AV_OK && cfg->redis_host)
        st = artifactConnectRedis(s, cfg, err, errlen);
    if (st != AV_OK) {
        artifactStoreFree(s);
        return st;
    }
    *out = s;
    return AV_OK;
}

void artifactStoreFree(artifact_store *s) {
    if (!s)
        return;
    for (int i = 0; i < ARTIFACT_BUCKETS; i++) {
        artifact_slot *sl = s->slots[i];
        while (sl) {
            artifact_slot *next = sl->next;
            pthread_mutex_destroy(&sl->load_lock);
            free(sl);
            sl = next;
        }
    }
    lruFree(s->cache);
    rcacheFree(s->rc);
    free(s->ca_bundle);
    pthread_mutex_destroy(&s->slots_lock);
    free(s);
}

void artifactLog(artifact_store *s, int topic, int level, const char *fmt, ...) {
    if (!s->log_fn)
        return;
    int64_t now = clockMonoMs();
    int64_t last = atomic_load(&s->last_log_ms[topic]);
    if (last != 0 && now - last < ARTIFACT_LOG_EVERY_MS)
        return;
    /* Only the thread that wins the exchange logs: once a minute, not once per thread. */
    if (!atomic_compare_exchange_strong(&s->last_log_ms[topic], &last, now))
        return;
    char msg[AV_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s->log_fn(s->log_ctx, level, msg);
}

static unsigned artifactHashKey(const char *key) {
    unsigned h = 2166136261u;
    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 16777619u;
    return h % ARTIFACT_BUCKETS;
}

/* Finds or creates the slot of kind/name and counts the caller as a user.
 * Called with slots_lock held. */
static artifact_slot *artifactSlotAcquire(artifact_store *s, const char *key) {
    unsigned b = artifactHashKey(key);
    artifact_slot *sl;
    for (sl = s->slots[b]; sl; sl = sl->next)
        if (strcmp(sl->key, key) == 0)
            break;
    if (!sl) {
        sl = calloc(1, sizeof(*sl));
        if (!sl)
            return NULL;
        snprintf(sl->key, sizeof(sl->key), "%s", key);
        pthread_mutex_init(&sl->load_lock, NULL);
        sl->next = s->slots[b];
        s->slots[b] = sl;
    }
    sl->users++;
    return sl;
}

/* Drops the caller's use; a slot that never got a value and has no users is
 * freed, so a flood of requests for unknown names (404s) leaves nothing. */
static void artifactSlotRelease(artifact_store *s, artifact_slot *sl) {
    pthread_mutex_lock(&s->slots_lock);
    if (--sl->users == 0 && !sl->have) {
        artifact_slot **pp = &s->slots[artifactHashKey(sl->key)];
        while (*pp && *pp != sl)
            pp = &(*pp)->next;
        if (*pp)
            *pp = sl->next;
        pthread_mutex_destroy(&sl->load_lock);
        free(sl);
    }
    pthread_mutex_unlock(&s->slots_lock);
}

/* The fast path, with slots_lock held: copies the LRU key if the process copy
 * may be served without asking anyone. */
static int artifactFastLocked(const artifact_slot *sl, unsigned char key[LRU_KEYLEN],
                              artifact_info *info) {
    if (!sl->have || clockMonoMs() >= sl->recheck_mono_ms)
        return 0;
    memcpy(key, sl->lru_key, LRU_KEYLEN);
    memcpy(info->sha256, sl->sha256, SHA256_HEXLEN);
    info->stale = sl->stale;
    info->fetched_at_ms = sl->fetched_at_ms;
    info->tier = "process";
    return 1;
}

/* Fast path for a slot the caller uses: a held ref or NULL. */
static lru_entry *artifactTryProcess(artifact_store *s, artifact_slot *sl, artifact_info *info) {
    unsigned char key[LRU_KEYLEN];
    pthread_mutex_lock(&s->slots_lock);
    int ok = artifactFastLocked(sl, key, info);
    pthread_mutex_unlock(&s->slots_lock);
    return ok ? lruGet(s->cache, key) : NULL;
}

av_status artifactGet(artifact_store *s, const artifact_codec *codec, const char *name,
                      const char *url, const char *const *extra_headers, artifact_ref **out,
                      artifact_info *info, char *err, size_t errlen) {
    char key[sizeof(((artifact_slot *)0)->key)];
    artifact_info scratch;
    if (out)
        *out = NULL;
    if (!info)
        info = &scratch;
    memset(info, 0, sizeof(*info));
    if (!s || !codec || !codec->decode || !out || !url)
        return avErrorf(err, errlen, AV_ERR_USAGE, "artifactGet: missing store, codec or URL");
    av_status st = rcacheCheckNames(codec->kind, name, err, errlen);
    if (st != AV_OK)
        return st;
    snprintf(key, sizeof(key), "%s:%s", codec->kind, name);

    /* The steady state: one lock to read the slot, one LRU lookup. A slot that
     * has a value is never freed, so it can be left without holding a use. */
    unsigned char lru_key[LRU_KEYLEN];
    pthread_mutex_lock(&s->slots_lock);
    artifact_slot *sl = artifactSlotAcquire(s, key);
    int fast = sl && artifactFastLocked(sl, lru_key, info);
    if (fast)
        sl->users--;
    pthread_mutex_unlock(&s->slots_lock);
    if (!sl)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "%s/%s: out of memory", codec->kind, name);
    if (fast) {
        lru_entry *e = lruGet(s->cache, lru_key);
        if (e) {
            atomic_fetch_add(&s->stats.process_hits, 1);
            *out = e;
            return AV_OK;
        }
        pthread_mutex_lock(&s->slots_lock);
        sl->users++;
        pthread_mutex_unlock(&s->slots_lock);
    }
    lru_entry *e;
    artifact_call call = {
        .store = s,
        .codec = codec,
        .slot = sl,
        .name = name,
        .url = url,
        .headers = extra_headers,
        .info = info,
    };
    pthread_mutex_lock(&sl->load_lock);
    /* Another thread may have refreshed the slot while this one waited. */
    e = artifactTryProcess(s, sl, info);
    if (e) {
        atomic_fetch_add(&s->stats.process_hits, 1);
        st = AV_OK;
    } else {
        st = artifactLoad(&call, &e, err, errlen);
    }
    pthread_mutex_unlock(&sl->load_lock);
    artifactSlotRelease(s, sl);
    if (st != AV_OK) {
        long origin_status = info->origin_status;
        memset(info, 0, sizeof(*info));
        info->origin_status = origin_status;
        e = NULL;
    }
    *out = e;
    return st;
}

void *artifactObject(const artifact_ref *ref) {
    return lruEntryObject(ref);
}

void artifactRelease(artifact_ref *ref) {
    lruRelease(ref);
}

void artifactStoreStats(artifact_store *s, artifact_stats *out) {
    lru_stats ls;
    memset(out, 0, sizeof(*out));
    out->process_hits = atomic_load(&s->stats.process_hits);
    out->redis_hits = atomic_load(&s->stats.redis_hits);
    out->origin_fetches = atomic_load(&s->stats.origin_fetches);
    out->not_modified = atomic_load(&s->stats.not_modified);
    out->stale_serves = atomic_load(&s->stats.stale_serves);
    out->redis_errors = atomic_load(&s->stats.redis_errors);
    out->origin_errors = atomic_load(&s->stats.origin_errors);
    out->lock_waits = atomic_load(&s->stats.lock_waits);
    lruGetStats(s->cache, &ls);
    out->lru_bytes = ls.bytes;
    out->lru_entries = ls.entries;
    out->lru_evictions = ls.evictions;
}

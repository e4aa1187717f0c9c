/*
 * artifact_load.c - the artifact store's slow path: Redis, single flight,
 * origin, stale copies (see artifact.h for the behaviour it implements).
 *
 * Runs with the slot's load mutex held, so at most one thread per artifact
 * and process is in here. Every step that talks to Redis can fail; a failure
 * is counted and logged, and the call continues on the direct path (process
 * copy and origin only), so a dead Redis never turns into a failed event.
 *
 * The "held" copy is what this process already has for the artifact: the
 * slot's sha256, looked up in the LRU (it may have been evicted). It decides
 * whether Redis data has to be read and decoded, supplies validators when
 * Redis is down, and is the last resort when the origin fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "artifact_internal.h"
#include "backoff.h"

/* What this process holds for the artifact, copied from the slot. */
typedef struct artifact_held {
    lru_entry *entry; /* held ref, NULL if nothing or evicted */
    char sha256[SHA256_HEXLEN];
    char etag[256];
    char last_modified[64];
    int64_t fetched_at_ms;
    int64_t fresh_until_ms;
} artifact_held;

#define ARTIFACT_POLL_MS 25

static void artifactLruKey(const char *kind, const char *sha_hex, unsigned char out[LRU_KEYLEN]) {
    /* Keyed by kind and content: the same bytes decoded by two codecs are two
     * different objects. */
    char buf[64 + SHA256_HEXLEN];
    int n = snprintf(buf, sizeof(buf), "%s:%s", kind, sha_hex);
    if (sha256Digest(buf, (size_t)n, out, NULL, 0) != AV_OK)
        memset(out, 0, LRU_KEYLEN);
}

static void artifactHeldGet(artifact_call *c, artifact_held *h) {
    artifact_store *s = c->store;
    unsigned char key[LRU_KEYLEN];
    int have;
    memset(h, 0, sizeof(*h));
    pthread_mutex_lock(&s->slots_lock);
    have = c->slot->have;
    if (have) {
        memcpy(key, c->slot->lru_key, LRU_KEYLEN);
        memcpy(h->sha256, c->slot->sha256, sizeof(h->sha256));
        memcpy(h->etag, c->slot->etag, sizeof(h->etag));
        memcpy(h->last_modified, c->slot->last_modified, sizeof(h->last_modified));
        h->fetched_at_ms = c->slot->fetched_at_ms;
        h->fresh_until_ms = c->slot->fresh_until_ms;
    }
    pthread_mutex_unlock(&s->slots_lock);
    if (have)
        h->entry = lruGet(s->cache, key);
}

static void artifactHeldDrop(artifact_held *h) {
    lruRelease(h->entry);
    h->entry = NULL;
}

static int artifactHeldIs(const artifact_held *h, const char *sha_hex) {
    return h->entry && strcmp(h->sha256, sha_hex) == 0;
}

/* Records what the process now serves for the artifact and until when the
 * fast path may answer; fills the caller's info. */
static void artifactSlotSet(artifact_call *c, const rcache_meta *m, int stale, const char *tier) {
    artifact_store *s = c->store;
    artifact_slot *sl = c->slot;
    int64_t now_mono = clockMonoMs();
    int64_t left = m->fresh_until_ms - clockWallMs();
    if (left < 0)
        left = 0;
    if (stale || left > s->check_interval_ms)
        left = s->check_interval_ms;
    pthread_mutex_lock(&s->slots_lock);
    sl->have = 1;
    artifactLruKey(c->codec->kind, m->sha256, sl->lru_key);
    memcpy(sl->sha256, m->sha256, sizeof(sl->sha256));
    memcpy(sl->etag, m->etag, sizeof(sl->etag));
    memcpy(sl->last_modified, m->last_modified, sizeof(sl->last_modified));
    sl->fetched_at_ms = m->fetched_at_ms;
    sl->fresh_until_ms = m->fresh_until_ms;
    sl->recheck_mono_ms = now_mono + left;
    sl->stale = stale;
    pthread_mutex_unlock(&s->slots_lock);
    memcpy(c->info->sha256, m->sha256, sizeof(c->info->sha256));
    c->info->fetched_at_ms = m->fetched_at_ms;
    c->info->stale = stale;
    c->info->tier = tier;
    if (stale)
        atomic_fetch_add(&s->stats.stale_serves, 1);
    if (strcmp(tier, "process") == 0)
        atomic_fetch_add(&s->stats.process_hits, 1);
    else if (strcmp(tier, "redis") == 0)
        atomic_fetch_add(&s->stats.redis_hits, 1);
}

static void artifactMetaFromHeld(const artifact_held *h, rcache_meta *m) {
    memset(m, 0, sizeof(*m));
    m->present = 1;
    memcpy(m->sha256, h->sha256, sizeof(m->sha256));
    memcpy(m->etag, h->etag, sizeof(m->etag));
    memcpy(m->last_modified, h->last_modified, sizeof(m->last_modified));
    m->fetched_at_ms = h->fetched_at_ms;
    m->fresh_until_ms = h->fresh_until_ms;
}

static void artifactRedisFailed(artifact_call *c, const char *msg) {
    atomic_fetch_add(&c->store->stats.redis_errors, 1);
    artifactLog(c->store, ARTIFACT_TOPIC_REDIS, ARTIFACT_LOG_WARN,
                "Redis unavailable, going to the origin directly (%s/%s): %s", c->codec->kind,
                c->name, msg);
}

/* Decodes bytes of content sha_hex into the LRU, unless an object for that
 * content is resident already (another name, or an earlier decode). */
static av_status artifactDecodeInsert(artifact_call *c, const char *sha_hex,
                                      const unsigned char *data, size_t len, lru_entry **out,
                                      char *err, size_t errlen) {
    unsigned char key[LRU_KEYLEN];
    char msg[AV_ERRLEN];
    void *obj = NULL;
    size_t footprint = len;
    artifactLruKey(c->codec->kind, sha_hex, key);
    *out = lruGet(c->store->cache, key);
    if (*out)
        return AV_OK;
    av_status st = c->codec->decode(data, len, &obj, &footprint, c->codec->ctx, msg, sizeof(msg));
    if (st != AV_OK)
        return avErrorf(err, errlen, st, "%s/%s: decoding %zu cached bytes failed: %s",
                        c->codec->kind, c->name, len, msg);
    return lruInsert(c->store->cache, key, obj, footprint, c->codec->destroy, out, err, errlen);
}

/* Loads the Redis copy into the process. Returns AV_OK, or AV_ERR_TRANSIENT
 * when Redis failed or the key vanished, or the decode error. */
static av_status artifactLoadRedisData(artifact_call *c, int stale, lru_entry **out, char *err,
                                       size_t errlen) {
    rcache_meta m;
    rcache_blob blob;
    char msg[AV_ERRLEN];
    av_status st =
        rcacheGetData(c->store->rc, c->codec->kind, c->name, &m, &blob, msg, sizeof(msg));
    if (st != AV_OK) {
        artifactRedisFailed(c, msg);
        return avErrorf(err, errlen, st, "%s", msg);
    }
    if (!m.present)
        return avErrorf(err, errlen, AV_ERR_TRANSIENT, "%s/%s vanished from Redis", c->codec->kind,
                        c->name);
    st = artifactDecodeInsert(c, m.sha256, blob.data, blob.len, out, err, errlen);
    rcacheBlobFree(&blob);
    if (st == AV_OK)
        artifactSlotSet(c, &m, stale, "redis");
    return st;
}

static av_status artifactRefresh(artifact_call *c, const rcache_meta *meta, int use_redis,
                                 lru_entry **out, char *err, size_t errlen);

/* Serves a fresh Redis copy: the process copy if it is the same content,
 * else the Redis data. Returns 0 when the caller should go direct instead. */
static int artifactUseRedis(artifact_call *c, const rcache_meta *meta, lru_entry **out,
                            av_status *st, char *err, size_t errlen) {
    artifact_held h;
    artifactHeldGet(c, &h);
    if (artifactHeldIs(&h, meta->sha256)) {
        *out = h.entry;
        artifactSlotSet(c, meta, 0, "process");
        *st = AV_OK;
        return 1;
    }
    artifactHeldDrop(&h);
    char msg[AV_ERRLEN];
    *st = artifactLoadRedisData(c, 0, out, msg, sizeof(msg));
    if (*st == AV_OK)
        return 1;
    if (*st == AV_ERR_TRANSIENT)
        return 0;
    /* The Redis copy does not decode (corrupt, or written by an incompatible
     * release): replace it from the origin. */
    atomic_fetch_add(&c->store->stats.redis_errors, 1);
    artifactLog(c->store, ARTIFACT_TOPIC_REDIS, ARTIFACT_LOG_ERROR,
                "replacing an unusable Redis copy: %s", msg);
    rcache_meta none = {0};
    *st = artifactRefresh(c, &none, 1, out, err, errlen);
    return 1;
}

/* The origin failed (transient, limit, or rejected content): serve the best
 * copy there is, marked stale, or report the failure. */
static av_status artifactServeStale(artifact_call *c, const rcache_meta *meta, int use_redis,
                                    artifact_held *h, av_status why, const char *msg,
                                    lru_entry **out, char *err, size_t errlen) {
    char ignored[AV_ERRLEN];
    if (use_redis && meta->present && !artifactHeldIs(h, meta->sha256)) {
        if (artifactLoadRedisData(c, 1, out, ignored, sizeof(ignored)) == AV_OK) {
            artifactHeldDrop(h);
            goto served;
        }
    }
    if (h->entry) {
        rcache_meta m;
        artifactMetaFromHeld(h, &m);
        *out = h->entry;
        h->entry = NULL;
        artifactSlotSet(c, &m, 1, "process");
        goto served;
    }
    return avErrorf(err, errlen, why, "%s; no cached copy to serve", msg);
served:
    artifactLog(c->store, ARTIFACT_TOPIC_ORIGIN, ARTIFACT_LOG_WARN, "serving a stale copy: %s",
                msg);
    return AV_OK;
}

/* Origin said 304: the copy behind the validators is current again. */
static av_status artifactNotModified(artifact_call *c, const rcache_meta *meta, int use_redis,
                                     artifact_held *h, const origin_result *r, lru_entry **out,
                                     char *err, size_t errlen) {
    artifact_store *s = c->store;
    char msg[AV_ERRLEN];
    rcache_meta m;
    atomic_fetch_add(&s->stats.not_modified, 1);
    if (use_redis && meta->present)
        m = *meta;
    else
        artifactMetaFromHeld(h, &m);
    m.fetched_at_ms = clockWallMs();
    m.fresh_until_ms = m.fetched_at_ms + s->ttl_ms;
    if (r->etag[0])
        memcpy(m.etag, r->etag, sizeof(m.etag));
    if (r->last_modified[0])
        memcpy(m.last_modified, r->last_modified, sizeof(m.last_modified));
    if (use_redis && meta->present) {
        int updated;
        if (rcacheRefresh(s->rc, c->codec->kind, c->name, &m, s->keep_ms, &updated, msg,
                          sizeof(msg)) != AV_OK)
            artifactRedisFailed(c, msg);
    }
    if (artifactHeldIs(h, m.sha256)) {
        *out = h->entry;
        h->entry = NULL;
        artifactSlotSet(c, &m, 0, "process");
        return AV_OK;
    }
    if (use_redis && meta->present && artifactLoadRedisData(c, 0, out, msg, sizeof(msg)) == AV_OK)
        return AV_OK;
    /* The copy the validators came from is gone: download unconditionally. */
    rcache_meta none = {0};
    return artifactRefresh(c, &none, 0, out, err, errlen);
}

/* Origin sent new content: encode, decode into the process, then publish to
 * Redis (decoding first keeps a copy that does not decode out of Redis). */
static av_status artifactAccept(artifact_call *c, int use_redis, artifact_held *h, origin_result *r,
                                lru_entry **out, char *err, size_t errlen) {
    artifact_store *s = c->store;
    char msg[AV_ERRLEN];
    unsigned char *enc = r->data;
    size_t enclen = r->len;
    atomic_fetch_add(&s->stats.origin_fetches, 1);
    if (c->codec->encode) {
        av_status st =
            c->codec->encode(r->data, r->len, &enc, &enclen, c->codec->ctx, msg, sizeof(msg));
        if (st != AV_OK)
            return st == AV_ERR_NOMEM
                       ? avErrorf(err, errlen, st, "%s/%s: %s", c->codec->kind, c->name, msg)
                       : avErrorf(err, errlen, AV_ERR_PERMANENT, "%s/%s: content rejected: %s",
                                  c->codec->kind, c->name, msg);
    }
    rcache_meta m = {.present = 1};
    memcpy(m.sha256, r->sha256, sizeof(m.sha256));
    memcpy(m.etag, r->etag, sizeof(m.etag));
    memcpy(m.last_modified, r->last_modified, sizeof(m.last_modified));
    m.fetched_at_ms = clockWallMs();
    m.fresh_until_ms = m.fetched_at_ms + s->ttl_ms;
    av_status st = AV_OK;
    if (artifactHeldIs(h, m.sha256)) {
        *out = h->entry;
        h->entry = NULL;
    } else {
        st = artifactDecodeInsert(c, m.sha256, enc, enclen, out, msg, sizeof(msg));
        if (st != AV_OK)
            st = avErrorf(err, errlen, st == AV_ERR_NOMEM ? st : AV_ERR_PERMANENT, "%s", msg);
    }
    if (st == AV_OK && use_redis &&
        rcachePut(s->rc, c->codec->kind, c->name, &m, enc, enclen, s->keep_ms, msg, sizeof(msg)) !=
            AV_OK)
        artifactRedisFailed(c, msg);
    if (enc != r->data)
        free(enc);
    if (st == AV_OK)
        artifactSlotSet(c, &m, 0, "origin");
    return st;
}

/* Asks the origin, conditionally when a copy exists: the Redis copy's
 * validators when use_redis, else the process copy's. */
static av_status artifactRefresh(artifact_call *c, const rcache_meta *meta, int use_redis,
                                 lru_entry **out, char *err, size_t errlen) {
    artifact_store *s = c->store;
    char what[300], msg[AV_ERRLEN];
    artifact_held h;
    origin_result r;
    const char *inm = NULL, *ims = NULL;
    artifactHeldGet(c, &h);
    if (use_redis && meta->present) {
        inm = meta->etag;
        ims = meta->last_modified;
    } else if (!use_redis && h.entry) {
        /* With Redis but no Redis copy, download in full so the others get one. */
        inm = h.etag;
        ims = h.last_modified;
    }
    snprintf(what, sizeof(what), "%s/%s", c->codec->kind, c->name);
    uint64_t rng = s->rng_seed ^ (atomic_fetch_add(&s->rng_counter, 1) * 0x9e3779b97f4a7c15ULL);
    av_status st =
        originFetch(&s->origin, what, c->url, c->headers, inm, ims, &rng, &r, msg, sizeof(msg));
    c->info->origin_status = r.status;
    if (st == AV_OK && r.status == 304) {
        if (!inm && !ims) {
            st = avErrorf(msg, sizeof(msg), AV_ERR_TRANSIENT,
                          "%s: origin answered 304 to an unconditional GET", what);
        } else {
            st = artifactNotModified(c, meta, use_redis, &h, &r, out, err, errlen);
            artifactHeldDrop(&h);
            return st;
        }
    } else if (st == AV_OK) {
        st = artifactAccept(c, use_redis, &h, &r, out, msg, sizeof(msg));
        originResultFree(&r);
        if (st == AV_OK || st == AV_ERR_NOMEM) {
            artifactHeldDrop(&h);
            return st == AV_OK ? AV_OK : avErrorf(err, errlen, st, "%s", msg);
        }
        /* Rejected content is not a new version: keep serving the last good one. */
        atomic_fetch_add(&s->stats.origin_errors, 1);
        st = artifactServeStale(c, meta, use_redis, &h, st, msg, out, err, errlen);
        artifactHeldDrop(&h);
        return st;
    }
    atomic_fetch_add(&s->stats.origin_errors, 1);
    if (st != AV_ERR_TRANSIENT && st != AV_ERR_LIMIT) {
        artifactHeldDrop(&h);
        return avErrorf(err, errlen, st, "%s", msg);
    }
    st = artifactServeStale(c, meta, use_redis, &h, st, msg, out, err, errlen);
    artifactHeldDrop(&h);
    return st;
}

/* Without Redis (none configured, or it just failed). */
static av_status artifactDirect(artifact_call *c, lru_entry **out, char *err, size_t errlen) {
    artifact_held h;
    artifactHeldGet(c, &h);
    if (h.entry && clockWallMs() < h.fresh_until_ms) {
        rcache_meta m;
        artifactMetaFromHeld(&h, &m);
        *out = h.entry;
        artifactSlotSet(c, &m, 0, "process");
        return AV_OK;
    }
    artifactHeldDrop(&h);
    rcache_meta none = {0};
    return artifactRefresh(c, &none, 0, out, err, errlen);
}

static int artifactMetaFresh(const rcache_meta *m) {
    return m->present && m->fresh_until_ms > clockWallMs();
}

/* Holder of the single-flight lock: check once more (the value may have
 * landed between the first read and SET NX), fetch, release. */
static int artifactAsHolder(artifact_call *c, const char *token, lru_entry **out, av_status *st,
                            char *err, size_t errlen) {
    artifact_store *s = c->store;
    char msg[AV_ERRLEN];
    rcache_meta meta;
    int handled;
    if (rcacheGetMeta(s->rc, c->codec->kind, c->name, &meta, msg, sizeof(msg)) != AV_OK) {
        artifactRedisFailed(c, msg);
        handled = 0;
    } else if (artifactMetaFresh(&meta)) {
        handled = artifactUseRedis(c, &meta, out, st, err, errlen);
    } else {
        *st = artifactRefresh(c, &meta, 1, out, err, errlen);
        handled = 1;
    }
    if (rcacheLockRelease(s->rc, c->codec->kind, c->name, token, msg, sizeof(msg)) != AV_OK)
        artifactRedisFailed(c, msg);
    return handled;
}

/* Returns 1 when the call was answered through Redis (result in *st), 0 when
 * Redis failed and the caller should go direct. */
static int artifactViaRedis(artifact_call *c, lru_entry **out, av_status *st, char *err,
                            size_t errlen) {
    artifact_store *s = c->store;
    char msg[AV_ERRLEN], token[RCACHE_TOKENLEN];
    rcache_meta meta;
    if (rcacheGetMeta(s->rc, c->codec->kind, c->name, &meta, msg, sizeof(msg)) != AV_OK) {
        artifactRedisFailed(c, msg);
        return 0;
    }
    if (artifactMetaFresh(&meta))
        return artifactUseRedis(c, &meta, out, st, err, errlen);
    int64_t deadline = clockMonoMs() + s->lock_wait_ms;
    for (int round = 0;; round++) {
        if (round > 0) {
            backoffSleepMs(ARTIFACT_POLL_MS);
            if (rcacheGetMeta(s->rc, c->codec->kind, c->name, &meta, msg, sizeof(msg)) != AV_OK) {
                artifactRedisFailed(c, msg);
                return 0;
            }
            if (artifactMetaFresh(&meta))
                return artifactUseRedis(c, &meta, out, st, err, errlen);
            if (clockMonoMs() >= deadline) {
                /* The holder is too slow or gone: do it ourselves. */
                *st = artifactRefresh(c, &meta, 1, out, err, errlen);
                return 1;
            }
        }
        int acquired;
        if (rcacheLockTry(s->rc, c->codec->kind, c->name, s->lock_ttl_ms, token, &acquired, msg,
                          sizeof(msg)) != AV_OK) {
            artifactRedisFailed(c, msg);
            return 0;
        }
        if (acquired)
            return artifactAsHolder(c, token, out, st, err, errlen);
        if (round == 0)
            atomic_fetch_add(&s->stats.lock_waits, 1);
    }
}

av_status artifactLoad(artifact_call *c, lru_entry **out, char *err, size_t errlen) {
    av_status st = AV_OK;
    *out = NULL;
    if (c->store->rc && artifactViaRedis(c, out, &st, err, errlen))
        return st;
    if (*out) {
        /* Redis failed after a partial answer; cannot happen today, but never leak a ref. */
        lruRelease(*out);
        *out = NULL;
    }
    return artifactDirect(c, out, err, errlen);
}

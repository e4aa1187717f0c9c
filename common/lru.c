/*
 * lru.c - byte-budget LRU of ref-counted entries keyed by sha256 (see lru.h).
 *
 * One mutex guards the hash table, the recency list and the counters; it is
 * held only for pointer updates, never while an object is destroyed, so a
 * slow destructor (freeing a 30 MB DB) never stalls lookups. Reference counts
 * are atomics so lruRelease needs no lock at all. The key is already a
 * uniformly distributed hash, so its first 8 bytes index the buckets.
 */
#include "lru.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct lru_entry {
    unsigned char key[LRU_KEYLEN];
    void *obj;
    lru_destroy_fn destroy;
    size_t footprint;
    atomic_uint refs;
    lru_entry *prev, *next; /* recency list, head = most recent */
    lru_entry *hnext;       /* bucket chain */
};

struct lru {
    pthread_mutex_t lock;
    lru_entry **buckets;
    size_t nbuckets; /* power of two */
    lru_entry *head, *tail;
    size_t bytes, budget, entries;
    uint64_t hits, misses, evictions;
};

static size_t lruBucket(const lru *l, const unsigned char *key) {
    uint64_t h;
    memcpy(&h, key, sizeof(h));
    return (size_t)h & (l->nbuckets - 1);
}

av_status lruNew(size_t budget_bytes, lru **out, char *err, size_t errlen) {
    *out = NULL;
    if (budget_bytes == 0)
        return avErrorf(err, errlen, AV_ERR_USAGE, "lru: byte budget must be above 0");
    lru *l = calloc(1, sizeof(*l));
    if (!l)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "lru: out of memory");
    l->nbuckets = 64;
    l->buckets = calloc(l->nbuckets, sizeof(*l->buckets));
    if (!l->buckets) {
        free(l);
        return avErrorf(err, errlen, AV_ERR_NOMEM, "lru: out of memory");
    }
    l->budget = budget_bytes;
    pthread_mutex_init(&l->lock, NULL);
    *out = l;
    return AV_OK;
}

static void lruEntryDestroy(lru_entry *e) {
    if (e->destroy && e->obj)
        e->destroy(e->obj);
    free(e);
}

void lruRetain(lru_entry *e) {
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
}

void lruRelease(lru_entry *e) {
    if (!e)
        return;
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
        lruEntryDestroy(e);
}

void *lruEntryObject(const lru_entry *e) {
    return e->obj;
}

size_t lruEntryFootprint(const lru_entry *e) {
    return e->footprint;
}

const unsigned char *lruEntryKey(const lru_entry *e) {
    return e->key;
}

static lru_entry *lruFind(const lru *l, const unsigned char *key) {
    for (lru_entry *e = l->buckets[lruBucket(l, key)]; e; e = e->hnext)
        if (memcmp(e->key, key, LRU_KEYLEN) == 0)
            return e;
    return NULL;
}

static void lruListUnlink(lru *l, lru_entry *e) {
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lruListPushFront(lru *l, lru_entry *e) {
    e->prev = NULL;
    e->next = l->head;
    if (l->head)
        l->head->prev = e;
    l->head = e;
    if (!l->tail)
        l->tail = e;
}

static void lruHashUnlink(lru *l, lru_entry *e) {
    lru_entry **pp = &l->buckets[lruBucket(l, e->key)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    e->hnext = NULL;
}

/* Doubles the table when chains get long; failure to grow is harmless (the
 * chains just get longer), so it is not reported. */
static void lruMaybeGrow(lru *l) {
    if (l->entries < l->nbuckets)
        return;
    size_t n = l->nbuckets * 2;
    lru_entry **b = calloc(n, sizeof(*b));
    if (!b)
        return;
    lru_entry **old = l->buckets;
    size_t oldn = l->nbuckets;
    l->buckets = b;
    l->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        lru_entry *e = old[i];
        while (e) {
            lru_entry *next = e->hnext;
            size_t k = lruBucket(l, e->key);
            e->hnext = b[k];
            b[k] = e;
            e = next;
        }
    }
    free(old);
}

/* Unlinks least recently used entries until the budget holds and returns them
 * chained through next, for release after the lock is dropped. */
static lru_entry *lruEvictLocked(lru *l) {
    lru_entry *victims = NULL;
    while (l->bytes > l->budget && l->tail) {
        lru_entry *e = l->tail;
        lruListUnlink(l, e);
        lruHashUnlink(l, e);
        l->bytes -= e->footprint;
        l->entries--;
        l->evictions++;
        e->next = victims;
        victims = e;
    }
    return victims;
}

static void lruReleaseChain(lru_entry *e) {
    while (e) {
        lru_entry *next = e->next;
        lruRelease(e);
        e = next;
    }
}

lru_entry *lruGet(lru *l, const unsigned char key[LRU_KEYLEN]) {
    pthread_mutex_lock(&l->lock);
    lru_entry *e = lruFind(l, key);
    if (e) {
        if (l->head != e) {
            lruListUnlink(l, e);
            lruListPushFront(l, e);
        }
        lruRetain(e);
        l->hits++;
    } else {
        l->misses++;
    }
    pthread_mutex_unlock(&l->lock);
    return e;
}

av_status lruInsert(lru *l, const unsigned char key[LRU_KEYLEN], void *obj, size_t footprint,
                    lru_destroy_fn destroy, lru_entry **out, char *err, size_t errlen) {
    *out = NULL;
    lru_entry *e = calloc(1, sizeof(*e));
    if (!e) {
        if (destroy && obj)
            destroy(obj);
        return avErrorf(err, errlen, AV_ERR_NOMEM, "lru: out of memory for an entry");
    }
    memcpy(e->key, key, LRU_KEYLEN);
    e->obj = obj;
    e->destroy = destroy;
    e->footprint = footprint;
    atomic_init(&e->refs, 2); /* the cache's and the caller's */

    pthread_mutex_lock(&l->lock);
    lru_entry *existing = lruFind(l, key);
    if (existing) {
        lruRetain(existing);
        if (l->head != existing) {
            lruListUnlink(l, existing);
            lruListPushFront(l, existing);
        }
        pthread_mutex_unlock(&l->lock);
        lruEntryDestroy(e);
        *out = existing;
        return AV_OK;
    }
    lruMaybeGrow(l);
    size_t k = lruBucket(l, key);
    e->hnext = l->buckets[k];
    l->buckets[k] = e;
    lruListPushFront(l, e);
    l->bytes += footprint;
    l->entries++;
    lru_entry *victims = lruEvictLocked(l);
    pthread_mutex_unlock(&l->lock);
    lruReleaseChain(victims);
    *out = e;
    return AV_OK;
}

void lruGetStats(lru *l, lru_stats *out) {
    pthread_mutex_lock(&l->lock);
    out->bytes = l->bytes;
    out->budget = l->budget;
    out->entries = l->entries;
    out->hits = l->hits;
    out->misses = l->misses;
    out->evictions = l->evictions;
    pthread_mutex_unlock(&l->lock);
}

void lruFree(lru *l) {
    if (!l)
        return;
    lru_entry *e = l->head;
    while (e) {
        lru_entry *next = e->next;
        lruRelease(e);
        e = next;
    }
    pthread_mutex_destroy(&l->lock);
    free(l->buckets);
    free(l);
}

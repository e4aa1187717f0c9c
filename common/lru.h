/*
 * lru.h - bounded in-process cache of parsed artifacts, keyed by sha256.
 *
 * The cache keeps objects (a parsed ApiScout DB, a collection) up to a byte
 * budget, measured by the footprint the caller reports for each object, and
 * evicts the least recently used beyond it. Keying by the content sha256
 * means two names with the same content share one object and a new version
 * of an artifact is a new entry: nothing is ever mutated in place, so worker
 * threads read objects without locks.
 *
 * Entries are reference counted. The cache holds one reference while an
 * entry is resident; lruGet and lruInsert hand the caller another. Eviction
 * only drops the cache's reference, so a worker still holding an entry keeps
 * using it safely and the object is destroyed when the last holder calls
 * lruRelease. An object larger than the whole budget is handed back to the
 * inserter but not kept.
 *
 * Thread-safety: every function may be called from any thread at once. The
 * objects themselves must be safe for concurrent reads (they are never
 * written after insertion). lruFree may run while entries are still held:
 * those stay valid until released.
 */
#ifndef APIVECTOR_LRU_H
#define APIVECTOR_LRU_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define LRU_KEYLEN 32

typedef struct lru lru;
typedef struct lru_entry lru_entry;
typedef void (*lru_destroy_fn)(void *obj);

typedef struct lru_stats {
    size_t bytes;   /* footprint of resident entries */
    size_t budget;  /* configured byte budget */
    size_t entries; /* resident entries */
    uint64_t hits;
    uint64_t misses;
    uint64_t evictions;
} lru_stats;

/* Creates an empty cache with the given byte budget (must be > 0). */
av_status lruNew(size_t budget_bytes, lru **out, char *err, size_t errlen);

/* Drops the cache's references to all entries and frees the cache. */
void lruFree(lru *l);

/* Returns a held reference to the entry for key and marks it most recently
 * used, or NULL if it is not resident. Release it with lruRelease. */
lru_entry *lruGet(lru *l, const unsigned char key[LRU_KEYLEN]);

/* Takes ownership of obj (destroyed with destroy, which may be NULL) and
 * returns in *out a held reference to the entry for key. If key is already
 * resident the existing entry is returned and obj is destroyed at once, so
 * two threads that decoded the same content end up sharing one object.
 * Evicts least recently used entries until the budget holds. Only fails with
 * AV_ERR_NOMEM, in which case obj has been destroyed. */
av_status lruInsert(lru *l, const unsigned char key[LRU_KEYLEN], void *obj, size_t footprint,
                    lru_destroy_fn destroy, lru_entry **out, char *err, size_t errlen);

/* Adds a reference to an entry the caller already holds. */
void lruRetain(lru_entry *e);

/* Drops a reference; the last one destroys the object and the entry. */
void lruRelease(lru_entry *e);

/* The object of an entry the caller holds; valid until lruRelease. */
void *lruEntryObject(const lru_entry *e);

/* The footprint recorded for an entry. */
size_t lruEntryFootprint(const lru_entry *e);

/* The sha256 key of an entry. */
const unsigned char *lruEntryKey(const lru_entry *e);

/* A snapshot of the counters. */
void lruGetStats(lru *l, lru_stats *out);

#endif

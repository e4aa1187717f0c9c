/*
 * test_lru.c - unit tests of the in-process artifact LRU (common/lru.c).
 *
 * Objects are counted allocations, so every test can assert exactly when an
 * object is destroyed: budget enforcement, least-recently-used eviction order
 * (a lookup refreshes an entry), an entry held by a reader surviving its
 * eviction until released, duplicate inserts sharing one object, an object
 * over the whole budget handed back but not kept, and a thread-safety smoke
 * test (8 threads inserting, looking up and releasing) that must end with
 * every object destroyed exactly once (run it under ASan/TSan too).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lru.h"

static atomic_int live_objects;
static atomic_int destroyed_objects;

typedef struct obj {
    int id;
} obj;

static obj *objNew(int id) {
    obj *o = malloc(sizeof(*o));
    assert_non_null(o);
    o->id = id;
    atomic_fetch_add(&live_objects, 1);
    return o;
}

static void objDestroy(void *p) {
    atomic_fetch_sub(&live_objects, 1);
    atomic_fetch_add(&destroyed_objects, 1);
    free(p);
}

static void keyOf(int id, unsigned char key[LRU_KEYLEN]) {
    memset(key, 0, LRU_KEYLEN);
    /* Spread ids over the buckets like real digests would. */
    uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
    memcpy(key, &h, sizeof(h));
    memcpy(key + 8, &id, sizeof(id));
}

static int setup(void **state) {
    atomic_store(&live_objects, 0);
    atomic_store(&destroyed_objects, 0);
    return 0;
}

static lru_entry *put(lru *l, int id, size_t footprint) {
    unsigned char key[LRU_KEYLEN];
    lru_entry *e = NULL;
    keyOf(id, key);
    assert_int_equal(lruInsert(l, key, objNew(id), footprint, objDestroy, &e, NULL, 0), AV_OK);
    assert_non_null(e);
    return e;
}

static int has(lru *l, int id) {
    unsigned char key[LRU_KEYLEN];
    keyOf(id, key);
    lru_entry *e = lruGet(l, key);
    if (!e)
        return 0;
    assert_int_equal(((obj *)lruEntryObject(e))->id, id);
    lruRelease(e);
    return 1;
}

static void test_rejects_zero_budget(void **state) {
    lru *l = NULL;
    char err[AV_ERRLEN];
    assert_int_equal(lruNew(0, &l, err, sizeof(err)), AV_ERR_USAGE);
    assert_null(l);
    assert_non_null(strstr(err, "budget"));
}

static void test_budget_and_eviction_order(void **state) {
    lru *l;
    lru_stats st;
    assert_int_equal(lruNew(300, &l, NULL, 0), AV_OK);
    for (int id = 1; id <= 3; id++)
        lruRelease(put(l, id, 100));
    lruGetStats(l, &st);
    assert_int_equal(st.bytes, 300);
    assert_int_equal(st.entries, 3);
    /* Touch 1 so that 2 becomes the least recently used. */
    assert_true(has(l, 1));
    lruRelease(put(l, 4, 100));
    assert_false(has(l, 2));
    assert_true(has(l, 1));
    assert_true(has(l, 3));
    assert_true(has(l, 4));
    assert_int_equal(atomic_load(&destroyed_objects), 1);
    /* A big entry pushes out as many old ones as it needs, oldest first. */
    lruRelease(put(l, 5, 250));
    lruGetStats(l, &st);
    assert_true(st.bytes <= 300);
    assert_true(has(l, 5));
    assert_false(has(l, 3));
    assert_int_equal(st.evictions, 4);
    lruFree(l);
    assert_int_equal(atomic_load(&live_objects), 0);
}

static void test_held_entry_survives_eviction(void **state) {
    lru *l;
    assert_int_equal(lruNew(100, &l, NULL, 0), AV_OK);
    lru_entry *held = put(l, 1, 100);
    lruRelease(put(l, 2, 100)); /* evicts 1 from the cache */
    assert_false(has(l, 1));
    assert_int_equal(atomic_load(&destroyed_objects), 0);
    assert_int_equal(((obj *)lruEntryObject(held))->id, 1);
    lruRetain(held);
    lruRelease(held);
    assert_int_equal(atomic_load(&destroyed_objects), 0);
    lruRelease(held);
    assert_int_equal(atomic_load(&destroyed_objects), 1);
    /* Freeing the cache while a reader holds an entry leaves it usable. */
    lru_entry *held2 = NULL;
    unsigned char key[LRU_KEYLEN];
    keyOf(2, key);
    held2 = lruGet(l, key);
    assert_non_null(held2);
    lruFree(l);
    assert_int_equal(((obj *)lruEntryObject(held2))->id, 2);
    assert_int_equal(atomic_load(&live_objects), 1);
    lruRelease(held2);
    assert_int_equal(atomic_load(&live_objects), 0);
}

static void test_duplicate_insert_shares(void **state) {
    lru *l;
    assert_int_equal(lruNew(1000, &l, NULL, 0), AV_OK);
    lru_entry *a = put(l, 7, 10);
    lru_entry *b = put(l, 7, 10); /* the second object is destroyed at once */
    assert_ptr_equal(a, b);
    assert_int_equal(atomic_load(&destroyed_objects), 1);
    lru_stats st;
    lruGetStats(l, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.bytes, 10);
    lruRelease(a);
    lruRelease(b);
    lruFree(l);
    assert_int_equal(atomic_load(&live_objects), 0);
}

static void test_oversized_not_kept(void **state) {
    lru *l;
    assert_int_equal(lruNew(100, &l, NULL, 0), AV_OK);
    lruRelease(put(l, 1, 50));
    lru_entry *big = put(l, 2, 500);
    assert_int_equal(((obj *)lruEntryObject(big))->id, 2);
    assert_int_equal(lruEntryFootprint(big), 500);
    assert_false(has(l, 2));
    lru_stats st;
    lruGetStats(l, &st);
    assert_true(st.bytes <= 100);
    lruRelease(big);
    lruFree(l);
    assert_int_equal(atomic_load(&live_objects), 0);
}

#define SMOKE_THREADS 8
#define SMOKE_OPS 20000
#define SMOKE_IDS 64

static void *smokeWorker(void *arg) {
    lru *l = arg;
    unsigned seed = (unsigned)(uintptr_t)&seed;
    for (int i = 0; i < SMOKE_OPS; i++) {
        int id = (int)(rand_r(&seed) % SMOKE_IDS);
        unsigned char key[LRU_KEYLEN];
        keyOf(id, key);
        lru_entry *e = lruGet(l, key);
        if (!e) {
            obj *o = objNew(id);
            if (lruInsert(l, key, o, 100, objDestroy, &e, NULL, 0) != AV_OK)
                return (void *)1;
        }
        if (((obj *)lruEntryObject(e))->id != id)
            return (void *)1;
        lruRelease(e);
    }
    return NULL;
}

static void test_thread_smoke(void **state) {
    lru *l;
    pthread_t t[SMOKE_THREADS];
    /* Room for a quarter of the ids: constant eviction under contention. */
    assert_int_equal(lruNew(100 * SMOKE_IDS / 4, &l, NULL, 0), AV_OK);
    for (int i = 0; i < SMOKE_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, smokeWorker, l), 0);
    for (int i = 0; i < SMOKE_THREADS; i++) {
        void *rv;
        pthread_join(t[i], &rv);
        assert_null(rv);
    }
    lru_stats st;
    lruGetStats(l, &st);
    assert_true(st.bytes <= st.budget);
    assert_true(st.evictions > 0);
    assert_int_equal(st.hits + st.misses, (uint64_t)SMOKE_THREADS * SMOKE_OPS);
    lruFree(l);
    assert_int_equal(atomic_load(&live_objects), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_rejects_zero_budget, setup),
        cmocka_unit_test_setup(test_budget_and_eviction_order, setup),
        cmocka_unit_test_setup(test_held_entry_survives_eviction, setup),
        cmocka_unit_test_setup(test_duplicate_insert_shares, setup),
        cmocka_unit_test_setup(test_oversized_not_kept, setup),
        cmocka_unit_test_setup(test_thread_smoke, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

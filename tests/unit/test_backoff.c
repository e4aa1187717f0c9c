/*
 * test_backoff.c - unit tests of the retry backoff (common/backoff.c).
 *
 * Proves: every delay lies in [cap/2, cap] with cap doubling from base up to
 * max; the cap holds after many attempts (no overflow); reset starts over;
 * the same seed replays the same sequence and different seeds spread out
 * (the point of the jitter); degenerate settings (base 0, max < base) are
 * made safe.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "backoff.h"

static void test_bounds_and_growth(void **state) {
    backoff b;
    backoffInit(&b, 100, 5000, 42);
    uint32_t cap = 100;
    for (int i = 0; i < 12; i++) {
        uint32_t d = backoffNext(&b);
        assert_true(d >= cap / 2);
        assert_true(d <= cap);
        cap = cap * 2 > 5000 ? 5000 : cap * 2;
    }
}

static void test_cap_holds_forever(void **state) {
    backoff b;
    backoffInit(&b, 1000, 30000, 7);
    for (int i = 0; i < 10000; i++) {
        uint32_t d = backoffNext(&b);
        assert_true(d <= 30000);
        if (i > 10)
            assert_true(d >= 15000);
    }
}

static void test_reset(void **state) {
    backoff b;
    backoffInit(&b, 100, 10000, 1);
    for (int i = 0; i < 8; i++)
        backoffNext(&b);
    backoffReset(&b);
    assert_true(backoffNext(&b) <= 100);
}

static void test_seed_replay_and_spread(void **state) {
    backoff a, b;
    backoffInit(&a, 1000, 1000, 99);
    backoffInit(&b, 1000, 1000, 99);
    for (int i = 0; i < 50; i++)
        assert_int_equal(backoffNext(&a), backoffNext(&b));
    /* 100 clients with different seeds at the same attempt do not all pick
     * the same delay. */
    uint32_t first = 0, distinct = 0;
    for (uint64_t seed = 1; seed <= 100; seed++) {
        backoffInit(&a, 1000, 1000, seed);
        uint32_t d = backoffNext(&a);
        if (seed == 1)
            first = d;
        else if (d != first)
            distinct++;
    }
    assert_true(distinct > 90);
}

static void test_degenerate_settings(void **state) {
    backoff b;
    backoffInit(&b, 0, 0, 5);
    assert_true(backoffNext(&b) <= 1);
    backoffInit(&b, 500, 10, 5);
    for (int i = 0; i < 5; i++)
        assert_true(backoffNext(&b) <= 500);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds_and_growth),
        cmocka_unit_test(test_cap_holds_forever),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_seed_replay_and_spread),
        cmocka_unit_test(test_degenerate_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

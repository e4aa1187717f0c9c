/*
 * test_filter.c - unit tests of the own-image, range and neighbour filters.
 *
 * Rows are written by hand (offset, address, bitness; the DB entry is not
 * needed by the filter), and the expected survivors follow the README: own
 * image drops addresses in [base, base + len] inclusive, from/to keep base +
 * offset >= from and <= to (computed without wrapping), and the neighbour
 * filter keeps both rows of every consecutive pair whose signed difference
 * next - this is <= distance, each row once and in order, nothing at all for
 * fewer than 2 rows. The filters apply in that order, so a row removed by the
 * first two no longer counts as a neighbour.
 */
#include "engine_fixtures.h"

#include "filter.h"

static crawl_row row(uint64_t offset, uint64_t address, unsigned bitness) {
    return (crawl_row){offset, address, NULL, (uint8_t)bitness, -1, 1};
}

/* Applies opt and checks the surviving offsets (with their bitness). */
static void expectKept(const crawl_row *in, size_t n, const filter_options *opt,
                       const uint64_t *offsets, size_t m) {
    crawl_row out[32];
    assert_true(n <= 32);
    size_t got = filterApply(in, n, opt, out);
    if (got != m)
        fail_msg("%zu rows kept, expected %zu", got, m);
    for (size_t i = 0; i < m; i++) {
        assert_int_equal(out[i].offset, offsets[i]);
        /* The row itself is copied, not just its offset. */
        size_t j = 0;
        while (j < n && !(in[j].offset == out[i].offset && in[j].bitness == out[i].bitness))
            j++;
        assert_true(j < n);
        assert_int_equal(out[i].address, in[j].address);
    }
}

static void test_own_image(void **state) {
    (void)state;
    const uint64_t b = 0x400000;
    crawl_row in[] = {row(0, b - 1, 32), row(4, b, 32), row(8, b + 0x1000, 32),
                      row(12, b + 0x1001, 32), row(16, b + 0x800, 64)};
    filter_options o = {.own_image = 1, .base_address = b, .dump_len = 0x1000};
    expectKept(in, 5, &o, (const uint64_t[]){0, 12}, 2);
    o.own_image = 0;
    expectKept(in, 5, &o, (const uint64_t[]){0, 4, 8, 12, 16}, 5);
    /* Base 0: every address up to the dump length is "own image". */
    crawl_row low[] = {row(0, 0, 32), row(4, 0x1000, 32), row(8, 0x1001, 32)};
    filter_options z = {.own_image = 1, .base_address = 0, .dump_len = 0x1000};
    expectKept(low, 3, &z, (const uint64_t[]){8}, 1);
    /* base + len past 2^64: no wrap-around, the range just reaches the top. */
    crawl_row top[] = {row(0, UINT64_MAX, 64), row(4, 5, 64)};
    filter_options t = {.own_image = 1, .base_address = UINT64_MAX - 10, .dump_len = 100};
    expectKept(top, 2, &t, (const uint64_t[]){4}, 1);
}

static void test_range(void **state) {
    (void)state;
    const uint64_t b = 0x400000;
    crawl_row in[] = {row(0x0F, 1, 32), row(0x10, 2, 32), row(0x20, 3, 32), row(0x21, 4, 32)};
    filter_options o = {.base_address = b, .from_address = b + 0x10};
    expectKept(in, 4, &o, (const uint64_t[]){0x10, 0x20, 0x21}, 3);
    o.from_address = 0;
    o.to_address = b + 0x20;
    expectKept(in, 4, &o, (const uint64_t[]){0x0F, 0x10, 0x20}, 3);
    o.from_address = b + 0x10;
    expectKept(in, 4, &o, (const uint64_t[]){0x10, 0x20}, 2);
    o.from_address = 0;
    o.to_address = 0;
    expectKept(in, 4, &o, (const uint64_t[]){0x0F, 0x10, 0x20, 0x21}, 4);
    /* base + offset above 2^64 - 1 is above any to_address. */
    crawl_row hi[] = {row(0x20, 1, 32), row(0x5, 2, 32)};
    filter_options h = {.base_address = UINT64_MAX - 0x10, .to_address = UINT64_MAX};
    expectKept(hi, 2, &h, (const uint64_t[]){0x5}, 1);
    h.to_address = 0;
    h.from_address = UINT64_MAX; /* 2^64 + 0xF >= 2^64 - 1 */
    expectKept(hi, 2, &h, (const uint64_t[]){0x20}, 1);
}

static void test_neighbours(void **state) {
    (void)state;
    filter_options o = {.distance = 32};
    /* Fewer than 2 rows: none. */
    expectKept(NULL, 0, &o, NULL, 0);
    crawl_row one[] = {row(0, 1, 32)};
    expectKept(one, 1, &o, NULL, 0);
    /* Diffs 32 (kept: equal to the distance), 68, 100, 32, 33. */
    crawl_row in[] = {row(0, 1, 32),   row(32, 2, 32),  row(100, 3, 32),
                      row(200, 4, 32), row(232, 5, 32), row(265, 6, 32)};
    expectKept(in, 6, &o, (const uint64_t[]){0, 32, 200, 232}, 4);
    /* A chain keeps every row once. */
    crawl_row chain[] = {row(0, 1, 32), row(4, 2, 32), row(8, 3, 32), row(12, 4, 32)};
    expectKept(chain, 4, &o, (const uint64_t[]){0, 4, 8, 12}, 4);
    /* Two far apart rows: none. */
    crawl_row far[] = {row(0, 1, 32), row(33, 2, 32)};
    expectKept(far, 2, &o, NULL, 0);
    /* Distance 0 means no neighbour filter, even for one row. */
    o.distance = 0;
    expectKept(one, 1, &o, (const uint64_t[]){0}, 1);
}

static void test_boundary_32_64(void **state) {
    (void)state;
    /* 32-bit rows at 100 and 500, then 64-bit rows at 0 and 1000: diffs
     * 400, -500, 1000. The negative one is <= 32: rows 500 and 0 survive. */
    crawl_row in[] = {row(100, 1, 32), row(500, 2, 32), row(0, 3, 64), row(1000, 4, 64)};
    filter_options o = {.distance = 32};
    crawl_row out[4];
    assert_int_equal(filterApply(in, 4, &o, out), 2);
    assert_int_equal(out[0].offset, 500);
    assert_int_equal(out[0].bitness, 32);
    assert_int_equal(out[1].offset, 0);
    assert_int_equal(out[1].bitness, 64);
    /* Same offset in both blocks: diff 0 across the boundary. */
    crawl_row same[] = {row(64, 1, 32), row(64, 2, 64)};
    assert_int_equal(filterApply(same, 2, &o, out), 2);
    assert_int_equal(out[0].bitness, 32);
    assert_int_equal(out[1].bitness, 64);
    /* A negative distance keeps only pairs with a difference <= it. */
    o.distance = -1;
    expectKept(in, 4, &o, (const uint64_t[]){500, 0}, 2);
    crawl_row up[] = {row(0, 1, 32), row(5, 2, 32)};
    expectKept(up, 2, &o, NULL, 0);
}

static void test_filter_order(void **state) {
    (void)state;
    /* Rows at 0, 20, 40 with distance 25: all close as crawled, but the own
     * image filter removes 20 first, leaving 0 and 40 (diff 40): none. */
    crawl_row in[] = {row(0, 0x9000, 32), row(20, 0x400010, 32), row(40, 0x9004, 32)};
    filter_options o = {.own_image = 1, .base_address = 0x400000, .dump_len = 64, .distance = 25};
    expectKept(in, 3, &o, NULL, 0);
    /* The range filter likewise: from drops row 0, leaving 20 and 40. */
    filter_options r = {.base_address = 0x400000, .from_address = 0x400001, .distance = 25};
    expectKept(in, 3, &r, (const uint64_t[]){20, 40}, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_image),    cmocka_unit_test(test_range),
        cmocka_unit_test(test_neighbours),   cmocka_unit_test(test_boundary_32_64),
        cmocka_unit_test(test_filter_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

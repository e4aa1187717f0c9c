/*
 * test_refs.c - unit tests of the FF 15 / FF 25 reference sites.
 *
 * Hand-made dumps place each site with an operand chosen so that its two
 * readings land on, just inside, or just outside the accepted range
 * 0 < target < len: 32-bit target = uint32 operand - base, 64-bit target =
 * int32 operand + site + 6 (FF 15) or + 7 (FF 25). A randomized comparison
 * against a direct transcription of the README rule (scan left to right, a
 * match consumes its two opcode bytes, a site needs 4 operand bytes) covers
 * the combinations the hand cases do not.
 */
#include "engine_fixtures.h"

#include "refs.h"

static void site(unsigned char *d, size_t s, unsigned char op, uint32_t operand) {
    d[s] = 0xFF;
    d[s + 1] = op;
    fxPut32(d, s + 2, operand);
}

/* Checks the sites of one target, in order; n == 0 means none. */
static void expectRefs(const refs_table *t, unsigned bitness, uint64_t target,
                       const uint64_t *sites, size_t n) {
    size_t got_n = 99;
    const refs_pair *p = refsFind(t, bitness, target, &got_n);
    if (got_n != n)
        fail_msg("%u-bit target %llu: %zu sites, expected %zu", bitness, (unsigned long long)target,
                 got_n, n);
    if (n == 0) {
        assert_null(p);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(p[i].target, target);
        assert_int_equal(p[i].site, sites[i]);
    }
}

static refs_table collect(const unsigned char *d, size_t len, uint64_t base) {
    refs_table t;
    char err[AV_ERRLEN] = "";
    assert_int_equal(refsCollect(d, len, base, &t, err, sizeof(err)), AV_OK);
    return t;
}

static void test_targets_and_bounds(void **state) {
    (void)state;
    unsigned char d[64] = {0};
    const uint64_t base = 0x400000;
    site(d, 4, 0x15, 0x400020);    /* 32: 0x20.  64: huge */
    site(d, 12, 0x25, 0xFFFFFFF0); /* 32: huge.  64: -16 + 12 + 7 = 3 */
    site(d, 20, 0x15, 0x400000);   /* 32: 0, ignored */
    site(d, 28, 0x15, 0x3FFFFF);   /* 32: -1, ignored */
    site(d, 36, 0x25, 0x400040);   /* 32: 64 = len, ignored */
    site(d, 44, 0x15, 0x40003F);   /* 32: 63 = len - 1 */
    site(d, 52, 0x15, 0xFFFFFFC6); /* 64: -58 + 52 + 6 = 0, ignored */
    site(d, 58, 0x25, 0xFFFFFFC9); /* the last possible site; 64: -55 + 58 + 7 = 10 */
    refs_table t = collect(d, sizeof(d), base);
    assert_int_equal(t.n32, 2);
    assert_int_equal(t.n64, 2);
    expectRefs(&t, 32, 0x20, (const uint64_t[]){4}, 1);
    expectRefs(&t, 32, 63, (const uint64_t[]){44}, 1);
    expectRefs(&t, 64, 3, (const uint64_t[]){12}, 1);
    expectRefs(&t, 64, 10, (const uint64_t[]){58}, 1);
    expectRefs(&t, 32, 0, NULL, 0);
    expectRefs(&t, 64, 0x20, NULL, 0);
    expectRefs(&t, 32, 3, NULL, 0);
    refsFree(&t);
    assert_null(t.by32);
    assert_int_equal(t.n64, 0);
}

static void test_base_zero_and_huge(void **state) {
    (void)state;
    unsigned char d[32] = {0};
    site(d, 0, 0x15, 0x10); /* 32 with base 0: 0x10.  64: 0x10 + 0 + 6 = 22 */
    refs_table t = collect(d, sizeof(d), 0);
    expectRefs(&t, 32, 0x10, (const uint64_t[]){0}, 1);
    expectRefs(&t, 64, 22, (const uint64_t[]){0}, 1);
    refsFree(&t);
    /* A base above every operand: no 32-bit target; the 64-bit reading does
     * not depend on the base. */
    t = collect(d, sizeof(d), UINT64_MAX);
    assert_int_equal(t.n32, 0);
    expectRefs(&t, 64, 22, (const uint64_t[]){0}, 1);
    refsFree(&t);
    t = collect(d, sizeof(d), 0x100000000ULL);
    assert_int_equal(t.n32, 0);
    refsFree(&t);
}

static void test_last_five_bytes(void **state) {
    (void)state;
    /* FF 15 at 5 needs bytes 5..10: 11 bytes. */
    unsigned char *d10 = malloc(10), *d11 = malloc(11);
    assert_non_null(d10);
    assert_non_null(d11);
    memset(d10, 0, 10);
    memset(d11, 0, 11);
    d10[5] = 0xFF;
    d10[6] = 0x15;
    d10[7] = 1;
    memcpy(d11, d10, 10);
    refs_table t = collect(d10, 10, 0);
    assert_int_equal(t.n32 + t.n64, 0);
    refsFree(&t);
    /* Operand 1: 32-bit target 1; 64-bit target 1 + 5 + 6 = 12 >= 11. */
    t = collect(d11, 11, 0);
    expectRefs(&t, 32, 1, (const uint64_t[]){5}, 1);
    assert_int_equal(t.n64, 0);
    refsFree(&t);
    free(d10);
    free(d11);
    /* Buffers too short for any site. */
    for (size_t n = 0; n < 6; n++) {
        unsigned char b[6] = {0xFF, 0x15, 0xFF, 0x25, 0xFF, 0x15};
        t = collect(n ? b : NULL, n, 0);
        assert_int_equal(t.n32 + t.n64, 0);
        refsFree(&t);
    }
}

static void test_ascending_sites(void **state) {
    (void)state;
    unsigned char d[64] = {0};
    /* Three 32-bit sites for target 8 (base 0), written out of order. */
    site(d, 30, 0x15, 8);
    site(d, 10, 0x25, 8);
    site(d, 20, 0x15, 8);
    refs_table t = collect(d, sizeof(d), 0);
    expectRefs(&t, 32, 8, (const uint64_t[]){10, 20, 30}, 3);
    /* Their 64-bit readings: 8+30+6 = 44, 8+10+7 = 25, 8+20+6 = 34. */
    expectRefs(&t, 64, 44, (const uint64_t[]){30}, 1);
    expectRefs(&t, 64, 25, (const uint64_t[]){10}, 1);
    expectRefs(&t, 64, 34, (const uint64_t[]){20}, 1);
    refsFree(&t);
}

static void test_nested_and_prefixed_sites(void **state) {
    (void)state;
    unsigned char d[64] = {0};
    /* FF 15 FF 15 08 00 00 00: site 0's operand bytes hold site 2. */
    site(d, 2, 0x15, 8);
    d[0] = 0xFF;
    d[1] = 0x15;
    /* "FF FF 25": the site is at 41. */
    d[40] = 0xFF;
    site(d, 41, 0x25, 9);
    /* FF 35 is no site. */
    site(d, 50, 0x35, 9);
    refs_table t = collect(d, sizeof(d), 0);
    /* Site 0: operand 0x000815FF, too far either way. Site 2: 32-bit 8,
     * 64-bit 8 + 2 + 6 = 16. Site 41: 32-bit 9, 64-bit 9 + 41 + 7 = 57. */
    assert_int_equal(t.n32, 2);
    assert_int_equal(t.n64, 2);
    expectRefs(&t, 32, 8, (const uint64_t[]){2}, 1);
    expectRefs(&t, 64, 16, (const uint64_t[]){2}, 1);
    expectRefs(&t, 32, 9, (const uint64_t[]){41}, 1);
    expectRefs(&t, 64, 57, (const uint64_t[]){41}, 1);
    refsFree(&t);
}

/* The README rule, written out plainly. */
static size_t bruteRefs(const unsigned char *d, size_t len, uint64_t base, unsigned bitness,
                        uint64_t target, uint64_t *sites) {
    size_t n = 0;
    for (size_t s = 0; s + 1 < len;) {
        if (d[s] != 0xFF || (d[s + 1] != 0x15 && d[s + 1] != 0x25)) {
            s++;
            continue;
        }
        if (s + 6 <= len) {
            uint32_t u = (uint32_t)d[s + 2] | (uint32_t)d[s + 3] << 8 | (uint32_t)d[s + 4] << 16 |
                         (uint32_t)d[s + 5] << 24;
            long long t; /* the values involved fit: base < 2^40 below */
            if (bitness == 32)
                t = (long long)u - (long long)base;
            else
                t = (long long)(int32_t)u + (long long)s + (d[s + 1] == 0x15 ? 6 : 7);
            if (t > 0 && (unsigned long long)t < len && (uint64_t)t == target)
                sites[n++] = s;
        }
        s += 2;
    }
    return n;
}

static void test_random_against_rule(void **state) {
    (void)state;
    uint64_t seed = 0x5EED0001;
    unsigned char d[200];
    uint64_t sites[200];
    size_t found = 0;
    for (int iter = 0; iter < 300; iter++) {
        size_t len = (size_t)(fxRand(&seed) % sizeof(d)) + 1;
        uint64_t r0 = fxRand(&seed) % 8;
        uint64_t base = r0 < 2   ? 0
                        : r0 < 7 ? fxRand(&seed) % 0x100000000ULL
                                 : fxRand(&seed) % 0x10000000000ULL;
        for (size_t i = 0; i < len; i++) {
            /* Mostly opcode bytes and small operands, so sites are dense and
             * many targets land inside the dump. */
            uint64_t r = fxRand(&seed) % 10;
            d[i] = r < 3 ? 0xFF : r < 5 ? 0x15 : r < 6 ? 0x25 : (unsigned char)fxRand(&seed);
            if (r == 9)
                d[i] = 0;
        }
        /* Sites whose operands aim near the dump, for either reading,
         * sometimes clobbering each other. */
        for (size_t k = 0; len >= 6 && k < len / 8; k++) {
            size_t s = (size_t)(fxRand(&seed) % (len - 5));
            int64_t near = (int64_t)(fxRand(&seed) % (len + 4)) - 2;
            unsigned char op = fxRand(&seed) % 2 ? 0x15 : 0x25;
            if (fxRand(&seed) % 2)
                site(d, s, op, (uint32_t)(base + (uint64_t)near));
            else
                site(d, s, op, (uint32_t)(near - (int64_t)s - (op == 0x15 ? 6 : 7)));
        }
        refs_table t = collect(d, len, base);
        size_t total32 = 0, total64 = 0;
        for (unsigned bits = 32; bits <= 64; bits += 32)
            for (uint64_t o = 0; o <= len; o++) {
                size_t n = bruteRefs(d, len, base, bits, o, sites);
                expectRefs(&t, bits, o, sites, n);
                *(bits == 32 ? &total32 : &total64) += n;
            }
        assert_int_equal(t.n32, total32);
        assert_int_equal(t.n64, total64);
        found += total32 + total64;
        refsFree(&t);
    }
    /* The comparison is only meaningful if the dumps had references. */
    if (found < 2000)
        fail_msg("only %zu references in 300 random dumps", found);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets_and_bounds),
        cmocka_unit_test(test_base_zero_and_huge),
        cmocka_unit_test(test_last_five_bytes),
        cmocka_unit_test(test_ascending_sites),
        cmocka_unit_test(test_nested_and_prefixed_sites),
        cmocka_unit_test(test_random_against_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

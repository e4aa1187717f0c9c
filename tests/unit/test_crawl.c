/*
 * test_crawl.c - unit tests of the byte-by-byte crawl.
 *
 * Two small DBs with addresses chosen by hand: X = 0x7C800000 + 0x1234 (a
 * 32-bit export), Y = 0x7FF00000000 + 0x5678 (a 64-bit export), L =
 * 0x401000 (a 64-bit export below 4 GiB, so its dword is a candidate for
 * the 32-bit pass too) and, in the second DB, X again under another name and
 * Z = 0x10002000. Values are planted at every offset of small zeroed dumps,
 * including unaligned ones and the last offset with 4 (or 8) bytes left, and
 * the rows must follow the README: 32-bit hits by offset, then 64-bit hits
 * by offset, bitness matching the entry, per DB. Dump lengths around the
 * 32-offset SIMD blocks (40 bytes each) and more hits than one probe batch
 * cover the fast paths. A randomized dump is compared with a plain
 * transcription of the rule that scans the DB's entry list instead of using
 * its index.
 */
#include "engine_fixtures.h"

#include "crawl.h"

#define X 0x7C801234ULL
#define Y 0x7FF00005678ULL
#define L 0x401000ULL
#define Z 0x10002000ULL

static const char *DB1 =
    "{\"os_name\": \"c1\", \"dlls\": {"
    "\"32_1_k.dll_0x7c800000\": {\"aslr_offset\": 0, \"base_address\": 2088763392, \"bitness\": "
    "32, \"exports\": [{\"address\": 4660, \"name\": \"A32\", \"ordinal\": 1}]},"
    "\"64_1_n.dll_0x7ff00000000\": {\"aslr_offset\": 0, \"base_address\": 8791798054912, "
    "\"bitness\": 64, \"exports\": [{\"address\": 22136, \"name\": \"B64\", \"ordinal\": 1}]},"
    "\"64_1_low.dll_0x401000\": {\"aslr_offset\": 0, \"base_address\": 4198400, \"bitness\": 64, "
    "\"exports\": [{\"address\": 0, \"name\": \"Low64\", \"ordinal\": 1}]},"
    "\"32_1_hi.dll_0x100000000\": {\"aslr_offset\": 0, \"base_address\": 4294967296, \"bitness\": "
    "32, \"exports\": [{\"address\": 16, \"name\": \"Hi32\", \"ordinal\": 1}]}}}";

/* The second DB: X under another name, and Z. */
static apidb *zDb(void) {
    /* Z = 0x10000000 (268435456) + 0x2000 (8192). */
    return fxDb("{\"os_name\": \"c2\", \"dlls\": {"
                "\"32_1_o.dll_0x7c800000\": {\"aslr_offset\": 0, \"base_address\": 2088763392, "
                "\"bitness\": 32, \"exports\": [{\"address\": 4660, \"name\": \"Other\", "
                "\"ordinal\": 1}]},"
                "\"32_1_z.dll_0x10000000\": {\"aslr_offset\": 0, \"base_address\": 268435456, "
                "\"bitness\": 32, \"exports\": [{\"address\": 8192, \"name\": \"Z32\", "
                "\"ordinal\": 1}]}}}",
                0);
}

static crawl_rows crawlOne(const apidb *db, const unsigned char *d, size_t len) {
    crawl_rows out;
    char err[AV_ERRLEN] = "";
    const apidb *dbs[1] = {db};
    assert_int_equal(crawlRun(dbs, 1, d, len, &out, err, sizeof(err)), AV_OK);
    return out;
}

static void expectRow(const apidb *db, const crawl_row *r, uint64_t offset, uint64_t address,
                      unsigned bitness, const char *api) {
    if (r->offset != offset || r->address != address || r->bitness != bitness)
        fail_msg("row (%llu, 0x%llx, %u), expected (%llu, 0x%llx, %u)",
                 (unsigned long long)r->offset, (unsigned long long)r->address, r->bitness,
                 (unsigned long long)offset, (unsigned long long)address, bitness);
    assert_non_null(r->entry);
    assert_int_equal(r->entry->address, address);
    assert_string_equal(apidbEntryApi(db, r->entry), api);
    assert_int_equal(r->in_import_table, -1); /* set later by the scan */
    assert_int_equal(r->ref_count, 1);
}

/* A right-sized heap copy, so ASan catches any read past len. */
static unsigned char *dumpOf(const unsigned char *src, size_t len) {
    unsigned char *d = malloc(len ? len : 1);
    assert_non_null(d);
    if (len)
        memcpy(d, src, len);
    return d;
}

static void test_dword_every_offset(void **state) {
    (void)state;
    apidb *db = fxDb(DB1, 0);
    const size_t len = 23;
    for (size_t o = 0; o + 4 <= len; o++) { /* 0 .. 19 = len - 4 */
        unsigned char buf[23] = {0};
        fxPut32(buf, o, (uint32_t)X);
        unsigned char *d = dumpOf(buf, len);
        crawl_rows r = crawlOne(db, d, len);
        assert_int_equal(r.n, 1);
        expectRow(db, &r.rows[0], o, X, 32, "A32");
        crawlRowsFree(&r);
        free(d);
    }
    /* Only 3 bytes of X left at the end: no hit. */
    unsigned char buf[23] = {0};
    buf[20] = 0x34;
    buf[21] = 0x12;
    buf[22] = 0x80;
    crawl_rows r = crawlOne(db, buf, len);
    assert_int_equal(r.n, 0);
    crawlRowsFree(&r);
    apidbFree(db);
}

static void test_qword_every_offset(void **state) {
    (void)state;
    apidb *db = fxDb(DB1, 0);
    const size_t len = 23;
    for (size_t o = 0; o + 8 <= len; o++) { /* 0 .. 15 = len - 8 */
        unsigned char buf[23] = {0};
        fxPut64(buf, o, Y);
        unsigned char *d = dumpOf(buf, len);
        crawl_rows r = crawlOne(db, d, len);
        assert_int_equal(r.n, 1);
        expectRow(db, &r.rows[0], o, Y, 64, "B64");
        crawlRowsFree(&r);
        free(d);
    }
    /* 7 bytes of Y at the end. */
    unsigned char buf[23] = {0};
    fxPut32(buf, 16, (uint32_t)Y);
    fxPut16(buf, 20, (uint16_t)(Y >> 32));
    buf[22] = (unsigned char)(Y >> 48);
    crawl_rows r = crawlOne(db, buf, len);
    assert_int_equal(r.n, 0);
    crawlRowsFree(&r);
    apidbFree(db);
}

static void test_bitness_separation(void **state) {
    (void)state;
    apidb *db = fxDb(DB1, 0);
    unsigned char buf[40] = {0};
    /* L as a qword at 3: its dword is L too, but L is a 64-bit export. X as
     * a dword at 20 followed by zeros: its qword is X, a 32-bit export. */
    fxPut64(buf, 3, L);
    fxPut32(buf, 20, (uint32_t)X);
    /* 0x100000010 (a 32-bit DLL above 4 GiB): found by neither pass. */
    fxPut64(buf, 28, 0x100000010ULL);
    crawl_rows r = crawlOne(db, buf, sizeof(buf));
    assert_int_equal(r.n, 2);
    expectRow(db, &r.rows[0], 20, X, 32, "A32");
    expectRow(db, &r.rows[1], 3, L, 64, "Low64");
    crawlRowsFree(&r);
    apidbFree(db);
}

static void test_order_32_then_64(void **state) {
    (void)state;
    apidb *db = fxDb(DB1, 0);
    unsigned char buf[48] = {0};
    fxPut64(buf, 0, Y);
    fxPut32(buf, 12, (uint32_t)X);
    fxPut64(buf, 17, Y);
    fxPut32(buf, 30, (uint32_t)X);
    fxPut64(buf, 40, Y); /* the last qword */
    crawl_rows r = crawlOne(db, buf, sizeof(buf));
    assert_int_equal(r.n, 5);
    expectRow(db, &r.rows[0], 12, X, 32, "A32");
    expectRow(db, &r.rows[1], 30, X, 32, "A32");
    expectRow(db, &r.rows[2], 0, Y, 64, "B64");
    expectRow(db, &r.rows[3], 17, Y, 64, "B64");
    expectRow(db, &r.rows[4], 40, Y, 64, "B64");
    crawlRowsFree(&r);
    apidbFree(db);
}

static void test_near_misses(void **state) {
    (void)state;
    apidb *db = fxDb(DB1, 0);
    unsigned char buf[64] = {0};
    /* Same top 16 bits as X (they pass the pre-filter) but not exports. */
    fxPut32(buf, 0, (uint32_t)X + 1);
    fxPut32(buf, 8, (uint32_t)X - 1);
    fxPut32(buf, 16, (uint32_t)X ^ 0x10000);
    fxPut64(buf, 24, Y + 8);
    fxPut64(buf, 40, Y ^ (1ULL << 40));
    crawl_rows r = crawlOne(db, buf, sizeof(buf));
    assert_int_equal(r.n, 0);
    crawlRowsFree(&r);
    apidbFree(db);
}

static void test_multiple_dbs(void **state) {
    (void)state;
    apidb *db1 = fxDb(DB1, 0), *db2 = zDb();
    unsigned char buf[32] = {0};
    fxPut32(buf, 0, (uint32_t)X);
    fxPut32(buf, 8, (uint32_t)Z);
    fxPut64(buf, 16, Y);
    const apidb *dbs[2] = {db1, db2};
    crawl_rows out[2];
    char err[AV_ERRLEN] = "";
    assert_int_equal(crawlRun(dbs, 2, buf, sizeof(buf), out, err, sizeof(err)), AV_OK);
    assert_int_equal(out[0].n, 2);
    expectRow(db1, &out[0].rows[0], 0, X, 32, "A32");
    expectRow(db1, &out[0].rows[1], 16, Y, 64, "B64");
    /* db2 has no 64-bit DLL: the 64-bit pass finds nothing for it. */
    assert_int_equal(out[1].n, 2);
    expectRow(db2, &out[1].rows[0], 0, X, 32, "Other");
    expectRow(db2, &out[1].rows[1], 8, Z, 32, "Z32");
    crawlRowsFree(&out[0]);
    crawlRowsFree(&out[1]);
    assert_null(out[0].rows);
    /* db2 alone over the same dump. */
    crawl_rows r = crawlOne(db2, buf, sizeof(buf));
    assert_int_equal(r.n, 2);
    crawlRowsFree(&r);
    /* No DB at all. */
    assert_int_equal(crawlRun(dbs, 0, buf, sizeof(buf), out, err, sizeof(err)), AV_OK);
    apidbFree(db1);
    apidbFree(db2);
}

static void test_empty_and_tiny(void **state) {
    (void)state;
    apidb *db = fxDb(DB1, 0);
    crawl_rows r = crawlOne(db, NULL, 0);
    assert_int_equal(r.n, 0);
    crawlRowsFree(&r);
    unsigned char x[8];
    fxPut64(x, 0, Y);
    for (size_t n = 1; n < 4; n++) {
        unsigned char *d = dumpOf(x, n);
        r = crawlOne(db, d, n);
        assert_int_equal(r.n, 0);
        crawlRowsFree(&r);
        free(d);
    }
    fxPut32(x, 0, (uint32_t)X);
    unsigned char *d = dumpOf(x, 4);
    r = crawlOne(db, d, 4);
    assert_int_equal(r.n, 1);
    expectRow(db, &r.rows[0], 0, X, 32, "A32");
    crawlRowsFree(&r);
    free(d);
    /* 7 bytes, X at 3 = len - 4. */
    unsigned char seven[7] = {0};
    fxPut32(seven, 3, (uint32_t)X);
    d = dumpOf(seven, 7);
    r = crawlOne(db, d, 7);
    assert_int_equal(r.n, 1);
    expectRow(db, &r.rows[0], 3, X, 32, "A32");
    crawlRowsFree(&r);
    free(d);
    /* Exactly 8 bytes of Y. */
    fxPut64(x, 0, Y);
    d = dumpOf(x, 8);
    r = crawlOne(db, d, 8);
    assert_int_equal(r.n, 1);
    expectRow(db, &r.rows[0], 0, Y, 64, "B64");
    crawlRowsFree(&r);
    free(d);
    apidbFree(db);
}

/* Every offset of dumps long enough for the 32-offset SIMD blocks (a block
 * needs 40 bytes) and for the scalar tail after them. */
static void test_every_offset_across_blocks(void **state) {
    (void)state;
    apidb *db = fxDb(DB1, 0);
    const size_t lens[] = {39, 40, 41, 71, 72, 73, 104, 105, 137};
    for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
        size_t len = lens[li];
        unsigned char *d = malloc(len);
        assert_non_null(d);
        for (size_t o = 0; o + 4 <= len; o++) {
            memset(d, 0, len);
            fxPut32(d, o, (uint32_t)X);
            crawl_rows r = crawlOne(db, d, len);
            if (r.n != 1)
                fail_msg("len %zu, X at %zu: %zu rows", len, o, r.n);
            expectRow(db, &r.rows[0], o, X, 32, "A32");
            crawlRowsFree(&r);
        }
        for (size_t o = 0; o + 8 <= len; o++) {
            memset(d, 0, len);
            fxPut64(d, o, Y);
            crawl_rows r = crawlOne(db, d, len);
            if (r.n != 1)
                fail_msg("len %zu, Y at %zu: %zu rows", len, o, r.n);
            expectRow(db, &r.rows[0], o, Y, 64, "B64");
            crawlRowsFree(&r);
        }
        free(d);
    }
    apidbFree(db);
}

/* More hits than one probe batch: X at every multiple of 4 of 4 KiB, and Y
 * at every multiple of 8 of another 4 KiB. */
static void test_dense_hits(void **state) {
    (void)state;
    apidb *db = fxDb(DB1, 0);
    const size_t len = 4096;
    unsigned char *d = malloc(2 * len);
    assert_non_null(d);
    for (size_t o = 0; o < len; o += 4)
        fxPut32(d, o, (uint32_t)X);
    for (size_t o = len; o < 2 * len; o += 8)
        fxPut64(d, o, Y);
    crawl_rows r = crawlOne(db, d, 2 * len);
    /* 1024 dwords of X; the qwords of the first half are X | X << 32, not
     * exports; in the second half 512 Ys, whose halves are not exports. */
    assert_int_equal(r.n, 1024 + 512);
    for (size_t i = 0; i < 1024; i++)
        expectRow(db, &r.rows[i], 4 * i, X, 32, "A32");
    for (size_t i = 0; i < 512; i++)
        expectRow(db, &r.rows[1024 + i], len + 8 * i, Y, 64, "B64");
    crawlRowsFree(&r);
    free(d);
    apidbFree(db);
}

/* The rule over the DB's plain entry list. */
static const apidb_entry *bruteFind(const apidb *db, uint64_t v, unsigned bitness) {
    for (size_t i = 0; i < apidbCount(db); i++) {
        const apidb_entry *e = &apidbEntries(db)[i];
        if (e->address == v && apidbEntryBitness(db, e) == bitness && apidbEntryDll(db, e)[0] &&
            apidbEntryApi(db, e)[0])
            return e;
    }
    return NULL;
}

static void test_random_against_rule(void **state) {
    (void)state;
    apidb *db1 = fxDb(DB1, 0), *db2 = zDb();
    const apidb *dbs[2] = {db1, db2};
    const uint64_t planted[] = {X, Y, L, Z, 0x100000010ULL, X + 1};
    uint64_t seed = 0xC0FFEE;
    size_t hits = 0;
    for (int iter = 0; iter < 20; iter++) {
        size_t len = 4096 + (size_t)(fxRand(&seed) % 64);
        unsigned char *d = malloc(len);
        assert_non_null(d);
        for (size_t i = 0; i < len; i++)
            d[i] = (unsigned char)fxRand(&seed);
        for (int k = 0; k < 60; k++) {
            uint64_t v = planted[fxRand(&seed) % 6];
            size_t o = (size_t)(fxRand(&seed) % (len - 3));
            for (size_t b = 0; b < 8 && o + b < len; b++)
                d[o + b] = (unsigned char)(v >> (8 * b));
        }
        /* Both the SIMD path and the portable scalar path must follow the rule. */
        for (unsigned flags = 0; flags <= CRAWL_SCALAR; flags++) {
            crawl_rows out[2];
            char err[AV_ERRLEN] = "";
            assert_int_equal(crawlRunFlags(dbs, 2, d, len, flags, out, err, sizeof(err)), AV_OK);
            for (size_t k = 0; k < 2; k++) {
                size_t n = 0;
                for (unsigned bits = 32; bits <= 64; bits += 32)
                    for (size_t o = 0; o + bits / 8 <= len; o++) {
                        uint64_t v = 0;
                        for (unsigned b = 0; b < bits / 8; b++)
                            v |= (uint64_t)d[o + b] << (8 * b);
                        const apidb_entry *e = bruteFind(dbs[k], v, bits);
                        if (!e)
                            continue;
                        assert_true(n < out[k].n);
                        assert_int_equal(out[k].rows[n].offset, o);
                        assert_int_equal(out[k].rows[n].bitness, bits);
                        assert_ptr_equal(out[k].rows[n].entry, e);
                        n++;
                    }
                assert_int_equal(out[k].n, n);
                hits += n;
                crawlRowsFree(&out[k]);
            }
        }
        free(d);
    }
    /* 2400 values planted, some overwritten or never a hit (X + 1, the
     * 32-bit DLL above 4 GiB): most must still be found. */
    if (hits < 500)
        fail_msg("only %zu hits", hits);
    apidbFree(db1);
    apidbFree(db2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dword_every_offset),
        cmocka_unit_test(test_qword_every_offset),
        cmocka_unit_test(test_bitness_separation),
        cmocka_unit_test(test_order_32_then_64),
        cmocka_unit_test(test_near_misses),
        cmocka_unit_test(test_multiple_dbs),
        cmocka_unit_test(test_empty_and_tiny),
        cmocka_unit_test(test_every_offset_across_blocks),
        cmocka_unit_test(test_dense_hits),
        cmocka_unit_test(test_random_against_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

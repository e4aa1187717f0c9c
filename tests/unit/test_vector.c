/*
 * test_vector.c - unit tests of ApiVectors: building, compression,
 * decompression, confidence.
 *
 * The table is the canonical generated one (bit i = line i = rank 1023 - i)
 * with bits 0..3 renamed to msvcrt.dll!printf, kernel32.dll!CreateFile,
 * kernel32.dll!Sleep and user32.dll!MessageBox. Compressed texts are derived
 * by hand: bits 6j..6j+5 form symbol j, the first bit being the most
 * significant, symbol 170 holding bits 1020..1023 and two zero pad bits,
 * values mapped through "ABC...Zabc...z@}]^+-*\/?,._" (A = 0, a = 26, '@' =
 * 52, '+' = 56, '?' = 60, '_' = 63), runs of 3+ written <char><count>.
 */
#include "engine_fixtures.h"

#include <math.h>

#include "vector.h"

static const fx_api NAMES[] = {{0, "msvcrt.dll!printf"},
                               {1, "kernel32.dll!CreateFile"},
                               {2, "kernel32.dll!Sleep"},
                               {3, "user32.dll!MessageBox"}};

static int setup(void **state) {
    *state = fxWinapiCanonical(NAMES, 4);
    return 0;
}

static int teardown(void **state) {
    winapiFree(*state);
    return 0;
}

static apivector bitsOf(const unsigned *bits, size_t n) {
    apivector v = {{0}};
    for (size_t i = 0; i < n; i++)
        vectorSet(&v, bits[i]);
    return v;
}

static void expectText(const apivector *v, const char *text) {
    char buf[VECTOR_TEXT_MAX + 1];
    vectorCompress(v, buf);
    assert_string_equal(buf, text);
    apivector back;
    char err[AV_ERRLEN] = "";
    assert_int_equal(vectorDecompress(text, strlen(text), &back, err, sizeof(err)), AV_OK);
    assert_memory_equal(&back, v, sizeof(back));
}

static void test_compress_by_hand(void **state) {
    (void)state;
    apivector v = {{0}};
    expectText(&v, "A171");
    /* bit 0 is the top bit of symbol 0: 100000 = 32 = 'g'. */
    expectText(&(apivector){{1}}, "gA170");
    v = bitsOf((const unsigned[]){5}, 1); /* 000001 = 'B' */
    expectText(&v, "BA170");
    v = bitsOf((const unsigned[]){6}, 1); /* symbol 1 = 'g' */
    expectText(&v, "AgA169");
    v = bitsOf((const unsigned[]){1023}, 1); /* symbol 170: 0001|00 = 4 = 'E' */
    expectText(&v, "A170E");
    v = bitsOf((const unsigned[]){0, 6}, 2); /* a run of two stays "gg" */
    expectText(&v, "ggA169");
    v = bitsOf((const unsigned[]){0, 6, 12}, 3);
    expectText(&v, "g3A168");
    v = bitsOf((const unsigned[]){0, 6, 18}, 3);
    expectText(&v, "ggAgA167");
    v = bitsOf((const unsigned[]){0, 1, 2, 3, 4, 5}, 6);
    expectText(&v, "_A170");
    /* All 1024 bits: 170 x 63 and 111100 = 60 = '?'. */
    memset(&v, 0xFF, sizeof(v));
    expectText(&v, "_170?");
    assert_int_equal(vectorPopcount(&v), 1024);
}

static void test_compress_longest(void **state) {
    (void)state;
    /* 'B' (bit 6j + 5) on even symbols below 170: B A B A ... B A A, no run
     * of 3, so all 171 symbols are written out. */
    apivector v = {{0}};
    char expect[172];
    for (unsigned j = 0; j < 171; j++) {
        int b = j % 2 == 0 && j < 170;
        if (b)
            vectorSet(&v, 6 * j + 5);
        expect[j] = b ? 'B' : 'A';
    }
    expect[171] = '\0';
    expectText(&v, expect);
    assert_int_equal(strlen(expect), VECTOR_TEXT_MAX - 1);
}

static void test_decompress_round_trip_random(void **state) {
    (void)state;
    uint64_t seed = 42;
    for (int iter = 0; iter < 1000; iter++) {
        apivector v = {{0}};
        unsigned density = (unsigned)(fxRand(&seed) % 101); /* percent */
        for (unsigned b = 0; b < WINAPI_BITS; b++)
            if (fxRand(&seed) % 100 < density)
                vectorSet(&v, b);
        char buf[VECTOR_TEXT_MAX + 1];
        vectorCompress(&v, buf);
        assert_true(strlen(buf) <= 171);
        apivector back;
        char err[AV_ERRLEN] = "";
        assert_int_equal(vectorDecompress(buf, strlen(buf), &back, err, sizeof(err)), AV_OK);
        assert_memory_equal(&back, &v, sizeof(v));
    }
}

static void expectBad(const char *text, size_t len, const char *needle) {
    apivector v;
    char err[AV_ERRLEN] = "";
    fx_assert_err(vectorDecompress(text, len, &v, err, sizeof(err)), AV_ERR_PARSE, err, needle);
}

static void test_decompress_errors(void **state) {
    (void)state;
    expectBad("A170!", 5, "vector: invalid character 0x21 at position 4");
    expectBad("1A171", 5, "invalid character 0x31 at position 0");
    expectBad("A170\xc3", 5, "invalid character 0xc3 at position 4");
    expectBad("A17\0A", 5, "invalid character 0x00 at position 3");
    expectBad("A171\n", 5, "invalid character 0x0a at position 4");
    expectBad("A172", 4, "vector: run at position 0 overflows 1024 bits");
    expectBad("A170B2", 6, "run at position 4 overflows");
    expectBad("A99999999999999999999999999", 27, "run at position 0 overflows");
    expectBad("A170", 4, "vector: 170 symbols (1020 bits), expected 171 (1026 bits)");
    expectBad("", 0, "vector: 0 symbols");
    expectBad("A171A", 5, "run at position 4 overflows");
}

static void test_decompress_accepts(void **state) {
    (void)state;
    apivector v;
    char err[AV_ERRLEN] = "";
    /* A count of 0 repeats the character zero times. */
    assert_int_equal(vectorDecompress("A0A171", 6, &v, err, sizeof(err)), AV_OK);
    assert_int_equal(vectorPopcount(&v), 0);
    /* Leading zeros: "0171" is 171. */
    assert_int_equal(vectorDecompress("A0171", 5, &v, err, sizeof(err)), AV_OK);
    /* The pad bits are dropped: 'B' and 'D' in symbol 170 set bits 1025
     * and 1024..1025; 'E' sets bit 1023. */
    assert_int_equal(vectorDecompress("A170B", 5, &v, err, sizeof(err)), AV_OK);
    assert_int_equal(vectorPopcount(&v), 0);
    assert_int_equal(vectorDecompress("A170D", 5, &v, err, sizeof(err)), AV_OK);
    assert_int_equal(vectorPopcount(&v), 0);
    assert_int_equal(vectorDecompress("A170E", 5, &v, err, sizeof(err)), AV_OK);
    assert_int_equal(vectorPopcount(&v), 1);
    assert_true(vectorTest(&v, 1023));
    /* Only len bytes are read: the text need not be terminated. */
    assert_int_equal(vectorDecompress("A171garbage", 4, &v, err, sizeof(err)), AV_OK);
    assert_int_equal(vectorPopcount(&v), 0);
}

static void test_confidence(void **state) {
    const winapi_table *t = *state;
    apivector v = {{0}};
    assert_true(vectorConfidence(t, &v) == 0.0);
    /* One bit of rank > 64: 100 * sqrt(1/1) * 1/20 = 5. */
    v = bitsOf((const unsigned[]){958}, 1); /* rank 65 */
    assert_float_equal(vectorConfidence(t, &v), 5.0, 1e-9);
    v = bitsOf((const unsigned[]){959}, 1); /* rank 64: not "rare" */
    assert_true(vectorConfidence(t, &v) == 0.0);
    /* 20 bits, all rank > 64: 100. 25 bits: capped at 100. */
    memset(&v, 0, sizeof(v));
    for (unsigned b = 0; b < 20; b++)
        vectorSet(&v, b);
    assert_float_equal(vectorConfidence(t, &v), 100.0, 1e-9);
    for (unsigned b = 20; b < 25; b++)
        vectorSet(&v, b);
    assert_float_equal(vectorConfidence(t, &v), 100.0, 1e-9);
    /* 5 rare + 5 common (bits 1019..1023, ranks 4..0): 100 * sqrt(1/2) * 10/20. */
    v = bitsOf((const unsigned[]){0, 1, 2, 3, 4, 1019, 1020, 1021, 1022, 1023}, 10);
    assert_float_equal(vectorConfidence(t, &v), 50.0 * sqrt(0.5), 1e-9);
    /* 20 bits of rank <= 64 only (bits 959..978): 0. */
    memset(&v, 0, sizeof(v));
    for (unsigned b = 959; b < 979; b++)
        vectorSet(&v, b);
    assert_true(vectorConfidence(t, &v) == 0.0);
    /* Plus 10 rare (100..109) and 10 common (1000..1009, ranks 23..14): 40
     * bits, 10 rare: 100 * sqrt(10/40) * 1 = 50. */
    for (unsigned b = 100; b < 110; b++)
        vectorSet(&v, b);
    for (unsigned b = 1000; b < 1010; b++)
        vectorSet(&v, b);
    assert_float_equal(vectorConfidence(t, &v), 50.0, 1e-9);
    /* 3 bits, 1 rare: 100 * sqrt(1/3) * 3/20. */
    v = bitsOf((const unsigned[]){500, 1001, 1002}, 3);
    assert_float_equal(vectorConfidence(t, &v), 15.0 * sqrt(1.0 / 3.0), 1e-9);
}

static void expectStats(const vector_stats *s, unsigned unique, unsigned in, double pct) {
    assert_int_equal(s->num_unique_apis, unique);
    assert_int_equal(s->in_api_vector, in);
    assert_float_equal(s->percentage, pct, 1e-9);
}

static void test_from_api_list(void **state) {
    const winapi_table *t = *state;
    const char *apis[] = {"msvcr90.dll!printf",       "msvcr100.dll!printf",
                          "kernel32.dll!CreateFileW", "kernel32.dll!CreateFileA",
                          "kernel32.dll!Sleep@4",     "user32.dll!MessageBoxAW",
                          "MSVCR90.dll!printf"};
    apivector v;
    vector_stats s;
    char err[AV_ERRLEN] = "";
    /* Pairs: (msvcrt.dll, printf) twice, (kernel32.dll, CreateFile) twice,
     * (kernel32.dll, Sleep), (user32.dll, MessageBoxA): one letter dropped
     * only, (MSVCR90.dll, printf): case-sensitive. 5 unique, bits 0-2 set. */
    assert_int_equal(vectorFromApiList(t, apis, 7, &v, &s, err, sizeof(err)), AV_OK);
    expectStats(&s, 5, 3, 60.0);
    expectText(&v, "+A170");
    const char *mb[] = {"user32.dll!MessageBoxW", "user32.dll!MessageBox",
                        "user32.dll!MessageBox@16"};
    assert_int_equal(vectorFromApiList(t, mb, 3, &v, &s, err, sizeof(err)), AV_OK);
    expectStats(&s, 1, 1, 100.0);
    expectText(&v, "EA170"); /* bit 3: 000100 */
    /* The api is the text between the first and a second '!'; a dll of ""
     * matches nothing but is counted. */
    const char *odd[] = {"kernel32.dll!Sleep!junk", "!Sleep", "kernel32.dll!SleepA@4@8"};
    assert_int_equal(vectorFromApiList(t, odd, 3, &v, &s, err, sizeof(err)), AV_OK);
    expectStats(&s, 2, 1, 50.0);
    expectText(&v, "IA170"); /* bit 2: 001000 = 8 */
    assert_int_equal(vectorFromApiList(t, NULL, 0, &v, &s, err, sizeof(err)), AV_OK);
    expectStats(&s, 0, 0, 0.0);
    expectText(&v, "A171");
}

static void test_from_api_list_bad_item(void **state) {
    const winapi_table *t = *state;
    const char *apis[] = {"kernel32.dll!Sleep", "a!b", "nobang", "x!y"};
    apivector v;
    vector_stats s;
    char err[AV_ERRLEN] = "";
    fx_assert_err(vectorFromApiList(t, apis, 4, &v, &s, err, sizeof(err)), AV_ERR_PARSE, err,
                  "API list item 2 (\"nobang\"): no '!'");
}

static void test_from_rows(void **state) {
    const winapi_table *t = *state;
    apidb *db = fxDb(
        "{\"os_name\": \"r\", \"dlls\": {"
        "\"32_1_msvcr90.dll_0x10000\": {\"aslr_offset\": 0, \"base_address\": 65536, \"bitness\": "
        "32, \"exports\": [{\"address\": 16, \"name\": \"printf\", \"ordinal\": 1}]},"
        "\"32_1_kernel32.dll_0x20000\": {\"aslr_offset\": 0, \"base_address\": 131072, "
        "\"bitness\": 32, \"exports\": [{\"address\": 16, \"name\": \"CreateFileW\", "
        "\"ordinal\": 1}, {\"address\": 32, \"name\": \"CreateFileA\", \"ordinal\": 2}, "
        "{\"address\": 48, \"name\": \"Sleep\", \"ordinal\": 3}, {\"address\": 64, \"name\": "
        "\"VirtualAlloc\", \"ordinal\": 4}]},"
        "\"32_6.1_user32.dll\": {\"aslr_offset\": 0, \"base_address\": 196608, \"bitness\": 32, "
        "\"exports\": [{\"address\": 80, \"name\": \"MessageBoxA\", \"ordinal\": 1}]}}}",
        0);
    /* Addresses: 0x10010 printf, 0x20010/0x20020 CreateFile W/A, 0x20030
     * Sleep, 0x20040 VirtualAlloc, 0x30050 MessageBoxA (dll field
     * "user32.dll" has no '_': its normalized dll is ""), printf twice. */
    const uint64_t addrs[] = {0x10010, 0x20010, 0x20020, 0x20030, 0x20040, 0x30050, 0x10010};
    crawl_row rows[7];
    for (size_t i = 0; i < 7; i++) {
        const apidb_entry *e = apidbFind(db, addrs[i], 32);
        assert_non_null(e);
        rows[i] = (crawl_row){i * 4, addrs[i], e, 32, -1, 1};
    }
    apivector v;
    vector_stats s;
    char err[AV_ERRLEN] = "";
    assert_int_equal(vectorFromRows(t, db, rows, 7, &v, &s, err, sizeof(err)), AV_OK);
    /* Unique: printf, CreateFile, Sleep, VirtualAlloc, ("", MessageBox). */
    expectStats(&s, 5, 3, 60.0);
    expectText(&v, "+A170");
    assert_int_equal(vectorFromRows(t, db, rows, 0, &v, &s, err, sizeof(err)), AV_OK);
    expectStats(&s, 0, 0, 0.0);
    expectText(&v, "A171");
    /* Only VirtualAlloc: one unique API, no bit, 0 percent. */
    assert_int_equal(vectorFromRows(t, db, &rows[4], 1, &v, &s, err, sizeof(err)), AV_OK);
    expectStats(&s, 1, 0, 0.0);
    apidbFree(db);
}

typedef struct seen {
    char text[256];
} seen;

static void collect(const char *dll, const char *fn, void *ctx) {
    seen *s = ctx;
    size_t n = strlen(s->text);
    snprintf(s->text + n, sizeof(s->text) - n, "%s!%s;", dll, fn);
}

static void test_for_each_api(void **state) {
    const winapi_table *t = *state;
    apivector v = bitsOf((const unsigned[]){1023, 3, 0}, 3);
    seen s = {""};
    vectorForEachApi(t, &v, collect, &s);
    /* Bit order; bit 1023 is generated line 1023: dll3.dll!Fn1023. */
    assert_string_equal(s.text, "msvcrt.dll!printf;user32.dll!MessageBox;dll3.dll!Fn1023;");
    apivector empty = {{0}};
    seen none = {""};
    vectorForEachApi(t, &empty, collect, &none);
    assert_string_equal(none.text, "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compress_by_hand),
        cmocka_unit_test(test_compress_longest),
        cmocka_unit_test(test_decompress_round_trip_random),
        cmocka_unit_test(test_decompress_errors),
        cmocka_unit_test(test_decompress_accepts),
        cmocka_unit_test(test_confidence),
        cmocka_unit_test(test_from_api_list),
        cmocka_unit_test(test_from_api_list_bad_item),
        cmocka_unit_test(test_from_rows),
        cmocka_unit_test(test_for_each_api),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * test_scan.c - unit tests of a whole scan (scan.h) and of its JSON form
 * (scan_json.h).
 *
 * The dump is a 1 KiB PE32 image made by hand: ImageBase 0x400000, one
 * import descriptor whose two thunks make 0x2C0 and 0x2C4 import slots, the
 * DB addresses of Sleep, CreateFileW and VirtualAlloc at 0x2C0, 0x2C4 and
 * 0x2C8, GetDC far away at 0x3F0, and code `FF 15 [0x4002C0]` at 0x340 and
 * `FF 25 [0x4002C4]` at 0x350. From the README: the base used is 0 (no name
 * suffix), references resolve with the header's ImageBase, so Sleep and
 * CreateFileW have ref_count 2 and are in the import table; the neighbour
 * filter (distance 32) drops the lone GetDC; the vector holds Sleep (bit 0)
 * and CreateFile (bit 1) out of 3 unique APIs. A PE32+ variant checks
 * RIP-relative references and 64-bit rows. Every value below is derived from
 * that layout.
 */
#include "engine_fixtures.h"

#include "scan.h"
#include "scan_json.h"

#define LEN 0x400

static const fx_api NAMES[] = {{0, "kernel32.dll!Sleep"},
                               {1, "kernel32.dll!CreateFile"},
                               {2, "ntdll.dll!NtClose"},
                               {1000, "user32.dll!GetDC"}};

/* kernel32 at 0x75000000, user32 at 0x76000000. */
static const char *DB_VM =
    "{\"os_name\": \"vm\", \"dlls\": {"
    "\"32_6.1_kernel32.dll_0x75000000\": {\"aslr_offset\": 0, \"base_address\": 1962934272,"
    " \"bitness\": 32, \"exports\": [{\"address\": 4096, \"name\": \"Sleep\", \"ordinal\": 1},"
    "  {\"address\": 8192, \"name\": \"CreateFileW\", \"ordinal\": 2},"
    "  {\"address\": 12288, \"name\": \"VirtualAlloc\", \"ordinal\": 3}]},"
    "\"32_6.1_user32.dll_0x76000000\": {\"aslr_offset\": 0, \"base_address\": 1979711488,"
    " \"bitness\": 32, \"exports\": [{\"address\": 256, \"name\": \"GetDC\", \"ordinal\": 1}]}}}";

/* Same os_name as DB_VM, only GetDC. */
static const char *DB_VM2 =
    "{\"os_name\": \"vm\", \"dlls\": {"
    "\"32_6.1_user32.dll_0x76000000\": {\"aslr_offset\": 0, \"base_address\": 1979711488,"
    " \"bitness\": 32, \"exports\": [{\"address\": 256, \"name\": \"GetDC\", \"ordinal\": 1}]}}}";

/* Another VM with only Sleep. */
static const char *DB_OTHER =
    "{\"os_name\": \"other\", \"dlls\": {"
    "\"32_6.1_kernel32.dll_0x75000000\": {\"aslr_offset\": 0, \"base_address\": 1962934272,"
    " \"bitness\": 32, \"exports\": [{\"address\": 4096, \"name\": \"Sleep\", \"ordinal\": 1}]}}}";

/* ntdll (64-bit) at 0x7FF00000000: NtClose at +0x5678, NtOpen at +0x5680. */
static const char *DB_X64 =
    "{\"os_name\": \"x64\", \"dlls\": {"
    "\"64_6.1_ntdll.dll_0x7ff00000000\": {\"aslr_offset\": 0, \"base_address\": 8791798054912,"
    " \"bitness\": 64, \"exports\": [{\"address\": 22136, \"name\": \"NtClose\", \"ordinal\": 1},"
    "  {\"address\": 22144, \"name\": \"NtOpen\", \"ordinal\": 2}]}}}";

typedef struct fixture {
    winapi_table *t;
    apidb *vm, *vm2, *other, *x64;
    unsigned char dump[LEN], dump64[LEN];
} fixture;

static void buildDump32(unsigned char *d) {
    fxPut16(d, 0x3c, 0x80);
    fxPut16(d, 0x84, 0x14c);
    fxPut16(d, 0x98, 0x10b);
    fxPut32(d, 0x80 + 0x34, 0x00400000);
    fxPut32(d, 0x100, 0x200);
    fxPut32(d, 0x200, 0x280); /* OriginalFirstThunk */
    fxPut32(d, 0x20C, 0x300); /* Name */
    fxPut32(d, 0x210, 0x2C0); /* FirstThunk */
    fxPut32(d, 0x280, 0x80000001);
    fxPut32(d, 0x284, 0x80000002);
    memcpy(d + 0x300, "kernel32.dll", 12);
    fxPut32(d, 0x2C0, 0x75001000);
    fxPut32(d, 0x2C4, 0x75002000);
    fxPut32(d, 0x2C8, 0x75003000);
    fxPut32(d, 0x3F0, 0x76000100);
    d[0x340] = 0xFF, d[0x341] = 0x15;
    fxPut32(d, 0x342, 0x004002C0);
    d[0x350] = 0xFF, d[0x351] = 0x25;
    fxPut32(d, 0x352, 0x004002C4);
}

static void buildDump64(unsigned char *d) {
    fxPut16(d, 0x3c, 0x80);
    fxPut16(d, 0x84, 0x8664);
    fxPut16(d, 0x98, 0x20b);
    fxPut64(d, 0x80 + 0x30, 0x140000000ULL); /* the dword at +0x34 is 1 */
    fxPut32(d, 0x110, 0x200);
    fxPut32(d, 0x200, 0x280);
    fxPut32(d, 0x20C, 0x3A0);
    fxPut32(d, 0x210, 0x2C0);
    fxPut64(d, 0x280, 0x80000001); /* one thunk: slot 0x2C0 only */
    memcpy(d + 0x3A0, "ntdll.dll", 9);
    fxPut64(d, 0x2C0, 0x7FF00005678ULL);
    fxPut64(d, 0x2C8, 0x7FF00005680ULL);
    /* call [rip + rel]: 0x2C0 = rel + 0x300 + 6 -> rel = -0x46. */
    d[0x300] = 0xFF, d[0x301] = 0x15;
    fxPut32(d, 0x302, (uint32_t)-0x46);
    /* jmp [rip + rel]: 0x2C8 = rel + 0x310 + 7 -> rel = -0x4F. */
    d[0x310] = 0xFF, d[0x311] = 0x25;
    fxPut32(d, 0x312, (uint32_t)-0x4F);
}

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    fx->t = fxWinapiCanonical(NAMES, 4);
    fx->vm = fxDb(DB_VM, 0);
    fx->vm2 = fxDb(DB_VM2, 0);
    fx->other = fxDb(DB_OTHER, 0);
    fx->x64 = fxDb(DB_X64, 0);
    buildDump32(fx->dump);
    buildDump64(fx->dump64);
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    winapiFree(fx->t);
    apidbFree(fx->vm);
    apidbFree(fx->vm2);
    apidbFree(fx->other);
    apidbFree(fx->x64);
    free(fx);
    return 0;
}

static scan_result *scan(const fixture *fx, const apidb *const *dbs, size_t n,
                         const unsigned char *dump, const scan_options *o) {
    scan_result *r = NULL;
    char err[AV_ERRLEN] = "";
    av_status st = scanRun(fx->t, dbs, n, dump, LEN, o, &r, err, sizeof(err));
    if (st != AV_OK)
        fail_msg("scan failed: %s", err);
    return r;
}

/* The JSON text of a row, compact: compares every field at once. */
static void expectRowJson(const scan_result *r, const scan_db *sd, const crawl_row *row,
                          const char *json) {
    json_t *j = scanJsonRow(r, sd->db, row);
    assert_non_null(j);
    char *s = json_dumps(j, JSON_COMPACT);
    assert_string_equal(s, json);
    free(s);
    json_decref(j);
}

#define ROW_SLEEP "[704,1962938368,\"kernel32.dll_0x75000000\",\"Sleep\",32,true,2,[832]]"
#define ROW_CREATE "[708,1962942464,\"kernel32.dll_0x75000000\",\"CreateFileW\",32,true,2,[848]]"
#define ROW_VALLOC "[712,1962946560,\"kernel32.dll_0x75000000\",\"VirtualAlloc\",32,false,1,[]]"
#define ROW_GETDC "[1008,1979711744,\"user32.dll_0x76000000\",\"GetDC\",32,false,1,[]]"

static void test_scan_pe32(void **state) {
    fixture *fx = *state;
    scan_options o;
    scanOptionsInit(&o);
    assert_int_equal(o.filter_distance, 32);
    o.dump_name = "sample.bin";
    const apidb *dbs[] = {fx->vm};
    scan_result *r = scan(fx, dbs, 1, fx->dump, &o);
    assert_int_equal(r->base_address_used, 0);
    assert_int_equal(r->num_apis_loaded, 4);
    assert_int_equal(r->ndbs, 1);
    scan_db *sd = &r->dbs[0];
    assert_int_equal(sd->crawl.n, 4);
    /* 0x2C0 = 704, 0x75001000 = 1962938368, 0x340 = 832, 0x350 = 848. */
    expectRowJson(r, sd, &sd->crawl.rows[0], ROW_SLEEP);
    expectRowJson(r, sd, &sd->crawl.rows[1], ROW_CREATE);
    expectRowJson(r, sd, &sd->crawl.rows[2], ROW_VALLOC);
    expectRowJson(r, sd, &sd->crawl.rows[3], ROW_GETDC);
    size_t n;
    const refs_pair *p = scanRowRefs(r, &sd->crawl.rows[0], &n);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].site, 0x340);
    /* GetDC is 0x128 away from its neighbour: filtered out. */
    assert_int_equal(sd->filtered.n, 3);
    expectRowJson(r, sd, &sd->filtered.rows[2], ROW_VALLOC);
    assert_int_equal(sd->stats.num_unique_apis, 3);
    assert_int_equal(sd->stats.in_api_vector, 2);
    assert_float_equal(sd->stats.percentage, 200.0 / 3.0, 1e-9);
    char text[VECTOR_TEXT_MAX + 1];
    vectorCompress(&sd->vector, text);
    assert_string_equal(text, "wA170"); /* bits 0, 1: 110000 = 48 */
    assert_int_equal(r->primary, 0);
    assert_float_equal(r->confidence, 10.0, 1e-9); /* 100 * 1 * 2/20 */
    scanFree(r);
}

static void test_scan_options(void **state) {
    fixture *fx = *state;
    const apidb *dbs[] = {fx->vm};
    scan_options o;
    scanOptionsInit(&o);
    o.dump_name = "proc_0x00400000";
    o.from_address = 0x4002C4;
    scan_result *r = scan(fx, dbs, 1, fx->dump, &o);
    assert_int_equal(r->base_address_used, 0x400000);
    /* Same references (the name gives the same base as the header). */
    expectRowJson(r, &r->dbs[0], &r->dbs[0].crawl.rows[0], ROW_SLEEP);
    /* Offsets >= 0x2C4, then neighbours: CreateFileW, VirtualAlloc. */
    assert_int_equal(r->dbs[0].filtered.n, 2);
    expectRowJson(r, &r->dbs[0], &r->dbs[0].filtered.rows[0], ROW_CREATE);
    assert_int_equal(r->dbs[0].stats.num_unique_apis, 2);
    assert_int_equal(r->dbs[0].stats.in_api_vector, 1);
    scanFree(r);
    /* to_address 0x4002C4: Sleep and CreateFileW. */
    o.from_address = 0;
    o.to_address = 0x4002C4;
    r = scan(fx, dbs, 1, fx->dump, &o);
    assert_int_equal(r->dbs[0].filtered.n, 2);
    expectRowJson(r, &r->dbs[0], &r->dbs[0].filtered.rows[0], ROW_SLEEP);
    scanFree(r);
    /* An explicit base wins over the name. With base 0x75001000 the own
     * image [0x75001000, 0x75001400] swallows Sleep, and the 32-bit
     * references (0x4002C0 - 0x75001000 < 0) vanish. */
    o.to_address = 0;
    o.has_base_address = 1;
    o.base_address = 0x75001000;
    r = scan(fx, dbs, 1, fx->dump, &o);
    assert_int_equal(r->base_address_used, 0x75001000);
    assert_int_equal(r->dbs[0].crawl.rows[0].ref_count, 1);
    assert_int_equal(r->dbs[0].filtered.n, 2);
    assert_int_equal(r->dbs[0].filtered.rows[0].offset, 0x2C4);
    assert_int_equal(r->dbs[0].filtered.rows[1].offset, 0x2C8);
    scanFree(r);
    /* Distance 0: no neighbour filter, GetDC (bit 1000) counts. */
    o.has_base_address = 0;
    o.dump_name = NULL;
    o.filter_distance = 0;
    r = scan(fx, dbs, 1, fx->dump, &o);
    assert_int_equal(r->dbs[0].filtered.n, 4);
    assert_int_equal(r->dbs[0].stats.num_unique_apis, 4);
    assert_int_equal(r->dbs[0].stats.in_api_vector, 3);
    scanFree(r);
}

static void test_scan_pe32plus(void **state) {
    fixture *fx = *state;
    scan_options o;
    scanOptionsInit(&o);
    const apidb *dbs[] = {fx->x64};
    scan_result *r = scan(fx, dbs, 1, fx->dump64, &o);
    scan_db *sd = &r->dbs[0];
    assert_int_equal(sd->crawl.n, 2);
    /* 0x7FF00005678 = 8791798077048; 0x300 = 768, 0x310 = 784. */
    expectRowJson(r, sd, &sd->crawl.rows[0],
                  "[704,8791798077048,\"ntdll.dll_0x7ff00000000\",\"NtClose\",64,true,2,[768]]");
    expectRowJson(r, sd, &sd->crawl.rows[1],
                  "[712,8791798077056,\"ntdll.dll_0x7ff00000000\",\"NtOpen\",64,false,2,[784]]");
    assert_int_equal(sd->filtered.n, 2);
    assert_int_equal(sd->stats.num_unique_apis, 2);
    assert_int_equal(sd->stats.in_api_vector, 1);
    char text[VECTOR_TEXT_MAX + 1];
    vectorCompress(&sd->vector, text);
    assert_string_equal(text, "IA170"); /* bit 2: 001000 = 8 */
    scanFree(r);
    /* Without any PE header the flag is null and the 32-bit base is 0. */
    unsigned char plain[LEN];
    memcpy(plain, fx->dump64, LEN);
    fxPut16(plain, 0x3c, 0);
    r = scan(fx, dbs, 1, plain, &o);
    assert_int_equal(r->dbs[0].crawl.rows[0].in_import_table, -1);
    expectRowJson(r, &r->dbs[0], &r->dbs[0].crawl.rows[1],
                  "[712,8791798077056,\"ntdll.dll_0x7ff00000000\",\"NtOpen\",64,null,2,[784]]");
    scanFree(r);
}

static void test_same_os_name_and_primary(void **state) {
    fixture *fx = *state;
    scan_options o;
    scanOptionsInit(&o);
    o.filter_distance = 0;
    /* vm, other, vm2: vm2 replaces vm at position 0. */
    const apidb *dbs[] = {fx->vm, fx->other, fx->vm2};
    scan_result *r = scan(fx, dbs, 3, fx->dump, &o);
    assert_int_equal(r->ndbs, 2);
    assert_ptr_equal(r->dbs[0].db, fx->vm2);
    assert_ptr_equal(r->dbs[1].db, fx->other);
    assert_int_equal(r->num_apis_loaded, 1 + 1);
    /* vm2: GetDC, bit 1000 -> 100%; other: Sleep, bit 0 -> 100%. The tie
     * goes to the DB loaded last: other. Confidence: one rare bit -> 5. */
    assert_float_equal(r->dbs[0].stats.percentage, 100.0, 1e-9);
    assert_float_equal(r->dbs[1].stats.percentage, 100.0, 1e-9);
    assert_int_equal(r->primary, 1);
    assert_float_equal(r->confidence, 5.0, 1e-9);
    scanFree(r);
    const apidb *rev[] = {fx->other, fx->vm2};
    r = scan(fx, rev, 2, fx->dump, &o);
    assert_int_equal(r->primary, 1);
    assert_ptr_equal(r->dbs[1].db, fx->vm2);
    /* GetDC has rank 23: not rare, confidence 0. */
    assert_true(r->confidence == 0.0);
    scanFree(r);
    /* A higher percentage earlier is kept: other 100% vs vm 3/4 = 75%. */
    const apidb *mix[] = {fx->other, fx->vm};
    r = scan(fx, mix, 2, fx->dump, &o);
    assert_float_equal(r->dbs[1].stats.percentage, 75.0, 1e-9);
    assert_int_equal(r->primary, 0);
    scanFree(r);
}

static void test_base_from_name(void **state) {
    (void)state;
    struct {
        const char *name;
        int found;
        uint64_t value;
    } cases[] = {
        {"x_0x00400000", 1, 0x400000},
        {"0x12345678", 1, 0x12345678},
        {"dump_0x0040000", 0, 0},           /* 7 digits */
        {"dump_0x00000000000400000", 0, 0}, /* 17 digits */
        {"dump_0xFFFFFFFFFFFFFFFF", 1, UINT64_MAX},
        {"dump_0xAbCdEf01", 1, 0xABCDEF01},
        {"dump_0X00400000", 0, 0},          /* upper-case X */
        {"dump_0x00400000\n", 1, 0x400000}, /* $ before one final newline */
        {"dump_0x00400000\n\n", 0, 0},
        {"dump_0x00400000 ", 0, 0},
        {"dump_0x00400000.bin", 0, 0},
        {"dump_x00400000", 0, 0},
        {"x00400000", 0, 0},
        {"0x0x12345678", 1, 0x12345678},
        {"dump_0x0040000g", 0, 0},
        {"", 0, 0},
        {"\n", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int found = -1;
        uint64_t v = scanBaseFromName(cases[i].name, &found);
        if (found != cases[i].found || v != cases[i].value)
            fail_msg("\"%s\": found %d value 0x%llx", cases[i].name, found, (unsigned long long)v);
    }
    int found = -1;
    assert_int_equal(scanBaseFromName(NULL, &found), 0);
    assert_int_equal(found, 0);
}

static void test_empty_dump_and_no_dbs(void **state) {
    fixture *fx = *state;
    scan_options o;
    scanOptionsInit(&o);
    const apidb *dbs[] = {fx->vm};
    scan_result *r = NULL;
    char err[AV_ERRLEN] = "";
    assert_int_equal(scanRun(fx->t, dbs, 1, NULL, 0, &o, &r, err, sizeof(err)), AV_OK);
    assert_int_equal(r->dbs[0].crawl.n, 0);
    assert_int_equal(r->dbs[0].stats.num_unique_apis, 0);
    json_t *doc = scanJsonDocument(r, fx->t, NULL, NULL);
    /* No API found: percentage is the integer 0. */
    json_t *pct =
        json_object_get(json_object_get(json_object_get(doc, "vectors"), "vm"), "percentage");
    assert_true(json_is_integer(pct));
    assert_int_equal(json_integer_value(pct), 0);
    json_decref(doc);
    scanFree(r);
    assert_int_equal(scanRun(fx->t, dbs, 0, fx->dump, LEN, &o, &r, err, sizeof(err)), AV_OK);
    assert_int_equal(r->ndbs, 0);
    doc = scanJsonDocument(r, fx->t, NULL, NULL);
    assert_null(json_object_get(doc, "primary"));
    json_decref(doc);
    scanFree(r);
    scanFree(NULL);
}

static void test_json_u64(void **state) {
    (void)state;
    json_t *j = scanJsonU64(0);
    assert_true(json_is_integer(j) && json_integer_value(j) == 0);
    json_decref(j);
    j = scanJsonU64(INT64_MAX);
    assert_true(json_is_integer(j) && json_integer_value(j) == INT64_MAX);
    json_decref(j);
    j = scanJsonU64(0x8000000000000000ULL);
    assert_string_equal(json_string_value(j), "0x8000000000000000");
    json_decref(j);
    j = scanJsonU64(UINT64_MAX);
    assert_string_equal(json_string_value(j), "0xffffffffffffffff");
    json_decref(j);
}

static void test_json_document(void **state) {
    fixture *fx = *state;
    scan_options o;
    scanOptionsInit(&o);
    const apidb *dbs[] = {fx->vm};
    scan_result *r = scan(fx, dbs, 1, fx->dump, &o);
    /* Collection: fam/a {0,1}, fam/b {}, good/c {0}. Against {0,1}: a 1.0,
     * c 1023/2045, b 0. */
    const char *text = "fam;a;;;wA170\nfam;b;;;A171\ngood;c;;;gA170\n";
    collection *c = NULL;
    char err[AV_ERRLEN] = "";
    assert_int_equal(collectionParse(text, strlen(text), "c.csv", &c, err, sizeof(err)), AV_OK);
    json_t *doc = scanJsonDocument(r, fx->t, c, "my collection");
    assert_int_equal(json_integer_value(json_object_get(doc, "base_address_used")), 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "num_apis_loaded")), 4);
    assert_int_equal(json_array_size(json_object_get(json_object_get(doc, "crawl"), "vm")), 4);
    assert_int_equal(json_array_size(json_object_get(json_object_get(doc, "filtered"), "vm")), 3);
    json_t *prim = json_object_get(doc, "primary");
    assert_string_equal(json_string_value(json_object_get(prim, "db")), "vm");
    assert_string_equal(json_string_value(json_object_get(prim, "vector")), "wA170");
    assert_int_equal(json_integer_value(json_object_get(prim, "num_unique_apis")), 3);
    assert_float_equal(json_real_value(json_object_get(prim, "percentage")), 200.0 / 3.0, 1e-9);
    assert_float_equal(json_real_value(json_object_get(doc, "confidence")), 10.0, 1e-9);
    json_t *m = json_object_get(doc, "collection_matches");
    assert_non_null(m);
    assert_null(json_object_get(m, "vector")); /* named once, under primary */
    assert_string_equal(json_string_value(json_object_get(m, "collection")), "my collection");
    assert_int_equal(json_integer_value(json_object_get(m, "families_in_collection")), 2);
    assert_int_equal(json_integer_value(json_object_get(m, "vectors_in_collection")), 3);
    json_t *res = json_object_get(m, "results");
    assert_int_equal(json_array_size(res), 3);
    const char *want[3][2] = {{"fam", "a"}, {"good", "c"}, {"fam", "b"}};
    const double score[3] = {1.0, 1023.0 / 2045.0, 0.0};
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(res, i);
        assert_string_equal(json_string_value(json_array_get(e, 0)), want[i][0]);
        assert_string_equal(json_string_value(json_array_get(e, 1)), want[i][1]);
        assert_true(json_real_value(json_array_get(e, 2)) == score[i]);
    }
    json_decref(doc);
    json_t *direct = scanJsonMatches(fx->t, c, "x", &r->dbs[0].vector, "wA170");
    assert_string_equal(json_string_value(json_object_get(direct, "vector")), "wA170");
    json_decref(direct);
    collectionFree(c);
    scanFree(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_pe32),      cmocka_unit_test(test_scan_options),
        cmocka_unit_test(test_scan_pe32plus),  cmocka_unit_test(test_same_os_name_and_primary),
        cmocka_unit_test(test_base_from_name), cmocka_unit_test(test_empty_dump_and_no_dbs),
        cmocka_unit_test(test_json_u64),       cmocka_unit_test(test_json_document),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

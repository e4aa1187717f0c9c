/*
 * test_apidb.c - unit tests of loading an ApiScout DB from JSON.
 *
 * Each test writes a few DLLs inline and checks the address map against
 * values worked out by hand from the README's rule: address = base_address +
 * address - aslr_offset (aslr_offset as 0 when ignored), None names written
 * None<ordinal>, the dll field being the key without its first two `_`
 * fields, the last export at an address winning whatever its bitness. Bad
 * input must be rejected with the status and message the header documents:
 * "source: <JSON path>: ..." for semantic errors and "source:LINE:COL: JSON
 * syntax: ..." for syntax errors (jansson reports the 1-based column of the
 * last character of the offending token).
 */
#include "engine_fixtures.h"

#include "apidb.h"

#define K32 "\"32_6.1_kernel32.dll_0x75000000\""

/* kernel32 at 0x75000000 (1962934272) with aslr_offset 0x1000, ntdll (64-bit)
 * at 0x77000000 (1996488704) loaded 0x10000 above its preferred base. */
static const char *DB_ASLR =
    "{\"os_name\": \"win7\", \"dlls\": {" K32
    ": {\"aslr_offset\": 4096, \"base_address\": 1962934272, \"bitness\": 32,"
    "  \"exports\": [{\"address\": 8192, \"name\": \"Sleep\", \"ordinal\": 1},"
    "               {\"address\": 12288, \"name\": null, \"ordinal\": 7},"
    "               {\"address\": 16384, \"name\": \"None\", \"ordinal\": 8}]},"
    "\"64_6.1_ntdll.dll_0x77000000\": {\"aslr_offset\": -65536, \"base_address\": 1996488704,"
    "  \"bitness\": 64, \"exports\": [{\"address\": 256, \"name\": \"NtClose\", \"ordinal\": 2}]}"
    "}}";

static void expectEntry(const apidb *db, uint64_t addr, unsigned bitness, const char *dll,
                        const char *api) {
    const apidb_entry *e = apidbFind(db, addr, bitness);
    if (!e)
        fail_msg("no %u-bit entry at 0x%llx", bitness, (unsigned long long)addr);
    assert_int_equal(e->address, addr);
    assert_string_equal(apidbEntryDll(db, e), dll);
    assert_string_equal(apidbEntryApi(db, e), api);
    assert_int_equal(apidbEntryBitness(db, e), bitness);
}

static void test_aslr_applied(void **state) {
    (void)state;
    apidb *db = fxDb(DB_ASLR, 0);
    assert_string_equal(apidbOsName(db), "win7");
    assert_int_equal(apidbCount(db), 4);
    assert_int_equal(apidbExportsRead(db), 4);
    assert_true(apidbHas64(db));
    /* 0x75000000 + 0x2000 - 0x1000 etc.; ntdll: 0x77000000 + 0x100 + 0x10000. */
    expectEntry(db, 0x75001000, 32, "kernel32.dll_0x75000000", "Sleep");
    expectEntry(db, 0x75002000, 32, "kernel32.dll_0x75000000", "None<7>");
    expectEntry(db, 0x75003000, 32, "kernel32.dll_0x75000000", "None<8>");
    expectEntry(db, 0x77010100, 64, "ntdll.dll_0x77000000", "NtClose");
    /* The bitness must match. */
    assert_null(apidbFind(db, 0x75001000, 64));
    assert_null(apidbFind(db, 0x77010100, 32));
    /* Unaslr'd addresses are not in the map. */
    assert_null(apidbFind(db, 0x75004000, 32));
    assert_null(apidbFind(db, 0x77000100, 64));
    /* Entries come sorted by address. */
    const apidb_entry *e = apidbEntries(db);
    assert_int_equal(e[0].address, 0x75001000);
    assert_int_equal(e[1].address, 0x75002000);
    assert_int_equal(e[2].address, 0x75003000);
    assert_int_equal(e[3].address, 0x77010100);
    assert_true(apidbFootprint(db) > sizeof(apidb_entry) * 4);
    apidbFree(db);
}

static void test_aslr_ignored(void **state) {
    (void)state;
    apidb *db = fxDb(DB_ASLR, 1);
    expectEntry(db, 0x75002000, 32, "kernel32.dll_0x75000000", "Sleep");
    expectEntry(db, 0x75003000, 32, "kernel32.dll_0x75000000", "None<7>");
    expectEntry(db, 0x75004000, 32, "kernel32.dll_0x75000000", "None<8>");
    expectEntry(db, 0x77000100, 64, "ntdll.dll_0x77000000", "NtClose");
    assert_null(apidbFind(db, 0x75001000, 32));
    apidbFree(db);
    /* With ASLR ignored, aslr_offset is never read: missing or mistyped is fine. */
    apidb *db2 = fxDb("{\"os_name\": \"x\", \"dlls\": {\"32_1_a.dll_0x1000\": {\"aslr_offset\": "
                      "\"junk\", \"base_address\": 4096, \"bitness\": 32, \"exports\": "
                      "[{\"address\": 1, \"name\": \"A\", \"ordinal\": 1}]}, \"32_1_b.dll\": "
                      "{\"base_address\": 8192, \"bitness\": 32, \"exports\": []}}}",
                      1);
    expectEntry(db2, 0x1001, 32, "a.dll_0x1000", "A");
    apidbFree(db2);
}

static void test_collisions_later_wins(void **state) {
    (void)state;
    /* All DLLs at base 0x1000. 0x1010: First, then Second (same DLL).
     * 0x1020: A32 (32-bit), then B64 (64-bit). 0x1030: Fine, then "" (64-bit,
     * an empty name: the address becomes unfindable). 0x1040: X64, then C32. */
    apidb *db =
        fxDb("{\"os_name\": \"c\", \"dlls\": {"
             "\"32_1_a.dll_0x1000\": {\"aslr_offset\": 0, \"base_address\": 4096, \"bitness\": 32,"
             " \"exports\": [{\"address\": 16, \"name\": \"First\", \"ordinal\": 1},"
             "  {\"address\": 16, \"name\": \"Second\", \"ordinal\": 2},"
             "  {\"address\": 32, \"name\": \"A32\", \"ordinal\": 3},"
             "  {\"address\": 48, \"name\": \"Fine\", \"ordinal\": 4}]},"
             "\"64_1_b.dll_0x1000\": {\"aslr_offset\": 0, \"base_address\": 4096, \"bitness\": 64,"
             " \"exports\": [{\"address\": 32, \"name\": \"B64\", \"ordinal\": 1},"
             "  {\"address\": 48, \"name\": \"\", \"ordinal\": 2},"
             "  {\"address\": 64, \"name\": \"X64\", \"ordinal\": 3}]},"
             "\"32_1_c.dll_0x1000\": {\"aslr_offset\": 0, \"base_address\": 4096, \"bitness\": 32,"
             " \"exports\": [{\"address\": 64, \"name\": \"C32\", \"ordinal\": 1}]}}}",
             0);
    assert_int_equal(apidbCount(db), 4);
    assert_int_equal(apidbExportsRead(db), 8);
    expectEntry(db, 0x1010, 32, "a.dll_0x1000", "Second");
    expectEntry(db, 0x1020, 64, "b.dll_0x1000", "B64");
    assert_null(apidbFind(db, 0x1020, 32));
    assert_null(apidbFind(db, 0x1030, 32));
    assert_null(apidbFind(db, 0x1030, 64));
    expectEntry(db, 0x1040, 32, "c.dll_0x1000", "C32");
    assert_null(apidbFind(db, 0x1040, 64));
    /* The unfindable entry is still in the map (getNumApisLoaded counts it). */
    const apidb_entry *e = apidbEntries(db);
    assert_int_equal(e[2].address, 0x1030);
    assert_string_equal(apidbEntryApi(db, &e[2]), "");
    assert_int_equal(apidbEntryBitness(db, &e[2]), 64);
    apidbFree(db);
}

static void test_dll_field_stripping(void **state) {
    (void)state;
    /* Keys and their dll fields: the key without its first two `_` fields. */
    apidb *db =
        fxDb("{\"os_name\": \"k\", \"dlls\": {"
             "\"32_6.1_kernel32.dll_0x75000000\": {\"aslr_offset\": 0, \"base_address\": 4096,"
             "  \"bitness\": 32, \"exports\": [{\"address\": 1, \"name\": \"A\", \"ordinal\": 1}]},"
             "\"32_1_my_lib.dll_0x1\": {\"aslr_offset\": 0, \"base_address\": 4096,"
             "  \"bitness\": 32, \"exports\": [{\"address\": 2, \"name\": \"B\", \"ordinal\": 1}]},"
             "\"64__x\": {\"aslr_offset\": 0, \"base_address\": 4096,"
             "  \"bitness\": 64, \"exports\": [{\"address\": 3, \"name\": \"C\", \"ordinal\": 1}]},"
             "\"32_kernel32.dll\": {\"aslr_offset\": 0, \"base_address\": 4096,"
             "  \"bitness\": 32, \"exports\": [{\"address\": 4, \"name\": \"D\", \"ordinal\": 1}]},"
             "\"32_1_\": {\"aslr_offset\": 0, \"base_address\": 4096,"
             "  \"bitness\": 32, \"exports\": [{\"address\": 5, \"name\": \"E\", \"ordinal\": 1}]},"
             "\"kernel32\": {\"aslr_offset\": 0, \"base_address\": 4096,"
             "  \"bitness\": 32, \"exports\": [{\"address\": 6, \"name\": \"F\", \"ordinal\": 1}]}"
             "}}",
             0);
    expectEntry(db, 0x1001, 32, "kernel32.dll_0x75000000", "A");
    expectEntry(db, 0x1002, 32, "my_lib.dll_0x1", "B");
    expectEntry(db, 0x1003, 64, "x", "C");
    /* Empty dll fields: counted, never found, but their names are kept. */
    assert_int_equal(apidbCount(db), 6);
    for (uint64_t a = 0x1004; a <= 0x1006; a++) {
        assert_null(apidbFind(db, a, 32));
        const apidb_entry *e = &apidbEntries(db)[a - 0x1001];
        assert_int_equal(e->address, a);
        assert_string_equal(apidbEntryDll(db, e), "");
    }
    apidbFree(db);
}

static void test_has64(void **state) {
    (void)state;
    /* A 64-bit DLL without exports does not make the DB 64-bit (the
     * reference sets its flag per export read). */
    apidb *db = fxDb("{\"os_name\": \"x\", \"dlls\": {\"64_1_a.dll\": {\"aslr_offset\": 0, "
                     "\"base_address\": 0, \"bitness\": 64, \"exports\": []}, \"32_1_b.dll_0\": "
                     "{\"aslr_offset\": 0, \"base_address\": 0, \"bitness\": 32, \"exports\": "
                     "[{\"address\": 77, \"name\": \"B\", \"ordinal\": 1}]}}}",
                     0);
    assert_false(apidbHas64(db));
    expectEntry(db, 77, 32, "b.dll_0", "B");
    apidbFree(db);
    /* An empty DB: no entries, nothing found, still a valid DB. */
    db = fxDb("{\"os_name\": \"\", \"dlls\": {}}", 0);
    assert_int_equal(apidbCount(db), 0);
    assert_false(apidbHas64(db));
    assert_null(apidbFind(db, 0, 32));
    assert_null(apidbFind(db, 0x75001000, 32));
    assert_null(apidbFind(db, UINT64_MAX, 64));
    apidbFree(db);
}

static void test_32bit_above_4g_not_found(void **state) {
    (void)state;
    /* A 32-bit DLL at 0x100000000: the uint32 crawl can never produce the
     * address, so it is counted but not indexed; its low half must not hit. */
    apidb *db = fxDb("{\"os_name\": \"x\", \"dlls\": {\"32_1_hi.dll_0\": {\"aslr_offset\": 0, "
                     "\"base_address\": 4294967296, \"bitness\": 32, \"exports\": "
                     "[{\"address\": 16, \"name\": \"Hi\", \"ordinal\": 1}]}}}",
                     0);
    assert_int_equal(apidbCount(db), 1);
    assert_int_equal(apidbEntries(db)[0].address, 0x100000010ULL);
    assert_null(apidbFind(db, 0x100000010ULL, 32));
    assert_null(apidbFind(db, 0x10, 32));
    apidbFree(db);
}

static void test_extreme_addresses(void **state) {
    (void)state;
    /* (2^63-1) + (2^63-1) - (-1) = 2^64 - 1: the largest legal address. */
    apidb *db = fxDb("{\"os_name\": \"x\", \"dlls\": {\"64_1_big.dll\": {\"aslr_offset\": -1, "
                     "\"base_address\": 9223372036854775807, \"bitness\": 64, \"exports\": "
                     "[{\"address\": 9223372036854775807, \"name\": \"Top\", \"ordinal\": 1}]}}}",
                     0);
    const apidb_entry *e = apidbFind(db, UINT64_MAX, 64);
    assert_non_null(e);
    assert_string_equal(apidbEntryApi(db, e), "Top");
    apidbFree(db);
    /* 0 + 0 - (-2^63) = 2^63. */
    db = fxDb("{\"os_name\": \"x\", \"dlls\": {\"64_1_m.dll\": {\"aslr_offset\": "
              "-9223372036854775808, \"base_address\": 0, \"bitness\": 64, \"exports\": "
              "[{\"address\": 0, \"name\": \"Mid\", \"ordinal\": 1}]}}}",
              0);
    assert_non_null(apidbFind(db, 0x8000000000000000ULL, 64));
    apidbFree(db);
}

static void expectDbError(const char *json, int ignore_aslr, av_status expected,
                          const char *needle) {
    apidb *db = (apidb *)&expected; /* must be reset to NULL */
    char err[AV_ERRLEN] = "";
    av_status st =
        apidbParseJson(json, strlen(json), "db.json", ignore_aslr, &db, err, sizeof(err));
    fx_assert_err(st, expected, err, needle);
    assert_null(db);
}

/* A one-DLL DB with the given DLL key, DLL body members and export list. */
static char *oneDll(const char *key, const char *members, const char *exports) {
    fx_buf b = {0};
    fxAppendf(&b, "{\"os_name\": \"x\", \"dlls\": {\"%s\": {%s%s\"exports\": %s}}}", key, members,
              members[0] ? ", " : "", exports);
    return b.p;
}

#define STD_MEMBERS "\"aslr_offset\": 0, \"base_address\": 4096, \"bitness\": 32"

static void expectDllError(const char *key, const char *members, const char *exports,
                           av_status expected, const char *needle) {
    char *json = oneDll(key, members, exports);
    expectDbError(json, 0, expected, needle);
    free(json);
}

static void test_bad_export_values(void **state) {
    (void)state;
    const char *ok3 = "{\"address\": 1, \"name\": \"a\", \"ordinal\": 1}, {\"address\": 2, "
                      "\"name\": \"b\", \"ordinal\": 2}, {\"address\": 3, \"name\": \"c\", "
                      "\"ordinal\": 3}";
    char exports[512];
    snprintf(exports, sizeof(exports), "[%s, {\"address\": -5, \"name\": \"d\", \"ordinal\": 4}]",
             ok3);
    expectDllError("32_x.dll_0x1000", STD_MEMBERS, exports, AV_ERR_RANGE,
                   "db.json: dlls.32_x.dll_0x1000.exports[3].address: must be non-negative");
    snprintf(exports, sizeof(exports), "[%s, {\"address\": \"16\", \"name\": \"d\"}]", ok3);
    expectDllError("32_x.dll_0x1000", STD_MEMBERS, exports, AV_ERR_PARSE,
                   "db.json: dlls.32_x.dll_0x1000.exports[3].address: must be an integer");
    expectDllError("32_x.dll", STD_MEMBERS, "[{\"address\": 1.5, \"name\": \"d\"}]", AV_ERR_PARSE,
                   "dlls.32_x.dll.exports[0].address: must be an integer");
    expectDllError("32_x.dll", STD_MEMBERS, "[{\"name\": \"d\", \"ordinal\": 1}]", AV_ERR_PARSE,
                   "dlls.32_x.dll.exports[0].address: missing");
    expectDllError("32_x.dll", STD_MEMBERS, "[{\"address\": 1, \"name\": 5, \"ordinal\": 1}]",
                   AV_ERR_PARSE, "dlls.32_x.dll.exports[0].name: must be a string or null");
    expectDllError("32_x.dll", STD_MEMBERS, "[{\"address\": 1, \"name\": true, \"ordinal\": 1}]",
                   AV_ERR_PARSE, "dlls.32_x.dll.exports[0].name: must be a string or null");
    expectDllError("32_x.dll", STD_MEMBERS, "[{\"address\": 1, \"name\": null}]", AV_ERR_PARSE,
                   "dlls.32_x.dll.exports[0].ordinal: missing");
    expectDllError("32_x.dll", STD_MEMBERS,
                   "[{\"address\": 1, \"name\": \"None\", \"ordinal\": "
                   "\"7\"}]",
                   AV_ERR_PARSE, "dlls.32_x.dll.exports[0].ordinal: must be an integer");
    expectDllError("32_x.dll", STD_MEMBERS, "[{\"address\": 1, \"name\": \"a\"}, 7]", AV_ERR_PARSE,
                   "dlls.32_x.dll.exports[1]: must be an object");
}

static void test_bad_dll_values(void **state) {
    (void)state;
    expectDllError("32_a.dll", STD_MEMBERS, "{}", AV_ERR_PARSE,
                   "db.json: dlls.32_a.dll.exports: must be an array");
    expectDllError("32_a.dll", STD_MEMBERS, "\"[]\"", AV_ERR_PARSE,
                   "dlls.32_a.dll.exports: must be an array");
    expectDllError("32_a.dll", "\"aslr_offset\": 0, \"base_address\": -1, \"bitness\": 32", "[]",
                   AV_ERR_RANGE, "dlls.32_a.dll.base_address: must be non-negative, got -1");
    expectDllError("32_a.dll", "\"aslr_offset\": 0, \"base_address\": 0, \"bitness\": 16", "[]",
                   AV_ERR_RANGE, "dlls.32_a.dll.bitness: must be 32 or 64");
    expectDllError("32_a.dll", "\"aslr_offset\": 0, \"base_address\": 0, \"bitness\": \"32\"", "[]",
                   AV_ERR_PARSE, "dlls.32_a.dll.bitness: must be an integer");
    expectDllError("32_a.dll", "\"aslr_offset\": 0, \"base_address\": 0", "[]", AV_ERR_PARSE,
                   "dlls.32_a.dll.bitness: missing");
    expectDllError("32_a.dll", "\"aslr_offset\": 0, \"bitness\": 32", "[]", AV_ERR_PARSE,
                   "dlls.32_a.dll.base_address: missing");
    expectDllError("32_a.dll", "\"base_address\": 0, \"bitness\": 32", "[]", AV_ERR_PARSE,
                   "dlls.32_a.dll.aslr_offset: missing");
    expectDllError("32_a.dll", "\"aslr_offset\": 0.5, \"base_address\": 0, \"bitness\": 32", "[]",
                   AV_ERR_PARSE, "dlls.32_a.dll.aslr_offset: must be an integer");
    expectDbError("{\"os_name\": \"x\", \"dlls\": {\"32_a.dll\": [1]}}", 0, AV_ERR_PARSE,
                  "db.json: dlls.32_a.dll: must be an object");
}

static void test_address_out_of_range(void **state) {
    (void)state;
    /* (2^63-1) + (2^63-1) - (-2) = 2^64: one past the largest address. */
    expectDbError("{\"os_name\": \"x\", \"dlls\": {\"64_1_big.dll\": {\"aslr_offset\": -2, "
                  "\"base_address\": 9223372036854775807, \"bitness\": 64, \"exports\": "
                  "[{\"address\": 9223372036854775807, \"name\": \"T\", \"ordinal\": 1}]}}}",
                  0, AV_ERR_RANGE,
                  "db.json: dlls.64_1_big.dll.exports[0]: base_address + address - aslr_offset "
                  "is outside 0..2^64-1");
    /* 0 + 0 - 1 = -1. */
    expectDbError("{\"os_name\": \"x\", \"dlls\": {\"32_1_a.dll\": {\"aslr_offset\": 1, "
                  "\"base_address\": 0, \"bitness\": 32, \"exports\": "
                  "[{\"address\": 0, \"name\": \"T\", \"ordinal\": 1}]}}}",
                  0, AV_ERR_RANGE, "dlls.32_1_a.dll.exports[0]: base_address + address");
    /* The same DB with ASLR ignored is fine: 0 + 0 = 0. */
    apidb *db = fxDb("{\"os_name\": \"x\", \"dlls\": {\"32_1_a.dll_0\": {\"aslr_offset\": 1, "
                     "\"base_address\": 0, \"bitness\": 32, \"exports\": "
                     "[{\"address\": 0, \"name\": \"T\", \"ordinal\": 1}]}}}",
                     1);
    assert_non_null(apidbFind(db, 0, 32));
    apidbFree(db);
}

static void test_top_level(void **state) {
    (void)state;
    expectDbError("[]", 0, AV_ERR_PARSE, "db.json: top level must be an object");
    expectDbError("{}", 0, AV_ERR_PARSE, "db.json: os_name: must be a string");
    expectDbError("{\"os_name\": 5, \"dlls\": {}}", 0, AV_ERR_PARSE, "db.json: os_name: must be");
    expectDbError("{\"os_name\": null, \"dlls\": {}}", 0, AV_ERR_PARSE, "os_name: must be");
    expectDbError("{\"os_name\": \"x\"}", 0, AV_ERR_PARSE, "db.json: dlls: must be an object");
    expectDbError("{\"os_name\": \"x\", \"dlls\": []}", 0, AV_ERR_PARSE, "dlls: must be an object");
}

static void test_json_syntax(void **state) {
    (void)state;
    /* The ']' is the 11th character of line 3. */
    expectDbError("{\n \"os_name\": \"a\",\n \"dlls\": {]\n}", 0, AV_ERR_PARSE,
                  "db.json:3:11: JSON syntax");
    /* 2^63 in an address: "address" spans columns 33-41, the 19 digits 44-62. */
    expectDbError("{\"os_name\": \"x\", \"dlls\": {\"a\": {\"address\": 9223372036854775808}}}", 0,
                  AV_ERR_PARSE, "db.json:1:62: JSON syntax: too big integer");
    expectDbError("{\"os_name\": \"x\", \"dlls\": {}, \"n\": -9223372036854775809}", 0,
                  AV_ERR_PARSE, "JSON syntax: too big negative integer");
    expectDbError("{\"os_name\": \"x\", \"dlls\": {}, \"n\": 1e400}", 0, AV_ERR_PARSE,
                  "JSON syntax: real number overflow");
    expectDbError("", 0, AV_ERR_PARSE, "db.json:1:0: JSON syntax");
    /* The closing braces are columns 27 and 28, the 'x' column 30. */
    expectDbError("{\"os_name\": \"x\", \"dlls\": {}} x", 0, AV_ERR_PARSE,
                  "db.json:1:30: JSON syntax: end of file expected");
    /* A NUL inside a name is refused rather than silently cutting it. */
    expectDbError("{\"os_name\": \"a\\u0000b\", \"dlls\": {}}", 0, AV_ERR_PARSE, "JSON syntax");
    /* Invalid UTF-8. */
    expectDbError("{\"os_name\": \"\xff\", \"dlls\": {}}", 0, AV_ERR_PARSE, "JSON syntax");
}

static void test_raw_nul_in_buffer(void **state) {
    (void)state;
    const char json[] = "{\"os_name\": \"x\", \"dlls\": {}}\0garbage";
    apidb *db = NULL;
    char err[AV_ERRLEN] = "";
    av_status st = apidbParseJson(json, sizeof(json) - 1, "db.json", 0, &db, err, sizeof(err));
    fx_assert_err(st, AV_ERR_PARSE, err, "db.json:");
    assert_null(db);
}

static void test_long_key_message(void **state) {
    (void)state;
    char key[1500];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    memcpy(key, "32_1_", 5);
    char *json = oneDll(key, STD_MEMBERS, "[{\"address\": -1}]");
    apidb *db = NULL;
    char err[AV_ERRLEN] = "";
    av_status st = apidbParseJson(json, strlen(json), "db.json", 0, &db, err, sizeof(err));
    fx_assert_err(st, AV_ERR_RANGE, err, "db.json: dlls.32_1_kkkk");
    assert_true(strlen(err) < AV_ERRLEN);
    free(json);
}

static void test_duplicate_dll_key(void **state) {
    (void)state;
    /* Like Python's json.loads: a repeated key keeps its first position and
     * takes the last value. Iteration is a (value Z), b (Y): Y wins at 0x10
     * and a's first value (X) is never read. */
    apidb *db = fxDb("{\"os_name\": \"d\", \"dlls\": {"
                     "\"32_1_a.dll_0\": {\"aslr_offset\": 0, \"base_address\": 0, \"bitness\": 32,"
                     " \"exports\": [{\"address\": 16, \"name\": \"X\", \"ordinal\": 1},"
                     "               {\"address\": 32, \"name\": \"X2\", \"ordinal\": 2}]},"
                     "\"32_1_b.dll_0\": {\"aslr_offset\": 0, \"base_address\": 0, \"bitness\": 32,"
                     " \"exports\": [{\"address\": 16, \"name\": \"Y\", \"ordinal\": 1}]},"
                     "\"32_1_a.dll_0\": {\"aslr_offset\": 0, \"base_address\": 0, \"bitness\": 32,"
                     " \"exports\": [{\"address\": 16, \"name\": \"Z\", \"ordinal\": 1}]}}}",
                     0);
    assert_int_equal(apidbCount(db), 1);
    assert_int_equal(apidbExportsRead(db), 2);
    expectEntry(db, 16, 32, "b.dll_0", "Y");
    assert_null(apidbFind(db, 32, 32));
    apidbFree(db);
}

static void expectNorm(const apidb *db, uint64_t addr, const char *dll, const char *api) {
    const apidb_entry *e = NULL;
    for (size_t i = 0; i < apidbCount(db); i++)
        if (apidbEntries(db)[i].address == addr)
            e = &apidbEntries(db)[i];
    assert_non_null(e);
    const char *d, *a;
    size_t dl, al;
    apidbNormPair(db, e->norm, &d, &dl, &a, &al);
    if (dl != strlen(dll) || memcmp(d, dll, dl) != 0 || al != strlen(api) ||
        memcmp(a, api, al) != 0)
        fail_msg("0x%llx: normalized to (%.*s, %.*s), expected (%s, %s)", (unsigned long long)addr,
                 (int)dl, d, (int)al, a, dll, api);
}

static void test_normalized_pairs(void **state) {
    (void)state;
    /* dll = the dll field without its last `_` part ("" without `_`), msvcr*
     * -> msvcrt.dll; api cut at '@', then one trailing A or W dropped. */
    apidb *db = fxDb(
        "{\"os_name\": \"n\", \"dlls\": {"
        "\"32_1_msvcr90.dll_0x1000\": {\"aslr_offset\": 0, \"base_address\": 0, \"bitness\": 32,"
        " \"exports\": [{\"address\": 1, \"name\": \"printf\", \"ordinal\": 1}]},"
        "\"32_1_msvcr100.dll_0x2000\": {\"aslr_offset\": 0, \"base_address\": 0, \"bitness\": 32,"
        " \"exports\": [{\"address\": 2, \"name\": \"printf\", \"ordinal\": 1}]},"
        "\"32_1_kernel32.dll_0x3000\": {\"aslr_offset\": 0, \"base_address\": 0, \"bitness\": 32,"
        " \"exports\": [{\"address\": 3, \"name\": \"CreateFileA@28\", \"ordinal\": 1},"
        "  {\"address\": 4, \"name\": \"CreateFileW\", \"ordinal\": 2},"
        "  {\"address\": 5, \"name\": \"MessageBoxAW\", \"ordinal\": 3},"
        "  {\"address\": 6, \"name\": \"A\", \"ordinal\": 4},"
        "  {\"address\": 7, \"name\": \"@8\", \"ordinal\": 5}]},"
        "\"32_1_kernel32.dll\": {\"aslr_offset\": 0, \"base_address\": 0, \"bitness\": 32,"
        " \"exports\": [{\"address\": 8, \"name\": \"Sleep\", \"ordinal\": 1}]},"
        "\"32_1_my_lib.dll_0x1\": {\"aslr_offset\": 0, \"base_address\": 0, \"bitness\": 32,"
        " \"exports\": [{\"address\": 9, \"name\": \"F\", \"ordinal\": 1}]},"
        "\"32_1_msvcr_x\": {\"aslr_offset\": 0, \"base_address\": 0, \"bitness\": 32,"
        " \"exports\": [{\"address\": 10, \"name\": \"G\", \"ordinal\": 1}]}}}",
        0);
    expectNorm(db, 1, "msvcrt.dll", "printf");
    expectNorm(db, 2, "msvcrt.dll", "printf");
    expectNorm(db, 3, "kernel32.dll", "CreateFile");
    expectNorm(db, 4, "kernel32.dll", "CreateFile");
    expectNorm(db, 5, "kernel32.dll", "MessageBoxA");
    expectNorm(db, 6, "kernel32.dll", "");
    expectNorm(db, 7, "kernel32.dll", "");
    expectNorm(db, 8, "", "Sleep");
    expectNorm(db, 9, "my_lib.dll", "F");
    expectNorm(db, 10, "msvcrt.dll", "G");
    const apidb_entry *e = apidbEntries(db);
    assert_int_equal(e[0].norm, e[1].norm); /* both printf */
    assert_int_equal(e[2].norm, e[3].norm); /* both CreateFile */
    assert_int_equal(e[5].norm, e[6].norm); /* both (kernel32.dll, "") */
    /* Distinct pairs: printf, CreateFile, MessageBoxA, "", Sleep, F, G. */
    assert_int_equal(apidbNormCount(db), 7);
    apidbFree(db);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aslr_applied),
        cmocka_unit_test(test_aslr_ignored),
        cmocka_unit_test(test_collisions_later_wins),
        cmocka_unit_test(test_dll_field_stripping),
        cmocka_unit_test(test_has64),
        cmocka_unit_test(test_32bit_above_4g_not_found),
        cmocka_unit_test(test_extreme_addresses),
        cmocka_unit_test(test_bad_export_values),
        cmocka_unit_test(test_bad_dll_values),
        cmocka_unit_test(test_address_out_of_range),
        cmocka_unit_test(test_top_level),
        cmocka_unit_test(test_json_syntax),
        cmocka_unit_test(test_raw_nul_in_buffer),
        cmocka_unit_test(test_long_key_message),
        cmocka_unit_test(test_duplicate_dll_key),
        cmocka_unit_test(test_normalized_pairs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

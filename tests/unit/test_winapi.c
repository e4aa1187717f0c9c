/*
 * test_winapi.c - unit tests of the WinApi1024 table parser and lookups.
 *
 * Most tables are generated (engine_fixtures.h): line i is
 * "g<i>;s;dll<i%4>.dll!Fn<i>;<(7*i + 3) % 1024>", so every rank appears once
 * and the expected bit of each line is 1023 - rank, computed from the formula
 * rather than read back from the parser. Malformed tables are the same text
 * with one whole line replaced, and each error must name the source and the
 * 1-based line ("src:LINE:"). The upstream table is loaded from
 * $APISCOUT_DATA_DIR to check a few entries read off the file by eye.
 */
#include "engine_fixtures.h"

#include "winapi.h"

#define MUL 7
#define ADD 3

/* Generated table text with line `lineno` (1-based) replaced by `line`
 * (NULL: no replacement); `extra` is appended after the 1024 lines. */
static char *tableText(unsigned lineno, const char *line, const char *extra, size_t *len) {
    fx_buf b = {0};
    for (unsigned i = 0; i < WINAPI_BITS; i++) {
        if (line && i + 1 == lineno)
            fxAppendf(&b, "%s\n", line);
        else
            fxAppendf(&b, "g%u;s;dll%u.dll!Fn%u;%u\n", i, i % 4, i, fxRank(MUL, ADD, i));
    }
    if (extra)
        fxAppendf(&b, "%s", extra);
    *len = b.len;
    return b.p;
}

static av_status parseText(const char *text, size_t len, winapi_table **t, char *err) {
    err[0] = '\0';
    return winapiParse(text, len, "tbl.txt", t, err, AV_ERRLEN);
}

static void test_valid_bit_order(void **state) {
    (void)state;
    size_t len;
    char *text = tableText(0, NULL, NULL, &len);
    winapi_table *t = NULL;
    char err[AV_ERRLEN];
    assert_int_equal(parseText(text, len, &t, err), AV_OK);
    for (unsigned i = 0; i < WINAPI_BITS; i++) {
        char dll[32], fn[32];
        snprintf(dll, sizeof(dll), "dll%u.dll", i % 4);
        snprintf(fn, sizeof(fn), "Fn%u", i);
        unsigned rank = (MUL * i + ADD) % 1024;
        int bit = winapiLookup(t, dll, strlen(dll), fn, strlen(fn));
        assert_int_equal(bit, 1023 - (int)rank); /* rank descending: rank 1023 is bit 0 */
        assert_int_equal(winapiRank(t, (unsigned)bit), rank);
        assert_string_equal(winapiDll(t, (unsigned)bit), dll);
        assert_string_equal(winapiFunction(t, (unsigned)bit), fn);
    }
    /* 7 * 292 + 3 = 2047 = 1023 (mod 1024): line 292 is bit 0. */
    assert_string_equal(winapiFunction(t, 0), "Fn292");
    assert_int_equal(winapiRank(t, 0), 1023);
    /* Line 0 has rank 3, so it is bit 1020. */
    assert_string_equal(winapiFunction(t, 1020), "Fn0");
    winapiFree(t);
    free(text);
}

static void test_lookup_exact(void **state) {
    (void)state;
    size_t len;
    char *text = tableText(0, NULL, NULL, &len);
    winapi_table *t = NULL;
    char err[AV_ERRLEN];
    assert_int_equal(parseText(text, len, &t, err), AV_OK);
    /* Case-sensitive on both halves. */
    assert_int_equal(winapiLookup(t, "DLL0.dll", 8, "Fn0", 3), -1);
    assert_int_equal(winapiLookup(t, "dll0.dll", 8, "fn0", 3), -1);
    /* Fn0 is line 0 with dll0.dll; dll1.dll!Fn0 does not exist. */
    assert_int_equal(winapiLookup(t, "dll1.dll", 8, "Fn0", 3), -1);
    assert_int_equal(winapiLookup(t, "dll0.dll", 8, "Fn0", 3), 1020);
    /* Slices: only dll_len / fn_len bytes count. Fn10 is line 10 (rank 73,
     * bit 950), Fn1 is line 1 (rank 10, bit 1013). */
    assert_int_equal(winapiLookup(t, "dll2.dllXYZ", 8, "Fn10abc", 4), 950);
    assert_int_equal(winapiLookup(t, "dll1.dll", 8, "Fn10", 3), 1013);
    assert_int_equal(winapiLookup(t, "dll1.dll", 7, "Fn1", 3), -1);
    assert_int_equal(winapiLookup(t, "", 0, "", 0), -1);
    winapiFree(t);
    free(text);
}

static void test_crlf_whitespace_blank_lines(void **state) {
    (void)state;
    fx_buf b = {0};
    fxAppendf(&b, "\n");
    for (unsigned i = 0; i < WINAPI_BITS; i++)
        fxAppendf(&b, "g;s; \tdll%u.dll!Fn%u\t ; %u \r\n", i % 4, i, fxRank(MUL, ADD, i));
    fxAppendf(&b, "\r\n\n");
    winapi_table *t = NULL;
    char err[AV_ERRLEN];
    assert_int_equal(parseText(b.p, b.len, &t, err), AV_OK);
    assert_int_equal(winapiLookup(t, "dll0.dll", 8, "Fn0", 3), 1020);
    winapiFree(t);
    /* No newline after the last line is fine too. */
    b.len -= 3; /* drop the trailing "\r\n\n" ... */
    b.len -= 2; /* ... and the last line's "\r\n": it now ends in "1020 " */
    assert_int_equal(b.p[b.len - 1], ' ');
    assert_int_equal(parseText(b.p, b.len, &t, err), AV_OK);
    winapiFree(t);
    free(b.p);
}

static void test_upstream_table(void **state) {
    (void)state;
    const char *dir = getenv("APISCOUT_DATA_DIR");
    if (!dir)
        fail_msg("APISCOUT_DATA_DIR is not set (run through ctest)");
    char path[1024];
    snprintf(path, sizeof(path), "%s/winapi1024v1.txt", dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    static char text[1 << 17];
    size_t len = fread(text, 1, sizeof(text), f);
    fclose(f);
    winapi_table *t = NULL;
    char err[AV_ERRLEN];
    assert_int_equal(parseText(text, len, &t, err), AV_OK);
    /* The file's first line is "execution;actctx;kernel32.dll!CreateActCtx;928":
     * rank 928 is bit 1023 - 928 = 95. */
    assert_int_equal(winapiLookup(t, "kernel32.dll", 12, "CreateActCtx", 12), 95);
    assert_int_equal(winapiRank(t, 95), 928);
    assert_string_equal(winapiDll(t, 95), "kernel32.dll");
    /* Second line: kernel32.dll!DeactivateActCtx;927 -> bit 96. */
    assert_int_equal(winapiLookup(t, "kernel32.dll", 12, "DeactivateActCtx", 16), 96);
    assert_int_equal(winapiLookup(t, "KERNEL32.dll", 12, "CreateActCtx", 12), -1);
    winapiFree(t);
}

static void expectError(unsigned lineno, const char *line, const char *extra, const char *needle) {
    size_t len;
    char *text = tableText(lineno, line, extra, &len);
    winapi_table *t = (winapi_table *)&len; /* must be reset to NULL on failure */
    char err[AV_ERRLEN];
    fx_assert_err(parseText(text, len, &t, err), AV_ERR_PARSE, err, needle);
    assert_null(t);
    free(text);
}

static void test_line_count(void **state) {
    (void)state;
    /* 1023 lines: drop the last generated line. */
    size_t len;
    char *text = tableText(0, NULL, NULL, &len);
    size_t cut = len - 1;
    while (text[cut - 1] != '\n')
        cut--;
    winapi_table *t = NULL;
    char err[AV_ERRLEN];
    fx_assert_err(parseText(text, cut, &t, err), AV_ERR_PARSE, err,
                  "tbl.txt: 1023 API lines, expected exactly 1024");
    assert_null(t);
    free(text);
    /* 1025 lines: the extra line is line 1025. */
    expectError(0, NULL, "g;s;extra.dll!More;5\n", "tbl.txt:1025: more than 1024");
    /* Empty input. */
    fx_assert_err(parseText("", 0, &t, err), AV_ERR_PARSE, err, "tbl.txt: 0 API lines");
}

static void test_duplicates(void **state) {
    (void)state;
    /* Line 7 (index 6) takes the rank of line 3 (index 2): (7*2+3) = 17. */
    expectError(7, "g;s;other.dll!Other;17", NULL, "tbl.txt:7: rank 17 appears twice");
    /* Line 9 repeats line 2's API (index 1: dll1.dll!Fn1) with its own rank
     * (7*8+3 = 59). */
    expectError(9, "g;s;dll1.dll!Fn1;59", NULL, "tbl.txt:9: dll1.dll!Fn1 appears twice");
    /* The same API in another case is a different API: no error. */
    size_t len;
    char *text = tableText(9, "g;s;DLL1.dll!Fn1;59", NULL, &len);
    winapi_table *t = NULL;
    char err[AV_ERRLEN];
    assert_int_equal(parseText(text, len, &t, err), AV_OK);
    assert_int_equal(winapiLookup(t, "DLL1.dll", 8, "Fn1", 3), 1023 - 59);
    winapiFree(t);
    free(text);
}

static void test_malformed_lines(void **state) {
    (void)state;
    /* Line 5 is index 4, rank 7*4+3 = 31. */
    expectError(5, "g;s;dll.dll!Fn", NULL, "tbl.txt:5: expected 4 ';' fields");
    expectError(5, "", NULL, "tbl.txt: 1023 API lines"); /* a blank line is skipped */
    expectError(5, "   ", NULL, "tbl.txt:5: expected 4 ';' fields");
    expectError(5, "g;s;dll.dll!Fn;31;x", NULL, "tbl.txt:5: more than 4 ';' fields");
    expectError(5, "g;s;dllFn;31", NULL, "tbl.txt:5: third field must be dll!Function");
    expectError(5, "g;s;!Fn;31", NULL, "tbl.txt:5: third field");
    expectError(5, "g;s;dll.dll!;31", NULL, "tbl.txt:5: third field");
    expectError(5, "g;s;a.dll!b!c;31", NULL, "tbl.txt:5: third field");
    expectError(5, "g;s;dll.dll!Fn;abc", NULL, "tbl.txt:5: rank must be an integer 0..1023");
    expectError(5, "g;s;dll.dll!Fn;", NULL, "tbl.txt:5: rank must be");
    expectError(5, "g;s;dll.dll!Fn;31x", NULL, "tbl.txt:5: rank must be");
    expectError(5, "g;s;dll.dll!Fn;3 1", NULL, "tbl.txt:5: rank must be");
    expectError(5, "g;s;dll.dll!Fn;-1", NULL, "tbl.txt:5: rank must be");
    expectError(5, "g;s;dll.dll!Fn;+31", NULL, "tbl.txt:5: rank must be");
    expectError(5, "g;s;dll.dll!Fn;1024", NULL, "tbl.txt:5: rank must be");
    expectError(5, "g;s;dll.dll!Fn;99999999999999999999999", NULL, "tbl.txt:5: rank must be");
    /* The last line can be bad too. Line 1024 is index 1023: rank
     * (7*1023+3) % 1024 = 7164 % 1024 = 1020. */
    expectError(1024, "g;s;dll.dll!Fn;x1020", NULL, "tbl.txt:1024: rank must be");
}

static void test_line_numbers_count_blank_lines(void **state) {
    (void)state;
    /* Two blank lines before the table: generated line 5 is text line 7. */
    size_t len;
    char *body = tableText(5, "g;s;broken", NULL, &len);
    fx_buf b = {0};
    fxAppendf(&b, "\n\r\n%s", body);
    winapi_table *t = NULL;
    char err[AV_ERRLEN];
    fx_assert_err(parseText(b.p, b.len, &t, err), AV_ERR_PARSE, err, "tbl.txt:7: expected 4");
    free(body);
    free(b.p);
}

static void test_null_err_buffer(void **state) {
    (void)state;
    size_t len;
    char *text = tableText(5, "g;s;broken", NULL, &len);
    winapi_table *t = NULL;
    assert_int_equal(winapiParse(text, len, "tbl.txt", &t, NULL, 0), AV_ERR_PARSE);
    assert_null(t);
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_bit_order),
        cmocka_unit_test(test_lookup_exact),
        cmocka_unit_test(test_crlf_whitespace_blank_lines),
        cmocka_unit_test(test_upstream_table),
        cmocka_unit_test(test_line_count),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_malformed_lines),
        cmocka_unit_test(test_line_numbers_count_blank_lines),
        cmocka_unit_test(test_null_err_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

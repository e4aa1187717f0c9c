/*
 * test_event.c - parsing dump-ready events, vm_name resolution, dump names and
 * the error-code table (common/event.c, common/event_error.c).
 *
 * The examples under schemas/examples/apivector.dump-ready.v1/ are run through
 * the parser: every valid one is accepted, every invalid one rejected as a
 * schema violation (test_event_schema.sh additionally compares the parser with
 * python3-jsonschema on mutated documents). The other tests pin the exact
 * messages, the classification of failures and the resolution rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

#define EV_HEAD "{\"schema\": \"apivector.dump-ready.v1\", \"event_id\": \"e1\""

/* Parses text; returns the event (or NULL) and leaves the code and message. */
static event_dump_ready *parse(const char *text, event_error *code, char *err) {
    event_dump_ready *ev = NULL;
    av_status st = eventParseDumpReady(text, strlen(text), &ev, code, err, AV_ERRLEN);
    assert_int_equal(st == AV_OK, ev != NULL);
    return ev;
}

/* Asserts that text is rejected with code and exactly message. */
static void expect_error(const char *text, event_error code, const char *message) {
    char err[AV_ERRLEN] = "";
    event_error got = EVENT_ERR_NONE;
    event_dump_ready *ev = parse(text, &got, err);
    if (ev) {
        fail_msg("accepted: %s", text);
    }
    assert_string_equal(eventErrorName(got), eventErrorName(code));
    if (message) {
        assert_string_equal(err, message);
    }
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[65536];
    *len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_true(*len < sizeof(buf));
    return buf;
}

static int run_examples(const char *kind, bool expect_ok) {
    const char *src = getenv("AV_SOURCE_DIR");
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/schemas/examples/apivector.dump-ready.v1/%s",
             src ? src : "../..", kind);
    DIR *d = opendir(dir);
    if (!d) {
        fail_msg("cannot open %s (set AV_SOURCE_DIR)", dir);
    }
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strstr(de->d_name, ".json")) {
            continue;
        }
        char path[2048], err[AV_ERRLEN] = "";
        size_t len;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        const char *text = read_file(path, &len);
        event_dump_ready *ev = NULL;
        event_error code = EVENT_ERR_NONE;
        av_status st = eventParseDumpReady(text, len, &ev, &code, err, sizeof(err));
        if ((st == AV_OK) != expect_ok) {
            fail_msg("%s: expected %s, got %s", path, expect_ok ? "accept" : "reject",
                     st == AV_OK ? "accept" : err);
        }
        if (!expect_ok) {
            assert_int_equal(code, EVENT_ERR_SCHEMA_VIOLATION);
            assert_true(strlen(err) > 5);
        }
        eventFree(ev);
        n++;
    }
    closedir(d);
    return n;
}

static void test_examples_valid_accepted(void **state) {
    assert_true(run_examples("valid", true) >= 10);
}

static void test_examples_invalid_rejected(void **state) {
    assert_true(run_examples("invalid", false) >= 40);
}

static void test_full_event_fields(void **state) {
    char err[AV_ERRLEN];
    event_error code;
    event_dump_ready *ev =
        parse(EV_HEAD
              ", \"dump\": {\"url\": \"https://h/a/PID_150.exe.dmp_0x00400000?t=1#f\", \"sha256\": "
              "\"40c4ab3ac4b3ba2ad7323cdd4d50090b7bc99a157fb14752d44955b935b21342\", \"size\": "
              "65536.0, \"base_address\": \"0xFFFFFFFFFFFFFFFF\"}, \"submission\": {\"sid\": "
              "\"s1\", \"tags\": {\"vm_name\": \"t\", \"x\": [1]}}, \"file_type\": \"exe\", "
              "\"vectors\": [\"4:4:A16gA57BA35EA59E\", \"0:0:A171\"]}",
              &code, err);
    assert_non_null(ev);
    assert_string_equal(ev->event_id, "e1");
    assert_true(ev->has_dump && ev->dump.has_size && ev->dump.has_base_address);
    assert_int_equal(ev->dump.size, 65536);
    assert_true(ev->dump.base_address == UINT64_MAX);
    assert_string_equal(ev->dump.sha256,
                        "40c4ab3ac4b3ba2ad7323cdd4d50090b7bc99a157fb14752d44955b935b21342");
    assert_null(ev->dump.name);
    assert_string_equal(eventDumpName(ev), "PID_150.exe.dmp_0x00400000");
    assert_string_equal(ev->sid, "s1");
    assert_string_equal(ev->tags_vm_name, "t");
    assert_null(ev->metadata_vm_name);
    assert_int_equal(ev->nvectors, 2);
    assert_string_equal(ev->vectors[1], "0:0:A171");
    eventFree(ev);
}

static void test_input_need_not_be_terminated(void **state) {
    const char *text = EV_HEAD ", \"vectors\": [\"1:2:A\"]}garbage after the length";
    size_t len = strstr(text, "garbage") - text;
    event_dump_ready *ev = NULL;
    assert_int_equal(eventParseDumpReady(text, len, &ev, NULL, NULL, 0), AV_OK);
    assert_non_null(ev);
    eventFree(ev);
    assert_int_equal(eventParseDumpReady(text, len + 3, &ev, NULL, NULL, 0), AV_ERR_PARSE);
    assert_null(ev);
}

static void test_invalid_json_classified(void **state) {
    char err[AV_ERRLEN];
    event_error code;
    assert_null(parse("", &code, err));
    assert_int_equal(code, EVENT_ERR_INVALID_JSON);
    assert_non_null(strstr(err, "line 1, column 0:"));
    assert_null(parse("{\"schema\":\n  nope}", &code, err));
    assert_int_equal(code, EVENT_ERR_INVALID_JSON);
    assert_true(strncmp(err, "line 2, column ", 15) == 0);
    assert_null(parse("{\"event_id\": \"\xff\"}", &code, err));
    assert_int_equal(code, EVENT_ERR_INVALID_JSON);
    assert_null(parse("{\"event_id\": NaN}", &code, err));
    assert_int_equal(code, EVENT_ERR_INVALID_JSON);
    assert_null(parse("[1,]", &code, err));
    assert_int_equal(code, EVENT_ERR_INVALID_JSON);
    /* JSON, but not the contract */
    expect_error("42", EVENT_ERR_SCHEMA_VIOLATION, "(root): expected an object, got an integer");
    expect_error("{\"a\\u0000\": 1}", EVENT_ERR_SCHEMA_VIOLATION, NULL);
}

static void test_violation_messages(void **state) {
    const event_error V = EVENT_ERR_SCHEMA_VIOLATION;
    expect_error(EV_HEAD ", \"dump\": {\"url\": 5}}", V,
                 "dump.url: expected a string, got an integer");
    expect_error(EV_HEAD ", \"dump\": {\"url\": \"gopher://x\"}}", V,
                 "dump.url: must start with http://, https:// or file://");
    expect_error(EV_HEAD ", \"dump\": {}}", V, "dump.url: missing (required)");
    expect_error(EV_HEAD "}", V, "dump: missing (required unless vectors has at least one item)");
    expect_error(EV_HEAD ", \"priority\": 1, \"vectors\": [\"1:1:A\"]}", V,
                 "priority: unknown key (the contract is closed)");
    expect_error(EV_HEAD ", \"dump\": {\"url\": \"http://h/x\", \"size\": -1}}", V,
                 "dump.size: must be >= 0");
    expect_error(EV_HEAD ", \"dump\": {\"url\": \"http://h/x\", \"size\": 1.5}}", V,
                 "dump.size: expected an integer, got a fraction");
    expect_error(EV_HEAD ", \"dump\": {\"url\": \"http://h/x\", \"sha256\": \"AB\"}}", V,
                 "dump.sha256: expected 64 lower-case hex digits");
    expect_error(EV_HEAD ", \"dump\": {\"url\": \"http://h/x\", \"base_address\": true}}", V,
                 "dump.base_address: expected an integer or a \"0x...\" string, got a boolean");
    expect_error(EV_HEAD ", \"vectors\": [\"1:1:A\", \"x\"]}", V,
                 "vectors[1]: expected in:num:vector (1-9 digits, 1-9 digits, 1-1024 vector "
                 "characters)");
    expect_error(EV_HEAD ", \"vm_name\": \"\", \"vectors\": [\"1:1:A\"]}", V,
                 "vm_name: must not be empty");
    expect_error(EV_HEAD ", \"submission\": {\"metadata\": {\"vm_name\": 1}}, \"vectors\": "
                         "[\"1:1:A\"]}",
                 V, "submission.metadata.vm_name: expected a string, got an integer");
    expect_error("{\"schema\": \"apivector.dump-ready.v2\"}", V,
                 "schema: must be \"apivector.dump-ready.v1\"");
    expect_error("{\"schema\": \"apivector.dump-ready.v1\", \"event_id\": \"a\\u0000b\"}", V,
                 "event_id: contains U+0000");
    /* a long unknown key is shortened, control characters are not echoed */
    expect_error(EV_HEAD
                 ", \"k\\n\\u0001aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                 "aaaaaa\": 1}",
                 V,
                 "k??aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...: unknown key "
                 "(the contract is closed)");
}

static void test_event_id_length_in_characters(void **state) {
    char text[2048], id[1024] = "";
    for (int i = 0; i < 256; i++) {
        strcat(id, "\xc3\xa9"); /* 2 bytes, 1 character */
    }
    snprintf(text, sizeof(text),
             "{\"schema\": \"apivector.dump-ready.v1\", \"event_id\": \"%s\", \"vectors\": "
             "[\"1:1:A\"]}",
             id);
    char err[AV_ERRLEN];
    event_error code;
    event_dump_ready *ev = parse(text, &code, err);
    assert_non_null(ev);
    eventFree(ev);
    strcat(id, "x");
    snprintf(text, sizeof(text),
             "{\"schema\": \"apivector.dump-ready.v1\", \"event_id\": \"%s\", \"vectors\": "
             "[\"1:1:A\"]}",
             id);
    expect_error(text, EVENT_ERR_SCHEMA_VIOLATION, "event_id: longer than 256 characters");
}

static void test_numbers_beyond_64_bits(void **state) {
    char err[AV_ERRLEN];
    event_error code;
    /* a huge integer inside the open tags does not break the event ... */
    event_dump_ready *ev =
        parse(EV_HEAD ", \"dump\": {\"url\": \"http://h/x\", \"base_address\": 4198400}, "
                      "\"submission\": {\"tags\": {\"n\": 123456789012345678901234567890}}}",
              &code, err);
    assert_non_null(ev);
    assert_int_equal(ev->dump.base_address, 4198400);
    eventFree(ev);
    /* ... but then an integer address that a double cannot hold exactly is refused */
    expect_error(EV_HEAD ", \"dump\": {\"url\": \"http://h/x\", \"base_address\": "
                         "9007199254740993}, \"submission\": {\"tags\": {\"n\": "
                         "123456789012345678901234567890}}}",
                 EVENT_ERR_SCHEMA_VIOLATION,
                 "dump.base_address: cannot be read exactly because another number in the "
                 "event exceeds 64 bits");
    /* without the overflow elsewhere the same address is exact */
    ev = parse(EV_HEAD ", \"dump\": {\"url\": \"http://h/x\", \"base_address\": 9007199254740993}}",
               &code, err);
    assert_non_null(ev);
    assert_true(ev->dump.base_address == 9007199254740993ULL);
    eventFree(ev);
    expect_error(EV_HEAD ", \"dump\": {\"url\": \"http://h/x\", \"size\": 1e19}}",
                 EVENT_ERR_SCHEMA_VIOLATION, "dump.size: must be <= 9223372036854775807");
    expect_error(EV_HEAD ", \"dump\": {\"url\": \"http://h/x\", \"size\": 99999999999999999999}}",
                 EVENT_ERR_SCHEMA_VIOLATION, "dump.size: must be <= 9223372036854775807");
}

/* vm_name resolution: each row adds one more source; the strongest wins. */
static void test_resolve_vm_name_order(void **state) {
    static const struct {
        const char *fields, *default_db, *expect;
    } rows[] = {
        {"", "def", NULL},
        {", \"file_type\": \"executable/windows/pe32\"", "def", "def"},
        {", \"file_type\": \"executable/windows/pe32\"", NULL, NULL},
        {", \"file_type\": \"executable/windows/pe32\"", "", NULL},
        {", \"file_type\": \"executable/linux/elf64\"", "def", NULL},
        {", \"file_type\": \"Executable/Windows\"", "def", NULL},
        {", \"file_type\": \"executable/windows\", \"submission\": {\"metadata\": {\"vm_name\": "
         "\"m\"}}",
         "def", "m"},
        {", \"submission\": {\"metadata\": {\"vm_name\": \"m\"}, \"tags\": {\"vm_name\": \"t\"}}",
         "def", "t"},
        {", \"vm_name\": \"v\", \"submission\": {\"metadata\": {\"vm_name\": \"m\"}, \"tags\": "
         "{\"vm_name\": \"t\"}}",
         "def", "v"},
        {", \"submission\": {\"tags\": {\"other\": \"t\"}, \"metadata\": {\"vmname\": \"x\"}}",
         "def", NULL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char text[1024], err[AV_ERRLEN];
        event_error code;
        snprintf(text, sizeof(text), EV_HEAD ", \"vectors\": [\"1:1:A\"]%s}", rows[i].fields);
        event_dump_ready *ev = parse(text, &code, err);
        if (!ev) {
            fail_msg("row %zu rejected: %s", i, err);
        }
        const char *got = eventResolveVmName(ev, rows[i].default_db);
        if (rows[i].expect) {
            assert_non_null(got);
            assert_string_equal(got, rows[i].expect);
        } else {
            assert_null(got);
        }
        eventFree(ev);
    }
}

static void test_dump_name(void **state) {
    static const struct {
        const char *dump, *expect;
    } rows[] = {
        {"{\"url\": \"http://h/a/b/PID_1.dmp_0x00400000\"}", "PID_1.dmp_0x00400000"},
        {"{\"url\": \"http://h/a/b.dmp?name=x/y#frag/z\"}", "b.dmp"},
        {"{\"url\": \"file:///srv/dumps/x%20y%5F0x00400000\"}", "x y_0x00400000"},
        {"{\"url\": \"http://h/a/bad%zz%4\"}", "bad%zz%4"},
        {"{\"url\": \"http://h/a/nul%00x\"}", "nul%00x"},
        {"{\"url\": \"http://h/a/\"}", ""},
        {"{\"url\": \"http://host\"}", ""},
        {"{\"url\": \"http://host?x=/y\"}", ""},
        {"{\"url\": \"http://h/a/url\", \"name\": \"given_0x10000000\"}", "given_0x10000000"},
        {"{\"url\": \"http://h/a/url\", \"name\": \"\"}", ""},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char text[1024], err[AV_ERRLEN];
        event_error code;
        snprintf(text, sizeof(text), EV_HEAD ", \"dump\": %s}", rows[i].dump);
        event_dump_ready *ev = parse(text, &code, err);
        assert_non_null(ev);
        assert_string_equal(eventDumpName(ev), rows[i].expect);
        eventFree(ev);
    }
    char err[AV_ERRLEN];
    event_error code;
    event_dump_ready *ev = parse(EV_HEAD ", \"vectors\": [\"1:1:A\"]}", &code, err);
    assert_null(eventDumpName(ev));
    assert_null(eventDumpName(NULL));
    eventFree(ev);
}

static void test_peek_id(void **state) {
    const char *broken = "{\"event_id\": \"abc\", \"dump\": 7}";
    char *id = eventPeekId(broken, strlen(broken));
    assert_non_null(id);
    assert_string_equal(id, "abc");
    free(id);
    assert_null(eventPeekId("{\"event_id\": 5}", 15));
    assert_null(eventPeekId("{\"event_id\": \"\"}", 16));
    assert_null(eventPeekId("not json", 8));
    assert_null(eventPeekId("[\"event_id\"]", 12));
    assert_null(eventPeekId(NULL, 0));
    const char *big = "{\"event_id\": \"x\", \"n\": 123456789012345678901234567890}";
    id = eventPeekId(big, strlen(big));
    assert_non_null(id);
    free(id);
}

static void test_vectors_and_tags(void **state) {
    int32_t in, num;
    const char *vec;
    assert_true(eventSplitTag("61:118:AgA3@}]^+-*/?,._09", &in, &num, &vec));
    assert_int_equal(in, 61);
    assert_int_equal(num, 118);
    assert_string_equal(vec, "AgA3@}]^+-*/?,._09");
    assert_true(eventSplitTag("999999999:0:A", &in, &num, &vec));
    assert_int_equal(in, 999999999);
    assert_false(eventSplitTag("1234567890:0:A", &in, &num, &vec));
    assert_false(eventSplitTag(":1:A", &in, &num, &vec));
    assert_false(eventSplitTag("1:1:", &in, &num, &vec));
    assert_false(eventSplitTag("1:1:A B", &in, &num, &vec));
    assert_false(eventSplitTag("1-1:A", &in, &num, &vec));
    assert_false(eventSplitTag(NULL, &in, &num, &vec));
    char long_vec[1026];
    memset(long_vec, 'A', 1025);
    long_vec[1025] = '\0';
    assert_false(eventIsVector(long_vec));
    long_vec[1024] = '\0';
    assert_true(eventIsVector(long_vec));
    assert_false(eventIsVector(""));
    assert_false(eventIsVector("A\n"));
}

static void test_error_table(void **state) {
    int transient = 0;
    for (int i = 0; i < EVENT_ERR_COUNT; i++) {
        const event_error_info *e = eventErrorInfo((event_error)i);
        assert_int_equal(eventErrorFromName(e->name), i);
        assert_int_equal(eventErrorCodeIsTransient(e->name), e->transient);
        assert_true(strlen(e->description) > 10);
        transient += e->transient;
    }
    assert_int_equal(EVENT_ERR_COUNT, 15);
    assert_int_equal(transient, 3);
    assert_true(eventErrorCodeIsTransient("artifact_unavailable"));
    assert_true(eventErrorCodeIsTransient("dump_unavailable"));
    assert_false(eventErrorCodeIsTransient("sha256_mismatch"));
    assert_false(eventErrorCodeIsTransient("unknown_vm_name"));
    assert_false(eventErrorCodeIsTransient("no_such_code"));
    assert_false(eventErrorCodeIsTransient(NULL));
    assert_int_equal(eventErrorFromName("nope"), EVENT_ERR_NONE);
    assert_string_equal(eventErrorName(EVENT_ERR_COUNT), "internal");
    assert_string_equal(eventErrorName(EVENT_ERR_NONE), "internal");
    assert_string_equal(eventErrorName(EVENT_ERR_DUMP_TOO_LARGE), "dump_too_large");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_valid_accepted),
        cmocka_unit_test(test_examples_invalid_rejected),
        cmocka_unit_test(test_full_event_fields),
        cmocka_unit_test(test_input_need_not_be_terminated),
        cmocka_unit_test(test_invalid_json_classified),
        cmocka_unit_test(test_violation_messages),
        cmocka_unit_test(test_event_id_length_in_characters),
        cmocka_unit_test(test_numbers_beyond_64_bits),
        cmocka_unit_test(test_resolve_vm_name_order),
        cmocka_unit_test(test_dump_name),
        cmocka_unit_test(test_peek_id),
        cmocka_unit_test(test_vectors_and_tags),
        cmocka_unit_test(test_error_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

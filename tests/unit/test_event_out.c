/*
 * test_event_out.c - building result, match and dead-letter events
 * (common/event_out.c).
 *
 * Built events are parsed back with jansson and their fields compared with
 * the input; each contract rule the builder enforces is broken once and the
 * exact message checked. Dead letters get hostile values: text cut inside a
 * character, invalid UTF-8, NUL bytes, bad keys and messages. Schema validity of
 * the output is proven separately by tests/integration/test_event_schema.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "event_out.h"

#define SHA "40c4ab3ac4b3ba2ad7323cdd4d50090b7bc99a157fb14752d44955b935b21342"
#define T0 1714564800123LL

static const event_out_api apis[] = {
    {4096, 0x75a31c20, "kernel32.dll_0x75a10000", "Sleep", 32, 1, 3},
    {8200, UINT64_MAX, "ntdll.dll_0x7ffb12300000", "None17", 64, -1, 1},
    {8208, 0, "user32.dll_0x0", "MessageBoxW", 64, 0, 2},
};

static event_result sample_result(void) {
    event_result r = {
        .event_id = "ev-1",
        .source = {"apivector.dumps", 3, 1207},
        .dump_url = "http://h/d/PID_1.dmp_0x00400000",
        .dump_sha256 = SHA,
        .dump_size = 65536,
        .dump_name = "PID_1.dmp_0x00400000",
        .base_address = 0x400000,
        .vm_name = "win7",
        .db = "Windows 7",
        .vector = "A16gA57BA35EA59E",
        .in_api_vector = 4,
        .num_unique_apis = 5,
        .percentage = 80.0,
        .confidence = 25.5,
        .include_apis = true,
        .apis = apis,
        .napis = 3,
        .timings_ms = {1.5, 2.25, 0, 3.75},
        .engine_version = "0.1.0",
        .winapi1024_sha256 = SHA,
        .produced_at_ms = T0,
    };
    return r;
}

/* Builds r, parses the text back; fails the test when building fails. */
static json_t *build_result(const event_result *r) {
    char *text = NULL, err[AV_ERRLEN] = "";
    size_t len = 0;
    av_status st = eventOutResult(r, &text, &len, err, sizeof(err));
    if (st != AV_OK) {
        fail_msg("eventOutResult: %s", err);
    }
    assert_int_equal(len, strlen(text));
    assert_null(strchr(text, '\n'));
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    free(text);
    return j;
}

static void expect_result_error(const event_result *r, const char *message) {
    char *text = NULL, err[AV_ERRLEN] = "";
    assert_int_equal(eventOutResult(r, &text, NULL, err, sizeof(err)), AV_ERR_USAGE);
    assert_null(text);
    assert_string_equal(err, message);
}

static void test_result_fields(void **state) {
    event_result r = sample_result();
    json_t *j = build_result(&r);
    assert_string_equal(json_string_value(json_object_get(j, "schema")), "apivector.result.v1");
    assert_string_equal(json_string_value(json_object_get(j, "tag")), "4:5:A16gA57BA35EA59E");
    json_t *dump = json_object_get(j, "dump");
    assert_string_equal(json_string_value(json_object_get(dump, "base_address")), "0x400000");
    assert_string_equal(json_string_value(json_object_get(dump, "name")), "PID_1.dmp_0x00400000");
    assert_int_equal(json_integer_value(json_object_get(dump, "size")), 65536);
    json_t *src = json_object_get(j, "source");
    assert_int_equal(json_integer_value(json_object_get(src, "partition")), 3);
    assert_int_equal(json_integer_value(json_object_get(src, "offset")), 1207);
    json_t *a = json_object_get(j, "apis");
    assert_int_equal(json_array_size(a), 3);
    json_t *a1 = json_array_get(a, 1);
    assert_string_equal(json_string_value(json_object_get(a1, "address")), "0xffffffffffffffff");
    assert_true(json_is_null(json_object_get(a1, "in_import_table")));
    assert_true(json_is_true(json_object_get(json_array_get(a, 0), "in_import_table")));
    assert_true(json_is_false(json_object_get(json_array_get(a, 2), "in_import_table")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 2), "address")), "0x0");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "refs")), 3);
    assert_true(json_real_value(json_object_get(j, "confidence")) == 25.5);
    assert_true(json_is_false(json_object_get(j, "stale")));
    assert_null(json_object_get(j, "match_skipped"));
    json_t *t = json_object_get(j, "timings_ms");
    assert_true(json_real_value(json_object_get(t, "crawl")) == 2.25);
    assert_string_equal(json_string_value(json_object_get(j, "produced_at")),
                        "2024-05-01T12:00:00.123Z");
    json_decref(j);
}

static void test_result_optional_parts(void **state) {
    event_result r = sample_result();
    r.include_apis = false;
    r.match_skipped = "confidence 25.50 is not above min_confidence 50.00";
    r.stale = true;
    r.produced_at_ms = 0;
    int64_t before = clockWallMs();
    json_t *j = build_result(&r);
    assert_null(json_object_get(j, "apis"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "match_skipped"), "reason")),
        r.match_skipped);
    assert_true(json_is_true(json_object_get(j, "stale")));
    char now[40];
    eventOutTimestamp(before, now, sizeof(now));
    /* produced "now": same second prefix as the clock read before (or the next second) */
    const char *at = json_string_value(json_object_get(j, "produced_at"));
    assert_int_equal(strlen(at), 24);
    assert_true(strncmp(at, now, 16) == 0);
    json_decref(j);
    /* a percentage computed as exactly 1/3 round-trips through the text */
    r = sample_result();
    r.percentage = 100.0 / 3.0;
    j = build_result(&r);
    assert_true(json_real_value(json_object_get(j, "percentage")) == 100.0 / 3.0);
    json_decref(j);
}

static void test_result_contract_errors(void **state) {
    event_result r = sample_result();
    r.percentage = 100.5;
    expect_result_error(&r, "percentage: 100.5 is not within 0..100");
    r = sample_result();
    r.confidence = NAN;
    expect_result_error(&r, "confidence: nan is not within 0..100");
    r = sample_result();
    r.dump_sha256 = "ABC";
    expect_result_error(&r, "dump.sha256: expected 64 lower-case hex digits");
    r = sample_result();
    r.winapi1024_sha256 = NULL;
    expect_result_error(&r, "engine.winapi1024_sha256: expected 64 lower-case hex digits");
    r = sample_result();
    r.vector = "A16 gA";
    expect_result_error(&r, "vector: not a compressed ApiVector");
    r = sample_result();
    r.event_id = NULL;
    expect_result_error(&r, "event_id: missing");
    r = sample_result();
    r.event_id = "";
    expect_result_error(&r, "event_id: must not be empty");
    r = sample_result();
    r.source.partition = -1;
    expect_result_error(&r, "source.partition: must be >= 0, got -1");
    r = sample_result();
    r.source.offset = -5;
    expect_result_error(&r, "source.offset: must be >= 0, got -5");
    r = sample_result();
    r.in_api_vector = 1025;
    expect_result_error(&r, "in_api_vector: in_api_vector must be 0..1024 and num_unique_apis "
                            "0..999999999");
    r = sample_result();
    r.num_unique_apis = 1000000000;
    expect_result_error(&r, "in_api_vector: in_api_vector must be 0..1024 and num_unique_apis "
                            "0..999999999");
    r = sample_result();
    r.timings_ms.fetch = -1;
    expect_result_error(&r, "timings_ms: every timing must be finite and >= 0");
    r = sample_result();
    r.vm_name = "bad \xff utf8";
    expect_result_error(&r, "vm_name: not valid UTF-8");
    r = sample_result();
    r.match_skipped = "";
    expect_result_error(&r, "match_skipped.reason: must not be empty");
    event_out_api bad[] = {{1, 2, "k.dll", "A", 16, 0, 1}};
    r = sample_result();
    r.apis = bad;
    r.napis = 1;
    expect_result_error(&r, "apis[0]: bitness must be 32 or 64, got 16");
    bad[0].bitness = 32;
    bad[0].refs = 0;
    expect_result_error(&r, "apis[0]: refs must be >= 1, in_import_table -1..1, offset <= 2^63-1");
    bad[0].refs = 1;
    bad[0].dll = "";
    expect_result_error(&r, "apis[0]: must not be empty");
    /* the same bad list is fine when the list is not included */
    r.include_apis = false;
    json_decref(build_result(&r));
}

static event_match sample_match(const event_out_score *top, size_t ntop, const event_out_score *fam,
                                size_t nfam) {
    event_match m = {
        .event_id = "ev-1",
        .source = {"apivector.dumps", 0, 9},
        .vector_source = EVENT_VECTOR_FROM_EVENT,
        .vector = "A16gA57BA35EA59E",
        .confidence = 92.5,
        .collection_name = "restricted.csv",
        .collection_sha256 = SHA,
        .collection_families = 2,
        .collection_vectors = 3,
        .classification = "TLP:AMBER",
        .top = top,
        .ntop = ntop,
        .families = fam,
        .nfamilies = nfam,
        .produced_at_ms = T0,
    };
    return m;
}

static void test_match(void **state) {
    const event_out_score top[] = {{"f1", "s1", 1.0}, {"f2", "s\"2", 0.5}, {"f1", "s3", 0.5}};
    const event_out_score fam[] = {{"f1", "ignored", 1.0}, {"f2", NULL, 0.5}};
    event_match m = sample_match(top, 3, fam, 2);
    char *text = NULL, err[AV_ERRLEN] = "";
    assert_int_equal(eventOutMatch(&m, &text, NULL, err, sizeof(err)), AV_OK);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    json_t *v = json_object_get(j, "vector");
    assert_string_equal(json_string_value(json_object_get(v, "source")), "event");
    assert_true(json_real_value(json_object_get(v, "confidence")) == 92.5);
    json_t *c = json_object_get(j, "collection");
    assert_string_equal(json_string_value(json_object_get(c, "classification")), "TLP:AMBER");
    assert_int_equal(json_integer_value(json_object_get(c, "vectors")), 3);
    assert_int_equal(json_array_size(json_object_get(j, "top")), 3);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "top"), 1), "sample")),
        "s\"2");
    json_t *f0 = json_array_get(json_object_get(j, "families"), 0);
    assert_null(json_object_get(f0, "sample"));
    assert_int_equal(json_object_size(f0), 2);
    json_decref(j);
}

static void test_match_contract_errors(void **state) {
    event_out_score many[11];
    for (int i = 0; i < 11; i++) {
        many[i] = (event_out_score){"f", "s", 1.0 - i / 20.0};
    }
    char *text = NULL, err[AV_ERRLEN];
    event_match m = sample_match(many, 11, NULL, 0);
    assert_int_equal(eventOutMatch(&m, &text, NULL, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "top: 11 entries, at most 10 allowed");
    m.ntop = 10;
    assert_int_equal(eventOutMatch(&m, &text, NULL, err, sizeof(err)), AV_OK);
    free(text);
    const event_out_score unsorted[] = {{"a", "s", 0.5}, {"b", "s", 0.75}};
    m = sample_match(NULL, 0, unsorted, 2);
    assert_int_equal(eventOutMatch(&m, &text, NULL, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "families[1]: scores must be sorted descending");
    const event_out_score high[] = {{"a", "s", 1.5}};
    m = sample_match(high, 1, NULL, 0);
    assert_int_equal(eventOutMatch(&m, &text, NULL, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "top[0]: score 1.5 is not within 0..1");
    m = sample_match(NULL, 0, NULL, 0);
    m.vector_source = (event_vector_source)7;
    assert_int_equal(eventOutMatch(&m, &text, NULL, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "vector.source: unknown source 7");
    m = sample_match(NULL, 0, NULL, 0);
    m.collection_sha256 = SHA "0";
    assert_int_equal(eventOutMatch(&m, &text, NULL, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "collection.sha256: expected 64 lower-case hex digits");
    m = sample_match(NULL, 0, NULL, 0);
    m.confidence = 100.01;
    assert_int_equal(eventOutMatch(&m, &text, NULL, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "vector.confidence: 100.01 is not within 0..100");
    m = sample_match(NULL, 0, NULL, 0);
    m.ntop = 2;
    assert_int_equal(eventOutMatch(&m, &text, NULL, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "top: a count is set but its array is NULL");
}

/* Builds a dead letter of value[0..len) kept to max bytes and parses it. */
static json_t *dead_letter(const void *value, size_t len, size_t max, const void *key,
                           size_t keylen, const char *message) {
    event_dead_letter d = {
        .code = EVENT_ERR_SCHEMA_VIOLATION,
        .message = message,
        .source = {"in", 0, 1},
        .key = key,
        .keylen = keylen,
        .event_id = NULL,
        .attempts = 1,
        .value = value,
        .value_len = len,
        .max_value_bytes = max,
        .produced_at_ms = T0,
    };
    char *text = NULL, err[AV_ERRLEN] = "";
    if (eventOutDeadLetter(&d, &text, NULL, err, sizeof(err)) != AV_OK) {
        fail_msg("eventOutDeadLetter: %s", err);
    }
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr); /* jansson refuses invalid UTF-8 */
    if (!j) {
        fail_msg("not JSON: %s: %s", jerr.text, text);
    }
    free(text);
    return j;
}

static const char *original(json_t *j, const char *field) {
    return json_string_value(json_object_get(json_object_get(j, "original"), field));
}

static bool truncated(json_t *j) {
    return json_is_true(json_object_get(json_object_get(j, "original"), "truncated"));
}

static void test_dead_letter_text(void **state) {
    json_t *j = dead_letter("{\"a\": 1}", 8, 100, "k", 1, "boom");
    assert_string_equal(original(j, "value"), "{\"a\": 1}");
    assert_string_equal(original(j, "encoding"), "utf-8");
    assert_false(truncated(j));
    json_t *err = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(err, "code")), "schema_violation");
    assert_string_equal(json_string_value(json_object_get(err, "message")), "boom");
    assert_true(json_is_false(json_object_get(err, "transient")));
    assert_true(json_is_null(json_object_get(j, "event_id")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "source"), "key")),
                        "k");
    json_decref(j);
    /* "aé€" is 1+2+3 bytes: cuts inside a character back off to its start */
    static const char text[] = "a\xc3\xa9\xe2\x82\xac";
    static const struct {
        size_t max;
        const char *kept;
    } cuts[] = {{0, ""},          {1, "a"},         {2, "a"},  {3, "a\xc3\xa9"},
                {4, "a\xc3\xa9"}, {5, "a\xc3\xa9"}, {6, text}, {7, text}};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        j = dead_letter(text, 6, cuts[i].max, NULL, 0, "m");
        assert_string_equal(original(j, "encoding"), "utf-8");
        assert_string_equal(original(j, "value"), cuts[i].kept);
        assert_int_equal(truncated(j), strlen(cuts[i].kept) < 6);
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(j, "original"), "size")), 6);
        json_decref(j);
    }
}

static void test_dead_letter_binary(void **state) {
    /* invalid UTF-8: the kept bytes as base64, nothing altered */
    json_t *j = dead_letter("\xff\xfe{\"a\"", 6, 4, NULL, 0, "m");
    assert_string_equal(original(j, "encoding"), "base64");
    assert_string_equal(original(j, "value"), "//57Ig==");
    assert_true(truncated(j));
    json_decref(j);
    /* a bad byte past the cut does not matter */
    j = dead_letter("ab\xff", 3, 2, NULL, 0, "m");
    assert_string_equal(original(j, "encoding"), "utf-8");
    assert_string_equal(original(j, "value"), "ab");
    json_decref(j);
    /* surrogates, overlong forms and code points above U+10FFFF are not UTF-8 */
    const char *bad[] = {"\xed\xa0\x80", "\xc0\xaf", "\xe0\x80\xaf", "\xf4\x90\x80\x80", "\xc3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = dead_letter(bad[i], strlen(bad[i]), 100, NULL, 0, "m");
        assert_string_equal(original(j, "encoding"), "base64");
        json_decref(j);
    }
    /* NUL is valid UTF-8 but many JSON sinks refuse \u0000: base64 */
    j = dead_letter("a\0b", 3, 10, NULL, 0, "m");
    assert_string_equal(original(j, "encoding"), "base64");
    assert_string_equal(original(j, "value"), "YQBi");
    json_decref(j);
    /* empty value */
    j = dead_letter(NULL, 0, 10, NULL, 0, "m");
    assert_string_equal(original(j, "value"), "");
    assert_false(truncated(j));
    json_decref(j);
}

static void test_dead_letter_key_and_message(void **state) {
    json_t *j = dead_letter("x", 1, 10, "k\xff\x00z", 4, "bad \xc3 byte");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "source"), "key")),
                        "k\xef\xbf\xbd\xef\xbf\xbdz");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                        "bad \xef\xbf\xbd byte");
    json_decref(j);
    j = dead_letter("x", 1, 10, NULL, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                        eventErrorInfo(EVENT_ERR_SCHEMA_VIOLATION)->description);
    assert_true(json_is_null(json_object_get(json_object_get(j, "source"), "key")));
    json_decref(j);
    char longkey[2000];
    memset(longkey, 'k', sizeof(longkey));
    j = dead_letter("x", 1, 10, longkey, sizeof(longkey), "m");
    assert_int_equal(
        strlen(json_string_value(json_object_get(json_object_get(j, "source"), "key"))),
        EVENT_OUT_MAX_KEY_BYTES);
    json_decref(j);
}

static void test_dead_letter_codes_and_errors(void **state) {
    event_dead_letter d = {
        .code = EVENT_ERR_DUMP_UNAVAILABLE,
        .source = {"in", 1, 2},
        .event_id = "ev-9",
        .attempts = 5,
        .max_value_bytes = 10,
    };
    char *text = NULL, err[AV_ERRLEN];
    assert_int_equal(eventOutDeadLetter(&d, &text, NULL, err, sizeof(err)), AV_OK);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    assert_true(json_is_true(json_object_get(json_object_get(j, "error"), "transient")));
    assert_string_equal(json_string_value(json_object_get(j, "event_id")), "ev-9");
    assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 5);
    json_decref(j);
    d.attempts = 0;
    assert_int_equal(eventOutDeadLetter(&d, &text, NULL, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "attempts: must be >= 1, got 0");
    d.attempts = 1;
    d.code = EVENT_ERR_COUNT;
    assert_int_equal(eventOutDeadLetter(&d, &text, NULL, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "error.code: unknown code 15");
    d.code = EVENT_ERR_INTERNAL;
    d.value_len = 3;
    assert_int_equal(eventOutDeadLetter(&d, &text, NULL, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "original.value: value_len is set but value is NULL");
    d.value_len = 0;
    d.source.topic = "";
    assert_int_equal(eventOutDeadLetter(&d, &text, NULL, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "source.topic: must not be empty");
}

static void test_timestamps_and_utf8(void **state) {
    char buf[40];
    assert_string_equal(eventOutTimestamp(0, buf, sizeof(buf)), "1970-01-01T00:00:00.000Z");
    assert_string_equal(eventOutTimestamp(T0, buf, sizeof(buf)), "2024-05-01T12:00:00.123Z");
    assert_string_equal(eventOutTimestamp(951782400999LL, buf, sizeof(buf)),
                        "2000-02-29T00:00:00.999Z");
    assert_true(clockWallMs() > T0);
    assert_true(eventOutIsUtf8("", 0));
    assert_true(eventOutIsUtf8("\xf0\x9f\x98\x80 \xef\xbf\xbd", 8));
    assert_false(eventOutIsUtf8("\xf0\x9f\x98", 3));
    assert_false(eventOutIsUtf8("\x80", 1));
    char *s = eventOutUtf8Lossy("a\x80\xf0\x9f\x98\x80", 6);
    assert_string_equal(s, "a\xef\xbf\xbd\xf0\x9f\x98\x80");
    free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_fields),
        cmocka_unit_test(test_result_optional_parts),
        cmocka_unit_test(test_result_contract_errors),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_match_contract_errors),
        cmocka_unit_test(test_dead_letter_text),
        cmocka_unit_test(test_dead_letter_binary),
        cmocka_unit_test(test_dead_letter_key_and_message),
        cmocka_unit_test(test_dead_letter_codes_and_errors),
        cmocka_unit_test(test_timestamps_and_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

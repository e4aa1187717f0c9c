/*
 * test_replay.c - replay start offsets and --from-timestamp parsing
 * (consumer/replay.c).
 *
 * librdkafka 2.0.2's mock cluster answers every offsets-for-times lookup
 * with -1, so the --from-timestamp path cannot run end to end against the
 * test broker; this test covers what apivector decides around the lookup:
 * parsing the timestamp, turning a lookup answer into a start offset (or a
 * refusal), and the position --until-end accounts from. Expected epoch
 * values were computed independently with Python's datetime.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "replay.h"

static int64_t parseOk(const char *s) {
    char err[AV_ERRLEN] = "";
    int64_t ms = -12345;
    av_status st = replayParseTimestamp(s, &ms, err, sizeof(err));
    if (st != AV_OK)
        fail_msg("'%s' refused: %s", s, err);
    return ms;
}

static void parseFails(const char *s, av_status want, const char *fragment) {
    char err[AV_ERRLEN] = "";
    int64_t ms = 777;
    assert_int_equal(replayParseTimestamp(s, &ms, err, sizeof(err)), want);
    assert_int_equal(ms, 777); /* untouched on failure */
    if (!strstr(err, fragment))
        fail_msg("message for '%s' lacks '%s': %s", s, fragment, err);
}

static void testMillis(void **state) {
    assert_int_equal(parseOk("0"), 0);
    assert_int_equal(parseOk("1714564800000"), 1714564800000LL);
    assert_int_equal(parseOk("9999999999999999"), 9999999999999999LL);
    parseFails("12345678901234567", AV_ERR_PARSE, "more than 16 digits");
    parseFails("", AV_ERR_PARSE, "empty");
    parseFails("-5", AV_ERR_PARSE, "bad date");
    parseFails("17145648e3", AV_ERR_PARSE, "--from-timestamp '17145648e3'");
}

static void testRfc3339(void **state) {
    assert_int_equal(parseOk("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parseOk("2024-05-01T12:00:00Z"), 1714564800000LL);
    assert_int_equal(parseOk("2024-05-01t12:00:00z"), 1714564800000LL);
    assert_int_equal(parseOk("2024-05-01 12:00:00Z"), 1714564800000LL);
    assert_int_equal(parseOk("2024-05-01T12:00:00+00:00"), 1714564800000LL);
    assert_int_equal(parseOk("2024-05-01T12:00:00+02:00"), 1714557600000LL);
    assert_int_equal(parseOk("2024-05-01T12:00:00-05:30"), 1714584600000LL);
    assert_int_equal(parseOk("2024-02-29T23:59:59Z"), 1709251199000LL);
    assert_int_equal(parseOk("2000-03-01T00:00:00Z"), 951868800000LL);
    assert_int_equal(parseOk("9999-12-31T23:59:59Z"), 253402300799000LL);
    /* Fractions: milliseconds kept, finer digits truncated. */
    assert_int_equal(parseOk("2024-05-01T12:00:00.250Z"), 1714564800250LL);
    assert_int_equal(parseOk("2024-05-01T12:00:00.2Z"), 1714564800200LL);
    assert_int_equal(parseOk("2024-05-01T12:00:00.123999Z"), 1714564800123LL);
    /* A leap second counts as the next second. */
    assert_int_equal(parseOk("2016-12-31T23:59:60Z"), 1483228800000LL);
}

static void testRfc3339Errors(void **state) {
    parseFails("2023-02-29T00:00:00Z", AV_ERR_PARSE, "no such date");
    parseFails("2024-13-01T00:00:00Z", AV_ERR_PARSE, "no such date");
    parseFails("2024-04-31T00:00:00Z", AV_ERR_PARSE, "no such date");
    parseFails("2024-05-00T00:00:00Z", AV_ERR_PARSE, "no such date");
    parseFails("2024-05-01T24:00:00Z", AV_ERR_PARSE, "no such time");
    parseFails("2024-05-01T12:60:00Z", AV_ERR_PARSE, "no such time");
    parseFails("2024-05-01T12:00:00", AV_ERR_PARSE, "time zone");
    parseFails("2024-05-01T12:00:00+2:00", AV_ERR_PARSE, "time zone");
    parseFails("2024-05-01T12:00:00+24:00", AV_ERR_PARSE, "time zone");
    parseFails("2024-05-01T12:00:00Zjunk", AV_ERR_PARSE, "time zone");
    parseFails("2024-05-01T12:00:00.Z", AV_ERR_PARSE, "empty fraction");
    parseFails("2024-05-01", AV_ERR_PARSE, "missing 'T'");
    parseFails("2024-05-01T12:00", AV_ERR_PARSE, "bad time");
    parseFails("24-05-01T12:00:00Z", AV_ERR_PARSE, "bad date");
    parseFails("yesterday", AV_ERR_PARSE, "expected milliseconds since the epoch or RFC 3339");
    parseFails("1969-12-31T23:59:59Z", AV_ERR_RANGE, "before 1970");
    parseFails("1970-01-01T00:30:00+01:00", AV_ERR_RANGE, "before 1970");
}

static void testAssignOffset(void **state) {
    assert_int_equal(replayAssignOffset(REPLAY_FROM_BEGINNING, true), RD_KAFKA_OFFSET_BEGINNING);
    /* Assigned again after a rebalance: resume, never replay twice. */
    assert_int_equal(replayAssignOffset(REPLAY_FROM_BEGINNING, false), RD_KAFKA_OFFSET_INVALID);
    assert_int_equal(replayAssignOffset(REPLAY_COMMITTED, true), RD_KAFKA_OFFSET_INVALID);
    assert_int_equal(replayAssignOffset(REPLAY_FROM_TIMESTAMP, false), RD_KAFKA_OFFSET_INVALID);
}

static void testTimestampOffset(void **state) {
    char err[AV_ERRLEN];
    int64_t off = 99;
    assert_int_equal(replayTimestampOffset("t", 3, 0, NULL, 42, &off, err, sizeof(err)), AV_OK);
    assert_int_equal(off, 42);
    assert_int_equal(replayTimestampOffset("t", 3, 0, NULL, 0, &off, err, sizeof(err)), AV_OK);
    assert_int_equal(off, 0);
    /* -1: no message at or after the timestamp; what the 2.0.2 mock answers. */
    assert_int_equal(replayTimestampOffset("t", 3, 0, NULL, -1, &off, err, sizeof(err)), AV_OK);
    assert_int_equal(off, RD_KAFKA_OFFSET_END);

    off = 99;
    assert_int_equal(replayTimestampOffset("t", 3, RD_KAFKA_RESP_ERR__TIMED_OUT, "Local: Timed out",
                                           5, &off, err, sizeof(err)),
                     AV_ERR_TRANSIENT);
    assert_int_equal(off, 99);
    assert_non_null(strstr(err, "t [3]"));
    assert_non_null(strstr(err, "Timed out"));
    assert_int_equal(replayTimestampOffset("t", 1, 0, NULL, -1001, &off, err, sizeof(err)),
                     AV_ERR_TRANSIENT);
    assert_non_null(strstr(err, "returned -1001"));
}

static void testResetEarliest(void **state) {
    assert_true(replayResetIsEarliest(NULL));
    assert_true(replayResetIsEarliest("earliest"));
    assert_true(replayResetIsEarliest("SMALLEST"));
    assert_true(replayResetIsEarliest("beginning"));
    assert_false(replayResetIsEarliest("latest"));
    assert_false(replayResetIsEarliest("largest"));
    assert_false(replayResetIsEarliest("end"));
}

static void testStartPosition(void **state) {
    /* Seek targets win over the committed offset. */
    assert_int_equal(replayStartPosition(RD_KAFKA_OFFSET_BEGINNING, 80, 10, 100, true), 10);
    assert_int_equal(replayStartPosition(RD_KAFKA_OFFSET_END, 20, 10, 100, true), 100);
    assert_int_equal(replayStartPosition(42, 80, 10, 100, true), 42);
    /* No seek: the group's committed offset, else auto.offset.reset. */
    assert_int_equal(replayStartPosition(RD_KAFKA_OFFSET_INVALID, 80, 10, 100, true), 80);
    assert_int_equal(replayStartPosition(RD_KAFKA_OFFSET_INVALID, -1001, 10, 100, true), 10);
    assert_int_equal(replayStartPosition(RD_KAFKA_OFFSET_INVALID, -1001, 10, 100, false), 100);
    /* Clamped into the partition's range. */
    assert_int_equal(replayStartPosition(RD_KAFKA_OFFSET_INVALID, 5, 10, 100, true), 10);
    assert_int_equal(replayStartPosition(500, -1001, 10, 100, true), 100);
    /* An empty partition is at its end at once. */
    assert_int_equal(replayStartPosition(RD_KAFKA_OFFSET_BEGINNING, -1001, 7, 7, true), 7);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testMillis),          cmocka_unit_test(testRfc3339),
        cmocka_unit_test(testRfc3339Errors),   cmocka_unit_test(testAssignOffset),
        cmocka_unit_test(testTimestampOffset), cmocka_unit_test(testResetEarliest),
        cmocka_unit_test(testStartPosition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

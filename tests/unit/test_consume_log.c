/*
 * test_consume_log.c - the consumer's JSON log lines (consumer/log.c) and
 * the statistics parser that feeds the status (consumer/kafka_stats.c,
 * consumer/status.c).
 *
 * Log lines are parsed back with jansson: one object per line, the fields
 * the operations issue asks for, and never a registered secret, even when it
 * is embedded in a library's message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>

#include "kafka.h"
#include "log.h"
#include "status.h"

static json_t *formatLine(config_log_level level, const log_fields *f, const char *msg) {
    char buf[8192];
    size_t n = logFormat(buf, sizeof(buf), 1714564800123LL, level, f, msg);
    assert_true(n > 0);
    assert_int_equal(buf[n - 1], '\n');
    assert_null(memchr(buf, '\n', n - 1)); /* one line */
    json_error_t jerr;
    json_t *o = json_loadb(buf, n, 0, &jerr);
    if (!o)
        fail_msg("not JSON: %s (%.*s)", jerr.text, (int)n, buf);
    return o;
}

static void testFields(void **state) {
    log_fields f = {.component = "consume",
                    .event_id = "e-1",
                    .topic = "apivector.dumps",
                    .partition = 2,
                    .offset = 41,
                    .attempt = 3,
                    .error_code = "dump_unavailable",
                    .has_timings = true,
                    .fetch_ms = 1.5,
                    .total_ms = 2.25};
    json_t *o = formatLine(CONFIG_LOG_WARN, &f, "retry \"soon\"\tplease");
    assert_string_equal(json_string_value(json_object_get(o, "ts")), "2024-05-01T12:00:00.123Z");
    assert_string_equal(json_string_value(json_object_get(o, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(o, "msg")), "retry \"soon\"\tplease");
    assert_string_equal(json_string_value(json_object_get(o, "event_id")), "e-1");
    assert_string_equal(json_string_value(json_object_get(o, "topic")), "apivector.dumps");
    assert_int_equal(json_integer_value(json_object_get(o, "partition")), 2);
    assert_int_equal(json_integer_value(json_object_get(o, "offset")), 41);
    assert_int_equal(json_integer_value(json_object_get(o, "attempt")), 3);
    assert_string_equal(json_string_value(json_object_get(o, "error_code")), "dump_unavailable");
    json_t *t = json_object_get(o, "timings_ms");
    assert_true(json_real_value(json_object_get(t, "fetch")) == 1.5);
    assert_true(json_real_value(json_object_get(t, "total")) == 2.25);
    json_decref(o);

    /* Without fields: just ts, level, msg. */
    o = formatLine(CONFIG_LOG_ERROR, NULL, "x");
    assert_int_equal(json_object_size(o), 3);
    assert_string_equal(json_string_value(json_object_get(o, "level")), "error");
    json_decref(o);
}

static void testSecretsScrubbed(void **state) {
    logAddSecret("hunter2-sasl");
    logAddSecret("abc"); /* too short to mask: would hide ordinary words */
    logAddSecret("mpkey-0123456789");
    json_t *o = formatLine(CONFIG_LOG_ERROR, NULL,
                           "auth failed for hunter2-sasl; GET ...?k=mpkey-0123456789&k2="
                           "mpkey-0123456789 abc hunter2-sasl");
    const char *msg = json_string_value(json_object_get(o, "msg"));
    assert_null(strstr(msg, "hunter2"));
    assert_null(strstr(msg, "mpkey"));
    assert_string_equal(msg, "auth failed for ***; GET ...?k=***&k2=*** abc ***");
    json_decref(o);
    logReset();
    o = formatLine(CONFIG_LOG_INFO, NULL, "hunter2-sasl");
    assert_string_equal(json_string_value(json_object_get(o, "msg")), "hunter2-sasl");
    json_decref(o);
}

static void testInvalidUtf8AndLevels(void **state) {
    json_t *o = formatLine(CONFIG_LOG_INFO, NULL, "bad \xff\xfe bytes");
    const char *msg = json_string_value(json_object_get(o, "msg"));
    assert_non_null(strstr(msg, "bad "));
    assert_non_null(strstr(msg, "\xef\xbf\xbd")); /* U+FFFD */
    json_decref(o);

    logSetLevel(CONFIG_LOG_WARN);
    assert_false(logEnabled(CONFIG_LOG_INFO));
    assert_true(logEnabled(CONFIG_LOG_WARN));
    assert_true(logEnabled(CONFIG_LOG_ERROR));
    logReset();
    assert_true(logEnabled(CONFIG_LOG_INFO));
    assert_false(logEnabled(CONFIG_LOG_DEBUG));

    assert_int_equal(logFromSyslog(3), CONFIG_LOG_ERROR);
    assert_int_equal(logFromSyslog(4), CONFIG_LOG_WARN);
    assert_int_equal(logFromSyslog(6), CONFIG_LOG_INFO);
    assert_int_equal(logFromSyslog(7), CONFIG_LOG_DEBUG);

    char small[16];
    assert_int_equal(logFormat(small, sizeof(small), 0, CONFIG_LOG_INFO, NULL, "too long"), 0);
}

/* A statistics document shaped like librdkafka 2.0.2's (trimmed). */
static const char *statsJson(const char *state) {
    static char buf[2048];
    snprintf(buf, sizeof(buf),
             "{\"name\":\"apivector#consumer-1\",\"type\":\"consumer\","
             "\"brokers\":{\"127.0.0.1:9/bootstrap\":{\"nodeid\":-1,\"state\":\"UP\"},"
             "\"127.0.0.1:9/1\":{\"nodeid\":1,\"state\":\"%s\"},"
             "\"GroupCoordinator\":{\"nodeid\":-1,\"state\":\"UP\"}},"
             "\"topics\":{\"apivector.dumps\":{\"topic\":\"apivector.dumps\",\"partitions\":{"
             "\"0\":{\"partition\":0,\"desired\":true,\"hi_offset\":120,\"consumer_lag\":20},"
             "\"1\":{\"partition\":1,\"desired\":false,\"hi_offset\":7,\"consumer_lag\":7},"
             "\"-1\":{\"partition\":-1,\"desired\":false,\"hi_offset\":-1,\"consumer_lag\":-1}"
             "}}}}",
             state);
    return buf;
}

static void testStatsApply(void **state) {
    status st;
    status_snapshot snap;
    status_partition parts[2] = {{.topic = "apivector.dumps", .partition = 0, .lag = -1},
                                 {.topic = "apivector.dumps", .partition = 1, .lag = -1}};
    assert_int_equal(statusInit(&st), 0);
    statusSetPartitions(&st, parts, 2);

    const char *down = statsJson("DOWN");
    assert_int_equal(kafkaStatsApply(&st, down, strlen(down), 1000), 0);
    statusSnapshot(&st, &snap);
    assert_false(snap.broker_reachable); /* the bootstrap entry does not count */
    assert_int_equal(snap.broker_changed_ms, 1000);
    assert_int_equal(snap.npartitions, 2);
    assert_int_equal(snap.partitions[0].lag, 20);
    assert_int_equal(snap.partitions[0].high_watermark, 120);
    assert_int_equal(snap.partitions[1].lag, -1); /* not desired: not ours */
    statusSnapshotFree(&snap);

    const char *up = statsJson("UP");
    assert_int_equal(kafkaStatsApply(&st, up, strlen(up), 2000), 0);
    statusSnapshot(&st, &snap);
    assert_true(snap.broker_reachable);
    assert_int_equal(snap.broker_changed_ms, 2000);
    statusSnapshotFree(&snap);

    /* Replacing the table keeps what statistics said about a partition. */
    statusSetPartitions(&st, parts, 1);
    statusSnapshot(&st, &snap);
    assert_int_equal(snap.npartitions, 1);
    assert_int_equal(snap.partitions[0].lag, 20);
    statusSnapshotFree(&snap);

    assert_int_equal(kafkaStatsApply(&st, "{\"brokers\":", 11, 3000), -1);
    statusDestroy(&st);
}

static void testStatusCounters(void **state) {
    status st;
    status_snapshot snap;
    assert_int_equal(statusInit(&st), 0);
    statusConsumed(&st, 3);
    status_job ok = {.dead_letter_code = EVENT_ERR_NONE,
                     .results = 1,
                     .matches = 2,
                     .bytes_scanned = 100,
                     .total_ms = 30,
                     .fetch_ms = 0.5};
    status_job dl = {
        .dead_letter_code = EVENT_ERR_SHA256_MISMATCH, .dead_letters = 1, .total_ms = 70000};
    statusJobDone(&st, &ok);
    statusJobDone(&st, &dl);
    statusRetried(&st, EVENT_ERR_DUMP_UNAVAILABLE);
    statusSnapshot(&st, &snap);
    assert_int_equal(snap.consumed, 3);
    assert_int_equal(snap.succeeded, 1);
    assert_int_equal(snap.dead_lettered, 1);
    assert_int_equal(snap.dead_lettered_by_code[EVENT_ERR_SHA256_MISMATCH], 1);
    assert_int_equal(snap.retried_by_code[EVENT_ERR_DUMP_UNAVAILABLE], 1);
    assert_int_equal(snap.results_produced, 1);
    assert_int_equal(snap.matches_produced, 2);
    assert_int_equal(snap.bytes_scanned, 100);
    /* 30 ms lands in the 0.05 s bucket (index 4), 70 s above every bound. */
    status_latency *total = &snap.latency[STATUS_STAGE_TOTAL];
    assert_int_equal(total->count, 2);
    assert_int_equal(total->buckets[4], 1);
    assert_int_equal(total->buckets[STATUS_LATENCY_BUCKETS], 1);
    assert_true(total->sum_seconds > 70.02 && total->sum_seconds < 70.04);
    assert_int_equal(snap.latency[STATUS_STAGE_FETCH].buckets[0], 2); /* 0.5 ms and 0 */
    statusSnapshotFree(&snap);
    statusDestroy(&st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testFields),
        cmocka_unit_test(testSecretsScrubbed),
        cmocka_unit_test(testInvalidUtf8AndLevels),
        cmocka_unit_test(testStatsApply),
        cmocka_unit_test(testStatusCounters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

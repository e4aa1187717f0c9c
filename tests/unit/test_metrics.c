/*
 * test_metrics.c - the Prometheus rendering and the health/readiness rules.
 * Expected lines are written from the status values set here by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static void snapshotInit(status_snapshot *s) {
    memset(s, 0, sizeof(*s));
    s->started_at_ms = 1700000000000;
    s->loop_tick_ms = 1700000100000;
    s->group_joined = true;
    s->broker_reachable = true;
    s->winapi_loaded = true;
}

static void expectLine(const char *text, const char *line) {
    char *want = malloc(strlen(line) + 3);
    snprintf(want, strlen(line) + 3, "\n%s\n", line);
    if (!strstr(text, want))
        fail_msg("missing line: %s", line);
    free(want);
}

static void test_render_counters(void **state) {
    (void)state;
    status_snapshot s;
    snapshotInit(&s);
    s.consumed = 7;
    s.succeeded = 5;
    s.dead_lettered_by_code[EVENT_ERR_NO_VM_NAME] = 2;
    s.retried_by_code[EVENT_ERR_ARTIFACT_UNAVAILABLE] = 3;
    s.results_produced = 5;
    s.matches_produced = 4;
    s.dlq_produced = 2;
    s.bytes_scanned = 4194304;
    s.artifacts.process_hits = 11;
    s.artifacts.redis_hits = 2;
    s.artifacts.origin_fetches = 1;
    s.inflight_events = 3;
    status_partition p = {.topic = "apivector.dumps", .partition = 4, .paused = true, .lag = 12};
    s.partitions = &p;
    s.npartitions = 1;
    size_t len;
    char *text = metricsRender(&s, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    expectLine(text, "apivector_events_consumed_total 7");
    expectLine(text, "apivector_events_succeeded_total 5");
    expectLine(text, "apivector_events_dead_lettered_total{code=\"no_vm_name\"} 2");
    expectLine(text, "apivector_events_dead_lettered_total{code=\"invalid_json\"} 0");
    expectLine(text, "apivector_events_retried_total{code=\"artifact_unavailable\"} 3");
    expectLine(text, "apivector_records_produced_total{type=\"match\"} 4");
    expectLine(text, "apivector_scanned_bytes_total 4194304");
    expectLine(text, "apivector_cache_hits_total{tier=\"process\"} 11");
    expectLine(text, "apivector_cache_hits_total{tier=\"origin\"} 1");
    expectLine(text, "apivector_inflight_events 3");
    expectLine(text, "apivector_consumer_lag{topic=\"apivector.dumps\",partition=\"4\"} 12");
    expectLine(text, "apivector_partition_paused{topic=\"apivector.dumps\",partition=\"4\"} 1");
    expectLine(text, "apivector_ready 1");
    expectLine(text, "# TYPE apivector_processing_seconds histogram");
    free(text);
}

/* Buckets are cumulative in the exposition; +Inf equals the count. */
static void test_render_histogram(void **state) {
    (void)state;
    status_snapshot s;
    snapshotInit(&s);
    status_latency *h = &s.latency[STATUS_STAGE_CRAWL];
    statusLatencyObserve(h, statusLatencyBounds[0] / 2);
    statusLatencyObserve(h, statusLatencyBounds[1]);
    statusLatencyObserve(h, statusLatencyBounds[STATUS_LATENCY_BUCKETS - 1] * 10);
    size_t len;
    char *text = metricsRender(&s, &len);
    char line[256];
    snprintf(line, sizeof(line), "apivector_processing_seconds_bucket{stage=\"crawl\",le=\"%g\"} 1",
             statusLatencyBounds[0]);
    expectLine(text, line);
    snprintf(line, sizeof(line), "apivector_processing_seconds_bucket{stage=\"crawl\",le=\"%g\"} 2",
             statusLatencyBounds[1]);
    expectLine(text, line);
    expectLine(text, "apivector_processing_seconds_bucket{stage=\"crawl\",le=\"+Inf\"} 3");
    expectLine(text, "apivector_processing_seconds_count{stage=\"crawl\"} 3");
    expectLine(text, "apivector_processing_seconds_count{stage=\"fetch\"} 0");
    free(text);
}

static void test_health_and_readiness(void **state) {
    (void)state;
    status_snapshot s;
    snapshotInit(&s);
    char *body;
    int64_t now = s.loop_tick_ms + 1000;
    assert_int_equal(metricsHealthy(&s, now, &body), 1);
    assert_non_null(strstr(body, "\"ok\""));
    free(body);
    assert_int_equal(metricsReady(&s, now, &body), 1);
    free(body);
    s.broker_reachable = false;
    assert_int_equal(metricsReady(&s, now, &body), 0);
    assert_non_null(strstr(body, "no Kafka broker reachable"));
    free(body);
    assert_int_equal(metricsHealthy(&s, now, &body), 1); /* alive, just not ready */
    free(body);
    now = s.loop_tick_ms + METRICS_STALL_MS + 1;
    assert_int_equal(metricsHealthy(&s, now, &body), 0);
    assert_non_null(strstr(body, "main loop stalled"));
    free(body);
    s.broker_reachable = true;
    s.winapi_loaded = false;
    s.group_joined = false;
    assert_int_equal(metricsReady(&s, s.loop_tick_ms, &body), 0);
    assert_non_null(strstr(body, "WinApi1024 table not loaded"));
    assert_non_null(strstr(body, "consumer group not joined"));
    free(body);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_counters),
        cmocka_unit_test(test_render_histogram),
        cmocka_unit_test(test_health_and_readiness),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}

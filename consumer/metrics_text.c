/*
 * metrics_text.c - render a status snapshot in the Prometheus text format.
 *
 * Names follow Prometheus conventions: apivector_ prefix, _total for
 * counters, _seconds and _bytes units, labels for the dimension (error code,
 * stage, cache tier, topic/partition). Every family has HELP and TYPE lines
 * and appears even when zero, so dashboards and alerts never see a metric
 * appear out of nowhere. `promtool check metrics` is run on a live scrape in
 * the tests.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

typedef struct text_buf {
    char *p;
    size_t n, cap;
    int oom;
} text_buf;

static void textAdd(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void textAdd(text_buf *b, const char *fmt, ...) {
    while (!b->oom) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && (size_t)w < b->cap - b->n) {
            b->n += (size_t)w;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 16384;
        while (cap < b->n + (size_t)w + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

static void textFamily(text_buf *b, const char *name, const char *type, const char *help) {
    textAdd(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void textScalar(text_buf *b, const char *name, const char *type, const char *help,
                       double v) {
    textFamily(b, name, type, help);
    textAdd(b, "%s %.17g\n", name, v);
}

/* A counter per error code, with every code listed (zero included). */
static void textByCode(text_buf *b, const char *name, const char *help, const uint64_t *by_code) {
    textFamily(b, name, "counter", help);
    for (int c = 0; c < EVENT_ERR_COUNT; c++)
        textAdd(b, "%s{code=\"%s\"} %llu\n", name, eventErrorName((event_error)c),
                (unsigned long long)by_code[c]);
}

static void textLatency(text_buf *b, const status_snapshot *s) {
    static const char *stages[STATUS_STAGE_COUNT] = {"fetch", "crawl", "match", "total"};
    const char *name = "apivector_processing_seconds";
    textFamily(b, name, "histogram",
               "Time spent per event, by stage (fetch: DB, collections and dump; crawl: the "
               "engine; match: collections; total: the whole event).");
    for (int st = 0; st < STATUS_STAGE_COUNT; st++) {
        const status_latency *h = &s->latency[st];
        uint64_t cumulative = 0;
        for (int i = 0; i < STATUS_LATENCY_BUCKETS; i++) {
            cumulative += h->buckets[i];
            textAdd(b, "%s_bucket{stage=\"%s\",le=\"%g\"} %llu\n", name, stages[st],
                    statusLatencyBounds[i], (unsigned long long)cumulative);
        }
        textAdd(b, "%s_bucket{stage=\"%s\",le=\"+Inf\"} %llu\n", name, stages[st],
                (unsigned long long)h->count);
        textAdd(b, "%s_sum{stage=\"%s\"} %.17g\n", name, stages[st], h->sum_seconds);
        textAdd(b, "%s_count{stage=\"%s\"} %llu\n", name, stages[st], (unsigned long long)h->count);
    }
}

static void textCache(text_buf *b, const artifact_stats *a) {
    textFamily(b, "apivector_cache_hits_total", "counter",
               "Artifact requests answered by a tier: process (in-memory LRU), redis (shared "
               "cache), origin (a full download from the support server).");
    textAdd(b, "apivector_cache_hits_total{tier=\"process\"} %llu\n",
            (unsigned long long)a->process_hits);
    textAdd(b, "apivector_cache_hits_total{tier=\"redis\"} %llu\n",
            (unsigned long long)a->redis_hits);
    textAdd(b, "apivector_cache_hits_total{tier=\"origin\"} %llu\n",
            (unsigned long long)a->origin_fetches);
    textFamily(b, "apivector_cache_errors_total", "counter",
               "Failed operations per tier (Redis unreachable, origin down or 5xx after retries).");
    textAdd(b, "apivector_cache_errors_total{tier=\"redis\"} %llu\n",
            (unsigned long long)a->redis_errors);
    textAdd(b, "apivector_cache_errors_total{tier=\"origin\"} %llu\n",
            (unsigned long long)a->origin_errors);
    textScalar(b, "apivector_cache_revalidations_total", "counter",
               "Origin answers 304 Not Modified (TTL refreshed without a download).",
               (double)a->not_modified);
    textScalar(b, "apivector_cache_stale_total", "counter",
               "Artifacts served stale because the origin failed.", (double)a->stale_serves);
    textScalar(b, "apivector_cache_lock_waits_total", "counter",
               "Waits for another consumer's download of the same artifact (single flight).",
               (double)a->lock_waits);
    textScalar(b, "apivector_cache_memory_bytes", "gauge",
               "Bytes held by the in-process artifact cache.", (double)a->lru_bytes);
    textScalar(b, "apivector_cache_entries", "gauge", "Artifacts held in the in-process cache.",
               (double)a->lru_entries);
    textScalar(b, "apivector_cache_evictions_total", "counter",
               "Artifacts evicted from the in-process cache.", (double)a->lru_evictions);
}

static void textPartitions(text_buf *b, const status_snapshot *s) {
    textFamily(b, "apivector_consumer_lag", "gauge",
               "Messages behind the high watermark per input partition (librdkafka statistics; "
               "absent until known).");
    for (size_t i = 0; i < s->npartitions; i++)
        if (s->partitions[i].lag >= 0)
            textAdd(b, "apivector_consumer_lag{topic=\"%s\",partition=\"%d\"} %lld\n",
                    s->partitions[i].topic, s->partitions[i].partition,
                    (long long)s->partitions[i].lag);
    textFamily(b, "apivector_partition_paused", "gauge",
               "1 while an assigned partition is paused (backpressure or retry backoff).");
    for (size_t i = 0; i < s->npartitions; i++)
        textAdd(b, "apivector_partition_paused{topic=\"%s\",partition=\"%d\"} %d\n",
                s->partitions[i].topic, s->partitions[i].partition, s->partitions[i].paused);
}

static void textEvents(text_buf *b, const status_snapshot *s) {
    textScalar(b, "apivector_events_consumed_total", "counter",
               "Dump-ready events taken from the input topic.", (double)s->consumed);
    textScalar(b, "apivector_events_succeeded_total", "counter",
               "Events completed with their result and match events acknowledged.",
               (double)s->succeeded);
    textByCode(b, "apivector_events_dead_lettered_total",
               "Events completed with a dead letter, by error code.", s->dead_lettered_by_code);
    textByCode(b, "apivector_events_retried_total",
               "Transient failures scheduled for another attempt, by error code.",
               s->retried_by_code);
    textScalar(b, "apivector_delivery_retries_total", "counter",
               "Events processed again because an output was not acknowledged by the broker.",
               (double)s->delivery_retries);
    textScalar(b, "apivector_duplicates_total", "counter",
               "Redelivered input offsets skipped because they were already in flight or done.",
               (double)s->duplicates);
    textFamily(b, "apivector_records_produced_total", "counter",
               "Output records acknowledged by the broker, by type.");
    textAdd(b, "apivector_records_produced_total{type=\"result\"} %llu\n",
            (unsigned long long)s->results_produced);
    textAdd(b, "apivector_records_produced_total{type=\"match\"} %llu\n",
            (unsigned long long)s->matches_produced);
    textAdd(b, "apivector_records_produced_total{type=\"dead_letter\"} %llu\n",
            (unsigned long long)s->dlq_produced);
    textScalar(b, "apivector_scanned_bytes_total", "counter",
               "Dump bytes crawled; divided by the crawl stage's seconds it gives crawl "
               "throughput.",
               (double)s->bytes_scanned);
    textScalar(b, "apivector_stale_results_total", "counter",
               "Result events computed with a stale artifact.", (double)s->stale_artifacts);
    textScalar(b, "apivector_commits_total", "counter", "Offset commits confirmed by the broker.",
               (double)s->commits);
    textScalar(b, "apivector_commit_failures_total", "counter", "Offset commits that failed.",
               (double)s->commit_failures);
}

static void textGauges(text_buf *b, const status_snapshot *s) {
    textScalar(b, "apivector_inflight_events", "gauge", "Events taken and not yet completed.",
               (double)s->inflight_events);
    textScalar(b, "apivector_inflight_bytes", "gauge",
               "Bytes of the input messages in flight (backpressure counts these).",
               (double)s->inflight_bytes);
    textScalar(b, "apivector_assigned_partitions", "gauge", "Input partitions assigned.",
               (double)s->assigned_partitions);
    textScalar(b, "apivector_paused_partitions", "gauge", "Input partitions paused.",
               (double)s->paused_partitions);
    textScalar(b, "apivector_producer_queue_depth", "gauge",
               "Messages and requests waiting in the producer (rd_kafka_outq_len).",
               (double)s->producer_queue_depth);
    textScalar(b, "apivector_workers", "gauge", "Worker threads.", (double)s->workers);
    textScalar(b, "apivector_broker_up", "gauge", "1 while a Kafka broker is reachable.",
               s->broker_reachable ? 1.0 : 0.0);
    textScalar(b, "apivector_ready", "gauge", "1 while /readyz answers 200.",
               (s->group_joined && s->broker_reachable && s->winapi_loaded && !s->shutting_down)
                   ? 1.0
                   : 0.0);
    textScalar(b, "apivector_start_time_seconds", "gauge", "Process start, Unix time.",
               (double)s->started_at_ms / 1000.0);
    textScalar(b, "apivector_last_loop_tick_seconds", "gauge",
               "Unix time of the main loop's last iteration.", (double)s->loop_tick_ms / 1000.0);
}

char *metricsRender(const status_snapshot *s, size_t *len) {
    text_buf b = {0};
    textFamily(&b, "apivector_build_info", "gauge", "Build information; the value is always 1.");
    textAdd(&b, "apivector_build_info{version=\"%s\"} 1\n", APIVECTOR_VERSION);
    textEvents(&b, s);
    textLatency(&b, s);
    textCache(&b, &s->artifacts);
    textGauges(&b, s);
    textPartitions(&b, s);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.n;
    return b.p;
}

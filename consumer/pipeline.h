/*
 * pipeline.h - one dump-ready event in, the records to publish out.
 *
 * The pipeline is the consumer's business logic without Kafka: parse and
 * validate the event, resolve its vm_name, get the DB, the WinApi1024 table
 * and the collections through the artifact store (Redis + support server),
 * pull the dump, run the engine, gate and run the matching, and build the
 * result, match and dead-letter events. The runtime (consume.c and friends)
 * owns threads, Kafka, retries, commits and signals, and calls
 * pipelineProcess() from its worker threads.
 *
 * Outcome of pipelineProcess(), always one of:
 *  - records to publish (result/match events to the results topic, or one
 *    dead letter for a permanent error) and failed = 0;
 *  - failed = 1 with a transient error code and message: nothing to publish,
 *    the runtime retries the event later (pause, backoff). When the runtime
 *    passes attempt >= max_attempts, a transient error becomes a dead letter
 *    instead (with the last error), so an event is never lost nor stuck.
 *
 * Ownership: a pipeline is created by pipelineNew() and freed by
 * pipelineFree() after every worker stopped. Output records are owned by the
 * pipeline_output and released by pipelineOutputClear().
 * Thread-safety: pipelineProcess() may run concurrently on any number of
 * threads with one pipeline; the output struct belongs to the caller.
 */
#ifndef APIVECTOR_PIPELINE_H
#define APIVECTOR_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "artifact.h"
#include "config.h"
#include "error.h"

typedef struct pipeline pipeline;

/* Where the event came from (carried into every output event). */
typedef struct pipeline_input {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *key; /* may be NULL */
    size_t key_len;
    const char *value; /* the raw event bytes; may be NULL (a tombstone) */
    size_t len;
    int attempt; /* 1 for the first try */
} pipeline_input;

typedef enum pipeline_dest {
    PIPELINE_RESULTS = 0, /* config->results_topic */
    PIPELINE_DLQ = 1,     /* config->dlq_topic */
} pipeline_dest;

typedef struct pipeline_record {
    pipeline_dest dest;
    char *key; /* the event_id (or the input key for dead letters); may be NULL */
    size_t key_len;
    char *value; /* JSON */
    size_t len;
} pipeline_record;

typedef struct pipeline_timings {
    double fetch_ms, crawl_ms, match_ms, total_ms;
} pipeline_timings;

typedef struct pipeline_output {
    pipeline_record *records;
    size_t n;
    int failed;          /* 1: transient failure, retry later, records is empty */
    char error_code[64]; /* set on failure and on dead letters (event.h codes) */
    char error_message[AV_ERRLEN];
    pipeline_timings timings;
    uint64_t bytes_scanned;
    int stale;         /* a stale artifact was used */
    int dead_lettered; /* the records hold one dead letter */
    int match_events;  /* how many match events were built */
} pipeline_output;

/* Creates the pipeline: artifact store (Redis + support server), dump source
 * settings, and the WinApi1024 table, then preloads the DBs named in
 * apiscout_dbs and the configured collections (failures to preload are
 * reported through `log` and retried on use, never fatal). Fails when the
 * WinApi1024 table cannot be loaded (the service cannot work without it).
 *
 * Also fails (AV_ERR_USAGE) when support_url is unset, when default_db or an
 * apiscout_dbs item is not a usable vm_name, or when a collection name cannot
 * be cached (blanks, ':'). cfg is borrowed: it must stay valid and unchanged
 * until pipelineFree(). httpGlobalInit() must have run once before (main()
 * does it). log may be NULL; it receives a config_log_level and one line
 * without secrets, and may be called from any thread at once (the artifact
 * store reports degraded modes through it while workers run). */
typedef void (*pipeline_log_fn)(void *ctx, int level, const char *msg);
av_status pipelineNew(const config *cfg, pipeline_log_fn log, void *log_ctx, pipeline **out,
                      char *err, size_t errlen);

void pipelineFree(pipeline *p);

/* Processes one event; see the file comment for the outcome. out is
 * overwritten (zeroed first): release the records of a previous call with
 * pipelineOutputClear() before passing the same struct again. Records come
 * in publishing order: the result event, the match events of its vector,
 * then those of the event's vectors field. */
void pipelineProcess(pipeline *p, const pipeline_input *in, pipeline_output *out);

/* Builds a dead letter for an event the runtime itself has to give up on
 * (e.g. its results could not be produced): one record in out. code is an
 * event.h code name (an unknown name becomes "internal"); message NULL or ""
 * means the code's description. out is overwritten as by pipelineProcess(). */
void pipelineDeadLetter(pipeline *p, const pipeline_input *in, const char *code,
                        const char *message, int attempts, pipeline_output *out);

void pipelineOutputClear(pipeline_output *out);

/* Whether the WinApi1024 table is loaded (readiness). */
int pipelineReady(const pipeline *p);

/* Counters of the artifact store, for metrics. */
void pipelineArtifactStats(pipeline *p, artifact_stats *out);

#endif

/*
 * pipeline_internal.h - what the pipeline's files share: the pipeline itself,
 * the per-event working state (a job) and the functions of each stage.
 *
 *   pipeline.c         lifecycle, the order of the stages, records and dead letters
 *   pipeline_fetch.c   vm_name checks, artifact URLs, DB / WinApi1024 / collection
 *                      artifacts, the dump, and the mapping of their failures to
 *                      event error codes
 *   pipeline_result.c  one dump through the engine into a result event
 *   pipeline_match.c   the confidence gate and the match events
 *
 * A stage returns EVENT_ERR_NONE or an event error code with the message in
 * job->msg; pipelineProcess() turns that into a retry or a dead letter.
 *
 * Thread-safety: a pipeline is read-only after pipelineNew() (the artifact
 * stores are thread-safe); a job belongs to one thread.
 */
#ifndef APIVECTOR_PIPELINE_INTERNAL_H
#define APIVECTOR_PIPELINE_INTERNAL_H

#include <stdbool.h>

#include "artifact.h"
#include "collection.h"
#include "config.h"
#include "dumpsrc.h"
#include "event.h"
#include "event_out.h"
#include "pipeline.h"
#include "vector.h"
#include "winapi.h"

/* Longest vm_name accepted into a DB URL. */
#define PIPELINE_VM_NAME_MAX 128
/* Name of Malpedia's collection in match events. */
#define PIPELINE_MALPEDIA_NAME "malpedia.csv"
/* Largest WinApi1024 table read from a local file. */
#define PIPELINE_WINAPI_MAX_BYTES (16u << 20)

/* One collection to match against: configured, or Malpedia's. */
typedef struct pipeline_source {
    const char *name;           /* as in match events */
    const char *classification; /* "" when none */
    char *url;
    int malpedia; /* fetched through the Malpedia store with its header */
} pipeline_source;

struct pipeline {
    const config *cfg; /* borrowed: outlives the pipeline */
    pipeline_log_fn log;
    void *log_ctx;
    artifact_store *store;  /* DBs, collections, a remote WinApi1024 */
    artifact_store *mstore; /* Malpedia (its own TTL), NULL without a key */
    char *malpedia_header;  /* "Authorization: apitoken <key>" (secret) */
    const char *malpedia_headers[2];
    const artifact_codec *db_codec;
    dumpsrc_config dumps;

    /* WinApi1024: read from disk once (local), or an artifact (remote) whose
     * copy from start-up is the fallback when a refresh fails. */
    winapi_table *winapi_local;
    char *winapi_url;
    artifact_ref *winapi_boot;
    char winapi_sha256[SHA256_HEXLEN]; /* of the local or start-up table */

    pipeline_source *sources;
    size_t nsources;
};

/* A collection held for one event. */
typedef struct pipeline_held {
    const pipeline_source *src;
    artifact_ref *ref;
    const collection *c;
    char sha256[SHA256_HEXLEN];
    int stale;
} pipeline_held;

/* The working state of one event. */
typedef struct pipeline_job {
    pipeline *p;
    const pipeline_input *in;
    pipeline_output *out;
    event_dump_ready *ev;
    char msg[AV_ERRLEN]; /* message of the failing stage */

    const winapi_table *winapi;
    const char *winapi_sha256;
    char winapi_sha_buf[SHA256_HEXLEN];
    artifact_ref *winapi_ref; /* this event's reference, when remote */
    int winapi_stale;

    pipeline_held *held; /* collections, fetched on first need */
    size_t nheld;
    int held_loaded;
    int held_stale; /* a collection used was stale */

    double start_ms, fetch_ms, crawl_ms, match_ms;
} pipeline_job;

/* ------------------------------------------------------------ pipeline.c */

/* The event's source for output events (topic defaults to input_topic). */
event_source pipelineSource(const pipeline_job *j);

/* Inserts a record at position at (<= out->n) of the output, or appends it;
 * takes ownership of json (freed on failure too). key may be NULL. */
event_error pipelineInsertRecord(pipeline_job *j, size_t at, pipeline_dest dest, const char *key,
                                 size_t key_len, char *json, size_t len);
event_error pipelineAddRecord(pipeline_job *j, pipeline_dest dest, const char *key, size_t key_len,
                              char *json, size_t len);

/* Formats the failing stage's message into j->msg (cut to fit). */
void pipelineMsgf(pipeline_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sends a message to the log callback (when one is set). */
void pipelineLogf(const pipeline *p, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------ pipeline_fetch.c */

/* Checks that vm_name can name a DB file: 1..PIPELINE_VM_NAME_MAX characters
 * of [A-Za-z0-9._+-], not starting with '.', without "..". */
av_status pipelineVmNameCheck(const char *vm_name, char *err, size_t errlen);

/* Joins base, path and name with single slashes (path and name may be NULL
 * or empty); returns a malloc'd string or NULL when memory runs out. */
char *pipelineUrlJoin(const char *base, const char *path, const char *name);

/* Start-up: loads the WinApi1024 table (fatal when impossible). */
av_status pipelineWinapiInit(pipeline *p, char *err, size_t errlen);

/* Start-up: the list of collections (configured ones, then Malpedia's). */
av_status pipelineSourcesInit(pipeline *p, char *err, size_t errlen);

/* Start-up: fetches the configured DBs and collections once; failures are
 * logged only. */
void pipelinePreload(pipeline *p);

/* The WinApi1024 table for this event (sets j->winapi and j->winapi_sha256). */
event_error pipelineGetWinapi(pipeline_job *j);

/* The DB of vm_name: a held ref in *ref (release with artifactRelease). */
event_error pipelineGetDb(pipeline_job *j, const char *vm_name, artifact_ref **ref, int *stale);

/* Fetches every collection once per event into j->held. */
event_error pipelineGetCollections(pipeline_job *j);

/* Pulls the event's dump into *dump. */
event_error pipelineOpenDump(pipeline_job *j, dumpsrc_dump **dump);

/* Releases what a job holds (WinApi1024 and collections). */
void pipelineJobRelease(pipeline_job *j);

/* ----------------------------------------------------- pipeline_match.c */

/* Whether a vector of this confidence is matched; when not, a reason such as
 * "confidence 25.00 is not above min_confidence 50.00" goes into reason. */
bool pipelineGatePasses(const pipeline *p, double confidence, char *reason, size_t len);

/* Matches v (compressed form text) against every collection and appends one
 * match event per collection. The gate must have passed. */
event_error pipelineMatchVector(pipeline_job *j, const apivector *v, const char *text,
                                double confidence, event_vector_source source);

/* The event's vectors field: checks every tag decompresses (invalid_vector),
 * then gates and matches each. check_only = 1 stops after the check. */
event_error pipelineEventVectors(pipeline_job *j, int check_only);

/* ---------------------------------------------------- pipeline_result.c */

/* Scans the event's dump with vm_name's DB: the result event, then the match
 * events of its vector. */
event_error pipelineScanDump(pipeline_job *j, const char *vm_name);

#endif

/*
 * pipeline.c - one dump-ready event in, the records to publish out (see
 * pipeline.h): the pipeline's lifecycle, the order of the stages, output
 * records and dead letters.
 *
 * An event goes through these stages, each of which may fail with an event
 * error code (pipeline_fetch.c lists how fetch failures map to codes):
 *   1. parse and check the contract (invalid_json, schema_violation);
 *   2. resolve the vm_name (vm_name, submission.tags, submission.metadata,
 *      default_db for executable/windows); none and no vectors: no_vm_name;
 *   3. check that every tag in vectors decompresses (invalid_vector), so a
 *      bad event costs no download;
 *   4. WinApi1024 for this event (never fails: start-up copy as fallback);
 *   5. with a dump and a vm_name: DB, dump, scan, the result event and the
 *      dump vector's match events (pipeline_result.c); with a dump but no
 *      vm_name (and vectors), the dump is not pulled at all;
 *   6. the event's vectors: gate and match events (pipeline_match.c).
 * Records come out in that order: the result, its match events, then the
 * match events of vectors[0], vectors[1], ... each in collection order.
 *
 * A failure discards every record built so far. A permanent code becomes one
 * dead letter; a transient one sets failed = 1 (the runtime retries) unless
 * this was attempt max_attempts or later, then it is dead-lettered as well,
 * with the last error. Nothing of an event is ever published half.
 */
#include "pipeline.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "codecs.h"
#include "malpedia.h"
#include "pipeline_internal.h"
#include "secret.h"

void pipelineLogf(const pipeline *p, int level, const char *fmt, ...) {
    char buf[AV_ERRLEN * 2];
    va_list ap;
    if (!p->log)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    p->log(p->log_ctx, level, buf);
}

void pipelineMsgf(pipeline_job *j, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
    va_end(ap);
}

event_source pipelineSource(const pipeline_job *j) {
    event_source s = {
        .topic = j->in->topic ? j->in->topic : j->p->cfg->input_topic,
        .partition = j->in->partition,
        .offset = j->in->offset,
    };
    return s;
}

/* ---------------------------------------------------------------- records */

event_error pipelineInsertRecord(pipeline_job *j, size_t at, pipeline_dest dest, const char *key,
                                 size_t key_len, char *json, size_t len) {
    pipeline_output *out = j->out;
    pipeline_record *recs = realloc(out->records, (out->n + 1) * sizeof(*recs));
    char *k = key ? malloc(key_len + 1) : NULL;
    if (recs)
        out->records = recs;
    if (!recs || (key && !k)) {
        free(json);
        free(k);
        pipelineMsgf(j, "out of memory adding a record");
        return EVENT_ERR_INTERNAL;
    }
    if (k) {
        memcpy(k, key, key_len);
        k[key_len] = '\0';
    }
    if (at > out->n)
        at = out->n;
    memmove(&recs[at + 1], &recs[at], (out->n - at) * sizeof(*recs));
    recs[at] = (pipeline_record){dest, k, key ? key_len : 0, json, len};
    out->n++;
    return EVENT_ERR_NONE;
}

event_error pipelineAddRecord(pipeline_job *j, pipeline_dest dest, const char *key, size_t key_len,
                              char *json, size_t len) {
    return pipelineInsertRecord(j, j->out->n, dest, key, key_len, json, len);
}

static void pipelineRecordsFree(pipeline_output *out) {
    for (size_t i = 0; i < out->n; i++) {
        free(out->records[i].key);
        free(out->records[i].value);
    }
    free(out->records);
    out->records = NULL;
    out->n = 0;
}

void pipelineOutputClear(pipeline_output *out) {
    if (!out)
        return;
    pipelineRecordsFree(out);
    memset(out, 0, sizeof(*out));
}

/* ------------------------------------------------------------ dead letters */

/* Replaces the output with one dead letter; false when it cannot be built. */
static bool pipelineBuildDeadLetter(pipeline_job *j, event_error code, const char *message,
                                    int attempts) {
    const pipeline_input *in = j->in;
    char *peeked = NULL, *json = NULL;
    size_t len = 0;
    const char *event_id = j->ev ? j->ev->event_id : NULL;
    if (!event_id && in->value)
        event_id = peeked = eventPeekId(in->value, in->len);
    event_dead_letter d = {
        .code = code,
        .message = message,
        .source = pipelineSource(j),
        .key = in->key,
        .keylen = in->key ? in->key_len : 0,
        .event_id = event_id,
        .attempts = attempts >= 1 ? attempts : 1,
        .value = in->value,
        .value_len = in->value ? in->len : 0,
        .max_value_bytes = (size_t)j->p->cfg->dlq_max_value_bytes,
    };
    pipelineRecordsFree(j->out);
    j->out->match_events = 0;
    av_status st = eventOutDeadLetter(&d, &json, &len, j->msg, sizeof(j->msg));
    event_error added = EVENT_ERR_INTERNAL;
    if (st == AV_OK) {
        const char *key = in->key ? in->key : event_id;
        size_t key_len = in->key ? in->key_len : (event_id ? strlen(event_id) : 0);
        added = pipelineAddRecord(j, PIPELINE_DLQ, key, key_len, json, len);
    }
    free(peeked);
    if (added != EVENT_ERR_NONE)
        return false;
    j->out->dead_lettered = 1;
    return true;
}

static void pipelineSetError(pipeline_output *out, const char *code, const char *message) {
    avErrorf(out->error_code, sizeof(out->error_code), AV_OK, "%s", code);
    avErrorf(out->error_message, sizeof(out->error_message), AV_OK, "%s", message);
}

/* A failed stage: retry later, or dead-letter now. */
static void pipelineFail(pipeline_job *j, event_error code) {
    const event_error_info *info = eventErrorInfo(code);
    char message[AV_ERRLEN];
    pipelineRecordsFree(j->out);
    j->out->match_events = 0;
    j->out->stale = 0;
    pipelineSetError(j->out, info->name, j->msg[0] ? j->msg : info->description);
    if (info->transient && j->in->attempt < j->p->cfg->max_attempts) {
        j->out->failed = 1;
        return;
    }
    if (info->transient)
        avErrorf(message, sizeof(message), AV_OK, "gave up after %d attempts: %s", j->in->attempt,
                 j->out->error_message);
    else
        avErrorf(message, sizeof(message), AV_OK, "%s", j->out->error_message);
    if (!pipelineBuildDeadLetter(j, code, message, j->in->attempt)) {
        /* Only a caller bug (a negative partition or offset) or no memory gets
         * here: nothing can be published, so the runtime must retry. */
        j->out->failed = 1;
        pipelineSetError(j->out, eventErrorName(EVENT_ERR_INTERNAL), j->msg);
    }
}

void pipelineDeadLetter(pipeline *p, const pipeline_input *in, const char *code,
                        const char *message, int attempts, pipeline_output *out) {
    pipeline_job j = {.p = p, .in = in, .out = out};
    memset(out, 0, sizeof(*out));
    event_error c = eventErrorFromName(code);
    if (c == EVENT_ERR_NONE)
        c = EVENT_ERR_INTERNAL;
    pipelineSetError(out, eventErrorName(c), message ? message : "");
    if (!pipelineBuildDeadLetter(&j, c, message, attempts)) {
        out->failed = 1;
        pipelineSetError(out, eventErrorName(EVENT_ERR_INTERNAL), j.msg);
    }
}

/* ----------------------------------------------------------------- stages */

static event_error pipelineParse(pipeline_job *j) {
    const pipeline_input *in = j->in;
    event_error code = EVENT_ERR_INTERNAL;
    if (!in->value) {
        pipelineMsgf(j, "the message has no value (a tombstone)");
        return EVENT_ERR_INVALID_JSON;
    }
    if (eventParseDumpReady(in->value, in->len, &j->ev, &code, j->msg, sizeof(j->msg)) != AV_OK)
        return code;
    return EVENT_ERR_NONE;
}

static event_error pipelineRun(pipeline_job *j) {
    event_error code = pipelineParse(j);
    if (code != EVENT_ERR_NONE)
        return code;
    const event_dump_ready *ev = j->ev;
    const char *vm = eventResolveVmName(ev, j->p->cfg->default_db);
    if (ev->has_dump && !vm && ev->nvectors == 0) {
        pipelineMsgf(j,
                     "no vm_name, submission.tags.vm_name or submission.metadata.vm_name, and "
                     "default_db does not apply (file_type %s%s%s)",
                     ev->file_type ? "\"" : "", ev->file_type ? ev->file_type : "absent",
                     ev->file_type ? "\"" : "");
        return EVENT_ERR_NO_VM_NAME;
    }
    if ((code = pipelineEventVectors(j, 1)) != EVENT_ERR_NONE ||
        (code = pipelineGetWinapi(j)) != EVENT_ERR_NONE)
        return code;
    if (ev->has_dump && vm && (code = pipelineScanDump(j, vm)) != EVENT_ERR_NONE)
        return code;
    code = pipelineEventVectors(j, 0);
    j->out->stale |= j->winapi_stale || j->held_stale;
    return code;
}

void pipelineProcess(pipeline *p, const pipeline_input *in, pipeline_output *out) {
    memset(out, 0, sizeof(*out));
    pipeline_job j = {.p = p, .in = in, .out = out, .start_ms = clockMonoMsPrecise()};
    event_error code = pipelineRun(&j);
    pipelineJobRelease(&j);
    if (code != EVENT_ERR_NONE)
        pipelineFail(&j, code);
    out->timings =
        (pipeline_timings){j.fetch_ms, j.crawl_ms, j.match_ms, clockMonoMsPrecise() - j.start_ms};
    eventFree(j.ev);
}

/* --------------------------------------------------------------- lifecycle */

static void pipelineArtifactLog(void *ctx, int level, const char *msg) {
    pipelineLogf(ctx, level >= ARTIFACT_LOG_ERROR ? CONFIG_LOG_ERROR : CONFIG_LOG_WARN, "%s", msg);
}

/* The artifact store's settings from the configuration; the two differ in
 * their meaning of 0 (the store's "default" vs the config's "none"). */
static void pipelineArtifactConfig(pipeline *p, long ttl_seconds, size_t budget,
                                   artifact_config *a) {
    const config *cfg = p->cfg;
    memset(a, 0, sizeof(*a));
    a->redis_host = cfg->redis_host && cfg->redis_host[0] ? cfg->redis_host : NULL;
    a->redis_port = (int)cfg->redis_port;
    a->redis_password = cfg->redis_password;
    a->redis_db = (int)cfg->redis_db;
    a->ttl_seconds = ttl_seconds;
    /* Redis keeps a copy for its TTL plus the time it may be served stale. */
    a->stale_ttl_seconds = ttl_seconds + (long)cfg->cache_stale_seconds;
    a->freshness_check_interval_ms =
        cfg->cache_check_interval_ms > 0 ? (long)cfg->cache_check_interval_ms : -1;
    a->lru_budget_bytes = budget ? budget : 1;
    a->http_connect_timeout_ms = (long)cfg->http_connect_timeout_ms;
    a->http_timeout_ms = (long)cfg->http_timeout_ms;
    a->max_artifact_bytes = (uint64_t)cfg->max_artifact_bytes;
    a->retries = cfg->http_retries > 0 ? (int)cfg->http_retries : -1;
    a->max_redirects = cfg->max_redirects > 0 ? (long)cfg->max_redirects : -1;
    a->tls_insecure = !cfg->tls_verify;
    a->ca_bundle = cfg->ca_bundle;
    a->log_fn = pipelineArtifactLog;
    a->log_ctx = p;
}

/* Malpedia's store gets an eighth of the LRU budget: it holds one collection
 * (and briefly its previous version), refreshed on its own TTL. */
static av_status pipelineStores(pipeline *p, char *err, size_t errlen) {
    const config *cfg = p->cfg;
    size_t budget = (size_t)cfg->lru_budget_bytes, mbudget = 0;
    artifact_config a;
    if (cfg->malpedia_apikey) {
        mbudget = budget / 8 ? budget / 8 : 1;
        budget = budget - mbudget ? budget - mbudget : 1;
    }
    pipelineArtifactConfig(p, (long)cfg->cache_ttl_seconds, budget, &a);
    av_status st = artifactStoreNew(&a, &p->store, err, errlen);
    if (st != AV_OK || !cfg->malpedia_apikey)
        return st;
    if ((st = malpediaAuthHeader(cfg->malpedia_apikey, &p->malpedia_header, err, errlen)) != AV_OK)
        return st;
    p->malpedia_headers[0] = p->malpedia_header;
    pipelineArtifactConfig(p, (long)cfg->malpedia_refresh_seconds, mbudget, &a);
    return artifactStoreNew(&a, &p->mstore, err, errlen);
}

static void pipelineDumpConfig(pipeline *p) {
    const config *cfg = p->cfg;
    dumpsrcConfigInit(&p->dumps);
    p->dumps.max_dump_bytes = (uint64_t)cfg->max_dump_bytes;
    p->dumps.file_roots = (const char *const *)cfg->dump_file_roots.items;
    p->dumps.nfile_roots = cfg->dump_file_roots.n;
    p->dumps.max_redirects = (long)cfg->max_redirects;
    p->dumps.connect_timeout_ms = (long)cfg->http_connect_timeout_ms;
    p->dumps.timeout_ms = (long)cfg->http_timeout_ms;
    p->dumps.tls_insecure = !cfg->tls_verify;
    p->dumps.ca_bundle = cfg->ca_bundle;
}

/* Configured vm_names must be usable: a typo is caught at start-up. */
static av_status pipelineCheckVmNames(const config *cfg, char *err, size_t errlen) {
    char msg[AV_ERRLEN];
    if (!cfg->support_url)
        return avErrorf(err, errlen, AV_ERR_USAGE, "support_url: required by the pipeline");
    if (cfg->default_db && cfg->default_db[0] &&
        pipelineVmNameCheck(cfg->default_db, msg, sizeof(msg)) != AV_OK)
        return avErrorf(err, errlen, AV_ERR_USAGE, "default_db: %s", msg);
    for (size_t i = 0; i < cfg->apiscout_dbs.n; i++)
        if (pipelineVmNameCheck(cfg->apiscout_dbs.items[i], msg, sizeof(msg)) != AV_OK)
            return avErrorf(err, errlen, AV_ERR_USAGE, "apiscout_dbs[%zu]: %s", i, msg);
    return AV_OK;
}

av_status pipelineNew(const config *cfg, pipeline_log_fn log, void *log_ctx, pipeline **out,
                      char *err, size_t errlen) {
    *out = NULL;
    if (!cfg)
        return avErrorf(err, errlen, AV_ERR_USAGE, "pipelineNew: no configuration");
    av_status st = pipelineCheckVmNames(cfg, err, errlen);
    if (st != AV_OK)
        return st;
    pipeline *p = calloc(1, sizeof(*p));
    if (!p)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "pipelineNew: out of memory");
    p->cfg = cfg;
    p->log = log;
    p->log_ctx = log_ctx;
    p->db_codec = codecDb(cfg->ignore_aslr);
    pipelineDumpConfig(p);
    if ((st = pipelineStores(p, err, errlen)) != AV_OK ||
        (st = pipelineSourcesInit(p, err, errlen)) != AV_OK ||
        (st = pipelineWinapiInit(p, err, errlen)) != AV_OK) {
        pipelineFree(p);
        return st;
    }
    pipelinePreload(p);
    *out = p;
    return AV_OK;
}

void pipelineFree(pipeline *p) {
    if (!p)
        return;
    artifactRelease(p->winapi_boot);
    winapiFree(p->winapi_local);
    free(p->winapi_url);
    for (size_t i = 0; i < p->nsources; i++)
        free(p->sources[i].url);
    free(p->sources);
    artifactStoreFree(p->store);
    artifactStoreFree(p->mstore);
    secretFree(p->malpedia_header);
    free(p);
}

int pipelineReady(const pipeline *p) {
    return p && (p->winapi_local || p->winapi_boot);
}

void pipelineArtifactStats(pipeline *p, artifact_stats *out) {
    artifact_stats m;
    artifactStoreStats(p->store, out);
    if (!p->mstore)
        return;
    artifactStoreStats(p->mstore, &m);
    out->process_hits += m.process_hits;
    out->redis_hits += m.redis_hits;
    out->origin_fetches += m.origin_fetches;
    out->not_modified += m.not_modified;
    out->stale_serves += m.stale_serves;
    out->redis_errors += m.redis_errors;
    out->origin_errors += m.origin_errors;
    out->lock_waits += m.lock_waits;
    out->lru_bytes += m.lru_bytes;
    out->lru_entries += m.lru_entries;
    out->lru_evictions += m.lru_evictions;
}

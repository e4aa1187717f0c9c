/*
 * pipeline_result.c - one dump through the engine into an apivector.result.v1
 * event, followed by the match events of its vector.
 *
 * The DB named by vm_name is fetched first (a DB that does not exist fails
 * the event before a possibly large dump is pulled), then the dump, which
 * dumpsrc maps read-only: the engine reads it in place and it is unmapped as
 * soon as the scan is done, before any matching, so a worker holds at most
 * one dump at a time and never a heap copy of it.
 *
 * The scan uses exactly one DB (the event's vm_name names one), the dump's
 * name for base-address inference (dump.name, else the URL's last segment),
 * dump.base_address when the event gives one, and the configured
 * filter_distance; ignore_aslr is part of the DB codec.
 *
 * The result event comes first among the event's records although it is
 * built last: it carries the match timings and match_skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "pipeline_internal.h"
#include "scan.h"

/* What a scan leaves behind once the dump is closed. */
typedef struct pipeline_scanned {
    const char *vm_name;
    const apidb *db;
    int db_stale;
    char sha256[SHA256_HEXLEN];
    uint64_t size;
    const scan_result *r;
} pipeline_scanned;

static event_out_api *pipelineApis(const scan_db *sd, size_t *n) {
    const crawl_rows *f = &sd->filtered;
    event_out_api *apis = calloc(f->n ? f->n : 1, sizeof(*apis));
    if (!apis)
        return NULL;
    for (size_t i = 0; i < f->n; i++) {
        const crawl_row *row = &f->rows[i];
        apis[i] = (event_out_api){
            .offset = row->offset,
            .address = row->address,
            .dll = apidbEntryDll(sd->db, row->entry),
            .api = apidbEntryApi(sd->db, row->entry),
            .bitness = row->bitness,
            .in_import_table = row->in_import_table,
            .refs = row->ref_count,
        };
    }
    *n = f->n;
    return apis;
}

/* Gates and matches the dump's vector; reason receives why it was skipped. */
static event_error pipelineDumpMatches(pipeline_job *j, const scan_db *sd, double confidence,
                                       const char *text, char *reason, size_t len) {
    reason[0] = '\0';
    if (!pipelineGatePasses(j->p, confidence, reason, len))
        return EVENT_ERR_NONE;
    return pipelineMatchVector(j, &sd->vector, text, confidence, EVENT_VECTOR_FROM_DUMP);
}

/* The largest result value that fits the producer's message.max.bytes
 * (librdkafka's default 1000000), leaving room for the key and the record
 * overhead. */
static size_t pipelineResultLimit(const config *cfg) {
    const char *v = configKafkaGet(cfg, "message.max.bytes");
    long long max = v ? atoll(v) : 1000000;
    return max > 4096 ? (size_t)(max - 1024) : 1024;
}

static event_error pipelineResultEmit(pipeline_job *j, const pipeline_scanned *s) {
    const pipeline *p = j->p;
    const scan_result *r = s->r;
    const scan_db *sd = &r->dbs[r->primary];
    char text[VECTOR_TEXT_MAX + 1], reason[160];
    size_t first = j->out->n, napis = 0;
    vectorCompress(&sd->vector, text);
    event_error code = pipelineDumpMatches(j, sd, r->confidence, text, reason, sizeof(reason));
    if (code != EVENT_ERR_NONE)
        return code;
    event_out_api *apis = p->cfg->include_apis ? pipelineApis(sd, &napis) : NULL;
    if (p->cfg->include_apis && !apis) {
        pipelineMsgf(j, "result: out of memory");
        return EVENT_ERR_INTERNAL;
    }
    const event_dump *d = &j->ev->dump;
    event_result res = {
        .event_id = j->ev->event_id,
        .source = pipelineSource(j),
        .dump_url = d->url,
        .dump_sha256 = s->sha256,
        .dump_size = s->size,
        .dump_name = eventDumpName(j->ev),
        .base_address = r->base_address_used,
        .vm_name = s->vm_name,
        .db = apidbOsName(sd->db),
        .vector = text,
        .in_api_vector = (int32_t)sd->stats.in_api_vector,
        .num_unique_apis = (int32_t)sd->stats.num_unique_apis,
        .percentage = sd->stats.percentage,
        .confidence = r->confidence,
        .include_apis = p->cfg->include_apis,
        .apis = apis,
        .napis = napis,
        .stale = j->winapi_stale || s->db_stale || j->held_stale,
        .match_skipped = reason[0] ? reason : NULL,
        .timings_ms = {j->fetch_ms, j->crawl_ms, j->match_ms, clockMonoMsPrecise() - j->start_ms},
        .engine_version = APIVECTOR_VERSION,
        .winapi1024_sha256 = j->winapi_sha256,
    };
    char *json = NULL;
    size_t len = 0;
    av_status st = eventOutResult(&res, &json, &len, j->msg, sizeof(j->msg));
    size_t limit = pipelineResultLimit(j->p->cfg);
    if (st == AV_OK && res.include_apis && len > limit) {
        /* A result the broker would refuse is worth more without its API
         * list than as a dead letter: the vector and matches survive. */
        char why[128];
        snprintf(why, sizeof(why), "the event would exceed %zu bytes (message.max.bytes)", limit);
        free(json);
        json = NULL;
        res.include_apis = false;
        res.apis_omitted = why;
        st = eventOutResult(&res, &json, &len, j->msg, sizeof(j->msg));
    }
    free(apis);
    if (st != AV_OK)
        return EVENT_ERR_INTERNAL;
    j->out->stale |= res.stale;
    return pipelineInsertRecord(j, first, PIPELINE_RESULTS, j->ev->event_id,
                                strlen(j->ev->event_id), json, len);
}

/* Runs the engine over the mapped dump, then closes it. */
static event_error pipelineScan(pipeline_job *j, const apidb *db, dumpsrc_dump *dump,
                                pipeline_scanned *s, scan_result **r) {
    scan_options opt;
    scanOptionsInit(&opt);
    opt.dump_name = eventDumpName(j->ev);
    opt.has_base_address = j->ev->dump.has_base_address;
    opt.base_address = j->ev->dump.base_address;
    opt.filter_distance = j->p->cfg->filter_distance;
    memcpy(s->sha256, dumpsrcSha256Hex(dump), SHA256_HEXLEN);
    s->size = dumpsrcSize(dump);
    double t0 = clockMonoMsPrecise();
    char msg[AV_ERRLEN];
    av_status st =
        scanRun(j->winapi, &db, 1, dumpsrcData(dump), (size_t)s->size, &opt, r, msg, sizeof(msg));
    j->crawl_ms += clockMonoMsPrecise() - t0;
    j->out->bytes_scanned += s->size;
    if (st == AV_OK)
        return EVENT_ERR_NONE;
    pipelineMsgf(j, "scan: %s", msg);
    return st == AV_ERR_NOMEM ? EVENT_ERR_INTERNAL : EVENT_ERR_SCAN_FAILED;
}

event_error pipelineScanDump(pipeline_job *j, const char *vm_name) {
    artifact_ref *dbref = NULL;
    dumpsrc_dump *dump = NULL;
    scan_result *r = NULL;
    pipeline_scanned s = {.vm_name = vm_name};
    double t0 = clockMonoMsPrecise();
    event_error code = pipelineGetDb(j, vm_name, &dbref, &s.db_stale);
    if (code == EVENT_ERR_NONE)
        code = pipelineOpenDump(j, &dump);
    j->fetch_ms += clockMonoMsPrecise() - t0;
    if (code == EVENT_ERR_NONE) {
        s.db = artifactObject(dbref);
        code = pipelineScan(j, s.db, dump, &s, &r);
        dumpsrcClose(dump);
        dump = NULL;
    }
    if (code == EVENT_ERR_NONE) {
        s.r = r;
        code = pipelineResultEmit(j, &s);
    }
    scanFree(r);
    artifactRelease(dbref);
    return code;
}

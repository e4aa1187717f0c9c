/*
 * pipeline_tool.c - drives consumer/pipeline.c without Kafka, for
 * tests/integration/test_pipeline.sh and by hand.
 *
 *   pipeline-tool --config FILE [--attempt N] [--threads N] [--topic T]
 *                 [--partition P] [--first-offset O] [--key K] [--stats]
 *
 * Reads dump-ready events from stdin, one message value per line (the line
 * without its newline, any bytes; the line "@tombstone" is a message without
 * a value), runs pipelineProcess() on each as the message at offset
 * first-offset + line index, and prints one JSON line per message, in input
 * order whatever --threads is:
 *
 *   {"offset":0,"failed":0,"error_code":"","error_message":"","dead_lettered":0,
 *    "match_events":2,"stale":0,"bytes_scanned":4096,
 *    "records":[{"dest":"results","key":"e1","value":{...the event...}}, ...]}
 *
 * Record values are parsed back with jansson, so a record that is not JSON
 * makes the tool fail. With --stats a last line {"stats":{...}} gives the
 * artifact store's counters. The configuration file is applied like the
 * consumer's (file, then APIVECTOR_* environment); its log goes to stderr.
 *
 * Exit status: 0, 1 when the pipeline cannot start or a record is not JSON,
 * 2 on a usage error.
 */
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "event_out.h"
#include "http.h"
#include "pipeline.h"

extern char **environ;

typedef struct tool_line {
    char *value; /* NULL for a tombstone */
    size_t len;
    pipeline_output out;
} tool_line;

typedef struct tool {
    pipeline *p;
    const char *topic, *key;
    int32_t partition;
    int64_t first_offset;
    int attempt;
    tool_line *lines;
    size_t nlines, next;
    pthread_mutex_t lock;
} tool;

static void toolLog(void *ctx, int level, const char *msg) {
    fprintf(stderr, "pipeline-tool: %s: %s\n", configLogLevelName((config_log_level)level), msg);
}

static void toolUsage(void) {
    fprintf(stderr, "usage: pipeline-tool --config FILE [--attempt N] [--threads N] [--topic T]\n"
                    "  [--partition P] [--first-offset O] [--key K] [--stats] < events\n");
    exit(2);
}

static void toolReadLines(tool *t) {
    char *line = NULL;
    size_t cap = 0, size = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        if (n > 0 && line[n - 1] == '\n')
            n--;
        if (t->nlines == size) {
            size = size ? size * 2 : 64;
            t->lines = realloc(t->lines, size * sizeof(*t->lines));
            if (!t->lines) {
                fprintf(stderr, "pipeline-tool: out of memory\n");
                exit(1);
            }
        }
        tool_line *l = &t->lines[t->nlines++];
        memset(l, 0, sizeof(*l));
        if (!(n == 10 && memcmp(line, "@tombstone", 10) == 0)) {
            l->value = malloc((size_t)n + 1);
            memcpy(l->value, line, (size_t)n);
            l->len = (size_t)n;
        }
    }
    free(line);
}

static void *toolWorker(void *arg) {
    tool *t = arg;
    for (;;) {
        pthread_mutex_lock(&t->lock);
        size_t i = t->next++;
        pthread_mutex_unlock(&t->lock);
        if (i >= t->nlines)
            return NULL;
        tool_line *l = &t->lines[i];
        pipeline_input in = {
            .topic = t->topic,
            .partition = t->partition,
            .offset = t->first_offset + (int64_t)i,
            .key = t->key,
            .key_len = t->key ? strlen(t->key) : 0,
            .value = l->value,
            .len = l->len,
            .attempt = t->attempt,
        };
        pipelineProcess(t->p, &in, &l->out);
    }
}

static json_t *toolRecord(const pipeline_record *r) {
    json_error_t jerr;
    json_t *value = json_loadb(r->value, r->len, 0, &jerr);
    if (!value) {
        fprintf(stderr, "pipeline-tool: a record is not JSON: %s: %.*s\n", jerr.text, (int)r->len,
                r->value);
        exit(1);
    }
    char *key = r->key ? eventOutUtf8Lossy(r->key, r->key_len) : NULL;
    json_t *rec = json_pack("{s:s, s:o, s:o}", "dest", r->dest == PIPELINE_DLQ ? "dlq" : "results",
                            "key", key ? json_string(key) : json_null(), "value", value);
    free(key);
    return rec;
}

static void toolPrint(const tool *t, size_t i) {
    const pipeline_output *o = &t->lines[i].out;
    json_t *recs = json_array();
    for (size_t k = 0; k < o->n; k++)
        json_array_append_new(recs, toolRecord(&o->records[k]));
    json_t *line =
        json_pack("{s:I, s:i, s:s, s:s, s:i, s:i, s:i, s:I, s:{s:f, s:f, s:f, s:f}, s:o}", "offset",
                  (json_int_t)(t->first_offset + (int64_t)i), "failed", o->failed, "error_code",
                  o->error_code, "error_message", o->error_message, "dead_lettered",
                  o->dead_lettered, "match_events", o->match_events, "stale", o->stale,
                  "bytes_scanned", (json_int_t)o->bytes_scanned, "timings", "fetch",
                  o->timings.fetch_ms, "crawl", o->timings.crawl_ms, "match", o->timings.match_ms,
                  "total", o->timings.total_ms, "records", recs);
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    if (!text) {
        fprintf(stderr, "pipeline-tool: cannot print offset %zu\n", i);
        exit(1);
    }
    puts(text);
    free(text);
    json_decref(line);
}

static void toolPrintStats(pipeline *p) {
    artifact_stats s;
    pipelineArtifactStats(p, &s);
    printf("{\"stats\":{\"process_hits\":%llu,\"redis_hits\":%llu,\"origin_fetches\":%llu,"
           "\"not_modified\":%llu,\"stale_serves\":%llu,\"redis_errors\":%llu,"
           "\"origin_errors\":%llu,\"lru_entries\":%zu}}\n",
           (unsigned long long)s.process_hits, (unsigned long long)s.redis_hits,
           (unsigned long long)s.origin_fetches, (unsigned long long)s.not_modified,
           (unsigned long long)s.stale_serves, (unsigned long long)s.redis_errors,
           (unsigned long long)s.origin_errors, s.lru_entries);
}

static config *toolConfig(const char *path) {
    char err[AV_ERRLEN];
    config *cfg = configNew();
    if (!cfg || configLoadFile(cfg, path, err, sizeof(err)) != AV_OK ||
        configApplyEnv(cfg, environ, err, sizeof(err)) != AV_OK ||
        configReadSecretFiles(cfg, err, sizeof(err)) != AV_OK ||
        configValidate(cfg, CONFIG_REQUIRE_SUPPORT, err, sizeof(err)) != AV_OK) {
        fprintf(stderr, "pipeline-tool: %s\n", cfg ? err : "out of memory");
        exit(1);
    }
    return cfg;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"config", 1, 0, 'c'}, {"attempt", 1, 0, 'a'},   {"threads", 1, 0, 'j'},
        {"topic", 1, 0, 't'},  {"partition", 1, 0, 'p'}, {"first-offset", 1, 0, 'o'},
        {"key", 1, 0, 'k'},    {"stats", 0, 0, 's'},     {0, 0, 0, 0}};
    tool t = {.topic = "apivector.dumps", .attempt = 1};
    const char *path = NULL;
    int threads = 1, stats = 0, ch;
    char err[AV_ERRLEN];
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
            case 'c':
                path = optarg;
                break;
            case 'a':
                t.attempt = atoi(optarg);
                break;
            case 'j':
                threads = atoi(optarg);
                break;
            case 't':
                t.topic = optarg;
                break;
            case 'p':
                t.partition = atoi(optarg);
                break;
            case 'o':
                t.first_offset = atoll(optarg);
                break;
            case 'k':
                t.key = optarg;
                break;
            case 's':
                stats = 1;
                break;
            default:
                toolUsage();
        }
    }
    if (!path || optind != argc || threads < 1 || threads > 64)
        toolUsage();
    config *cfg = toolConfig(path);
    if (httpGlobalInit(err, sizeof(err)) != AV_OK ||
        pipelineNew(cfg, toolLog, NULL, &t.p, err, sizeof(err)) != AV_OK) {
        fprintf(stderr, "pipeline-tool: %s\n", err);
        configFree(cfg);
        return 1;
    }
    toolReadLines(&t);
    pthread_mutex_init(&t.lock, NULL);
    pthread_t tids[64];
    for (int i = 0; i < threads; i++)
        pthread_create(&tids[i], NULL, toolWorker, &t);
    for (int i = 0; i < threads; i++)
        pthread_join(tids[i], NULL);
    for (size_t i = 0; i < t.nlines; i++) {
        toolPrint(&t, i);
        pipelineOutputClear(&t.lines[i].out);
        free(t.lines[i].value);
    }
    if (stats)
        toolPrintStats(t.p);
    free(t.lines);
    pipelineFree(t.p);
    configFree(cfg);
    return 0;
}

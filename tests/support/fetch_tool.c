/*
 * fetch_tool.c - drives the artifact store from test scripts and by hand.
 *
 * One process = one artifact store (as one consumer pod would have). It runs
 * rounds of artifactGet calls, each round from --threads threads at once, and
 * prints one JSON line per call:
 *
 *   {"round":0,"thread":1,"status":"ok","sha256":"...","tier":"redis",
 *    "stale":0,"origin_status":0,"bytes":123,"content_ok":1}
 *   {"round":0,"thread":0,"status":"permanent","origin_status":404,"error":"..."}
 *
 * and after each round {"stats":{...}} with the store's counters. Rounds come
 * from --repeat (with --sleep-ms between them) or, with --interactive, one
 * per stdin line ("" = same artifact, "NAME URL" = another one), so a script
 * can change the world (kill Redis, inject a 500) between two rounds of the
 * same process. --start-at lines up several processes on one wall-clock
 * millisecond for the single-flight test.
 *
 * The codec is a trivial one: decode copies the bytes (so "content_ok" can
 * prove the object holds exactly the content its sha256 names). --malpedia
 * adds the Malpedia validator as encode and the Authorization header from
 * --malpedia-key-env / --malpedia-key-file.
 *
 * Exit status: 0 when every call succeeded, else the av_status number of the
 * last failure (transient 7, permanent 8, limit 5, usage 9, ...).
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "artifact.h"
#include "backoff.h"
#include "http.h"
#include "malpedia.h"
#include "secret.h"
#include "sha256.h"

typedef struct blob {
    size_t len;
    unsigned char data[];
} blob;

typedef struct tool {
    artifact_store *store;
    artifact_codec codec;
    const char *headers[8];
    int nheaders;
    int threads, repeat, round;
    long sleep_ms;
    pthread_mutex_t out_lock;
    int last_error;
} tool;

typedef struct job {
    tool *t;
    int thread;
    const char *name;
    const char *url;
} job;

static av_status blobDecode(const unsigned char *in, size_t len, void **obj, size_t *footprint,
                            void *ctx, char *err, size_t errlen) {
    blob *b = malloc(sizeof(*b) + len);
    if (!b)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "out of memory");
    b->len = len;
    memcpy(b->data, in, len);
    *obj = b;
    *footprint = sizeof(*b) + len;
    return AV_OK;
}

static void blobDestroy(void *obj) {
    free(obj);
}

static void toolLog(void *ctx, int level, const char *msg) {
    fprintf(stderr, "fetch-tool: %s: %s\n", level >= ARTIFACT_LOG_ERROR ? "error" : "warn", msg);
}

static void toolJsonString(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void toolPrintStats(tool *t) {
    artifact_stats st;
    artifactStoreStats(t->store, &st);
    printf("{\"stats\":{\"process_hits\":%llu,\"redis_hits\":%llu,\"origin_fetches\":%llu,"
           "\"not_modified\":%llu,\"stale_serves\":%llu,\"redis_errors\":%llu,"
           "\"origin_errors\":%llu,\"lock_waits\":%llu,\"lru_bytes\":%zu,\"lru_entries\":%zu}}\n",
           (unsigned long long)st.process_hits, (unsigned long long)st.redis_hits,
           (unsigned long long)st.origin_fetches, (unsigned long long)st.not_modified,
           (unsigned long long)st.stale_serves, (unsigned long long)st.redis_errors,
           (unsigned long long)st.origin_errors, (unsigned long long)st.lock_waits, st.lru_bytes,
           st.lru_entries);
    fflush(stdout);
}

/* Whether the object holds exactly the bytes its sha256 names (only true for
 * the codec without encode, where cached bytes = origin bytes). */
static int toolContentOk(const tool *t, const blob *b, const char *sha) {
    char hex[SHA256_HEXLEN];
    if (t->codec.encode && t->codec.encode != malpediaValidate)
        return -1;
    if (sha256DigestHex(b->data, b->len, hex, NULL, 0) != AV_OK)
        return 0;
    return strcmp(hex, sha) == 0;
}

static void *toolWorker(void *arg) {
    job *j = arg;
    tool *t = j->t;
    char err[AV_ERRLEN];
    artifact_ref *ref = NULL;
    artifact_info info;
    av_status st = artifactGet(t->store, &t->codec, j->name, j->url,
                               t->nheaders ? t->headers : NULL, &ref, &info, err, sizeof(err));
    pthread_mutex_lock(&t->out_lock);
    printf("{\"round\":%d,\"thread\":%d,\"name\":", t->round, j->thread);
    toolJsonString(stdout, j->name);
    if (st == AV_OK) {
        const blob *b = artifactObject(ref);
        printf(",\"status\":\"ok\",\"sha256\":\"%s\",\"tier\":\"%s\",\"stale\":%d,"
               "\"origin_status\":%ld,\"fetched_at\":%lld,\"bytes\":%zu,\"content_ok\":%d}\n",
               info.sha256, info.tier, info.stale, info.origin_status,
               (long long)info.fetched_at_ms, b->len, toolContentOk(t, b, info.sha256));
    } else {
        printf(",\"status\":\"%s\",\"origin_status\":%ld,\"error\":", avStatusName(st),
               info.origin_status);
        toolJsonString(stdout, err);
        printf("}\n");
        t->last_error = (int)st;
    }
    fflush(stdout);
    pthread_mutex_unlock(&t->out_lock);
    artifactRelease(ref);
    return NULL;
}

static void toolRound(tool *t, const char *name, const char *url) {
    pthread_t tids[64];
    job jobs[64];
    for (int i = 0; i < t->threads; i++) {
        jobs[i] = (job){.t = t, .thread = i, .name = name, .url = url};
        if (pthread_create(&tids[i], NULL, toolWorker, &jobs[i]) != 0) {
            fprintf(stderr, "fetch-tool: cannot start thread %d\n", i);
            exit(AV_ERR_IO);
        }
    }
    for (int i = 0; i < t->threads; i++)
        pthread_join(tids[i], NULL);
    toolPrintStats(t);
    t->round++;
}

static void toolInteractive(tool *t, const char *name, const char *url) {
    char line[2048];
    while (fgets(line, sizeof(line), stdin)) {
        char n[256], u[1800];
        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, "quit") == 0)
            break;
        if (sscanf(line, "%255s %1799s", n, u) == 2)
            toolRound(t, n, u);
        else
            toolRound(t, name, url);
    }
}

static void toolWaitUntil(long long epoch_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (epoch_ms > now)
        backoffSleepMs((uint32_t)(epoch_ms - now));
}

static void toolUsage(void) {
    fprintf(stderr,
            "usage: fetch-tool --url URL --name NAME [--kind K] [--redis-port P [--redis-host H]\n"
            "  --redis-password-env VAR --redis-db N] [--ttl S] [--stale-ttl S] [--check-interval "
            "MS]\n"
            "  [--lock-wait-ms MS] [--lock-ttl-ms MS] [--lru-budget BYTES] [--threads N] [--repeat "
            "N]\n"
            "  [--sleep-ms MS] [--interactive] [--start-at EPOCH_MS] [--retries N] "
            "[--backoff-base-ms MS]\n"
            "  [--backoff-max-ms MS] [--timeout-ms MS] [--max-bytes N] [--header 'Name: value']\n"
            "  [--malpedia --malpedia-key-env VAR | --malpedia-key-file F] [--ca-bundle PEM]\n");
    exit(AV_ERR_USAGE);
}

enum {
    OPT_URL = 256,
    OPT_NAME,
    OPT_KIND,
    OPT_RHOST,
    OPT_RPORT,
    OPT_RPASSENV,
    OPT_RDB,
    OPT_TTL,
    OPT_STALE,
    OPT_CHECK,
    OPT_LOCKWAIT,
    OPT_LOCKTTL,
    OPT_BUDGET,
    OPT_THREADS,
    OPT_REPEAT,
    OPT_SLEEP,
    OPT_INTER,
    OPT_START,
    OPT_RETRIES,
    OPT_BBASE,
    OPT_BMAX,
    OPT_TIMEOUT,
    OPT_MAXB,
    OPT_HEADER,
    OPT_MALP,
    OPT_MKEYENV,
    OPT_MKEYFILE,
    OPT_CABUNDLE
};

static const struct option TOOL_OPTS[] = {
    {"url", 1, 0, OPT_URL},
    {"name", 1, 0, OPT_NAME},
    {"kind", 1, 0, OPT_KIND},
    {"redis-host", 1, 0, OPT_RHOST},
    {"redis-port", 1, 0, OPT_RPORT},
    {"redis-password-env", 1, 0, OPT_RPASSENV},
    {"redis-db", 1, 0, OPT_RDB},
    {"ttl", 1, 0, OPT_TTL},
    {"stale-ttl", 1, 0, OPT_STALE},
    {"check-interval", 1, 0, OPT_CHECK},
    {"lock-wait-ms", 1, 0, OPT_LOCKWAIT},
    {"lock-ttl-ms", 1, 0, OPT_LOCKTTL},
    {"lru-budget", 1, 0, OPT_BUDGET},
    {"threads", 1, 0, OPT_THREADS},
    {"repeat", 1, 0, OPT_REPEAT},
    {"sleep-ms", 1, 0, OPT_SLEEP},
    {"interactive", 0, 0, OPT_INTER},
    {"start-at", 1, 0, OPT_START},
    {"retries", 1, 0, OPT_RETRIES},
    {"backoff-base-ms", 1, 0, OPT_BBASE},
    {"backoff-max-ms", 1, 0, OPT_BMAX},
    {"timeout-ms", 1, 0, OPT_TIMEOUT},
    {"max-bytes", 1, 0, OPT_MAXB},
    {"header", 1, 0, OPT_HEADER},
    {"malpedia", 0, 0, OPT_MALP},
    {"malpedia-key-env", 1, 0, OPT_MKEYENV},
    {"malpedia-key-file", 1, 0, OPT_MKEYFILE},
    {"ca-bundle", 1, 0, OPT_CABUNDLE},
    {0, 0, 0, 0},
};

typedef struct tool_args {
    const char *url, *name, *kind, *redis_pass_env, *mkey_env, *mkey_file;
    int interactive, malpedia;
    long long start_at;
} tool_args;

static void toolParse(int argc, char **argv, tool *t, artifact_config *cfg, tool_args *a) {
    int opt;
    while ((opt = getopt_long(argc, argv, "", TOOL_OPTS, NULL)) != -1) {
        switch (opt) {
            case OPT_URL:
                a->url = optarg;
                break;
            case OPT_NAME:
                a->name = optarg;
                break;
            case OPT_KIND:
                a->kind = optarg;
                break;
            case OPT_RHOST:
                cfg->redis_host = optarg;
                break;
            case OPT_RPORT:
                cfg->redis_port = atoi(optarg);
                if (!cfg->redis_host)
                    cfg->redis_host = "127.0.0.1";
                break;
            case OPT_RPASSENV:
                a->redis_pass_env = optarg;
                break;
            case OPT_RDB:
                cfg->redis_db = atoi(optarg);
                break;
            case OPT_TTL:
                cfg->ttl_seconds = atol(optarg);
                break;
            case OPT_STALE:
                cfg->stale_ttl_seconds = atol(optarg);
                break;
            case OPT_CHECK:
                cfg->freshness_check_interval_ms = atol(optarg);
                break;
            case OPT_LOCKWAIT:
                cfg->lock_wait_ms = atol(optarg);
                break;
            case OPT_LOCKTTL:
                cfg->lock_ttl_ms = atol(optarg);
                break;
            case OPT_BUDGET:
                cfg->lru_budget_bytes = strtoull(optarg, NULL, 10);
                break;
            case OPT_THREADS:
                t->threads = atoi(optarg);
                break;
            case OPT_REPEAT:
                t->repeat = atoi(optarg);
                break;
            case OPT_SLEEP:
                t->sleep_ms = atol(optarg);
                break;
            case OPT_INTER:
                a->interactive = 1;
                break;
            case OPT_START:
                a->start_at = atoll(optarg);
                break;
            case OPT_RETRIES:
                cfg->retries = atoi(optarg);
                break;
            case OPT_BBASE:
                cfg->backoff_base_ms = atol(optarg);
                break;
            case OPT_BMAX:
                cfg->backoff_max_ms = atol(optarg);
                break;
            case OPT_TIMEOUT:
                cfg->http_timeout_ms = atol(optarg);
                break;
            case OPT_MAXB:
                cfg->max_artifact_bytes = strtoull(optarg, NULL, 10);
                break;
            case OPT_HEADER:
                if (t->nheaders < 6)
                    t->headers[t->nheaders++] = optarg;
                break;
            case OPT_MALP:
                a->malpedia = 1;
                break;
            case OPT_MKEYENV:
                a->mkey_env = optarg;
                break;
            case OPT_MKEYFILE:
                a->mkey_file = optarg;
                break;
            case OPT_CABUNDLE:
                cfg->ca_bundle = optarg;
                break;
            default:
                toolUsage();
        }
    }
    if (!a->url || !a->name || t->threads < 1 || t->threads > 64 || t->repeat < 1)
        toolUsage();
}

static void toolFail(av_status st, const char *err) {
    printf("{\"status\":\"%s\",\"error\":", avStatusName(st));
    toolJsonString(stdout, err);
    printf("}\n");
    exit((int)st);
}

int main(int argc, char **argv) {
    tool t = {.threads = 1, .repeat = 1};
    artifact_config cfg = {.log_fn = toolLog};
    tool_args a = {.kind = "test"};
    char err[AV_ERRLEN];
    char *redis_pass = NULL, *mkey = NULL, *auth = NULL;
    toolParse(argc, argv, &t, &cfg, &a);
    pthread_mutex_init(&t.out_lock, NULL);
    av_status st = httpGlobalInit(err, sizeof(err));
    if (st == AV_OK && a.redis_pass_env) {
        st = secretLoad(NULL, a.redis_pass_env, NULL, &redis_pass, err, sizeof(err));
        cfg.redis_password = redis_pass;
    }
    if (st == AV_OK && a.malpedia) {
        st = secretLoad(NULL, a.mkey_env, a.mkey_file, &mkey, err, sizeof(err));
        if (st == AV_OK)
            st = malpediaAuthHeader(mkey, &auth, err, sizeof(err));
        if (st == AV_OK)
            t.headers[t.nheaders++] = auth;
    }
    if (st != AV_OK)
        toolFail(st, err);
    t.codec = (artifact_codec){.kind = a.kind, .decode = blobDecode, .destroy = blobDestroy};
    if (a.malpedia)
        t.codec.encode = malpediaValidate;
    st = artifactStoreNew(&cfg, &t.store, err, sizeof(err));
    if (st != AV_OK)
        toolFail(st, err);
    if (a.start_at)
        toolWaitUntil(a.start_at);
    if (a.interactive) {
        toolInteractive(&t, a.name, a.url);
    } else {
        for (int r = 0; r < t.repeat; r++) {
            if (r > 0 && t.sleep_ms > 0)
                backoffSleepMs((uint32_t)t.sleep_ms);
            toolRound(&t, a.name, a.url);
        }
    }
    artifactStoreFree(t.store);
    secretFree(redis_pass);
    secretFree(mkey);
    secretFree(auth);
    return t.last_error;
}

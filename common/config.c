/*
 * config.c - the configuration's key table, defaults, per-key checks and the
 * JSON file loader.
 *
 * One table describes every top-level key: its type, flags, field offset in
 * struct config, default and range. Every source is reduced to "set key K to
 * JSON value V with source S": the file gives JSON values directly, an
 * environment variable is first converted to a JSON value according to K's
 * type (so "8080" becomes the integer 8080 for redis_port but the string
 * "8080" for group_id). configSetValue() then does all checking in one place,
 * which keeps messages identical whatever the source, and skips the update
 * when a stronger source already set the key, so the call order of the
 * loaders does not matter. The environment and -X live in config_env.c,
 * printing and cross-key checks in config_dump.c.
 */
#include "config.h"
#include "config_internal.h"
#include "jsonutil.h"
#include "secret.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* 2^63 as a double: the bound of an int64_t (a max of I63 means INT64_MAX) */
#define CONFIG_I63 9223372036854775808.0
#define K(n, t, f, s, d, lo, hi)                                                                   \
    { #n, t, f, offsetof(config, n), s, d, lo, hi }
#define KSTR(n, f, s) K(n, CT_STR, f, s, 0, 0, 0)
#define KINT(n, d, lo, hi) K(n, CT_INT, 0, NULL, d, lo, hi)
#define KNUM(n, d, lo, hi) K(n, CT_NUM, 0, NULL, d, lo, hi)
#define KBOOL(n, d) K(n, CT_BOOL, 0, NULL, d, 0, 0)
#define I63 CONFIG_I63
#define I31 2147483647.0

const config_key configKeys[] = {
    KSTR(input_topic, CF_TOPIC, "apivector.dumps"),
    KSTR(results_topic, CF_TOPIC, "apivector.results"),
    KSTR(dlq_topic, CF_TOPIC, "apivector.dlq"),
    KSTR(group_id, CF_NONEMPTY, "apivector"),
    KSTR(support_url, CF_NULLABLE | CF_EMPTYNULL | CF_HTTP, NULL),
    KSTR(apiscout_dbs_remote_path, 0, "apiscout"),
    K(apiscout_dbs, CT_LIST, 0, NULL, 0, 0, 0),
    KSTR(default_db, CF_NULLABLE | CF_EMPTYNULL, NULL),
    KSTR(apivector_lists_remote_path, 0, "apivector_lists"),
    K(apivector_lists, CT_LISTS, 0, NULL, 0, 0, 0),
    KSTR(winapi1024, CF_NONEMPTY, "apiscout/winapi1024v1.txt"),
    KSTR(malpedia_apikey, CF_NULLABLE | CF_EMPTYNULL | CF_SECRET, NULL),
    KSTR(malpedia_apikey_file, CF_NULLABLE | CF_EMPTYNULL, NULL),
    KSTR(malpedia_url, CF_HTTP, "https://malpedia.caad.fkie.fraunhofer.de/api/list/apiscout/csv"),
    KINT(malpedia_refresh_seconds, 86400, 1, I31),
    KNUM(min_confidence, 50.0, 0, 100),
    KNUM(min_jaccard, 0.40, 0, 1),
    KINT(top_n, 10, 1, 10),
    KINT(filter_distance, 32, 0, I31),
    KBOOL(ignore_aslr, 0),
    KBOOL(include_apis, 1),
    KSTR(redis_host, CF_NULLABLE | CF_EMPTYNULL, "127.0.0.1"),
    KINT(redis_port, 6379, 1, 65535),
    KSTR(redis_password, CF_NULLABLE | CF_EMPTYNULL | CF_SECRET, NULL),
    KINT(redis_db, 0, 0, I31),
    KINT(cache_ttl_seconds, 300, 1, I31),
    KINT(cache_stale_seconds, 604800, 0, I31),
    KINT(cache_check_interval_ms, 5000, 0, I31),
    KINT(lru_budget_bytes, 1073741824.0, 1, I63),
    KINT(http_connect_timeout_ms, 5000, 1, I31),
    KINT(http_timeout_ms, 120000, 1, I31),
    KINT(http_retries, 3, 0, 100),
    KBOOL(tls_verify, 1),
    KSTR(ca_bundle, CF_NULLABLE | CF_EMPTYNULL, NULL),
    KINT(max_artifact_bytes, 268435456.0, 1, I63),
    KINT(max_dump_bytes, 2147483648.0, 1, I63),
    K(dump_file_roots, CT_LIST, CF_ABSPATHS, NULL, 0, 0, 0),
    KINT(max_redirects, 3, 0, 100),
    KINT(workers, 0, 0, 1024),
    KINT(max_inflight_events, 1024, 1, 1000000),
    KINT(max_inflight_bytes, 1073741824.0, 1, I63),
    KINT(max_attempts, 5, 1, 1000),
    KINT(retry_backoff_ms, 1000, 0, I31),
    KINT(retry_backoff_max_ms, 60000, 0, I31),
    KINT(dlq_max_value_bytes, 65536, 0, I31),
    KINT(shutdown_timeout_ms, 30000, 1, I31),
    KINT(metrics_port, 9464, 0, 65535),
    KSTR(metrics_bind, CF_NONEMPTY, "0.0.0.0"),
    K(log_level, CT_LEVEL, 0, NULL, CONFIG_LOG_INFO, 0, 0),
    K(kafka, CT_KAFKA, 0, NULL, 0, 0, 0),
};

_Static_assert(sizeof(configKeys) / sizeof(configKeys[0]) == CONFIG_NKEYS,
               "CONFIG_NKEYS must match the key table");

static const char *const configLevels[] = {"debug", "info", "warn", "error"};

/* ------------------------------------------------------------ messages */

av_status configFail(char *err, size_t errlen, av_status st, const char *origin, const char *key,
                     const char *fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return avErrorf(err, errlen, st, "%s: %s: %s", origin, key, what);
}

/* ------------------------------------------------------------- helpers */

const config_key *configFindKey(const char *name) {
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        if (strcmp(configKeys[i].name, name) == 0) {
            return &configKeys[i];
        }
    }
    return NULL;
}

static void configListFree(config_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i]);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static void configCollectionsFree(config_collection *c, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(c[i].name);
        free(c[i].classification);
    }
    free(c);
}

static bool configIsTopic(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 249 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
        return false;
    }
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* http(s)://, a non-empty rest, and no blank or control character (a value
 * mounted from a file often ends in a newline). */
static bool configIsHttpUrl(const char *s) {
    size_t skip = strncmp(s, "http://", 7) == 0 ? 7 : strncmp(s, "https://", 8) == 0 ? 8 : 0;
    if (!skip || !s[skip]) {
        return false;
    }
    for (; *s; s++) {
        if ((unsigned char)*s <= 0x20 || *s == 0x7f) {
            return false;
        }
    }
    return true;
}

static void configKafkaFree(config *cfg) {
    for (size_t i = 0; i < cfg->nkafka; i++) {
        free(cfg->kafka[i].name);
        free(cfg->kafka[i].value);
    }
    free(cfg->kafka);
    cfg->kafka = NULL;
    cfg->nkafka = 0;
}

av_status configKafkaPut(config *cfg, const char *name, const char *value, config_source src,
                         const char *origin, char *err, size_t errlen) {
    if (!*name || strchr(name, '=')) {
        return configFail(err, errlen, AV_ERR_PARSE, origin, "kafka",
                          "property name must be non-empty and contain no '='");
    }
    char *v = strdup(value);
    if (!v) {
        return avErrorf(err, errlen, AV_ERR_NOMEM, "%s: out of memory", origin);
    }
    for (size_t i = 0; i < cfg->nkafka; i++) {
        if (strcmp(cfg->kafka[i].name, name) == 0) {
            if (src < cfg->kafka[i].source) {
                free(v);
                return AV_OK;
            }
            free(cfg->kafka[i].value);
            cfg->kafka[i].value = v;
            cfg->kafka[i].source = src;
            return AV_OK;
        }
    }
    config_kafka_prop *grown = realloc(cfg->kafka, (cfg->nkafka + 1) * sizeof(*grown));
    char *n = strdup(name);
    if (!grown || !n) {
        free(v);
        free(n);
        if (grown) {
            cfg->kafka = grown;
        }
        return avErrorf(err, errlen, AV_ERR_NOMEM, "%s: out of memory", origin);
    }
    cfg->kafka = grown;
    cfg->kafka[cfg->nkafka++] = (config_kafka_prop){n, v, src};
    return AV_OK;
}

/* --------------------------------------------------------- set a value */

static av_status configSetString(config *cfg, const config_key *k, const json_t *v,
                                 const char *origin, char *err, size_t errlen) {
    char **field = CONFIG_FIELD(cfg, k, char *);
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (json_is_null(v) || (s && !*s && (k->flags & CF_EMPTYNULL))) {
        if (!(k->flags & CF_NULLABLE)) {
            return configFail(err, errlen, AV_ERR_PARSE, origin, k->name,
                              "expected a string, got null");
        }
        free(*field);
        *field = NULL;
        return AV_OK;
    }
    if (!s) {
        return configFail(err, errlen, AV_ERR_PARSE, origin, k->name, "expected a string%s, got %s",
                          k->flags & CF_NULLABLE ? " or null" : "", jsonTypeName(v));
    }
    if (!*s && (k->flags & (CF_NONEMPTY | CF_TOPIC | CF_HTTP))) {
        return configFail(err, errlen, AV_ERR_RANGE, origin, k->name, "must not be empty");
    }
    if ((k->flags & CF_TOPIC) && !configIsTopic(s)) {
        return configFail(err, errlen, AV_ERR_RANGE, origin, k->name,
                          "\"%.60s\" is not a Kafka topic name (1..249 of A-Z a-z 0-9 . _ -)", s);
    }
    if ((k->flags & CF_HTTP) && !configIsHttpUrl(s)) {
        return configFail(err, errlen, AV_ERR_RANGE, origin, k->name,
                          "must be an http:// or https:// URL without blanks");
    }
    char *copy = strdup(s);
    if (!copy) {
        return avErrorf(err, errlen, AV_ERR_NOMEM, "%s: out of memory", origin);
    }
    free(*field);
    *field = copy;
    return AV_OK;
}

static av_status configSetNumber(config *cfg, const config_key *k, const json_t *v,
                                 const char *origin, char *err, size_t errlen) {
    bool integer = k->type == CT_INT;
    if (!json_is_number(v)) {
        return configFail(err, errlen, AV_ERR_PARSE, origin, k->name, "expected %s, got %s",
                          integer ? "an integer" : "a number", jsonTypeName(v));
    }
    double d = json_number_value(v);
    if (!integer) {
        if (!(d >= k->min && d <= k->max)) {
            return configFail(err, errlen, AV_ERR_RANGE, origin, k->name,
                              "%.15g is out of range %.15g..%.15g", d, k->min, k->max);
        }
        *CONFIG_FIELD(cfg, k, double) = d;
        return AV_OK;
    }
    if (json_is_real(v) && d != floor(d)) {
        return configFail(err, errlen, AV_ERR_PARSE, origin, k->name,
                          "expected an integer, got %.15g", d);
    }
    int64_t lo = (int64_t)k->min, hi = k->max >= CONFIG_I63 ? INT64_MAX : (int64_t)k->max;
    if (json_is_real(v) && !(d >= -CONFIG_I63 && d < CONFIG_I63)) {
        return configFail(err, errlen, AV_ERR_RANGE, origin, k->name,
                          "%.15g is out of range %lld..%lld", d, (long long)lo, (long long)hi);
    }
    int64_t i = json_is_integer(v) ? json_integer_value(v) : (int64_t)d;
    if (i < lo || i > hi) {
        return configFail(err, errlen, AV_ERR_RANGE, origin, k->name,
                          "%lld is out of range %lld..%lld", (long long)i, (long long)lo,
                          (long long)hi);
    }
    *CONFIG_FIELD(cfg, k, int64_t) = i;
    return AV_OK;
}

/* Builds a string list from a JSON array; *out is only replaced on success. */
static av_status configSetList(config_list *out, const config_key *k, const json_t *v,
                               const char *origin, char *err, size_t errlen) {
    if (!json_is_array(v)) {
        return configFail(err, errlen, AV_ERR_PARSE, origin, k->name,
                          "expected an array of strings, got %s", jsonTypeName(v));
    }
    config_list l = {calloc(json_array_size(v) + 1, sizeof(char *)), 0};
    if (!l.items) {
        return avErrorf(err, errlen, AV_ERR_NOMEM, "%s: out of memory", origin);
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *item = json_array_get(v, i);
        const char *s = json_string_value(item);
        av_status st = AV_OK;
        if (!s || !*s) {
            st = configFail(err, errlen, AV_ERR_PARSE, origin, k->name,
                            "item %zu: expected a non-empty string, got %s", i,
                            s ? "\"\"" : jsonTypeName(item));
        } else if ((k->flags & CF_ABSPATHS) && s[0] != '/') {
            st = configFail(err, errlen, AV_ERR_RANGE, origin, k->name,
                            "item %zu: \"%.60s\" is not an absolute path", i, s);
        } else if (!(l.items[l.n++] = strdup(s))) {
            st = avErrorf(err, errlen, AV_ERR_NOMEM, "%s: out of memory", origin);
        }
        if (st != AV_OK) {
            configListFree(&l);
            return st;
        }
    }
    configListFree(out);
    *out = l;
    return AV_OK;
}

static av_status configSetCollections(config *cfg, const config_key *k, const json_t *v,
                                      const char *origin, char *err, size_t errlen) {
    if (!json_is_object(v)) {
        return configFail(err, errlen, AV_ERR_PARSE, origin, k->name,
                          "expected an object {name: {\"classification\": string}}, got %s",
                          jsonTypeName(v));
    }
    size_t n = json_object_size(v), i = 0;
    config_collection *c = calloc(n + 1, sizeof(*c));
    if (!c) {
        return avErrorf(err, errlen, AV_ERR_NOMEM, "%s: out of memory", origin);
    }
    const char *name;
    json_t *entry;
    av_status st = AV_OK;
    json_object_foreach((json_t *)v, name, entry) {
        const json_t *cls = json_object_get(entry, "classification");
        char path[160];
        snprintf(path, sizeof(path), "%s.%.100s", k->name, name);
        if (!*name) {
            st = configFail(err, errlen, AV_ERR_PARSE, origin, k->name, "empty collection name");
        } else if (!json_is_object(entry)) {
            st = configFail(err, errlen, AV_ERR_PARSE, origin, path,
                            "expected an object {\"classification\": string}, got %s",
                            jsonTypeName(entry));
        } else if (!json_is_string(cls) || json_object_size(entry) != 1) {
            st = configFail(err, errlen, AV_ERR_PARSE, origin, path,
                            "expected exactly one key, \"classification\", with a string");
        } else {
            c[i].name = strdup(name);
            c[i].classification = strdup(json_string_value(cls));
            i++;
            if (!c[i - 1].name || !c[i - 1].classification) {
                st = avErrorf(err, errlen, AV_ERR_NOMEM, "%s: out of memory", origin);
            }
        }
        if (st != AV_OK) {
            break;
        }
    }
    if (st != AV_OK) {
        configCollectionsFree(c, i); /* the previous value stays */
        return st;
    }
    configCollectionsFree(cfg->apivector_lists, cfg->napivector_lists);
    cfg->apivector_lists = c;
    cfg->napivector_lists = i;
    return AV_OK;
}

static av_status configSetKafkaObject(config *cfg, const json_t *v, config_source src,
                                      const char *origin, char *err, size_t errlen) {
    if (!json_is_object(v)) {
        return configFail(err, errlen, AV_ERR_PARSE, origin, "kafka",
                          "expected an object of librdkafka properties, got %s", jsonTypeName(v));
    }
    const char *prop;
    json_t *pv;
    json_object_foreach((json_t *)v, prop, pv) {
        char num[32];
        const char *s = json_string_value(pv);
        if (json_is_integer(pv)) {
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(pv));
            s = num;
        } else if (json_is_boolean(pv)) {
            s = json_is_true(pv) ? "true" : "false";
        }
        if (!s) {
            return configFail(err, errlen, AV_ERR_PARSE, origin, "kafka",
                              "%.100s: expected a string, integer or boolean, got %s", prop,
                              jsonTypeName(pv));
        }
        av_status st = configKafkaPut(cfg, prop, s, src, origin, err, errlen);
        if (st != AV_OK) {
            return st;
        }
    }
    return AV_OK;
}

/* The one place a key changes (see the top comment). */
av_status configSetValue(config *cfg, const config_key *k, const json_t *v, config_source src,
                         const char *origin, char *err, size_t errlen) {
    size_t idx = (size_t)(k - configKeys);
    if (k->type == CT_KAFKA) {
        return configSetKafkaObject(cfg, v, src, origin, err, errlen);
    }
    if (src < cfg->source_[idx]) {
        return AV_OK;
    }
    av_status st = AV_OK;
    switch (k->type) {
        case CT_STR:
            st = configSetString(cfg, k, v, origin, err, errlen);
            break;
        case CT_INT:
        case CT_NUM:
            st = configSetNumber(cfg, k, v, origin, err, errlen);
            break;
        case CT_BOOL:
            if (!json_is_boolean(v)) {
                return configFail(err, errlen, AV_ERR_PARSE, origin, k->name,
                                  "expected true or false, got %s", jsonTypeName(v));
            }
            *CONFIG_FIELD(cfg, k, bool) = json_is_true(v);
            break;
        case CT_LIST:
            st = configSetList(CONFIG_FIELD(cfg, k, config_list), k, v, origin, err, errlen);
            break;
        case CT_LISTS:
            st = configSetCollections(cfg, k, v, origin, err, errlen);
            break;
        case CT_LEVEL: {
            const char *s = json_string_value(v);
            size_t i = 0;
            while (s && i < 4 && strcmp(s, configLevels[i]) != 0) {
                i++;
            }
            if (!s || i == 4) {
                return configFail(err, errlen, AV_ERR_RANGE, origin, k->name,
                                  "expected one of debug, info, warn, error");
            }
            cfg->log_level = (config_log_level)i;
            break;
        }
        case CT_KAFKA:
            break;
    }
    if (st == AV_OK) {
        cfg->source_[idx] = (unsigned char)src;
    }
    return st;
}

/* ------------------------------------------------------- public: basics */

config *configNew(void) {
    config *cfg = calloc(1, sizeof(*cfg));
    for (size_t i = 0; cfg && i < CONFIG_NKEYS; i++) {
        const config_key *k = &configKeys[i];
        switch (k->type) {
            case CT_STR:
                if (k->sdef && !(*CONFIG_FIELD(cfg, k, char *) = strdup(k->sdef))) {
                    configFree(cfg);
                    return NULL;
                }
                break;
            case CT_INT:
                *CONFIG_FIELD(cfg, k, int64_t) = (int64_t)k->ddef;
                break;
            case CT_NUM:
                *CONFIG_FIELD(cfg, k, double) = k->ddef;
                break;
            case CT_BOOL:
                *CONFIG_FIELD(cfg, k, bool) = k->ddef != 0;
                break;
            case CT_LEVEL:
                cfg->log_level = (config_log_level)k->ddef;
                break;
            case CT_LIST:
            case CT_LISTS:
            case CT_KAFKA:
                break; /* empty by calloc */
        }
    }
    return cfg;
}

void configFree(config *cfg) {
    if (!cfg) {
        return;
    }
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        const config_key *k = &configKeys[i];
        if (k->type == CT_STR && (k->flags & CF_SECRET)) {
            secretFree(*CONFIG_FIELD(cfg, k, char *)); /* wiped, not just freed */
        } else if (k->type == CT_STR) {
            free(*CONFIG_FIELD(cfg, k, char *));
        } else if (k->type == CT_LIST) {
            configListFree(CONFIG_FIELD(cfg, k, config_list));
        }
    }
    configCollectionsFree(cfg->apivector_lists, cfg->napivector_lists);
    configKafkaFree(cfg);
    free(cfg);
}

size_t configKeyNames(const char **names, size_t max) {
    for (size_t i = 0; names && i < CONFIG_NKEYS && i < max; i++) {
        names[i] = configKeys[i].name;
    }
    return CONFIG_NKEYS;
}

const char *configSourceName(config_source src) {
    static const char *const names[] = {"default", "file", "env", "cli"};
    return src <= CONFIG_SRC_CLI ? names[src] : "unknown";
}

const char *configLogLevelName(config_log_level level) {
    return level <= CONFIG_LOG_ERROR ? configLevels[level] : "unknown";
}

config_source configSourceOf(const config *cfg, const char *key) {
    if (strncmp(key, "kafka.", 6) == 0) {
        for (size_t i = 0; i < cfg->nkafka; i++) {
            if (strcmp(cfg->kafka[i].name, key + 6) == 0) {
                return cfg->kafka[i].source;
            }
        }
        return CONFIG_SRC_DEFAULT;
    }
    const config_key *k = configFindKey(key);
    return k ? (config_source)cfg->source_[k - configKeys] : CONFIG_SRC_DEFAULT;
}

const char *configKafkaGet(const config *cfg, const char *prop) {
    for (size_t i = 0; i < cfg->nkafka; i++) {
        if (strcmp(cfg->kafka[i].name, prop) == 0) {
            return cfg->kafka[i].value;
        }
    }
    return NULL;
}

/* ------------------------------------------------------- public: loading */

av_status configLoadString(config *cfg, const char *text, size_t len, const char *origin, char *err,
                           size_t errlen) {
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        return avErrorf(err, errlen, AV_ERR_PARSE, "%s:%d:%d: invalid JSON: %s", origin, jerr.line,
                        jerr.column, jerr.text);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return avErrorf(err, errlen, AV_ERR_PARSE, "%s: expected a JSON object at the top", origin);
    }
    const char *key;
    json_t *v;
    av_status st = AV_OK;
    json_object_foreach(root, key, v) {
        const config_key *k = configFindKey(key);
        st = k ? configSetValue(cfg, k, v, CONFIG_SRC_FILE, origin, err, errlen)
               : configFail(err, errlen, AV_ERR_PARSE, origin, key, "unknown key");
        if (st != AV_OK) {
            break;
        }
    }
    json_decref(root);
    return st;
}

av_status configLoadFile(config *cfg, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return avErrorf(err, errlen, AV_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap || cap >= (16u << 20)) {
            break;
        }
        char *grown = realloc(buf, cap * 2);
        if (!grown) {
            free(buf);
        }
        buf = grown;
        cap *= 2;
    }
    bool failed = ferror(f) != 0;
    fclose(f);
    av_status st;
    if (!buf) {
        st = avErrorf(err, errlen, AV_ERR_NOMEM, "%s: out of memory", path);
    } else if (failed) {
        st = avErrorf(err, errlen, AV_ERR_IO, "%s: read error", path);
    } else if (len == cap) {
        st = avErrorf(err, errlen, AV_ERR_LIMIT, "%s: larger than 16 MiB", path);
    } else {
        st = configLoadString(cfg, buf, len, path, err, errlen);
    }
    free(buf);
    return st;
}

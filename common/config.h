/*
 * config.h - the service configuration: defaults, one JSON file, environment
 * variables, and librdkafka properties passed through.
 *
 * Sources, from weakest to strongest: built-in defaults < the JSON file
 * (configLoadFile) < environment (configApplyEnv) < command line -X
 * (configSetKafka). Each key remembers the source that set it, so the calls may
 * come in any order and the stronger source still wins.
 *
 * - The file is one JSON object whose top-level keys are listed below; an
 *   unknown key or a value of the wrong type or out of range is an error
 *   naming the file and the key ("/etc/apivector.json: min_jaccard: 1.5 is out
 *   of range 0..1"); bad JSON gives line and column.
 * - Every key can be set by APIVECTOR_<KEY> (the key upper-cased), parsed by
 *   the key's type: integer (decimal), number, boolean (true/false/1/0, any
 *   case), string, nullable string ("" = null), list (a JSON array, or
 *   comma-separated items with blanks trimmed), object (JSON). Errors name the
 *   variable ("env APIVECTOR_REDIS_PORT: redis_port: expected an integer, got
 *   \"abc\""). An unknown APIVECTOR_* variable is an error, except
 *   APIVECTOR_CONFIG (left to the program, e.g. for the config file's path)
 *   and the names Kubernetes injects for a Service called "apivector"
 *   (APIVECTOR_SERVICE_*, APIVECTOR_PORT, APIVECTOR_PORT_<n>_<TCP|UDP|SCTP>*),
 *   which are ignored.
 * - librdkafka properties are passed through unchanged (validated later by
 *   librdkafka): the file's "kafka" object, APIVECTOR_KAFKA_<PROPERTY> (upper
 *   case, dots as underscores: APIVECTOR_KAFKA_SASL_PASSWORD -> sasl.password;
 *   APIVECTOR_KAFKA_LOG_LEVEL -> log_level, librdkafka's one settable name
 *   with an underscore), and -X property=value. An APIVECTOR_KAFKA variable
 *   (no suffix) holds a JSON object of properties.
 *
 * The library never reads the process environment itself: the caller passes
 * envp, so tests are hermetic and there is no global state.
 *
 * Secrets (malpedia_apikey, redis_password, Kafka properties whose name
 * contains password, secret, key, token, credential or is
 * sasl.oauthbearer.config, and passwords inside URLs) are never echoed in an
 * error message and are masked as "***" by configDump(..., true).
 *
 * Ownership and thread-safety: a config is owned by its creator and freed with
 * configFree(). Loading functions mutate it and must not run concurrently with
 * anything else on it; once loaded, a config is read-only and any number of
 * threads may read its fields at once.
 */
#ifndef APIVECTOR_CONFIG_H
#define APIVECTOR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Where a value came from; stronger sources override weaker ones. */
typedef enum config_source {
    CONFIG_SRC_DEFAULT = 0,
    CONFIG_SRC_FILE,
    CONFIG_SRC_ENV,
    CONFIG_SRC_CLI,
} config_source;

typedef enum config_log_level {
    CONFIG_LOG_DEBUG = 0,
    CONFIG_LOG_INFO,
    CONFIG_LOG_WARN,
    CONFIG_LOG_ERROR,
} config_log_level;

/* A list of strings. */
typedef struct config_list {
    char **items;
    size_t n;
} config_list;

/* One entry of apivector_lists: a collection on the support server. */
typedef struct config_collection {
    char *name;           /* e.g. "restricted.csv" */
    char *classification; /* e.g. "TLP:AMBER", carried into match events */
} config_collection;

/* One librdkafka property, passed through unchanged. */
typedef struct config_kafka_prop {
    char *name;  /* e.g. "bootstrap.servers" */
    char *value; /* as given */
    config_source source;
} config_kafka_prop;

/* Number of top-level keys, "kafka" included. */
#define CONFIG_NKEYS 50

/* The effective configuration. Strings marked "or NULL" are NULL when unset
 * (null in JSON). Ranges are enforced at load time. */
typedef struct config {
    /* Kafka topics and consumer group. Topic names: 1..249 of [A-Za-z0-9._-]. */
    char *input_topic;   /* "apivector.dumps": dump-ready events are read here */
    char *results_topic; /* "apivector.results": result and match events */
    char *dlq_topic;     /* "apivector.dlq": dead letters */
    char *group_id;      /* "apivector": consumer group id */

    /* Support server (artifacts). */
    char *support_url;                 /* http(s) base URL, or NULL; required for consume */
    char *apiscout_dbs_remote_path;    /* "apiscout": DBs at <path>/<vm_name>.json */
    config_list apiscout_dbs;          /* []: vm_names whose DBs are preloaded at start */
    char *default_db;                  /* NULL: vm_name for executable/windows events without one */
    char *apivector_lists_remote_path; /* "apivector_lists": collections at <path>/<name> */
    config_collection *apivector_lists; /* {}: name -> {"classification": string} */
    size_t napivector_lists;
    char *winapi1024; /* "apiscout/winapi1024v1.txt": relative to support_url, or an
                         absolute local path or file:// URL */

    /* Malpedia's ApiVector collection (fetched only when a key is set). */
    char *malpedia_apikey;      /* NULL; secret */
    char *malpedia_apikey_file; /* NULL: file holding the key (read by configReadSecretFiles) */
    char *malpedia_url; /* "https://malpedia.caad.fkie.fraunhofer.de/api/list/apiscout/csv" */
    int64_t malpedia_refresh_seconds; /* 86400, >= 1 */

    /* Engine and matching. */
    double min_confidence;   /* 50.0, 0..100: match only when confidence is above it */
    double min_jaccard;      /* 0.40, 0..1: families listed only when above it */
    int64_t top_n;           /* 10, 1..10: entries in match.top */
    int64_t filter_distance; /* 32, >= 0: neighbour filter distance (0 = off) */
    bool ignore_aslr;        /* false: ignore the DBs' ASLR offsets */
    bool include_apis;       /* true: result events carry the filtered API list */

    /* Redis cache. */
    char *redis_host;                /* "127.0.0.1"; NULL (or "") = no Redis */
    int64_t redis_port;              /* 6379, 1..65535 */
    char *redis_password;            /* NULL; secret (AUTH) */
    int64_t redis_db;                /* 0, >= 0 */
    int64_t cache_ttl_seconds;       /* 300, >= 1: revalidate artifacts after this */
    int64_t cache_stale_seconds;     /* 604800, >= 0: serve stale copies up to this age */
    int64_t cache_check_interval_ms; /* 5000, >= 0: freshness check period per artifact */
    int64_t lru_budget_bytes;        /* 1073741824, >= 1: in-process artifact cache */

    /* HTTP. */
    int64_t http_connect_timeout_ms; /* 5000, >= 1 */
    int64_t http_timeout_ms;         /* 120000, >= 1 */
    int64_t http_retries;            /* 3, 0..100: retries of transient failures */
    bool tls_verify;                 /* true */
    char *ca_bundle;                 /* NULL: CA bundle path (system default when NULL) */
    int64_t max_artifact_bytes;      /* 268435456, >= 1 */

    /* Dumps. */
    int64_t max_dump_bytes;      /* 2147483648, >= 1 */
    config_list dump_file_roots; /* []: absolute folders file:// dumps may come from */
    int64_t max_redirects;       /* 3, 0..100 */

    /* Consumer. */
    int64_t workers;              /* 0 (= number of cores), 0..1024 */
    int64_t max_inflight_events;  /* 1024, >= 1 (see the README: pausing is costly) */
    int64_t max_inflight_bytes;   /* 1073741824, >= 1 */
    int64_t max_attempts;         /* 5, 1..1000: then a transient error is dead-lettered */
    int64_t retry_backoff_ms;     /* 1000, >= 0 */
    int64_t retry_backoff_max_ms; /* 60000, >= retry_backoff_ms */
    int64_t dlq_max_value_bytes;  /* 65536, 0..2147483647: original value kept in a DLQ record */
    int64_t shutdown_timeout_ms;  /* 30000, >= 1 */

    /* Operations. */
    int64_t metrics_port;       /* 9464, 0..65535 (0 = no metrics server) */
    char *metrics_bind;         /* "0.0.0.0" */
    config_log_level log_level; /* "info": debug, info, warn or error */

    /* librdkafka properties, in the order first set. */
    config_kafka_prop *kafka;
    size_t nkafka;

    /* Private: the source of each key, indexed like the key table. */
    unsigned char source_[CONFIG_NKEYS];
} config;

/* Flags of configValidate(). */
#define CONFIG_REQUIRE_SUPPORT 1u /* support_url must be set (apivector consume) */

/* Returns a new configuration holding the defaults, or NULL when memory runs
 * out. Free with configFree(). */
config *configNew(void);

/* Frees cfg and everything it owns; NULL is allowed. */
void configFree(config *cfg);

/* Reads a JSON file and applies its keys with source CONFIG_SRC_FILE. On error
 * returns AV_ERR_IO (unreadable), AV_ERR_PARSE (bad JSON, unknown key, wrong
 * type) or AV_ERR_RANGE (out of range), with a message starting with path;
 * cfg may then be partly updated and should be discarded. */
av_status configLoadFile(config *cfg, const char *path, char *err, size_t errlen);

/* Same as configLoadFile() for JSON text in memory; origin names it in
 * messages (e.g. a file name, or "--config-json"). */
av_status configLoadString(config *cfg, const char *text, size_t len, const char *origin, char *err,
                           size_t errlen);

/* Applies APIVECTOR_* variables from envp (a NULL-terminated "NAME=VALUE"
 * array, e.g. main's third argument or environ; NULL means none) with source
 * CONFIG_SRC_ENV. Errors name the variable. */
av_status configApplyEnv(config *cfg, char **envp, char *err, size_t errlen);

/* Sets a librdkafka property with source CONFIG_SRC_CLI (-X prop=value). */
av_status configSetKafka(config *cfg, const char *prop, const char *value, char *err,
                         size_t errlen);

/* Splits a -X argument "prop=value" at the first '=' and calls
 * configSetKafka(). */
av_status configSetKafkaArg(config *cfg, const char *arg, char *err, size_t errlen);

/* Returns the value of a librdkafka property, or NULL when unset. Points into
 * cfg. */
const char *configKafkaGet(const config *cfg, const char *prop);

/* Reads malpedia_apikey_file into malpedia_apikey (surrounding whitespace
 * trimmed). Setting both is an error; so is an unreadable or empty file. The
 * key is never part of a message. No-op when malpedia_apikey_file is NULL. */
av_status configReadSecretFiles(config *cfg, char *err, size_t errlen);

/* Checks rules that span keys: retry_backoff_max_ms >= retry_backoff_ms,
 * http_connect_timeout_ms <= http_timeout_ms, input_topic differs from
 * results_topic and dlq_topic, malpedia_apikey and malpedia_apikey_file not
 * both set, and with CONFIG_REQUIRE_SUPPORT that support_url is set. Returns
 * AV_ERR_USAGE naming the keys. */
av_status configValidate(const config *cfg, unsigned flags, char *err, size_t errlen);

/* Returns the effective configuration as indented JSON (every key, then the
 * "kafka" object), secrets masked as "***" when mask_secrets is true. The
 * caller frees it with free(); NULL when memory runs out. */
char *configDump(const config *cfg, bool mask_secrets);

/* Where the value of key came from; CONFIG_SRC_DEFAULT for unknown keys. For
 * "kafka.<prop>" the property's source. */
config_source configSourceOf(const config *cfg, const char *key);

/* Name of a source: "default", "file", "env" or "cli". */
const char *configSourceName(config_source src);

/* Name of a log level: "debug", "info", "warn" or "error". */
const char *configLogLevelName(config_log_level level);

/* True when a librdkafka property holds a secret and must be masked. */
bool configIsSecretKafkaProperty(const char *name);

/* Returns the number of top-level keys and, in order, their names through
 * names (static strings) when names is not NULL; e.g. for --help or docs. */
size_t configKeyNames(const char **names, size_t max);

#endif

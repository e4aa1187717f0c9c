/*
 * test_config.c - the configuration: defaults, the JSON file, APIVECTOR_*
 * environment variables, librdkafka pass-through, precedence, cross-key
 * checks, secret files and the masked dump (common/config*.c).
 *
 * Error messages are compared exactly: they are what an operator sees at
 * start-up. Environments are plain arrays, never the process environment.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static config *load(const char *json) {
    config *cfg = configNew();
    char err[AV_ERRLEN] = "";
    assert_non_null(cfg);
    if (configLoadString(cfg, json, strlen(json), "test.json", err, sizeof(err)) != AV_OK) {
        fail_msg("load failed: %s", err);
    }
    return cfg;
}

static void expect_file_error(const char *json, av_status st, const char *message) {
    config *cfg = configNew();
    char err[AV_ERRLEN] = "";
    assert_int_equal(configLoadString(cfg, json, strlen(json), "test.json", err, sizeof(err)), st);
    assert_string_equal(err, message);
    configFree(cfg);
}

static void expect_env_error(char **envp, const char *message) {
    config *cfg = configNew();
    char err[AV_ERRLEN] = "";
    assert_int_not_equal(configApplyEnv(cfg, envp, err, sizeof(err)), AV_OK);
    assert_string_equal(err, message);
    configFree(cfg);
}

static void test_defaults(void **state) {
    config *cfg = configNew();
    assert_string_equal(cfg->input_topic, "apivector.dumps");
    assert_string_equal(cfg->results_topic, "apivector.results");
    assert_string_equal(cfg->dlq_topic, "apivector.dlq");
    assert_string_equal(cfg->group_id, "apivector");
    assert_null(cfg->support_url);
    assert_string_equal(cfg->apiscout_dbs_remote_path, "apiscout");
    assert_int_equal(cfg->apiscout_dbs.n, 0);
    assert_null(cfg->default_db);
    assert_string_equal(cfg->apivector_lists_remote_path, "apivector_lists");
    assert_int_equal(cfg->napivector_lists, 0);
    assert_string_equal(cfg->winapi1024, "apiscout/winapi1024v1.txt");
    assert_null(cfg->malpedia_apikey);
    assert_string_equal(cfg->malpedia_url,
                        "https://malpedia.caad.fkie.fraunhofer.de/api/list/apiscout/csv");
    assert_int_equal(cfg->malpedia_refresh_seconds, 86400);
    assert_true(cfg->min_confidence == 50.0 && cfg->min_jaccard == 0.40);
    assert_int_equal(cfg->top_n, 10);
    assert_int_equal(cfg->filter_distance, 32);
    assert_false(cfg->ignore_aslr);
    assert_true(cfg->include_apis && cfg->tls_verify);
    assert_string_equal(cfg->redis_host, "127.0.0.1");
    assert_int_equal(cfg->redis_port, 6379);
    assert_null(cfg->redis_password);
    assert_int_equal(cfg->cache_ttl_seconds, 300);
    assert_int_equal(cfg->cache_stale_seconds, 604800);
    assert_int_equal(cfg->lru_budget_bytes, 1073741824);
    assert_int_equal(cfg->http_timeout_ms, 120000);
    assert_int_equal(cfg->max_artifact_bytes, 268435456);
    assert_int_equal(cfg->max_dump_bytes, 2147483648LL);
    assert_int_equal(cfg->max_redirects, 3);
    assert_int_equal(cfg->workers, 0);
    assert_int_equal(cfg->max_attempts, 5);
    assert_int_equal(cfg->dlq_max_value_bytes, 65536);
    assert_int_equal(cfg->metrics_port, 9464);
    assert_string_equal(cfg->metrics_bind, "0.0.0.0");
    assert_int_equal(cfg->log_level, CONFIG_LOG_INFO);
    assert_int_equal(cfg->nkafka, 0);
    assert_int_equal(configSourceOf(cfg, "redis_port"), CONFIG_SRC_DEFAULT);
    char err[AV_ERRLEN];
    assert_int_equal(configValidate(cfg, 0, err, sizeof(err)), AV_OK);
    assert_int_equal(configValidate(cfg, CONFIG_REQUIRE_SUPPORT, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(
        err, "support_url: required (set it in the config file or APIVECTOR_SUPPORT_URL)");
    configFree(cfg);
}

static void test_file_values(void **state) {
    config *cfg = load("{\"support_url\": \"http://support.local/\", \"apiscout_dbs\": [\"win7\", "
                       "\"win10\"], \"default_db\": \"win7\", \"apivector_lists\": "
                       "{\"restricted.csv\": {\"classification\": \"TLP:AMBER\"}, \"a.csv\": "
                       "{\"classification\": \"\"}}, \"min_confidence\": 60, \"min_jaccard\": "
                       "0.5, \"redis_host\": \"\", \"max_dump_bytes\": 4e9, \"log_level\": "
                       "\"debug\", \"ignore_aslr\": true, \"dump_file_roots\": [\"/srv/dumps\"], "
                       "\"ca_bundle\": null}");
    assert_string_equal(cfg->support_url, "http://support.local/");
    assert_int_equal(cfg->apiscout_dbs.n, 2);
    assert_string_equal(cfg->apiscout_dbs.items[1], "win10");
    assert_int_equal(cfg->napivector_lists, 2);
    assert_string_equal(cfg->apivector_lists[0].name, "restricted.csv");
    assert_string_equal(cfg->apivector_lists[0].classification, "TLP:AMBER");
    assert_string_equal(cfg->apivector_lists[1].classification, "");
    assert_true(cfg->min_confidence == 60.0 && cfg->min_jaccard == 0.5);
    assert_null(cfg->redis_host); /* "" = no Redis */
    assert_int_equal(cfg->max_dump_bytes, 4000000000LL);
    assert_int_equal(cfg->log_level, CONFIG_LOG_DEBUG);
    assert_true(cfg->ignore_aslr);
    assert_string_equal(cfg->dump_file_roots.items[0], "/srv/dumps");
    assert_int_equal(configSourceOf(cfg, "min_jaccard"), CONFIG_SRC_FILE);
    assert_int_equal(configSourceOf(cfg, "top_n"), CONFIG_SRC_DEFAULT);
    configFree(cfg);
}

static void test_file_errors(void **state) {
    expect_file_error("{\"colour\": 1}", AV_ERR_PARSE, "test.json: colour: unknown key");
    expect_file_error("{\"redis_port\": \"6379\"}", AV_ERR_PARSE,
                      "test.json: redis_port: expected an integer, got a string");
    expect_file_error("{\"redis_port\": 70000}", AV_ERR_RANGE,
                      "test.json: redis_port: 70000 is out of range 1..65535");
    expect_file_error("{\"top_n\": 2.5}", AV_ERR_PARSE,
                      "test.json: top_n: expected an integer, got 2.5");
    expect_file_error("{\"min_jaccard\": 1.5}", AV_ERR_RANGE,
                      "test.json: min_jaccard: 1.5 is out of range 0..1");
    expect_file_error("{\"min_confidence\": -1}", AV_ERR_RANGE,
                      "test.json: min_confidence: -1 is out of range 0..100");
    expect_file_error("{\"lru_budget_bytes\": 0}", AV_ERR_RANGE,
                      "test.json: lru_budget_bytes: 0 is out of range 1..9223372036854775807");
    expect_file_error("{\"include_apis\": \"yes\"}", AV_ERR_PARSE,
                      "test.json: include_apis: expected true or false, got a string");
    expect_file_error("{\"group_id\": null}", AV_ERR_PARSE,
                      "test.json: group_id: expected a string, got null");
    expect_file_error("{\"default_db\": 7}", AV_ERR_PARSE,
                      "test.json: default_db: expected a string or null, got an integer");
    expect_file_error("{\"input_topic\": \"bad topic\"}", AV_ERR_RANGE,
                      "test.json: input_topic: \"bad topic\" is not a Kafka topic name (1..249 of "
                      "A-Z a-z 0-9 . _ -)");
    expect_file_error("{\"support_url\": \"ftp://x/\"}", AV_ERR_RANGE,
                      "test.json: support_url: must be an http:// or https:// URL without blanks");
    expect_file_error("{\"support_url\": \"http://support/\\n\"}", AV_ERR_RANGE,
                      "test.json: support_url: must be an http:// or https:// URL without blanks");
    expect_file_error("{\"winapi1024\": \"\"}", AV_ERR_RANGE,
                      "test.json: winapi1024: must not be empty");
    expect_file_error("{\"dump_file_roots\": [\"/ok\", \"dumps\"]}", AV_ERR_RANGE,
                      "test.json: dump_file_roots: item 1: \"dumps\" is not an absolute path");
    expect_file_error("{\"apiscout_dbs\": [\"a\", 3]}", AV_ERR_PARSE,
                      "test.json: apiscout_dbs: item 1: expected a non-empty string, got an "
                      "integer");
    expect_file_error("{\"apiscout_dbs\": \"win7\"}", AV_ERR_PARSE,
                      "test.json: apiscout_dbs: expected an array of strings, got a string");
    expect_file_error("{\"apivector_lists\": {\"r.csv\": {\"tlp\": \"x\"}}}", AV_ERR_PARSE,
                      "test.json: apivector_lists.r.csv: expected exactly one key, "
                      "\"classification\", with a string");
    expect_file_error("{\"apivector_lists\": [\"r.csv\"]}", AV_ERR_PARSE,
                      "test.json: apivector_lists: expected an object {name: {\"classification\": "
                      "string}}, got an array");
    expect_file_error("{\"log_level\": \"verbose\"}", AV_ERR_RANGE,
                      "test.json: log_level: expected one of debug, info, warn, error");
    expect_file_error(
        "{\"kafka\": {\"acks\": [1]}}", AV_ERR_PARSE,
        "test.json: kafka: acks: expected a string, integer or boolean, got an array");
    expect_file_error("[1]", AV_ERR_PARSE, "test.json: expected a JSON object at the top");
    /* invalid JSON: line and column */
    config *cfg = configNew();
    char err[AV_ERRLEN];
    const char *bad = "{\n  \"top_n\": 5,\n  oops\n}";
    assert_int_equal(configLoadString(cfg, bad, strlen(bad), "test.json", err, sizeof(err)),
                     AV_ERR_PARSE);
    /* jansson places the column at the end of the offending token */
    assert_string_equal(err, "test.json:3:6: invalid JSON: string or '}' expected near 'oops'");
    const char *dup = "{\"top_n\": 5, \"top_n\": 6}";
    assert_int_equal(configLoadString(cfg, dup, strlen(dup), "test.json", err, sizeof(err)),
                     AV_ERR_PARSE);
    assert_non_null(strstr(err, "duplicate object key"));
    assert_int_equal(configLoadFile(cfg, "/nonexistent/apivector.json", err, sizeof(err)),
                     AV_ERR_IO);
    assert_string_equal(err, "/nonexistent/apivector.json: cannot open: No such file or directory");
    configFree(cfg);
}

static void test_load_file(void **state) {
    char path[] = "/tmp/apivector-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "{\"workers\": 4,\n \"metrics_port\": 0}\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    config *cfg = configNew();
    char err[AV_ERRLEN];
    assert_int_equal(configLoadFile(cfg, path, err, sizeof(err)), AV_OK);
    assert_int_equal(cfg->workers, 4);
    assert_int_equal(cfg->metrics_port, 0);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "{\"workers\": -1}", 15), 15);
    close(fd);
    assert_int_equal(configLoadFile(cfg, path, err, sizeof(err)), AV_ERR_RANGE);
    char expect[AV_ERRLEN];
    snprintf(expect, sizeof(expect), "%s: workers: -1 is out of range 0..1024", path);
    assert_string_equal(err, expect);
    unlink(path);
    configFree(cfg);
}

static void test_env_values(void **state) {
    char *envp[] = {"PATH=/bin",
                    "APIVECTOR_REDIS_PORT= 6380\n",
                    "APIVECTOR_MIN_JACCARD=0.25",
                    "APIVECTOR_INCLUDE_APIS=FALSE",
                    "APIVECTOR_TLS_VERIFY=0",
                    "APIVECTOR_APISCOUT_DBS= win7 , win10,,",
                    "APIVECTOR_DUMP_FILE_ROOTS=[\"/a\", \"/b,c\"]",
                    "APIVECTOR_APIVECTOR_LISTS={\"r.csv\": {\"classification\": \"TLP:RED\"}}",
                    "APIVECTOR_DEFAULT_DB=",
                    "APIVECTOR_GROUP_ID=8080",
                    "APIVECTOR_LOG_LEVEL=warn\n",
                    "APIVECTOR_CONFIG=/etc/apivector.json",
                    "APIVECTOR_SERVICE_HOST=10.0.0.1",
                    "APIVECTOR_PORT=tcp://10.0.0.1:9464",
                    "APIVECTOR_PORT_9464_TCP_ADDR=10.0.0.1",
                    "NOEQUALSIGN",
                    NULL};
    config *cfg = load("{\"default_db\": \"win7\"}");
    char err[AV_ERRLEN] = "";
    if (configApplyEnv(cfg, envp, err, sizeof(err)) != AV_OK) {
        fail_msg("%s", err);
    }
    assert_int_equal(cfg->redis_port, 6380);
    assert_true(cfg->min_jaccard == 0.25);
    assert_false(cfg->include_apis);
    assert_false(cfg->tls_verify);
    assert_int_equal(cfg->apiscout_dbs.n, 2);
    assert_string_equal(cfg->apiscout_dbs.items[0], "win7");
    assert_string_equal(cfg->apiscout_dbs.items[1], "win10");
    assert_string_equal(cfg->dump_file_roots.items[1], "/b,c");
    assert_string_equal(cfg->apivector_lists[0].classification, "TLP:RED");
    assert_null(cfg->default_db); /* "" = null, overriding the file */
    assert_string_equal(cfg->group_id, "8080");
    assert_int_equal(cfg->log_level, CONFIG_LOG_WARN);
    assert_int_equal(configSourceOf(cfg, "redis_port"), CONFIG_SRC_ENV);
    assert_int_equal(configSourceOf(cfg, "default_db"), CONFIG_SRC_ENV);
    /* no environment at all */
    assert_int_equal(configApplyEnv(cfg, NULL, err, sizeof(err)), AV_OK);
    configFree(cfg);
}

static void test_env_errors(void **state) {
    char *a[] = {"APIVECTOR_REDIS_PORT=abc", NULL};
    expect_env_error(a, "env APIVECTOR_REDIS_PORT: redis_port: expected an integer, got \"abc\"");
    char *b[] = {"APIVECTOR_BOGUS=1", NULL};
    expect_env_error(b, "env APIVECTOR_BOGUS: bogus: unknown key");
    char *c[] = {"APIVECTOR_MIN_JACCARD=2", NULL};
    expect_env_error(c, "env APIVECTOR_MIN_JACCARD: min_jaccard: 2 is out of range 0..1");
    char *d[] = {"APIVECTOR_TLS_VERIFY=yes", NULL};
    expect_env_error(d, "env APIVECTOR_TLS_VERIFY: tls_verify: expected true, false, 1 or 0, got "
                        "\"yes\"");
    char *e[] = {"APIVECTOR_MIN_CONFIDENCE=nan", NULL};
    expect_env_error(e, "env APIVECTOR_MIN_CONFIDENCE: min_confidence: expected a number, got "
                        "\"nan\"");
    char *f[] = {"APIVECTOR_WORKERS=0x10", NULL};
    expect_env_error(f, "env APIVECTOR_WORKERS: workers: expected an integer, got \"0x10\"");
    char *g[] = {"APIVECTOR_APIVECTOR_LISTS={bad", NULL};
    config *cfg = configNew();
    char err[AV_ERRLEN];
    assert_int_equal(configApplyEnv(cfg, g, err, sizeof(err)), AV_ERR_PARSE);
    assert_true(strncmp(err,
                        "env APIVECTOR_APIVECTOR_LISTS: apivector_lists: invalid JSON at "
                        "column ",
                        65) == 0);
    configFree(cfg);
    char *h[] = {"APIVECTOR_MAX_DUMP_BYTES=99999999999999999999", NULL};
    expect_env_error(h, "env APIVECTOR_MAX_DUMP_BYTES: max_dump_bytes: expected an integer, got "
                        "\"99999999999999999999\"");
    char *i[] = {"APIVECTOR_INPUT_TOPIC=", NULL};
    expect_env_error(i, "env APIVECTOR_INPUT_TOPIC: input_topic: must not be empty");
    char *j[] = {"APIVECTOR_PORTS=1", NULL};
    expect_env_error(j, "env APIVECTOR_PORTS: ports: unknown key");
}

static void test_kafka_passthrough(void **state) {
    char *envp[] = {"APIVECTOR_KAFKA_BOOTSTRAP_SERVERS=broker-env:9092",
                    "APIVECTOR_KAFKA_SASL_PASSWORD=s3cr=t",
                    "APIVECTOR_KAFKA_LOG_LEVEL=7",
                    "APIVECTOR_KAFKA_SECURITY_PROTOCOL=SASL_SSL",
                    "APIVECTOR_KAFKA={\"client.id\": \"from-env-json\"}",
                    NULL};
    config *cfg = configNew();
    char err[AV_ERRLEN];
    assert_int_equal(configApplyEnv(cfg, envp, err, sizeof(err)), AV_OK);
    assert_string_equal(configKafkaGet(cfg, "bootstrap.servers"), "broker-env:9092");
    assert_string_equal(configKafkaGet(cfg, "sasl.password"), "s3cr=t");
    assert_string_equal(configKafkaGet(cfg, "log_level"), "7");
    assert_string_equal(configKafkaGet(cfg, "security.protocol"), "SASL_SSL");
    assert_string_equal(configKafkaGet(cfg, "client.id"), "from-env-json");
    assert_null(configKafkaGet(cfg, "log.level"));
    assert_int_equal(configSetKafkaArg(cfg, "ssl.key.password=a=b", err, sizeof(err)), AV_OK);
    assert_string_equal(configKafkaGet(cfg, "ssl.key.password"), "a=b");
    assert_int_equal(configSourceOf(cfg, "kafka.ssl.key.password"), CONFIG_SRC_CLI);
    assert_int_equal(configSetKafkaArg(cfg, "novalue", err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "-X: expected property=value");
    assert_int_equal(configSetKafkaArg(cfg, "=x", err, sizeof(err)), AV_ERR_USAGE);
    assert_int_equal(configSetKafka(cfg, "", "x", err, sizeof(err)), AV_ERR_PARSE);
    assert_string_equal(err, "-X: kafka: property name must be non-empty and contain no '='");
    configFree(cfg);
}

/* -X > env > file > defaults, whatever order the loaders run in. */
static void check_precedence(config *cfg) {
    assert_string_equal(configKafkaGet(cfg, "bootstrap.servers"), "cli:1");
    assert_string_equal(configKafkaGet(cfg, "acks"), "all");      /* env over file */
    assert_string_equal(configKafkaGet(cfg, "linger.ms"), "5");   /* file only */
    assert_string_equal(configKafkaGet(cfg, "client.id"), "env"); /* env only */
    assert_int_equal(cfg->redis_port, 2);                         /* env over file */
    assert_int_equal(cfg->top_n, 3);                              /* file only */
    assert_int_equal(cfg->workers, 0);                            /* default */
    assert_int_equal(configSourceOf(cfg, "kafka.bootstrap.servers"), CONFIG_SRC_CLI);
    assert_int_equal(configSourceOf(cfg, "kafka.acks"), CONFIG_SRC_ENV);
    assert_int_equal(configSourceOf(cfg, "kafka.linger.ms"), CONFIG_SRC_FILE);
    assert_int_equal(configSourceOf(cfg, "kafka.missing"), CONFIG_SRC_DEFAULT);
    assert_int_equal(configSourceOf(cfg, "top_n"), CONFIG_SRC_FILE);
}

static void test_precedence(void **state) {
    static const char *file =
        "{\"redis_port\": 1, \"top_n\": 3, \"kafka\": {\"bootstrap.servers\": "
        "\"file:1\", \"acks\": 1, \"linger.ms\": 5}}";
    char *envp[] = {"APIVECTOR_REDIS_PORT=2", "APIVECTOR_KAFKA_BOOTSTRAP_SERVERS=env:1",
                    "APIVECTOR_KAFKA_ACKS=all", "APIVECTOR_KAFKA_CLIENT_ID=env", NULL};
    char err[AV_ERRLEN];
    for (int order = 0; order < 3; order++) {
        config *cfg = configNew();
        for (int step = 0; step < 3; step++) {
            av_status st;
            switch ((order + step) % 3) {
                case 0:
                    st = configLoadString(cfg, file, strlen(file), "f", err, sizeof(err));
                    break;
                case 1:
                    st = configApplyEnv(cfg, envp, err, sizeof(err));
                    break;
                default:
                    st = configSetKafka(cfg, "bootstrap.servers", "cli:1", err, sizeof(err));
            }
            assert_int_equal(st, AV_OK);
        }
        check_precedence(cfg);
        configFree(cfg);
    }
}

static void test_dump_masks_secrets(void **state) {
    config *cfg =
        load("{\"malpedia_apikey\": \"MALKEY123\", \"redis_password\": \"REDISPW\", "
             "\"support_url\": \"https://user:URLPW@support.local/x\", \"malpedia_url\": "
             "\"https://TOKEN42@malpedia.local/csv\", \"kafka\": {\"sasl.password\": "
             "\"KPW1\", \"ssl.key.password\": \"KPW2\", \"sasl.oauthbearer.client.secret\": "
             "\"KPW3\", \"sasl.oauthbearer.config\": \"principal=p secret=KPW4\", "
             "\"sasl.username\": \"alice\", \"plugin.url\": "
             "\"https://u:KPW5@idp/\"}}");
    char *masked = configDump(cfg, true);
    assert_non_null(masked);
    static const char *secrets[] = {"MALKEY123", "REDISPW", "URLPW", "TOKEN42", "KPW1",
                                    "KPW2",      "KPW3",    "KPW4",  "KPW5"};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        if (strstr(masked, secrets[i])) {
            fail_msg("secret %s in the masked dump:\n%s", secrets[i], masked);
        }
    }
    json_t *j = json_loads(masked, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "malpedia_apikey")), "***");
    assert_string_equal(json_string_value(json_object_get(j, "support_url")),
                        "https://user:***@support.local/x");
    assert_string_equal(json_string_value(json_object_get(j, "malpedia_url")),
                        "https://***@malpedia.local/csv");
    json_t *k = json_object_get(j, "kafka");
    assert_string_equal(json_string_value(json_object_get(k, "sasl.username")), "alice");
    assert_string_equal(json_string_value(json_object_get(k, "sasl.password")), "***");
    assert_string_equal(json_string_value(json_object_get(k, "sasl.oauthbearer.config")), "***");
    assert_string_equal(json_string_value(json_object_get(k, "plugin.url")), "https://u:***@idp/");
    assert_true(json_is_null(json_object_get(j, "default_db")));
    assert_int_equal(json_object_size(j), CONFIG_NKEYS);
    json_decref(j);
    free(masked);
    char *plain = configDump(cfg, false);
    assert_non_null(strstr(plain, "MALKEY123"));
    assert_non_null(strstr(plain, "KPW5"));
    free(plain);
    assert_true(configIsSecretKafkaProperty("ssl.keystore.password"));
    assert_true(configIsSecretKafkaProperty("sasl.oauthbearer.token.endpoint.url"));
    assert_false(configIsSecretKafkaProperty("bootstrap.servers"));
    configFree(cfg);
}

/* Every key's dumped default loads back through the file and through env. */
static void test_dump_round_trips(void **state) {
    config *cfg = configNew();
    char *dump = configDump(cfg, false), err[AV_ERRLEN];
    config *again = load(dump);
    char *dump2 = configDump(again, false);
    assert_string_equal(dump, dump2);
    free(dump2);
    configFree(again);

    const char *names[CONFIG_NKEYS];
    assert_int_equal(configKeyNames(names, CONFIG_NKEYS), CONFIG_NKEYS);
    json_t *j = json_loads(dump, 0, NULL);
    char *envp[CONFIG_NKEYS + 1] = {0};
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        json_t *v = json_object_get(j, names[i]);
        char *text = json_is_string(v) ? strdup(json_string_value(v))
                     : json_is_null(v) ? strdup("")
                                       : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        char upper[64];
        for (size_t c = 0; c <= strlen(names[i]); c++) {
            upper[c] =
                (char)(names[i][c] >= 'a' && names[i][c] <= 'z' ? names[i][c] - 32 : names[i][c]);
        }
        assert_true(asprintf(&envp[i], "APIVECTOR_%s=%s", upper, text) > 0);
        free(text);
    }
    again = configNew();
    if (configApplyEnv(again, envp, err, sizeof(err)) != AV_OK) {
        fail_msg("%s", err);
    }
    dump2 = configDump(again, false);
    assert_string_equal(dump, dump2);
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        free(envp[i]);
    }
    free(dump2);
    free(dump);
    json_decref(j);
    configFree(again);
    configFree(cfg);
}

static void test_validate(void **state) {
    char err[AV_ERRLEN];
    config *cfg = load("{\"retry_backoff_ms\": 5000, \"retry_backoff_max_ms\": 100}");
    assert_int_equal(configValidate(cfg, 0, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "retry_backoff_max_ms (100) must be >= retry_backoff_ms (5000)");
    configFree(cfg);
    cfg = load("{\"results_topic\": \"apivector.dumps\"}");
    assert_int_equal(configValidate(cfg, 0, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "input_topic \"apivector.dumps\" must differ from results_topic and "
                             "dlq_topic (the consumer would read its own output)");
    configFree(cfg);
    cfg = load("{\"http_connect_timeout_ms\": 9000, \"http_timeout_ms\": 8000}");
    assert_int_equal(configValidate(cfg, 0, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "http_connect_timeout_ms (9000) must be <= http_timeout_ms (8000)");
    configFree(cfg);
    cfg = load("{\"malpedia_apikey\": \"a b\"}");
    assert_int_equal(configValidate(cfg, 0, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "malpedia_apikey: must be printable ASCII without blanks");
    configFree(cfg);
    cfg = load("{\"malpedia_apikey\": \"k\", \"malpedia_apikey_file\": \"/k\"}");
    assert_int_equal(configValidate(cfg, 0, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "malpedia_apikey and malpedia_apikey_file are both set; set one");
    assert_int_equal(configReadSecretFiles(cfg, err, sizeof(err)), AV_ERR_USAGE);
    configFree(cfg);
}

static void test_secret_file(void **state) {
    char path[] = "/tmp/apivector-key-XXXXXX", json[256], err[AV_ERRLEN];
    int fd = mkstemp(path);
    assert_int_equal(write(fd, "  FILEKEY42\n", 12), 12);
    close(fd);
    snprintf(json, sizeof(json), "{\"malpedia_apikey_file\": \"%s\"}", path);
    config *cfg = load(json);
    assert_int_equal(configReadSecretFiles(cfg, err, sizeof(err)), AV_OK);
    assert_string_equal(cfg->malpedia_apikey, "FILEKEY42");
    assert_int_equal(configValidate(cfg, 0, err, sizeof(err)), AV_OK);
    char *masked = configDump(cfg, true);
    assert_null(strstr(masked, "FILEKEY42"));
    free(masked);
    configFree(cfg);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "two words\n", 10), 10);
    close(fd);
    /* a blank inside the key: read, then refused by the header check, never echoed */
    cfg = load(json);
    assert_int_equal(configReadSecretFiles(cfg, err, sizeof(err)), AV_OK);
    assert_int_equal(configValidate(cfg, 0, err, sizeof(err)), AV_ERR_USAGE);
    assert_string_equal(err, "malpedia_apikey: must be printable ASCII without blanks");
    configFree(cfg);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd,
                           "ab\x01"
                           "cd\n",
                           6),
                     6);
    close(fd);
    cfg = load(json);
    assert_int_equal(configReadSecretFiles(cfg, err, sizeof(err)), AV_ERR_PARSE);
    assert_true(strncmp(err, "malpedia_apikey_file: ", 22) == 0);
    assert_null(strstr(err, "cd"));
    assert_null(cfg->malpedia_apikey);
    configFree(cfg);
    fd = open(path, O_WRONLY | O_TRUNC);
    close(fd);
    cfg = load(json);
    assert_int_equal(configReadSecretFiles(cfg, err, sizeof(err)), AV_ERR_NOTFOUND);
    configFree(cfg);
    unlink(path);
    cfg = load("{\"malpedia_apikey_file\": \"/nonexistent/key\"}");
    assert_int_equal(configReadSecretFiles(cfg, err, sizeof(err)), AV_ERR_IO);
    assert_string_equal(err, "malpedia_apikey_file: cannot open secret file /nonexistent/key: No "
                             "such file or directory");
    configFree(cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),           cmocka_unit_test(test_file_values),
        cmocka_unit_test(test_file_errors),        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_env_values),         cmocka_unit_test(test_env_errors),
        cmocka_unit_test(test_kafka_passthrough),  cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_dump_masks_secrets), cmocka_unit_test(test_dump_round_trips),
        cmocka_unit_test(test_validate),           cmocka_unit_test(test_secret_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

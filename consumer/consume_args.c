/*
 * consume_args.c - the command line and configuration of `apivector
 * consume` (see consume_args.h).
 *
 * Top-level keys given on the command line (--group-id, ...) are applied as
 * one JSON object after the file, and their APIVECTOR_<KEY> variables are
 * left out of the environment handed to configApplyEnv(): config.h has no
 * command-line source for top-level keys, and this gives the documented
 * order file < environment < command line without one.
 */
#include "consume_args.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kafka.h"
#include "log.h"

void consumeUsage(FILE *f) {
    fprintf(f, "usage: apivector consume [options]\n"
               "  --config FILE          JSON configuration (default: $APIVECTOR_CONFIG)\n"
               "  -X prop=value          librdkafka property, for both clients; repeatable\n"
               "  --group-id G           consumer group (key group_id)\n"
               "  --input-topic T        dump-ready events (key input_topic)\n"
               "  --results-topic T      result and match events (key results_topic)\n"
               "  --dlq-topic T          dead letters (key dlq_topic)\n"
               "  --workers N            worker threads, 0 = number of cores (key workers)\n"
               "  --log-level L          debug, info, warn or error (key log_level)\n"
               "  --from-beginning       start every partition at its beginning (replay)\n"
               "  --from-timestamp T     start at the first event at or after T (ms since the\n"
               "                         epoch, or RFC 3339 such as 2024-05-01T12:00:00Z)\n"
               "  --until-end            stop at the end offsets seen at assignment, print a\n"
               "                         JSON summary on stdout, exit 0\n"
               "  --check-config         validate, print the effective configuration (secrets\n"
               "                         masked) and exit\n"
               "Every config key can also be set as APIVECTOR_<KEY>; the command line wins\n"
               "over the environment, which wins over the file.\n");
}

/* ------------------------------------------------------------ arguments */

/* The config key an override option sets. */
static const char *consumeOptionKey(int c) {
    switch (c) {
        case 'g':
            return "group_id";
        case 'i':
            return "input_topic";
        case 'r':
            return "results_topic";
        case 'd':
            return "dlq_topic";
        default:
            return "log_level";
    }
}

static const char *consumeOptionName(const struct option *opts, int c) {
    for (; opts->name; opts++) {
        if (opts->val == c)
            return opts->name;
    }
    return "?";
}

static int consumeOverride(consume_args *a, const char *key, json_t *value) {
    if (!value)
        return -1;
    json_object_set_new(a->overrides, key, value);
    return 0;
}

int consumeArgsParse(int argc, char **argv, consume_args *a) {
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"check-config", no_argument, 0, 'C'},
                                         {"from-beginning", no_argument, 0, 'b'},
                                         {"from-timestamp", required_argument, 0, 't'},
                                         {"until-end", no_argument, 0, 'u'},
                                         {"group-id", required_argument, 0, 'g'},
                                         {"input-topic", required_argument, 0, 'i'},
                                         {"results-topic", required_argument, 0, 'r'},
                                         {"dlq-topic", required_argument, 0, 'd'},
                                         {"workers", required_argument, 0, 'w'},
                                         {"log-level", required_argument, 0, 'l'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    char err[AV_ERRLEN];
    bool beginning = false;
    int c;
    memset(a, 0, sizeof(*a));
    if (!(a->overrides = json_object())) {
        cliError("consume", "out of memory");
        return -1;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "X:h", opts, NULL)) != -1) {
        switch (c) {
            case 'c':
                a->config_path = optarg;
                break;
            case 'C':
                a->check_config = true;
                break;
            case 'b':
                beginning = true;
                if (a->opts.replay == REPLAY_COMMITTED)
                    a->opts.replay = REPLAY_FROM_BEGINNING;
                break;
            case 'u':
                a->opts.until_end = true;
                break;
            case 'g':
            case 'i':
            case 'r':
            case 'd':
            case 'l':
                if (consumeOverride(a, consumeOptionKey(c), json_string(optarg)) != 0) {
                    cliError("consume", "--%s: not valid UTF-8", consumeOptionName(opts, c));
                    return -1;
                }
                break;
            case 'w': {
                char *end;
                long long n = strtoll(optarg, &end, 10);
                if (!*optarg || *end || consumeOverride(a, "workers", json_integer(n)) != 0) {
                    cliError("consume", "--workers: expected an integer, got '%s'", optarg);
                    return -1;
                }
                break;
            }
            case 't':
                if (replayParseTimestamp(optarg, &a->opts.from_timestamp_ms, err, sizeof(err)) !=
                    AV_OK) {
                    cliError("consume", "%s", err);
                    return -1;
                }
                a->opts.replay = REPLAY_FROM_TIMESTAMP;
                break;
            case 'X':
                if (a->nx == CONSUME_MAX_X) {
                    cliError("consume", "more than %d -X options", CONSUME_MAX_X);
                    return -1;
                }
                a->xprops[a->nx++] = optarg;
                break;
            case 'h':
                consumeUsage(stdout);
                return 1;
            default:
                consumeUsage(stderr);
                return -1;
        }
    }
    if (optind < argc) {
        cliError("consume", "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (beginning && a->opts.replay == REPLAY_FROM_TIMESTAMP) {
        cliError("consume", "--from-beginning and --from-timestamp exclude each other");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ configuration */

/* The environment without the APIVECTOR_<KEY> variables of keys given on the
 * command line, so the command line wins (config.h has no command-line
 * source for top-level keys). The strings stay environ's. */
static char **consumeEnvFiltered(const consume_args *a, char **envp) {
    size_t n = 0, k = 0;
    while (envp && envp[n])
        n++;
    char **env = calloc(n + 1, sizeof(char *));
    if (!env)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *key;
        json_t *v;
        bool drop = false;
        json_object_foreach(a->overrides, key, v) {
            char name[128];
            size_t len = (size_t)snprintf(name, sizeof(name), "APIVECTOR_%s=", key);
            for (size_t j = 10; j < len; j++)
                name[j] = (char)(name[j] >= 'a' && name[j] <= 'z' ? name[j] - 32 : name[j]);
            drop |= strncmp(envp[i], name, len) == 0;
        }
        if (!drop)
            env[k++] = envp[i];
    }
    return env;
}

av_status consumeConfigLoad(const consume_args *a, char **envp, config **out, char *err,
                            size_t errlen) {
    config *cfg = configNew();
    const char *path = a->config_path ? a->config_path : getenv("APIVECTOR_CONFIG");
    av_status st = cfg ? AV_OK : avErrorf(err, errlen, AV_ERR_NOMEM, "out of memory");

    if (st == AV_OK && path && *path)
        st = configLoadFile(cfg, path, err, errlen);
    if (st == AV_OK && json_object_size(a->overrides) > 0) {
        char *text = json_dumps(a->overrides, JSON_COMPACT);
        st = text ? configLoadString(cfg, text, strlen(text), "command line", err, errlen)
                  : avErrorf(err, errlen, AV_ERR_NOMEM, "out of memory");
        free(text);
    }
    if (st == AV_OK) {
        char **env = consumeEnvFiltered(a, envp);
        st = env ? configApplyEnv(cfg, env, err, errlen)
                 : avErrorf(err, errlen, AV_ERR_NOMEM, "out of memory");
        free(env);
    }
    for (size_t i = 0; i < a->nx && st == AV_OK; i++)
        st = configSetKafkaArg(cfg, a->xprops[i], err, errlen);
    if (st == AV_OK)
        st = configReadSecretFiles(cfg, err, errlen);
    if (st == AV_OK)
        st = configValidate(cfg, CONFIG_REQUIRE_SUPPORT, err, errlen);
    for (int role = 0; role < 2 && st == AV_OK; role++) {
        rd_kafka_conf_t *conf;
        st = kafkaConfBuild(cfg, role ? KAFKA_PRODUCER : KAFKA_CONSUMER, NULL, &conf, err, errlen);
        if (st == AV_OK)
            rd_kafka_conf_destroy(conf);
    }
    if (st != AV_OK) {
        configFree(cfg);
        cfg = NULL;
    }
    *out = cfg;
    return st;
}

/* Registers every secret of cfg with the log scrubber. */
void consumeLogSecrets(const config *cfg) {
    logAddSecret(cfg->malpedia_apikey);
    logAddSecret(cfg->redis_password);
    for (size_t i = 0; i < cfg->nkafka; i++) {
        if (configIsSecretKafkaProperty(cfg->kafka[i].name))
            logAddSecret(cfg->kafka[i].value);
    }
    /* The password of a support URL with credentials ("user:pass@host"). */
    const char *u = cfg->support_url ? strstr(cfg->support_url, "://") : NULL;
    if (u) {
        u += 3;
        size_t auth = strcspn(u, "/?#");
        const char *at = memrchr(u, '@', auth),
                   *colon = at ? memchr(u, ':', (size_t)(at - u)) : NULL;
        if (colon) {
            char pass[256];
            snprintf(pass, sizeof(pass), "%.*s", (int)(at - colon - 1), colon + 1);
            logAddSecret(pass);
            explicit_bzero(pass, sizeof(pass));
        }
    }
}

void consumeArgsFree(consume_args *a) {
    json_decref(a->overrides);
    a->overrides = NULL;
}

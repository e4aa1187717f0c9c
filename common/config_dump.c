/*
 * config_dump.c - check, complete and print a loaded configuration.
 *
 * configDump() walks the key table and prints every key with its effective
 * value (what `apivector consume --check-config` shows), masking secrets: the
 * secret keys, Kafka properties whose names look secret, and the password part
 * of any URL with credentials in it. configValidate() holds the rules that
 * span several keys, which a per-key check cannot see. configReadSecretFiles()
 * reads the Malpedia key from a file (through secret.h), so the key need not
 * sit in the config or the environment.
 */
#include "config.h"
#include "config_internal.h"
#include "secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool configIsSecretKafkaProperty(const char *name) {
    static const char *const words[] = {"password", "secret", "key", "token", "credential"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strstr(name, words[i])) {
            return true;
        }
    }
    return strcmp(name, "sasl.oauthbearer.config") == 0;
}

/* Returns a json string of s with the userinfo of a URL ("user:pass@" or
 * "token@") masked as in "http://user:MASK@host/" and "https://MASK@host/". */
static json_t *configMaskedUrl(const char *s) {
    const char *auth = strstr(s, "://");
    if (!auth) {
        return json_string(s);
    }
    auth += 3;
    size_t authlen = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', authlen);
    if (!at) {
        return json_string(s);
    }
    /* the last '@' of the authority ends the userinfo */
    for (const char *p = at; p < auth + authlen; p++) {
        at = *p == '@' ? p : at;
    }
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    const char *keep_end = colon ? colon + 1 : auth;
    char *out = NULL;
    json_t *j = NULL;
    if (asprintf(&out, "%.*s%s%s", (int)(keep_end - s), s, CONFIG_MASK, at) >= 0) {
        j = json_string(out);
        free(out);
    }
    return j;
}

static json_t *configDumpString(const config_key *k, const char *s, bool mask) {
    if (!s) {
        return json_null();
    }
    if (mask && (k->flags & CF_SECRET)) {
        return json_string(CONFIG_MASK);
    }
    return mask ? configMaskedUrl(s) : json_string(s);
}

static json_t *configDumpKafka(const config *cfg, bool mask) {
    json_t *o = json_object();
    for (size_t i = 0; o && i < cfg->nkafka; i++) {
        const config_kafka_prop *p = &cfg->kafka[i];
        json_t *v = !mask                                  ? json_string(p->value)
                    : configIsSecretKafkaProperty(p->name) ? json_string(CONFIG_MASK)
                                                           : configMaskedUrl(p->value);
        if (json_object_set_new(o, p->name, v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *configDumpValue(const config *cfg, const config_key *k, bool mask) {
    switch (k->type) {
        case CT_STR:
            return configDumpString(k, *CONFIG_FIELD(cfg, k, char *const), mask);
        case CT_INT:
            return json_integer(*CONFIG_FIELD(cfg, k, const int64_t));
        case CT_NUM:
            return json_real(*CONFIG_FIELD(cfg, k, const double));
        case CT_BOOL:
            return json_boolean(*CONFIG_FIELD(cfg, k, const bool));
        case CT_LEVEL:
            return json_string(configLogLevelName(cfg->log_level));
        case CT_KAFKA:
            return configDumpKafka(cfg, mask);
        case CT_LIST: {
            const config_list *l = CONFIG_FIELD(cfg, k, const config_list);
            json_t *a = json_array();
            for (size_t i = 0; a && i < l->n; i++) {
                if (json_array_append_new(a, json_string(l->items[i])) != 0) {
                    json_decref(a);
                    return NULL;
                }
            }
            return a;
        }
        case CT_LISTS: {
            json_t *o = json_object();
            for (size_t i = 0; o && i < cfg->napivector_lists; i++) {
                const config_collection *c = &cfg->apivector_lists[i];
                if (json_object_set_new(o, c->name,
                                        json_pack("{s:s}", "classification", c->classification))) {
                    json_decref(o);
                    return NULL;
                }
            }
            return o;
        }
    }
    return NULL;
}

char *configDump(const config *cfg, bool mask_secrets) {
    json_t *root = json_object();
    for (size_t i = 0; root && i < CONFIG_NKEYS; i++) {
        const config_key *k = &configKeys[i];
        if (json_object_set_new(root, k->name, configDumpValue(cfg, k, mask_secrets)) != 0) {
            json_decref(root);
            return NULL;
        }
    }
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(root);
    return text;
}

/* A key for an HTTP header: printable ASCII without blanks, so it can never
 * split or forge a header line. */
static bool configIsHeaderToken(const char *s) {
    for (; *s; s++) {
        if (*s < 0x21 || *s > 0x7e) {
            return false;
        }
    }
    return true;
}

av_status configValidate(const config *cfg, unsigned flags, char *err, size_t errlen) {
    if ((flags & CONFIG_REQUIRE_SUPPORT) && !cfg->support_url) {
        return avErrorf(
            err, errlen, AV_ERR_USAGE,
            "support_url: required (set it in the config file or APIVECTOR_SUPPORT_URL)");
    }
    if (cfg->retry_backoff_max_ms < cfg->retry_backoff_ms) {
        return avErrorf(err, errlen, AV_ERR_USAGE,
                        "retry_backoff_max_ms (%lld) must be >= retry_backoff_ms (%lld)",
                        (long long)cfg->retry_backoff_max_ms, (long long)cfg->retry_backoff_ms);
    }
    if (cfg->http_connect_timeout_ms > cfg->http_timeout_ms) {
        return avErrorf(err, errlen, AV_ERR_USAGE,
                        "http_connect_timeout_ms (%lld) must be <= http_timeout_ms (%lld)",
                        (long long)cfg->http_connect_timeout_ms, (long long)cfg->http_timeout_ms);
    }
    if (strcmp(cfg->input_topic, cfg->results_topic) == 0 ||
        strcmp(cfg->input_topic, cfg->dlq_topic) == 0) {
        return avErrorf(err, errlen, AV_ERR_USAGE,
                        "input_topic \"%s\" must differ from results_topic and dlq_topic "
                        "(the consumer would read its own output)",
                        cfg->input_topic);
    }
    /* a key read by configReadSecretFiles() keeps the source "default" */
    if (cfg->malpedia_apikey && cfg->malpedia_apikey_file &&
        configSourceOf(cfg, "malpedia_apikey") != CONFIG_SRC_DEFAULT) {
        return avErrorf(err, errlen, AV_ERR_USAGE,
                        "malpedia_apikey and malpedia_apikey_file are both set; set one");
    }
    if (cfg->malpedia_apikey && !configIsHeaderToken(cfg->malpedia_apikey)) {
        return avErrorf(err, errlen, AV_ERR_USAGE,
                        "malpedia_apikey: must be printable ASCII without blanks");
    }
    return AV_OK;
}

av_status configReadSecretFiles(config *cfg, char *err, size_t errlen) {
    const char *path = cfg->malpedia_apikey_file;
    if (!path) {
        return AV_OK;
    }
    if (cfg->malpedia_apikey) {
        return avErrorf(err, errlen, AV_ERR_USAGE,
                        "malpedia_apikey and malpedia_apikey_file are both set; set one");
    }
    char why[AV_ERRLEN];
    av_status st = secretLoad(NULL, NULL, path, &cfg->malpedia_apikey, why, sizeof(why));
    if (st != AV_OK) {
        return avErrorf(err, errlen, st, "malpedia_apikey_file: %s", why);
    }
    return AV_OK;
}

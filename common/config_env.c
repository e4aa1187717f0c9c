/*
 * config_env.c - configuration from the environment and from -X.
 *
 * APIVECTOR_<KEY> variables are converted to the JSON value the key's type
 * expects and handed to configSetValue(), so a bad environment value gets the
 * same checks and messages as the file, with the variable named as origin.
 * APIVECTOR_KAFKA_<PROPERTY> and -X set librdkafka properties, which are
 * passed through unchanged. The caller supplies envp: nothing here reads the
 * process environment.
 */
#include "config.h"
#include "config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Converts an environment value to the JSON value key k expects; NULL with
 * err set when it does not parse. Scalars are trimmed (a value mounted from a
 * file often ends in a newline); strings are taken as they are. */
static json_t *configEnvValue(const config_key *k, const char *val, const char *origin, char *err,
                              size_t errlen) {
    const char *t = val + strspn(val, " \t\r\n");
    size_t n = strlen(t);
    while (n && isspace((unsigned char)t[n - 1])) {
        n--;
    }
    char buf[64];
    bool fits = n < sizeof(buf);
    snprintf(buf, sizeof(buf), "%.*s", (int)(fits ? n : 0), t);
    const char *shown = (k->flags & CF_SECRET) ? CONFIG_MASK : fits ? buf : val;
    json_error_t jerr;
    json_t *j = NULL;
    char *end = buf;
    switch (k->type) {
        case CT_INT:
        case CT_NUM:
            errno = 0;
            if (!buf[0] || strspn(buf, "+-0123456789.eE") != strlen(buf)) {
                /* not a plain decimal: no hex, inf or nan */
            } else if (k->type == CT_INT) {
                long long ll = strtoll(buf, &end, 10);
                j = !*end && !errno ? json_integer(ll) : NULL;
            } else {
                double d = strtod(buf, &end);
                j = !*end && !errno && isfinite(d) ? json_real(d) : NULL;
            }
            if (!j) {
                configFail(err, errlen, AV_ERR_PARSE, origin, k->name, "expected %s, got \"%.40s\"",
                           k->type == CT_INT ? "an integer" : "a number", shown);
            }
            return j;
        case CT_BOOL:
            if (!strcasecmp(buf, "true") || !strcmp(buf, "1")) {
                return json_true();
            }
            if (!strcasecmp(buf, "false") || !strcmp(buf, "0")) {
                return json_false();
            }
            configFail(err, errlen, AV_ERR_PARSE, origin, k->name,
                       "expected true, false, 1 or 0, got \"%.40s\"", shown);
            return NULL;
        case CT_LIST:
            if (*t == '[') {
                break; /* a JSON array */
            }
            j = json_array();
            for (const char *p = val; j && *p;) {
                size_t item = strcspn(p, ",");
                const char *a = p, *b = p + item;
                while (a < b && isspace((unsigned char)*a)) {
                    a++;
                }
                while (b > a && isspace((unsigned char)b[-1])) {
                    b--;
                }
                if (b > a && json_array_append_new(j, json_stringn(a, (size_t)(b - a))) != 0) {
                    json_decref(j);
                    j = NULL;
                }
                p += item + (p[item] == ',');
            }
            if (!j) {
                configFail(err, errlen, AV_ERR_PARSE, origin, k->name, "not valid UTF-8");
            }
            return j;
        case CT_LISTS:
        case CT_KAFKA:
            break; /* a JSON object */
        case CT_STR:
        case CT_LEVEL:
            j = json_string(k->type == CT_LEVEL ? buf : val);
            if (!j) {
                configFail(err, errlen, AV_ERR_PARSE, origin, k->name, "not valid UTF-8");
            }
            return j;
    }
    j = json_loads(val, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        configFail(err, errlen, AV_ERR_PARSE, origin, k->name, "invalid JSON at column %d: %s",
                   jerr.column, jerr.text);
    }
    return j;
}

/* True for the variables Kubernetes injects for a Service named apivector. */
static bool configIsServiceLink(const char *name) {
    if (strncmp(name, "SERVICE_", 8) == 0 || strcmp(name, "PORT") == 0) {
        return true;
    }
    if (strncmp(name, "PORT_", 5) != 0) {
        return false;
    }
    const char *p = name + 5 + strspn(name + 5, "0123456789");
    return p > name + 5 && (strncmp(p, "_TCP", 4) == 0 || strncmp(p, "_UDP", 4) == 0 ||
                            strncmp(p, "_SCTP", 5) == 0);
}

/* APIVECTOR_KAFKA_<NAME>: lower-case, '_' -> '.' (log_level keeps its '_'). */
static av_status configApplyKafkaEnv(config *cfg, const char *name, const char *value,
                                     const char *origin, char *err, size_t errlen) {
    char prop[256];
    size_t n = strlen(name);
    if (n >= sizeof(prop)) {
        return configFail(err, errlen, AV_ERR_PARSE, origin, "kafka", "property name too long");
    }
    for (size_t i = 0; i <= n; i++) {
        prop[i] = name[i] == '_' ? '.' : (char)tolower((unsigned char)name[i]);
    }
    if (strcmp(prop, "log.level") == 0) {
        strcpy(prop, "log_level");
    }
    return configKafkaPut(cfg, prop, value, CONFIG_SRC_ENV, origin, err, errlen);
}

av_status configApplyEnv(config *cfg, char **envp, char *err, size_t errlen) {
    for (char **e = envp; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || strncmp(*e, "APIVECTOR_", 10) != 0) {
            continue;
        }
        char var[256], key[256];
        size_t n = (size_t)(eq - *e);
        snprintf(var, sizeof(var), "%.*s", (int)n, *e);
        char origin[300];
        snprintf(origin, sizeof(origin), "env %s", var);
        const char *name = var + 10, *value = eq + 1;
        if (n >= sizeof(var)) {
            return avErrorf(err, errlen, AV_ERR_PARSE, "env %.40s...: unknown key", *e);
        }
        if (strcmp(name, "CONFIG") == 0 || configIsServiceLink(name)) {
            continue;
        }
        av_status st;
        if (strncmp(name, "KAFKA_", 6) == 0 && name[6]) {
            st = configApplyKafkaEnv(cfg, name + 6, value, origin, err, errlen);
        } else {
            size_t i = 0;
            for (; name[i]; i++) {
                key[i] = (char)tolower((unsigned char)name[i]);
            }
            key[i] = '\0';
            const config_key *k = configFindKey(key);
            if (!k) {
                return configFail(err, errlen, AV_ERR_PARSE, origin, key, "unknown key");
            }
            json_t *j = configEnvValue(k, value, origin, err, errlen);
            if (!j) {
                return AV_ERR_PARSE;
            }
            st = configSetValue(cfg, k, j, CONFIG_SRC_ENV, origin, err, errlen);
            json_decref(j);
        }
        if (st != AV_OK) {
            return st;
        }
    }
    return AV_OK;
}

av_status configSetKafka(config *cfg, const char *prop, const char *value, char *err,
                         size_t errlen) {
    return configKafkaPut(cfg, prop, value, CONFIG_SRC_CLI, "-X", err, errlen);
}

av_status configSetKafkaArg(config *cfg, const char *arg, char *err, size_t errlen) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        return avErrorf(err, errlen, AV_ERR_USAGE, "-X: expected property=value");
    }
    char prop[256];
    if ((size_t)(eq - arg) >= sizeof(prop)) {
        return avErrorf(err, errlen, AV_ERR_USAGE, "-X: property name too long");
    }
    snprintf(prop, sizeof(prop), "%.*s", (int)(eq - arg), arg);
    return configSetKafka(cfg, prop, eq + 1, err, errlen);
}

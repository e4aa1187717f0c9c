/*
 * kafka.c - build the librdkafka clients from the configuration and route
 * their callbacks (see kafka.h).
 *
 * Order of a client's configuration: apivector's defaults, then every
 * property of cfg->kafka as given (the user's word wins), then a check that
 * nothing the delivery guarantee depends on was changed. The same property
 * list goes to both clients: librdkafka accepts any global property on
 * either and ignores the other client type's ones with a CONFWARN log line,
 * which is logged at debug level here since it is expected.
 */
#include "kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "event_out.h"
#include "log.h"

typedef struct kafka_prop {
    const char *name;
    const char *value;
} kafka_prop;

static const kafka_prop kafkaConsumerDefaults[] = {
    {"client.id", "apivector"},
    {"enable.auto.commit", "false"},
    {"enable.auto.offset.store", "false"},
    {"partition.assignment.strategy", "cooperative-sticky"},
    {"auto.offset.reset", "earliest"},
    {"statistics.interval.ms", "5000"},
    {"enable.partition.eof", "false"},
};

static const kafka_prop kafkaProducerDefaults[] = {
    {"client.id", "apivector"},
    {"enable.idempotence", "true"},
    {"acks", "all"},
};

/* Properties the user may not set, or only to the listed values. */
typedef struct kafka_guard {
    const char *name;
    const char *allowed[3]; /* NULL-terminated; all NULL = never settable */
    const char *why;
} kafka_guard;

static const kafka_guard kafkaGuards[] = {
    {"group.id", {NULL}, "set the group_id key (or --group-id) instead"},
    {"enable.auto.commit", {"false", NULL}, "apivector commits offsets itself (at-least-once)"},
    {"auto.commit.enable", {"false", NULL}, "apivector commits offsets itself (at-least-once)"},
    {"enable.auto.offset.store", {"false", NULL}, "apivector stores offsets itself"},
    {"enable.idempotence", {"true", NULL}, "the producer must be idempotent"},
    {"acks", {"all", "-1", NULL}, "outputs must be acknowledged by all in-sync replicas"},
    {"request.required.acks", {"all", "-1", NULL}, "outputs must be acknowledged by all replicas"},
};

static const char *kafkaSourceName(const config *cfg, const char *prop) {
    char key[300];
    snprintf(key, sizeof(key), "kafka.%s", prop);
    switch (configSourceOf(cfg, key)) {
        case CONFIG_SRC_FILE:
            return "config file";
        case CONFIG_SRC_ENV:
            return "environment";
        case CONFIG_SRC_CLI:
            return "-X";
        default:
            return "default";
    }
}

static av_status kafkaGuardCheck(const config *cfg, const config_kafka_prop *p, char *err,
                                 size_t errlen) {
    for (size_t i = 0; i < sizeof(kafkaGuards) / sizeof(kafkaGuards[0]); i++) {
        const kafka_guard *g = &kafkaGuards[i];
        if (strcmp(g->name, p->name) != 0)
            continue;
        for (size_t j = 0; g->allowed[j]; j++) {
            if (strcasecmp(g->allowed[j], p->value) == 0)
                return AV_OK;
        }
        return avErrorf(err, errlen, AV_ERR_USAGE, "kafka property %s (from %s): cannot be set: %s",
                        p->name, kafkaSourceName(cfg, p->name), g->why);
    }
    return AV_OK;
}

static av_status kafkaSet(rd_kafka_conf_t *conf, const config *cfg, const char *name,
                          const char *value, char *err, size_t errlen) {
    char errstr[512];
    rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr));
    if (r == RD_KAFKA_CONF_OK)
        return AV_OK;
    if (configIsSecretKafkaProperty(name) && r == RD_KAFKA_CONF_INVALID)
        snprintf(errstr, sizeof(errstr), "invalid value (not shown: secret property)");
    return avErrorf(err, errlen, AV_ERR_USAGE, "kafka property %s (from %s): %s", name,
                    cfg ? kafkaSourceName(cfg, name) : "default", errstr);
}

/* ------------------------------------------------------------ callbacks */

static void kafkaLog(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    config_log_level lvl = logFromSyslog(level);
    log_fields f = {.component = "rdkafka", .facility = fac};
    /* The shared property list makes these expected; see the file comment. */
    if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "will be ignored by this"))
        lvl = CONFIG_LOG_DEBUG;
    /* A failed broker connection is transient (librdkafka reconnects) and is
     * reported once more through the error callback: a warning, not an error. */
    if (strcmp(fac, "FAIL") == 0 && lvl == CONFIG_LOG_ERROR)
        lvl = CONFIG_LOG_WARN;
    logMsg(lvl, &f, "%s: %s", rk ? rd_kafka_name(rk) : "rdkafka", buf);
}

static void kafkaError(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    const kafka_hooks *h = opaque;
    log_fields f = {.component = "kafka", .error_code = rd_kafka_err2name(err)};

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
        logMsg(CONFIG_LOG_ERROR, &f, "%s: fatal error %s: %s", rd_kafka_name(rk),
               rd_kafka_err2name(orig), why);
        if (h && h->fatal)
            h->fatal(h->opaque, rd_kafka_name(rk), why);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && h && h->st)
        statusSetBrokerReachable(h->st, false, clockWallMs());
    /* A transport error repeats librdkafka's own FAIL log line (kafkaLog). */
    logMsg(err == RD_KAFKA_RESP_ERR__TRANSPORT ? CONFIG_LOG_DEBUG : CONFIG_LOG_WARN, &f, "%s: %s",
           rd_kafka_name(rk), reason);
}

static int kafkaStats(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
    const kafka_hooks *h = opaque;
    if (h && h->st && kafkaStatsApply(h->st, json, len, clockWallMs()) != 0)
        logComponent(CONFIG_LOG_DEBUG, "kafka", "%s: unreadable statistics", rd_kafka_name(rk));
    return 0; /* librdkafka frees json */
}

static void kafkaRebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t *parts, void *opaque) {
    const kafka_hooks *h = opaque;
    h->rebalance(h->opaque, rk, err, parts);
}

static void kafkaCommit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t *offsets, void *opaque) {
    const kafka_hooks *h = opaque;
    h->commit(h->opaque, err, offsets);
}

static void kafkaDelivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    const kafka_hooks *h = opaque;
    h->delivery(h->opaque, msg);
}

/* ------------------------------------------------------------ builders */

av_status kafkaConfBuild(const config *cfg, kafka_role role, const kafka_hooks *hooks,
                         rd_kafka_conf_t **out, char *err, size_t errlen) {
    const kafka_prop *defs = role == KAFKA_CONSUMER ? kafkaConsumerDefaults : kafkaProducerDefaults;
    size_t ndefs = role == KAFKA_CONSUMER
                       ? sizeof(kafkaConsumerDefaults) / sizeof(kafkaConsumerDefaults[0])
                       : sizeof(kafkaProducerDefaults) / sizeof(kafkaProducerDefaults[0]);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    av_status st = AV_OK;

    *out = NULL;
    for (size_t i = 0; i < ndefs && st == AV_OK; i++)
        st = kafkaSet(conf, NULL, defs[i].name, defs[i].value, err, errlen);
    if (st == AV_OK && role == KAFKA_CONSUMER)
        st = kafkaSet(conf, NULL, "group.id", cfg->group_id, err, errlen);
    for (size_t i = 0; i < cfg->nkafka && st == AV_OK; i++) {
        st = kafkaGuardCheck(cfg, &cfg->kafka[i], err, errlen);
        if (st == AV_OK)
            st = kafkaSet(conf, cfg, cfg->kafka[i].name, cfg->kafka[i].value, err, errlen);
    }
    if (st != AV_OK) {
        rd_kafka_conf_destroy(conf);
        return st;
    }
    if (hooks) {
        rd_kafka_conf_set_opaque(conf, (void *)hooks);
        rd_kafka_conf_set_log_cb(conf, kafkaLog);
        rd_kafka_conf_set_error_cb(conf, kafkaError);
        if (role == KAFKA_CONSUMER) {
            rd_kafka_conf_set_stats_cb(conf, kafkaStats);
            rd_kafka_conf_set_rebalance_cb(conf, kafkaRebalance);
            rd_kafka_conf_set_offset_commit_cb(conf, kafkaCommit);
        } else {
            rd_kafka_conf_set_dr_msg_cb(conf, kafkaDelivery);
        }
    }
    *out = conf;
    return AV_OK;
}

static av_status kafkaClientNew(const config *cfg, kafka_role role, const kafka_hooks *hooks,
                                rd_kafka_t **out, char *err, size_t errlen) {
    rd_kafka_conf_t *conf;
    char errstr[512];
    av_status st = kafkaConfBuild(cfg, role, hooks, &conf, err, errlen);

    *out = NULL;
    if (st != AV_OK)
        return st;
    rd_kafka_t *rk = rd_kafka_new(role == KAFKA_CONSUMER ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER,
                                  conf, errstr, sizeof(errstr));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return avErrorf(err, errlen, AV_ERR_USAGE, "cannot create the Kafka %s: %s",
                        role == KAFKA_CONSUMER ? "consumer" : "producer", errstr);
    }
    *out = rk;
    return AV_OK;
}

av_status kafkaConsumerNew(const config *cfg, const kafka_hooks *hooks, rd_kafka_t **out, char *err,
                           size_t errlen) {
    av_status st = kafkaClientNew(cfg, KAFKA_CONSUMER, hooks, out, err, errlen);
    if (st == AV_OK)
        rd_kafka_poll_set_consumer(*out);
    return st;
}

av_status kafkaProducerNew(const config *cfg, const kafka_hooks *hooks, rd_kafka_t **out, char *err,
                           size_t errlen) {
    return kafkaClientNew(cfg, KAFKA_PRODUCER, hooks, out, err, errlen);
}

const char *kafkaPartitionName(const char *topic, int32_t partition, char *buf, size_t buflen) {
    snprintf(buf, buflen, "%s [%d]", topic, (int)partition);
    return buf;
}

/*
 * kafka.h - the consumer and producer clients, built from the configuration.
 *
 * Consumer: group.id = group_id, enable.auto.commit=false and
 * enable.auto.offset.store=false (the runtime commits offsets itself, only
 * after the outputs are acknowledged), partition.assignment.strategy =
 * cooperative-sticky, auto.offset.reset=earliest, statistics.interval.ms=5000
 * (consumer lag for the metrics). Producer: enable.idempotence=true,
 * acks=all. Then the configuration's `kafka` properties (file, env, -X) are
 * applied to both clients unchanged, so SASL/SSL settings reach both; they may
 * override the defaults (e.g. auto.offset.reset, statistics.interval.ms,
 * partition.assignment.strategy), except the properties the delivery
 * guarantee depends on, which are refused with a message naming them:
 * group.id (use group_id), enable.auto.commit, enable.auto.offset.store,
 * enable.idempotence other than true, acks other than all/-1.
 *
 * Errors name the property and where it was set ("kafka property
 * ssl.ca.location (from -X): ..."); the value of a secret property is never
 * echoed.
 *
 * Callbacks: librdkafka's log lines go to log.h (component "rdkafka"), its
 * error callback and statistics update status.h (broker reachability,
 * consumer lag), and the rebalance, offset-commit and delivery-report
 * callbacks are forwarded to the runtime through kafka_hooks. With
 * rd_kafka_poll_set_consumer, every consumer callback runs on the thread that
 * calls rd_kafka_consumer_poll; producer callbacks run on the thread calling
 * rd_kafka_poll(producer) - in apivector both are the main thread. Log
 * callbacks may come from librdkafka's own threads.
 *
 * Ownership: the hooks struct must outlive both clients. Thread-safety: the
 * builders may be called from any one thread at a time.
 */
#ifndef APIVECTOR_KAFKA_H
#define APIVECTOR_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "error.h"
#include "status.h"

typedef struct kafka_hooks {
    void *opaque; /* passed to every hook */
    status *st;   /* may be NULL */
    /* Consumer group rebalance (assign or revoke), on the polling thread. */
    void (*rebalance)(void *opaque, rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts);
    /* Result of an offset commit (per-partition errors inside offsets). */
    void (*commit)(void *opaque, rd_kafka_resp_err_t err,
                   const rd_kafka_topic_partition_list_t *offsets);
    /* One delivery report of the producer. */
    void (*delivery)(void *opaque, const rd_kafka_message_t *msg);
    /* A fatal client error (e.g. the idempotent producer lost its
     * guarantee): the runtime must stop without committing further. */
    void (*fatal)(void *opaque, const char *client, const char *reason);
} kafka_hooks;

typedef enum kafka_role { KAFKA_CONSUMER, KAFKA_PRODUCER } kafka_role;

/* Builds the configuration of one client (defaults, then cfg->kafka, then
 * the callbacks when hooks is not NULL). Used by --check-config with hooks
 * NULL to validate every property without connecting. On success the caller
 * owns *out (rd_kafka_conf_destroy, or pass it to rd_kafka_new). Returns
 * AV_ERR_USAGE naming the property on a refused or invalid one. */
av_status kafkaConfBuild(const config *cfg, kafka_role role, const kafka_hooks *hooks,
                         rd_kafka_conf_t **out, char *err, size_t errlen);

/* Creates the consumer (subscribed to nothing yet; its main queue forwarded
 * to the consumer queue) or the producer. */
av_status kafkaConsumerNew(const config *cfg, const kafka_hooks *hooks, rd_kafka_t **out, char *err,
                           size_t errlen);
av_status kafkaProducerNew(const config *cfg, const kafka_hooks *hooks, rd_kafka_t **out, char *err,
                           size_t errlen);

/* Applies one statistics JSON document (librdkafka's stats callback) to st:
 * consumer_lag and hi_offset of every assigned partition, and broker
 * reachability (reachable when any broker's state is UP). Returns 0, or -1
 * when the JSON cannot be parsed. Exposed for unit tests. */
int kafkaStatsApply(status *st, const char *json, size_t len, int64_t now_ms);

/* A topic+partition's name for messages: "topic [3]". */
const char *kafkaPartitionName(const char *topic, int32_t partition, char *buf, size_t buflen);

#endif

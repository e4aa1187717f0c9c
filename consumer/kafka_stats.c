/*
 * kafka_stats.c - librdkafka's statistics JSON into the status (see
 * kafkaStatsApply in kafka.h).
 *
 * librdkafka emits one JSON document every statistics.interval.ms on the
 * consumer's queue. Two parts matter to operators: "brokers" (a broker whose
 * state is "UP" proves the cluster is reachable; bootstrap and coordinator
 * pseudo-entries have nodeid -1 and are skipped) and, per topic, the
 * "partitions" this consumer wants ("desired": true) with their consumer_lag
 * and hi_offset. The -1 partition is librdkafka's internal UA partition.
 * Kept apart from kafka.c so unit tests can use it without a Kafka client.
 */
#include <jansson.h>
#include <string.h>

#include "kafka.h"

int kafkaStatsApply(status *st, const char *json, size_t len, int64_t now_ms) {
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    const char *name;
    json_t *v;
    int any_broker = 0, any_up = 0;

    if (!json_is_object(root)) {
        json_decref(root);
        return -1;
    }
    json_object_foreach(json_object_get(root, "brokers"), name, v) {
        json_int_t nodeid = json_integer_value(json_object_get(v, "nodeid"));
        const char *state = json_string_value(json_object_get(v, "state"));
        if (nodeid < 0 || !state)
            continue; /* bootstrap and logical (coordinator) entries */
        any_broker = 1;
        any_up |= strcmp(state, "UP") == 0;
    }
    if (any_broker)
        statusSetBrokerReachable(st, any_up != 0, now_ms);

    const char *topic;
    json_t *t;
    json_object_foreach(json_object_get(root, "topics"), topic, t) {
        const char *pname;
        json_t *p;
        json_object_foreach(json_object_get(t, "partitions"), pname, p) {
            json_int_t part = json_integer_value(json_object_get(p, "partition"));
            if (part < 0 || !json_is_true(json_object_get(p, "desired")))
                continue;
            statusSetLag(st, topic, (int32_t)part,
                         json_integer_value(json_object_get(p, "consumer_lag")),
                         json_integer_value(json_object_get(p, "hi_offset")));
        }
    }
    json_decref(root);
    return 0;
}

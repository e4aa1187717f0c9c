/*
 * config_internal.h - what config.c shares with config_env.c and
 * config_dump.c: the key table and the single setter every source goes
 * through. Not for use outside the config module.
 */
#ifndef APIVECTOR_CONFIG_INTERNAL_H
#define APIVECTOR_CONFIG_INTERNAL_H

#include <jansson.h>

#include "config.h"

typedef enum config_type {
    CT_STR,   /* char * */
    CT_INT,   /* int64_t */
    CT_NUM,   /* double */
    CT_BOOL,  /* bool */
    CT_LIST,  /* config_list */
    CT_LISTS, /* apivector_lists: name -> {"classification": string} */
    CT_LEVEL, /* config_log_level */
    CT_KAFKA, /* the "kafka" object */
} config_type;

#define CF_NULLABLE 0x01  /* null allowed */
#define CF_NONEMPTY 0x02  /* "" rejected */
#define CF_SECRET 0x04    /* masked in dumps, never echoed */
#define CF_TOPIC 0x08     /* a Kafka topic name */
#define CF_HTTP 0x10      /* an http:// or https:// URL */
#define CF_ABSPATHS 0x20  /* list items are absolute paths */
#define CF_EMPTYNULL 0x40 /* "" means null */

typedef struct config_key {
    const char *name;
    config_type type;
    unsigned flags;
    size_t off;
    const char *sdef; /* default of CT_STR */
    double ddef;      /* default of CT_INT, CT_NUM, CT_BOOL, CT_LEVEL */
    double min, max;  /* range of CT_INT and CT_NUM */
} config_key;

/* The key table, CONFIG_NKEYS rows, in documentation order; constant. */
extern const config_key configKeys[];

/* Field access through the table's offsets. */
#define CONFIG_FIELD(cfg, k, T) ((T *)((char *)(cfg) + (k)->off))

#define CONFIG_MASK "***"

/* Returns the table row of a key name, or NULL. */
const config_key *configFindKey(const char *name);

/* Writes "<origin>: <key>: <problem>" and returns st. */
av_status configFail(char *err, size_t errlen, av_status st, const char *origin, const char *key,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Checks v against k and stores it with source src, unless a stronger source
 * has set k already. origin names the source in messages. */
av_status configSetValue(config *cfg, const config_key *k, const json_t *v, config_source src,
                         const char *origin, char *err, size_t errlen);

/* Sets one librdkafka property unless a stronger source set it already. */
av_status configKafkaPut(config *cfg, const char *name, const char *value, config_source src,
                         const char *origin, char *err, size_t errlen);

#endif

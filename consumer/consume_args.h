/*
 * consume_args.h - the command line and configuration of `apivector
 * consume`.
 *
 * consumeArgsParse() reads the options (see consumeUsage); consumeConfigLoad()
 * builds the effective configuration from, weakest first: built-in defaults,
 * the JSON file (--config, else $APIVECTOR_CONFIG), the APIVECTOR_* variables
 * of envp, the top-level keys given on the command line (--group-id,
 * --input-topic, --results-topic, --dlq-topic, --workers, --log-level), and
 * -X librdkafka properties. It validates the result for `consume`
 * (support_url required, cross-key rules) and builds both Kafka client
 * configurations once without connecting, so a bad or refused property is a
 * start-up error naming it. consumeLogSecrets() hands every secret of the
 * configuration to the log scrubber (log.h).
 *
 * Ownership: consume_args holds pointers into argv and a JSON object freed by
 * consumeArgsFree(); the config from consumeConfigLoad is the caller's
 * (configFree). Thread-safety: call from the main thread before any other
 * thread starts (getopt is not reentrant).
 */
#ifndef APIVECTOR_CONSUME_ARGS_H
#define APIVECTOR_CONSUME_ARGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "error.h"
#include "runtime.h"

#define CONSUME_MAX_X 256

typedef struct consume_args {
    const char *config_path;
    const char *xprops[CONSUME_MAX_X]; /* "prop=value" of each -X */
    size_t nx;
    bool check_config;
    runtime_opts opts; /* replay and --until-end */
    json_t *overrides; /* top-level keys set on the command line */
} consume_args;

/* Prints the options of `apivector consume`. */
void consumeUsage(FILE *f);

/* Parses argv (argv[0] is "consume"). Returns 0 to go on, 1 after --help
 * (printed), -1 on a usage error (printed to stderr). Free a with
 * consumeArgsFree in every case. */
int consumeArgsParse(int argc, char **argv, consume_args *a);
void consumeArgsFree(consume_args *a);

/* Builds and validates the configuration (see the top). On failure returns
 * the status with a message naming the file, variable, key or property, and
 * *out is NULL. */
av_status consumeConfigLoad(const consume_args *a, char **envp, config **out, char *err,
                            size_t errlen);

/* Registers the configuration's secrets with the log scrubber. */
void consumeLogSecrets(const config *cfg);

#endif

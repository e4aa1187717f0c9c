/*
 * cli.h - the subcommands of the `apivector` binary and what they share.
 *
 * Exit codes of every subcommand: 0 ok, 1 input error (a file, DB, dump,
 * collection or vector that cannot be used), 2 usage error.
 */
#ifndef APIVECTOR_CLI_H
#define APIVECTOR_CLI_H

#include <stdint.h>

#include "collection.h"
#include "winapi.h"

#define CLI_OK 0
#define CLI_INPUT 1
#define CLI_USAGE 2

int cliScanMain(int argc, char **argv);
int cliMatchMain(int argc, char **argv);
/* `apivector consume`: the Kafka consumer service (consume.c). */
int consumeMain(int argc, char **argv);

/* Parses a decimal or 0x-prefixed hexadecimal uint64; 0 on success. */
int cliParseU64(const char *s, uint64_t *out);

/* The WinApi1024 path: --winapi, else $APIVECTOR_WINAPI1024, else the
 * ApiScout data folder the binary was built with. */
const char *cliWinapiPath(const char *flag_value);

/* Loads the WinApi1024 table; prints the error and returns NULL on failure. */
winapi_table *cliLoadWinapi(const char *path);

/* Loads a collection CSV, printing skipped lines as warnings and any error
 * as "apivector <cmd>: ..."; NULL on failure. */
collection *cliLoadCollection(const char *cmd, const char *path);

/* Prints the top k family matches (best score per family) and the top k
 * individual matches of v against c, as the reference's renderer does. */
void cliPrintMatches(const collection *c, const apivector *v, size_t k);

/* Prints "apivector <cmd>: <msg>" to stderr. */
void cliError(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

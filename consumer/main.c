/*
 * main.c - the `apivector` binary: dispatch to a subcommand.
 *
 *   apivector scan DUMP --db DB.json ...     scout one dump (cli_scan.c)
 *   apivector match VECTOR ...               match a vector (cli_match.c)
 *   apivector consume [...]                  the Kafka consumer (consume.c)
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void mainUsage(FILE *f) {
    fprintf(f, "usage: apivector <command> [options]\n\n"
               "commands:\n"
               "  scan DUMP --db DB.json [...]   recover API references, build ApiVectors, match\n"
               "  match VECTOR (--vector B | --collection C.csv) [-n 5]\n"
               "  consume [--config FILE] [...]  run the Kafka consumer service\n"
               "  version                        print the version\n\n"
               "Run `apivector <command> --help` for a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        mainUsage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "scan") == 0)
        return cliScanMain(argc - 1, argv + 1);
    if (strcmp(cmd, "match") == 0)
        return cliMatchMain(argc - 1, argv + 1);
    if (strcmp(cmd, "consume") == 0)
        return consumeMain(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("apivector %s\n", APIVECTOR_VERSION);
        return CLI_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        mainUsage(stdout);
        return CLI_OK;
    }
    fprintf(stderr, "apivector: unknown command '%s'\n", cmd);
    mainUsage(stderr);
    return CLI_USAGE;
}

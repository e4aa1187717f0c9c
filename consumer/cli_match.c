/*
 * cli_match.c - `apivector match`: score one ApiVector against another
 * vector or against collections.
 *
 * VECTOR may be a compressed vector or the `in:num:vector` tag form analysts
 * index. Against a collection it prints the top -n family matches and the top
 * -n individual matches, or with --json the full result list in the shape of
 * a conformance case's "collection_matches".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "collection.h"
#include "fileio.h"
#include "match.h"
#include "scan_json.h"

static void matchUsage(FILE *f) {
    fprintf(f, "usage: apivector match VECTOR (--vector B | --collection C.csv) [options]\n"
               "  VECTOR, B            compressed ApiVector, or in:num:vector\n"
               "  --collection FILE    ApiVector collection CSV\n"
               "  -n N                 how many matches to print (default 5)\n"
               "  --winapi FILE        WinApi1024 table (default: ApiScout data folder)\n"
               "  --json               print JSON (all results)\n");
}

/* Decompresses a vector or tag, printing the error. */
static int matchParseVector(const char *s, apivector *v) {
    const char *colon = strrchr(s, ':');
    const char *text = colon ? colon + 1 : s;
    char err[AV_ERRLEN];
    if (vectorDecompress(text, strlen(text), v, err, sizeof(err)) != AV_OK) {
        cliError("match", "%s", err);
        return -1;
    }
    return 0;
}

static int matchAgainstVector(const winapi_table *t, const apivector *a, const char *b_text,
                              int json) {
    apivector b;
    if (matchParseVector(b_text, &b) != 0)
        return CLI_INPUT;
    double score = matchScore(a, &b);
    if (json)
        printf("{\"score\": %.17g, \"confidence_a\": %.17g, \"confidence_b\": %.17g}\n", score,
               vectorConfidence(t, a), vectorConfidence(t, &b));
    else
        printf("%.6f\n", score);
    return CLI_OK;
}

static int matchAgainstCollection(const winapi_table *t, const apivector *v, const char *text,
                                  const char *path, size_t k, int json) {
    collection *c = cliLoadCollection("match", path);
    if (!c)
        return CLI_INPUT;
    if (json) {
        json_t *doc = scanJsonMatches(t, c, path, v, text);
        json_dumpf(doc, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
        fputc('\n', stdout);
        json_decref(doc);
    } else {
        printf("Collection: %s (%zu families, %zu vectors), confidence %.2f\n", path,
               collectionFamilyCount(c), collectionSize(c), vectorConfidence(t, v));
        cliPrintMatches(c, v, k);
    }
    collectionFree(c);
    return CLI_OK;
}

int cliMatchMain(int argc, char **argv) {
    static const struct option opts[] = {
        {"vector", required_argument, 0, 'v'}, {"collection", required_argument, 0, 'c'},
        {"winapi", required_argument, 0, 'w'}, {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *other = NULL, *coll = NULL, *winapi = NULL;
    int json = 0, ch;
    uint64_t k = 5;
    while ((ch = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
        switch (ch) {
            case 'v':
                other = optarg;
                break;
            case 'c':
                coll = optarg;
                break;
            case 'w':
                winapi = optarg;
                break;
            case 'j':
                json = 1;
                break;
            case 'n':
                if (cliParseU64(optarg, &k) != 0 || k == 0 || k > 1000000) {
                    cliError("match", "invalid -n '%s'", optarg);
                    return CLI_USAGE;
                }
                break;
            case 'h':
                matchUsage(stdout);
                return CLI_OK;
            default:
                matchUsage(stderr);
                return CLI_USAGE;
        }
    }
    if (optind + 1 != argc || (!other == !coll)) {
        cliError("match", "need one VECTOR and exactly one of --vector / --collection");
        matchUsage(stderr);
        return CLI_USAGE;
    }
    apivector v;
    if (matchParseVector(argv[optind], &v) != 0)
        return CLI_INPUT;
    winapi_table *t = cliLoadWinapi(cliWinapiPath(winapi));
    if (!t)
        return CLI_INPUT;
    const char *text = strrchr(argv[optind], ':') ? strrchr(argv[optind], ':') + 1 : argv[optind];
    int rc = other ? matchAgainstVector(t, &v, other, json)
                   : matchAgainstCollection(t, &v, text, coll, (size_t)k, json);
    winapiFree(t);
    return rc;
}

/*
 * cli_scan.c - `apivector scan`: scout one dump with one or more DBs.
 *
 * Loads the WinApi1024 table, the DBs and the collections, maps the dump
 * read-only, runs the engine once, then prints either a table like the
 * reference's render (recovered APIs per DB, vectors, confidence, top family
 * matches per collection) or, with --json, one JSON document with the fields
 * of a conformance case's "expected" object.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "collection.h"
#include "fileio.h"
#include "match.h"
#include "scan.h"
#include "scan_json.h"

#define SCAN_MAX_INPUTS 64
#define SCAN_MAX_FILE (1ULL << 30)
#define SCAN_MAX_DUMP (64ULL << 30)

typedef struct scan_cli {
    const char *dump;
    const char *dbs[SCAN_MAX_INPUTS];
    size_t ndbs;
    const char *collections[SCAN_MAX_INPUTS];
    size_t ncollections;
    const char *winapi;
    int ignore_aslr;
    int json;
    scan_options opt;
} scan_cli;

static void scanUsage(FILE *f) {
    fprintf(f, "usage: apivector scan DUMP --db DB.json [--db DB.json ...] [options]\n"
               "  DUMP                 dump file, or - for stdin\n"
               "  --db FILE            ApiScout DB (DatabaseBuilder JSON); repeatable\n"
               "  --name NAME          dump name for base address inference (default: file name)\n"
               "  --base-address ADDR  base address of the dump (overrides the name)\n"
               "  --ignore-aslr        ignore the DBs' aslr_offset values\n"
               "  --filter N           neighbour distance filter (default 32, 0 = off)\n"
               "  --from-address ADDR  keep references at or above this address\n"
               "  --to-address ADDR    keep references at or below this address\n"
               "  --collection FILE    ApiVector collection CSV to match; repeatable\n"
               "  --winapi FILE        WinApi1024 table (default: ApiScout data folder)\n"
               "  --json               print one JSON document\n");
}

static int scanParseArgs(int argc, char **argv, scan_cli *c) {
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"name", required_argument, 0, 'N'},
                                         {"base-address", required_argument, 0, 'b'},
                                         {"ignore-aslr", no_argument, 0, 'i'},
                                         {"filter", required_argument, 0, 'f'},
                                         {"from-address", required_argument, 0, 'F'},
                                         {"to-address", required_argument, 0, 'T'},
                                         {"collection", required_argument, 0, 'c'},
                                         {"winapi", required_argument, 0, 'w'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int ch;
    uint64_t v;
    scanOptionsInit(&c->opt);
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
            case 'd':
                if (c->ndbs == SCAN_MAX_INPUTS)
                    return cliError("scan", "too many --db"), -1;
                c->dbs[c->ndbs++] = optarg;
                break;
            case 'c':
                if (c->ncollections == SCAN_MAX_INPUTS)
                    return cliError("scan", "too many --collection"), -1;
                c->collections[c->ncollections++] = optarg;
                break;
            case 'N':
                c->opt.dump_name = optarg;
                break;
            case 'i':
                c->ignore_aslr = 1;
                break;
            case 'j':
                c->json = 1;
                break;
            case 'w':
                c->winapi = optarg;
                break;
            case 'h':
                scanUsage(stdout);
                exit(CLI_OK);
            case 'b':
            case 'f':
            case 'F':
            case 'T':
                if (cliParseU64(optarg, &v) != 0 || (ch == 'f' && v > INT64_MAX))
                    return cliError("scan", "invalid number '%s'", optarg), -1;
                if (ch == 'b')
                    c->opt.has_base_address = 1, c->opt.base_address = v;
                else if (ch == 'f')
                    c->opt.filter_distance = (int64_t)v;
                else if (ch == 'F')
                    c->opt.from_address = v;
                else
                    c->opt.to_address = v;
                break;
            default:
                return -1;
        }
    }
    if (optind + 1 != argc || c->ndbs == 0)
        return cliError("scan", "need exactly one DUMP and at least one --db"), -1;
    c->dump = argv[optind];
    if (!c->opt.dump_name) {
        const char *slash = strrchr(c->dump, '/');
        c->opt.dump_name = slash ? slash + 1 : c->dump;
    }
    return 0;
}

static apidb *scanLoadDb(const char *path, int ignore_aslr) {
    char err[AV_ERRLEN];
    char *text;
    size_t len;
    apidb *db = NULL;
    if (fileRead(path, SCAN_MAX_FILE, &text, &len, err, sizeof(err)) != AV_OK ||
        apidbParseJson(text, len, path, ignore_aslr, &db, err, sizeof(err)) != AV_OK) {
        cliError("scan", "DB: %s", err);
        db = NULL;
    }
    free(text);
    return db;
}

static int scanStrCompare(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Distinct strings among n (sorted in place). */
static size_t scanDistinct(const char **s, size_t n) {
    if (n == 0)
        return 0;
    qsort(s, n, sizeof(*s), scanStrCompare);
    size_t d = 1;
    for (size_t i = 1; i < n; i++)
        d += strcmp(s[i - 1], s[i]) != 0;
    return d;
}

/* The reference's closing line: distinct DLLs and APIs, and references. */
static void scanRenderSummary(const scan_db *sd) {
    const crawl_rows *rows = &sd->filtered;
    const char **dlls = malloc(rows->n * sizeof(char *));
    const char **apis = malloc(rows->n * sizeof(char *));
    uint64_t refs = 0;
    for (size_t i = 0; dlls && apis && i < rows->n; i++) {
        dlls[i] = apidbEntryDll(sd->db, rows->rows[i].entry);
        apis[i] = apidbEntryApi(sd->db, rows->rows[i].entry);
        refs += rows->rows[i].ref_count - 1;
    }
    if (dlls && apis)
        printf("DLLs: %zu, APIs: %zu, references: %llu\n", scanDistinct(dlls, rows->n),
               scanDistinct(apis, rows->n), (unsigned long long)refs);
    free(dlls);
    free(apis);
}

static void scanRenderRows(const scan_result *r, const scan_db *sd) {
    const crawl_rows *rows = &sd->filtered;
    if (rows->n == 0) {
        printf("No results for API map: %s\n", apidbOsName(sd->db));
        return;
    }
    printf("Results for API DB: %s\n", apidbOsName(sd->db));
    printf("%-3s: %-10s; %-18s; %-3s; %-4s; %-40s; %s\n", "idx", "offset", "VA", "IT?", "#ref",
           "DLL", "API");
    uint64_t prev = 0;
    for (size_t i = 0; i < rows->n; i++) {
        const crawl_row *row = &rows->rows[i];
        if (prev && row->offset > prev + 16)
            printf("%.*s\n", 129,
                   "----------------------------------------------------------------"
                   "-----------------------------------------------------------------");
        char dll[300];
        snprintf(dll, sizeof(dll), "%s (%ubit)", apidbEntryDll(sd->db, row->entry), row->bitness);
        const char *it = row->in_import_table < 0 ? "err" : (row->in_import_table ? "yes" : "no");
        printf("%3zu: 0x%08llx; %s0x%0*llx; %-3s; %4u; %-40s; %s\n", i + 1,
               (unsigned long long)(r->base_address_used + row->offset),
               row->bitness == 32 ? "        " : "", row->bitness == 32 ? 8 : 16,
               (unsigned long long)row->address, it, row->ref_count, dll,
               apidbEntryApi(sd->db, row->entry));
        prev = row->offset;
    }
    scanRenderSummary(sd);
}

static void scanRenderMatches(const collection *c, const char *path, const apivector *v) {
    printf("Collection: %s (%zu families, %zu vectors)\n", path, collectionFamilyCount(c),
           collectionSize(c));
    cliPrintMatches(c, v, 5);
}

static void scanRender(const scan_cli *c, const scan_result *r, collection **colls) {
    for (size_t i = 0; i < r->ndbs; i++)
        scanRenderRows(r, &r->dbs[i]);
    printf("WinApi1024 Vector Results:\n");
    for (size_t i = 0; i < r->ndbs; i++) {
        char text[VECTOR_TEXT_MAX + 1];
        vectorCompress(&r->dbs[i].vector, text);
        const vector_stats *s = &r->dbs[i].stats;
        printf("%s: %u / %u (%5.2f%%) APIs covered in WinApi1024 vector.\n    Vector: %s\n",
               apidbOsName(r->dbs[i].db), s->in_api_vector, s->num_unique_apis, s->percentage,
               text);
    }
    if (r->ndbs)
        printf("Primary: %s, confidence %.2f\n", apidbOsName(r->dbs[r->primary].db), r->confidence);
    for (size_t i = 0; i < c->ncollections && r->ndbs; i++)
        scanRenderMatches(colls[i], c->collections[i], &r->dbs[r->primary].vector);
}

static int scanExecute(scan_cli *c, const winapi_table *t, apidb **dbs, collection **colls) {
    char err[AV_ERRLEN];
    file_map dump;
    if (fileMap(c->dump, SCAN_MAX_DUMP, &dump, err, sizeof(err)) != AV_OK) {
        cliError("scan", "dump: %s", err);
        return CLI_INPUT;
    }
    scan_result *r;
    if (scanRun(t, (const apidb *const *)dbs, c->ndbs, dump.data, dump.len, &c->opt, &r, err,
                sizeof(err)) != AV_OK) {
        fileUnmap(&dump);
        cliError("scan", "%s", err);
        return CLI_INPUT;
    }
    if (c->json) {
        json_t *doc = scanJsonDocument(r, t, c->ncollections ? colls[0] : NULL,
                                       c->ncollections ? c->collections[0] : NULL);
        json_dumpf(doc, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
        fputc('\n', stdout);
        json_decref(doc);
    } else {
        scanRender(c, r, colls);
    }
    scanFree(r);
    fileUnmap(&dump);
    return CLI_OK;
}

int cliScanMain(int argc, char **argv) {
    scan_cli c = {0};
    if (scanParseArgs(argc, argv, &c) != 0) {
        scanUsage(stderr);
        return CLI_USAGE;
    }
    winapi_table *t = cliLoadWinapi(cliWinapiPath(c.winapi));
    apidb *dbs[SCAN_MAX_INPUTS] = {0};
    collection *colls[SCAN_MAX_INPUTS] = {0};
    int rc = t ? CLI_OK : CLI_INPUT;
    for (size_t i = 0; rc == CLI_OK && i < c.ndbs; i++)
        if (!(dbs[i] = scanLoadDb(c.dbs[i], c.ignore_aslr)))
            rc = CLI_INPUT;
    for (size_t i = 0; rc == CLI_OK && i < c.ncollections; i++)
        if (!(colls[i] = cliLoadCollection("scan", c.collections[i])))
            rc = CLI_INPUT;
    if (rc == CLI_OK)
        rc = scanExecute(&c, t, dbs, colls);
    for (size_t i = 0; i < SCAN_MAX_INPUTS; i++) {
        apidbFree(dbs[i]);
        collectionFree(colls[i]);
    }
    winapiFree(t);
    return rc;
}

/*
 * scan.c - run the engine's stages over one dump.
 *
 * The crawl runs once for all DBs; the import table and the reference sites
 * are computed once per dump and then attached to each DB's rows (a flag and
 * a count per row: the sites themselves stay in the shared refs table).
 */
#include "scan.h"

#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "hex.h"

void scanOptionsInit(scan_options *o) {
    memset(o, 0, sizeof(*o));
    o->filter_distance = 32;
}

/* The reference's re.search(r"0x([0-9a-fA-F]{8,16})$", name); `$` also
 * matches before one final newline, as Python's does. */
uint64_t scanBaseFromName(const char *name, int *found) {
    *found = 0;
    if (!name)
        return 0;
    size_t n = strlen(name);
    if (n && name[n - 1] == '\n')
        n--;
    size_t k = 0;
    while (k < n && k <= 16 && hexDigitValue(name[n - 1 - k]) >= 0)
        k++;
    if (k < 8 || k > 16 || n < k + 2 || name[n - k - 1] != 'x' || name[n - k - 2] != '0')
        return 0;
    uint64_t v = 0;
    for (size_t i = n - k; i < n; i++)
        v = (v << 4) | (uint64_t)hexDigitValue(name[i]);
    *found = 1;
    return v;
}

/* Resolves os_name replacement: slots[i] = the DB kept at position i. */
static size_t scanDedupe(const apidb *const *dbs, size_t ndbs, const apidb **slots) {
    size_t n = 0;
    for (size_t i = 0; i < ndbs; i++) {
        size_t j = 0;
        while (j < n && strcmp(apidbOsName(slots[j]), apidbOsName(dbs[i])) != 0)
            j++;
        slots[j] = dbs[i];
        if (j == n)
            n++;
    }
    return n;
}

static void scanAnnotate(scan_result *r, const pe_imports *imp, crawl_rows *rows) {
    for (size_t i = 0; i < rows->n; i++) {
        crawl_row *row = &rows->rows[i];
        size_t nref;
        refsFind(&r->refs, row->bitness, row->offset, &nref);
        row->ref_count = (uint32_t)(1 + nref);
        row->in_import_table = (int8_t)peImportsIsSlot(imp, row->offset);
    }
}

static av_status scanDb(const winapi_table *t, scan_db *sd, const filter_options *fo, char *err,
                        size_t errlen) {
    sd->filtered.rows = malloc((sd->crawl.n ? sd->crawl.n : 1) * sizeof(crawl_row));
    if (!sd->filtered.rows)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "scan: out of memory");
    sd->filtered.n = filterApply(sd->crawl.rows, sd->crawl.n, fo, sd->filtered.rows);
    return vectorFromRows(t, sd->db, sd->filtered.rows, sd->filtered.n, &sd->vector, &sd->stats,
                          err, errlen);
}

static av_status scanStages(scan_result *r, const winapi_table *t, const apidb **slots,
                            const unsigned char *dump, size_t len, const scan_options *opt,
                            char *err, size_t errlen) {
    crawl_rows *crawled = calloc(r->ndbs ? r->ndbs : 1, sizeof(crawl_rows));
    if (!crawled)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "scan: out of memory");
    av_status st = crawlRun(slots, r->ndbs, dump, len, crawled, err, errlen);
    if (st != AV_OK) {
        free(crawled);
        return st;
    }
    for (size_t i = 0; i < r->ndbs; i++) {
        r->dbs[i].db = slots[i];
        r->dbs[i].crawl = crawled[i];
    }
    free(crawled);
    uint64_t ref_base = r->base_address_used ? r->base_address_used : peImageBase32(dump, len);
    pe_imports imp;
    if ((st = refsCollect(dump, len, ref_base, &r->refs, err, errlen)) != AV_OK ||
        (st = peImportsParse(dump, len, &imp, err, errlen)) != AV_OK)
        return st;
    filter_options fo = {
        1, r->base_address_used, len, opt->from_address, opt->to_address, opt->filter_distance};
    for (size_t i = 0; i < r->ndbs && st == AV_OK; i++) {
        scanAnnotate(r, &imp, &r->dbs[i].crawl);
        st = scanDb(t, &r->dbs[i], &fo, err, errlen);
    }
    peImportsFree(&imp);
    return st;
}

av_status scanRun(const winapi_table *t, const apidb *const *dbs, size_t ndbs,
                  const unsigned char *dump, size_t len, const scan_options *opt, scan_result **out,
                  char *err, size_t errlen) {
    *out = NULL;
    scan_result *r = calloc(1, sizeof(*r));
    const apidb **slots = malloc((ndbs ? ndbs : 1) * sizeof(*slots));
    if (!r || !slots || !(r->dbs = calloc(ndbs ? ndbs : 1, sizeof(scan_db)))) {
        free(slots);
        scanFree(r);
        return avErrorf(err, errlen, AV_ERR_NOMEM, "scan: out of memory");
    }
    int found = 0;
    r->base_address_used =
        opt->has_base_address ? opt->base_address : scanBaseFromName(opt->dump_name, &found);
    r->ndbs = scanDedupe(dbs, ndbs, slots);
    for (size_t i = 0; i < r->ndbs; i++)
        r->num_apis_loaded += apidbCount(slots[i]);
    av_status st = scanStages(r, t, slots, dump, len, opt, err, errlen);
    free(slots);
    if (st != AV_OK) {
        scanFree(r);
        return st;
    }
    for (size_t i = 0; i < r->ndbs; i++)
        if (r->dbs[i].stats.percentage >= r->dbs[r->primary].stats.percentage)
            r->primary = i;
    if (r->ndbs)
        r->confidence = vectorConfidence(t, &r->dbs[r->primary].vector);
    *out = r;
    return AV_OK;
}

void scanFree(scan_result *r) {
    if (!r)
        return;
    for (size_t i = 0; r->dbs && i < r->ndbs; i++) {
        crawlRowsFree(&r->dbs[i].crawl);
        crawlRowsFree(&r->dbs[i].filtered);
    }
    free(r->dbs);
    refsFree(&r->refs);
    free(r);
}

const refs_pair *scanRowRefs(const scan_result *r, const crawl_row *row, size_t *n) {
    return refsFind(&r->refs, row->bitness, row->offset, n);
}

/*
 * scan_json.c - build the `scan --json` document with jansson.
 */
#include "scan_json.h"

#include <stdio.h>
#include <stdlib.h>

json_t *scanJsonU64(uint64_t v) {
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char buf[24];
    snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
    return json_string(buf);
}

json_t *scanJsonRow(const scan_result *r, const apidb *db, const crawl_row *row) {
    json_t *refs = json_array();
    size_t n;
    const refs_pair *p = scanRowRefs(r, row, &n);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(refs, scanJsonU64(p[i].site));
    json_t *it = row->in_import_table < 0 ? json_null() : json_boolean(row->in_import_table);
    return json_pack("[o,o,s,s,i,o,I,o]", scanJsonU64(row->offset), scanJsonU64(row->address),
                     apidbEntryDll(db, row->entry), apidbEntryApi(db, row->entry),
                     (int)row->bitness, it, (json_int_t)row->ref_count, refs);
}

static json_t *scanJsonRows(const scan_result *r, const apidb *db, const crawl_rows *rows) {
    json_t *a = json_array();
    for (size_t i = 0; i < rows->n; i++)
        json_array_append_new(a, scanJsonRow(r, db, &rows->rows[i]));
    return a;
}

static json_t *scanJsonPercentage(const vector_stats *s) {
    /* The reference writes the integer 0 when no API was found. */
    return s->num_unique_apis ? json_real(s->percentage) : json_integer(0);
}

static json_t *scanJsonVector(const scan_db *sd) {
    char text[VECTOR_TEXT_MAX + 1];
    vectorCompress(&sd->vector, text);
    return json_pack("{s:s,s:i,s:i,s:o}", "vector", text, "num_unique_apis",
                     (int)sd->stats.num_unique_apis, "in_api_vector", (int)sd->stats.in_api_vector,
                     "percentage", scanJsonPercentage(&sd->stats));
}

json_t *scanJsonMatches(const winapi_table *t, const collection *c, const char *collection_name,
                        const apivector *v, const char *vector_text) {
    size_t n = collectionSize(c);
    match_hit *hits = malloc((n ? n : 1) * sizeof(*hits));
    if (!hits)
        return NULL;
    matchCollection(c, v, hits);
    matchSort(hits, n);
    json_t *results = json_array();
    const collection_entry *e = collectionEntries(c);
    for (size_t i = 0; i < n; i++) {
        const collection_entry *ce = &e[hits[i].entry];
        json_array_append_new(results, json_pack("[s,s,f]", collectionFamily(c, ce->family),
                                                 ce->sample, hits[i].score));
    }
    free(hits);
    return json_pack("{s:s,s:s,s:I,s:I,s:f,s:o}", "collection", collection_name, "vector",
                     vector_text, "families_in_collection", (json_int_t)collectionFamilyCount(c),
                     "vectors_in_collection", (json_int_t)n, "confidence", vectorConfidence(t, v),
                     "results", results);
}

json_t *scanJsonDocument(const scan_result *r, const winapi_table *t, const collection *c,
                         const char *collection_name) {
    json_t *crawl = json_object(), *filtered = json_object(), *vectors = json_object();
    for (size_t i = 0; i < r->ndbs; i++) {
        const char *os = apidbOsName(r->dbs[i].db);
        json_object_set_new(crawl, os, scanJsonRows(r, r->dbs[i].db, &r->dbs[i].crawl));
        json_object_set_new(filtered, os, scanJsonRows(r, r->dbs[i].db, &r->dbs[i].filtered));
        json_object_set_new(vectors, os, scanJsonVector(&r->dbs[i]));
    }
    json_t *doc = json_pack("{s:o,s:I,s:o,s:o,s:o,s:f}", "base_address_used",
                            scanJsonU64(r->base_address_used), "num_apis_loaded",
                            (json_int_t)r->num_apis_loaded, "crawl", crawl, "filtered", filtered,
                            "vectors", vectors, "confidence", r->confidence);
    if (r->ndbs) {
        const scan_db *p = &r->dbs[r->primary];
        json_t *primary = scanJsonVector(p);
        json_object_set_new(primary, "db", json_string(apidbOsName(p->db)));
        json_object_set_new(doc, "primary", primary);
        if (c) {
            char text[VECTOR_TEXT_MAX + 1];
            vectorCompress(&p->vector, text);
            json_t *m = scanJsonMatches(t, c, collection_name, &p->vector, text);
            if (m) {
                /* The case format names the vector once, under "primary". */
                json_object_del(m, "vector");
                json_object_set_new(doc, "collection_matches", m);
            }
        }
    }
    return doc;
}

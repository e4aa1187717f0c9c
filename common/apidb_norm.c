/*
 * apidb_norm.c - give every DB entry the id of its normalized (dll, api) pair.
 *
 * The reference vectorizes a list of crawl rows by normalizing each row's
 * names and collecting them in a set: dll = the row's dll field without its
 * last `_` part ("kernel32.dll_0x75000000" -> "kernel32.dll", "" when there
 * is no `_`), any dll starting with "msvcr" -> "msvcrt.dll", api cut at the
 * first `@`, then one trailing `A` or `W` dropped. Since that depends only on
 * the DB entry, it is done once at load time: equal pairs get equal ids, so a
 * vector is a set of small integers and unique APIs are counted without
 * touching a string.
 */
#include "apidb_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct norm_interner {
    uint32_t *slots; /* norm id + 1; 0 = empty */
    size_t mask;
} norm_interner;

static uint64_t normHash(const char *a, size_t alen, const char *b, size_t blen) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < alen; i++)
        h = (h ^ (unsigned char)a[i]) * 1099511628211ULL;
    h = (h ^ 0xFF) * 1099511628211ULL;
    for (size_t i = 0; i < blen; i++)
        h = (h ^ (unsigned char)b[i]) * 1099511628211ULL;
    return h ^ (h >> 31);
}

static int normEqual(const apidb *db, const apidb_norm *n, const char *dll, size_t dll_len,
                     const char *api, size_t api_len) {
    return n->dll_len == dll_len && n->api_len == api_len &&
           memcmp(db->strings + n->dll, dll, dll_len) == 0 &&
           memcmp(db->strings + n->api, api, api_len) == 0;
}

/* Normalized dll of a DLL's dll field, as a slice of the arena. */
static void normDll(const apidb *db, uint32_t name, uint32_t msvcrt, uint32_t *off, uint32_t *len) {
    const char *s = db->strings + name;
    const char *last = strrchr(s, '_');
    *off = name;
    *len = last ? (uint32_t)(last - s) : 0;
    if (*len >= 5 && memcmp(s, "msvcr", 5) == 0) {
        *off = msvcrt;
        *len = 10;
    }
}

static void normApi(const char *api, uint32_t *len) {
    const char *at = strchr(api, '@');
    size_t n = at ? (size_t)(at - api) : strlen(api);
    if (n > 0 && (api[n - 1] == 'A' || api[n - 1] == 'W'))
        n--;
    *len = (uint32_t)n;
}

/* Adds "msvcrt.dll" to the arena: the one normalized dll not in the file. */
static av_status normArenaMsvcrt(apidb *db, uint32_t *off, char *err, size_t errlen) {
    char *p = realloc(db->strings, db->strings_len + 11);
    if (!p)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "DB %s: out of memory", db->os_name);
    db->strings = p;
    memcpy(db->strings + db->strings_len, "msvcrt.dll", 11);
    *off = (uint32_t)db->strings_len;
    db->strings_len += 11;
    return AV_OK;
}

av_status apidbNormalize(apidb *db, char *err, size_t errlen) {
    uint32_t msvcrt = 0;
    av_status st = normArenaMsvcrt(db, &msvcrt, err, errlen);
    if (st != AV_OK)
        return st;
    size_t cap = 64;
    while (cap < db->nentries * 2)
        cap *= 2;
    norm_interner in = {calloc(cap, sizeof(uint32_t)), cap - 1};
    db->norms = malloc((db->nentries ? db->nentries : 1) * sizeof(apidb_norm));
    if (!in.slots || !db->norms) {
        free(in.slots);
        return avErrorf(err, errlen, AV_ERR_NOMEM, "DB %s: out of memory", db->os_name);
    }
    db->nnorms = 0;
    for (size_t i = 0; i < db->nentries; i++) {
        apidb_entry *e = &db->entries[i];
        apidb_norm n;
        normDll(db, db->dlls[e->dll].name, msvcrt, &n.dll, &n.dll_len);
        n.api = e->api;
        normApi(db->strings + e->api, &n.api_len);
        const char *dll = db->strings + n.dll, *api = db->strings + n.api;
        size_t s = normHash(dll, n.dll_len, api, n.api_len) & in.mask;
        while (in.slots[s] &&
               !normEqual(db, &db->norms[in.slots[s] - 1], dll, n.dll_len, api, n.api_len))
            s = (s + 1) & in.mask;
        if (!in.slots[s]) {
            db->norms[db->nnorms] = n;
            in.slots[s] = (uint32_t)++db->nnorms;
        }
        e->norm = in.slots[s] - 1;
    }
    free(in.slots);
    return AV_OK;
}

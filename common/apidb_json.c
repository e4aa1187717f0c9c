/*
 * apidb_json.c - load an ApiScout DB from DatabaseBuilder's JSON.
 *
 * The file is parsed with jansson, then walked DLL by DLL in file order
 * (jansson keeps object insertion order) exactly as the reference builds its
 * address map. Every value is type- and range-checked and an error names its
 * JSON path. Exports are collected with their reading order, sorted by
 * (address, order) and reduced to the last export per address, which is the
 * reference's "later export wins". Finally every entry gets its normalized
 * (dll, api) pair id through a small interning hash, and the crawl index is
 * built.
 */
#include "apidb_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pending_export {
    uint64_t address;
    uint32_t dll;
    uint32_t api;
    uint32_t seq;
} pending_export;

typedef struct json_loader {
    apidb *db;
    const char *source;
    char *err;
    size_t errlen;
    size_t strings_cap;
    pending_export *pend;
    size_t npend, pend_cap;
    size_t dlls_cap;
} json_loader;

/* Appends a NUL-terminated copy of s[0..n) to the arena, returns its offset. */
static av_status loaderString(json_loader *L, const char *s, size_t n, uint32_t *off) {
    apidb *db = L->db;
    if (db->strings_len + n + 1 > UINT32_MAX)
        return avErrorf(L->err, L->errlen, AV_ERR_LIMIT, "%s: names exceed 4 GiB", L->source);
    if (db->strings_len + n + 1 > L->strings_cap) {
        size_t cap = L->strings_cap ? L->strings_cap : 4096;
        while (cap < db->strings_len + n + 1)
            cap *= 2;
        char *p = realloc(db->strings, cap);
        if (!p)
            return avErrorf(L->err, L->errlen, AV_ERR_NOMEM, "%s: out of memory", L->source);
        db->strings = p;
        L->strings_cap = cap;
    }
    memcpy(db->strings + db->strings_len, s, n);
    db->strings[db->strings_len + n] = '\0';
    *off = (uint32_t)db->strings_len;
    db->strings_len += n + 1;
    return AV_OK;
}

/* An integer member; negative values are allowed only when allow_negative. */
static av_status loaderInt(json_loader *L, json_t *obj, const char *key, const char *where,
                           int allow_negative, json_int_t *out) {
    json_t *v = json_object_get(obj, key);
    if (!v)
        return avErrorf(L->err, L->errlen, AV_ERR_PARSE, "%s: %s.%s: missing", L->source, where,
                        key);
    if (!json_is_integer(v))
        return avErrorf(L->err, L->errlen, AV_ERR_PARSE, "%s: %s.%s: must be an integer", L->source,
                        where, key);
    *out = json_integer_value(v);
    if (!allow_negative && *out < 0)
        return avErrorf(L->err, L->errlen, AV_ERR_RANGE,
                        "%s: %s.%s: must be non-negative, got %lld", L->source, where, key,
                        (long long)*out);
    return AV_OK;
}

static av_status loaderExport(json_loader *L, json_t *exp, const char *dll_key, size_t idx,
                              uint32_t dll, json_int_t base, json_int_t aslr) {
    char where[512];
    snprintf(where, sizeof(where), "dlls.%s.exports[%zu]", dll_key, idx);
    if (!json_is_object(exp))
        return avErrorf(L->err, L->errlen, AV_ERR_PARSE, "%s: %s: must be an object", L->source,
                        where);
    json_int_t addr;
    av_status st = loaderInt(L, exp, "address", where, 0, &addr);
    if (st != AV_OK)
        return st;
    __int128 va = (__int128)base + addr - aslr;
    if (va < 0 || va > (__int128)UINT64_MAX)
        return avErrorf(L->err, L->errlen, AV_ERR_RANGE,
                        "%s: %s: base_address + address - aslr_offset is outside 0..2^64-1",
                        L->source, where);
    json_t *name = json_object_get(exp, "name");
    char buf[64];
    const char *api;
    size_t api_len;
    if (name && json_is_string(name) && strcmp(json_string_value(name), "None") != 0) {
        api = json_string_value(name);
        api_len = json_string_length(name);
    } else if (!name || json_is_null(name) || json_is_string(name)) {
        /* The reference formats a missing name (Python None) and the string
         * "None" alike as None<ordinal>. */
        json_int_t ord = 0;
        if ((st = loaderInt(L, exp, "ordinal", where, 1, &ord)) != AV_OK)
            return st;
        api_len = (size_t)snprintf(buf, sizeof(buf), "None<%lld>", (long long)ord);
        api = buf;
    } else {
        return avErrorf(L->err, L->errlen, AV_ERR_PARSE, "%s: %s.name: must be a string or null",
                        L->source, where);
    }
    uint32_t api_off;
    if ((st = loaderString(L, api, api_len, &api_off)) != AV_OK)
        return st;
    if (L->npend == L->pend_cap) {
        size_t cap = L->pend_cap ? L->pend_cap * 2 : 1024;
        pending_export *p = realloc(L->pend, cap * sizeof(*p));
        if (!p)
            return avErrorf(L->err, L->errlen, AV_ERR_NOMEM, "%s: out of memory", L->source);
        L->pend = p;
        L->pend_cap = cap;
    }
    if (L->npend >= UINT32_MAX)
        return avErrorf(L->err, L->errlen, AV_ERR_LIMIT, "%s: too many exports", L->source);
    L->pend[L->npend] = (pending_export){(uint64_t)va, dll, api_off, (uint32_t)L->npend};
    L->npend++;
    return AV_OK;
}

static av_status loaderDll(json_loader *L, const char *key, json_t *d, int ignore_aslr) {
    char where[400];
    snprintf(where, sizeof(where), "dlls.%s", key);
    if (!json_is_object(d))
        return avErrorf(L->err, L->errlen, AV_ERR_PARSE, "%s: %s: must be an object", L->source,
                        where);
    json_t *exports = json_object_get(d, "exports");
    if (!json_is_array(exports))
        return avErrorf(L->err, L->errlen, AV_ERR_PARSE, "%s: %s.exports: must be an array",
                        L->source, where);
    json_int_t bitness = 0, base = 0, aslr = 0;
    av_status st;
    if ((st = loaderInt(L, d, "bitness", where, 0, &bitness)) != AV_OK ||
        (st = loaderInt(L, d, "base_address", where, 0, &base)) != AV_OK)
        return st;
    if (bitness != 32 && bitness != 64)
        return avErrorf(L->err, L->errlen, AV_ERR_RANGE, "%s: %s.bitness: must be 32 or 64",
                        L->source, where);
    if (!ignore_aslr && (st = loaderInt(L, d, "aslr_offset", where, 1, &aslr)) != AV_OK)
        return st;
    apidb *db = L->db;
    if (db->ndlls == L->dlls_cap) {
        size_t cap = L->dlls_cap ? L->dlls_cap * 2 : 64;
        apidb_dll *p = realloc(db->dlls, cap * sizeof(*p));
        if (!p)
            return avErrorf(L->err, L->errlen, AV_ERR_NOMEM, "%s: out of memory", L->source);
        db->dlls = p;
        L->dlls_cap = cap;
    }
    /* dll field = the key without its first two `_` fields ("" with fewer). */
    const char *name = key;
    for (int i = 0; i < 2 && name; i++) {
        name = strchr(name, '_');
        if (name)
            name++;
    }
    if (!name)
        name = "";
    uint32_t off;
    if ((st = loaderString(L, name, strlen(name), &off)) != AV_OK)
        return st;
    uint32_t dll = (uint32_t)db->ndlls++;
    db->dlls[dll] = (apidb_dll){off, (uint32_t)bitness};
    if (bitness == 64 && json_array_size(exports) > 0)
        db->has64 = 1;
    size_t i;
    json_t *exp;
    json_array_foreach(exports, i, exp) {
        if ((st = loaderExport(L, exp, key, i, dll, base, aslr)) != AV_OK)
            return st;
    }
    return AV_OK;
}

static int pendingCompare(const void *a, const void *b) {
    const pending_export *x = a, *y = b;
    if (x->address != y->address)
        return x->address < y->address ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Sorts the exports and keeps the last one read at each address. */
static av_status loaderCollapse(json_loader *L) {
    apidb *db = L->db;
    db->exports_read = L->npend;
    if (L->npend)
        qsort(L->pend, L->npend, sizeof(*L->pend), pendingCompare);
    db->entries = malloc((L->npend ? L->npend : 1) * sizeof(apidb_entry));
    if (!db->entries)
        return avErrorf(L->err, L->errlen, AV_ERR_NOMEM, "%s: out of memory", L->source);
    size_t n = 0;
    for (size_t i = 0; i < L->npend; i++) {
        if (i + 1 < L->npend && L->pend[i + 1].address == L->pend[i].address)
            continue;
        db->entries[n++] = (apidb_entry){L->pend[i].address, L->pend[i].dll, L->pend[i].api, 0, 0};
    }
    db->nentries = n;
    return AV_OK;
}

av_status apidbParseJson(const char *json, size_t len, const char *source, int ignore_aslr,
                         apidb **out, char *err, size_t errlen) {
    *out = NULL;
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!root)
        return avErrorf(err, errlen, AV_ERR_PARSE, "%s:%d:%d: JSON syntax: %s", source, je.line,
                        je.column, je.text);
    json_loader L = {.source = source, .err = err, .errlen = errlen};
    av_status st = AV_OK;
    L.db = calloc(1, sizeof(apidb));
    json_t *os_name = json_object_get(root, "os_name");
    json_t *dlls = json_object_get(root, "dlls");
    if (!L.db)
        st = avErrorf(err, errlen, AV_ERR_NOMEM, "%s: out of memory", source);
    else if (!json_is_object(root))
        st = avErrorf(err, errlen, AV_ERR_PARSE, "%s: top level must be an object", source);
    else if (!json_is_string(os_name))
        st = avErrorf(err, errlen, AV_ERR_PARSE, "%s: os_name: must be a string", source);
    else if (!json_is_object(dlls))
        st = avErrorf(err, errlen, AV_ERR_PARSE, "%s: dlls: must be an object", source);
    else if (!(L.db->os_name = strdup(json_string_value(os_name))))
        st = avErrorf(err, errlen, AV_ERR_NOMEM, "%s: out of memory", source);
    if (st == AV_OK) {
        const char *key;
        json_t *d;
        json_object_foreach(dlls, key, d) {
            if ((st = loaderDll(&L, key, d, ignore_aslr)) != AV_OK)
                break;
        }
    }
    json_decref(root);
    if (st == AV_OK && L.db->strings_len == 0)
        st = loaderString(&L, "", 0, &(uint32_t){0});
    if (st == AV_OK)
        st = loaderCollapse(&L);
    free(L.pend);
    if (st == AV_OK)
        st = apidbNormalize(L.db, err, errlen);
    if (st == AV_OK)
        st = apidbIndexBuild(L.db, err, errlen);
    if (st != AV_OK) {
        apidbFree(L.db);
        return st;
    }
    *out = L.db;
    return AV_OK;
}

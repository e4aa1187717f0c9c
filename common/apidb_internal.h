/*
 * apidb_internal.h - the layout of a loaded DB, shared by the JSON loader
 * (apidb.c) and the compact binary form (apidb_pack.c). Not for other modules.
 */
#ifndef APIVECTOR_APIDB_INTERNAL_H
#define APIVECTOR_APIDB_INTERNAL_H

#include "apidb.h"

typedef struct apidb_slot {
    uint64_t key;
    uint32_t val; /* entry index + 1; 0 = empty slot */
    uint32_t pad;
} apidb_slot;

typedef struct apidb_dll {
    uint32_t name;    /* offset of the stripped DLL key in the string arena */
    uint32_t bitness; /* 32 or 64 */
} apidb_dll;

typedef struct apidb_norm {
    uint32_t dll, dll_len; /* slice of the string arena */
    uint32_t api, api_len;
} apidb_norm;

struct apidb {
    char *os_name;
    apidb_entry *entries; /* sorted by address, unique */
    size_t nentries;
    apidb_dll *dlls;
    size_t ndlls;
    char *strings; /* NUL-terminated names, back to back */
    size_t strings_len;
    apidb_norm *norms;
    size_t nnorms;
    size_t exports_read;
    int has64;
    /* crawl index, rebuilt from the above by apidbIndexBuild() */
    apidb_slot *slots; /* open addressing, key and entry side by side: one miss */
    uint64_t slot_mask;
    unsigned slot_shift;
    uint64_t filter32[1024];
    uint64_t filter64[1024];
    uint64_t byteset32_3[4]; /* byte 3 of the 32-bit addresses */
    uint64_t byteset64_5[4]; /* bytes 5 and 7 of the 64-bit addresses */
    uint64_t byteset64_7[4];
};

/* Builds the hash and the filters; call once entries and dlls are final. */
av_status apidbIndexBuild(apidb *db, char *err, size_t errlen);

/* Sets every entry's normalized pair id (apidb_norm.c). */
av_status apidbNormalize(apidb *db, char *err, size_t errlen);

#endif

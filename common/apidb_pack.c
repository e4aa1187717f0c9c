/*
 * apidb_pack.c - the compact binary form of a loaded DB.
 *
 * The fetcher keeps DBs in Redis in this form so that a consumer which finds
 * one there skips JSON parsing: unpacking is a validation pass and a few
 * memcpy()s of arrays that already have their in-memory layout, then the
 * crawl index is rebuilt (it is cheaper to rebuild than to ship).
 *
 * Layout (host byte order; the header carries a byte-order mark and loading
 * on a host of the other order fails cleanly):
 *   header  88 bytes: magic "AVDBPACK", u32 version, u32 byte-order mark,
 *           u64 checksum of everything after the header, u64 nentries,
 *           u64 ndlls, u64 nnorms, u64 strings_len, u32 os_name_len,
 *           u32 flags (bit 0: has 64-bit DLLs), u64 exports_read, 16 reserved
 *   payload os_name + NUL, dlls, norms, entries, string arena
 * The checksum is a 64-bit multiply-xor hash over 8-byte words of the header
 * (checksum field zeroed) and the payload: it catches
 * truncation and corruption in a cache, it is not a security measure (the
 * content sha256 the fetcher keeps is).
 */
#include "apidb_internal.h"

#include <stdlib.h>
#include <string.h>

#define PACK_MAGIC "AVDBPACK"
#define PACK_VERSION 1u
#define PACK_BOM 0x01020304u
#define PACK_HEADER 88

typedef struct pack_header {
    char magic[8];
    uint32_t version;
    uint32_t bom;
    uint64_t checksum;
    uint64_t nentries;
    uint64_t ndlls;
    uint64_t nnorms;
    uint64_t strings_len;
    uint32_t os_name_len;
    uint32_t flags;
    uint64_t exports_read;
    uint64_t reserved[2];
} pack_header;

_Static_assert(sizeof(pack_header) == PACK_HEADER, "pack header layout");

static uint64_t packChecksum(const unsigned char *p, size_t n) {
    uint64_t h = 0x243F6A8885A308D3ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x100000001B3ULL;
    return h ^ (h >> 32);
}

/* The checksum covers the header (with its checksum field zeroed) and the
 * payload, so a flipped flag or count is caught like a flipped name. */
static uint64_t packDigest(const pack_header *h, const unsigned char *payload, size_t n) {
    pack_header z = *h;
    z.checksum = 0;
    uint64_t a = packChecksum((const unsigned char *)&z, sizeof(z));
    uint64_t b = packChecksum(payload, n);
    return a ^ ((b << 17) | (b >> 47)) ^ 0x5851F42D4C957F2DULL;
}

static void packPut(unsigned char **p, const void *src, size_t n) {
    if (n)
        memcpy(*p, src, n);
    *p += n;
}

/* Payload size for the given counts, or 0 on overflow. */
static size_t packPayloadSize(uint64_t nentries, uint64_t ndlls, uint64_t nnorms,
                              uint64_t strings_len, uint64_t os_name_len) {
    const uint64_t limit = (uint64_t)1 << 48;
    if (nentries > limit || ndlls > limit || nnorms > limit || strings_len > limit ||
        os_name_len > limit)
        return 0;
    return (size_t)(os_name_len + 1 + ndlls * sizeof(apidb_dll) + nnorms * sizeof(apidb_norm) +
                    nentries * sizeof(apidb_entry) + strings_len);
}

av_status apidbPack(const apidb *db, unsigned char **out, size_t *outlen, char *err,
                    size_t errlen) {
    size_t os_len = strlen(db->os_name);
    size_t payload = packPayloadSize(db->nentries, db->ndlls, db->nnorms, db->strings_len, os_len);
    unsigned char *buf = malloc(PACK_HEADER + payload);
    if (!buf)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "DB %s: out of memory packing", db->os_name);
    unsigned char *p = buf + PACK_HEADER;
    packPut(&p, db->os_name, os_len + 1);
    packPut(&p, db->dlls, db->ndlls * sizeof(apidb_dll));
    packPut(&p, db->norms, db->nnorms * sizeof(apidb_norm));
    packPut(&p, db->entries, db->nentries * sizeof(apidb_entry));
    packPut(&p, db->strings, db->strings_len);
    pack_header h = {.version = PACK_VERSION,
                     .bom = PACK_BOM,
                     .nentries = db->nentries,
                     .ndlls = db->ndlls,
                     .nnorms = db->nnorms,
                     .strings_len = db->strings_len,
                     .os_name_len = (uint32_t)os_len,
                     .flags = db->has64 ? 1u : 0u,
                     .exports_read = db->exports_read};
    memcpy(h.magic, PACK_MAGIC, 8);
    h.checksum = packDigest(&h, buf + PACK_HEADER, payload);
    memcpy(buf, &h, sizeof(h));
    *out = buf;
    *outlen = PACK_HEADER + payload;
    return AV_OK;
}

void apidbPackReseal(unsigned char *buf, size_t len) {
    if (len < PACK_HEADER)
        return;
    pack_header h;
    memcpy(&h, buf, sizeof(h));
    h.checksum = packDigest(&h, buf + PACK_HEADER, len - PACK_HEADER);
    memcpy(buf, &h, sizeof(h));
}

static av_status packCheckHeader(const unsigned char *buf, size_t len, const char *source,
                                 pack_header *h, char *err, size_t errlen) {
    if (len < PACK_HEADER)
        return avErrorf(err, errlen, AV_ERR_PARSE, "%s: compact DB truncated (%zu bytes)", source,
                        len);
    memcpy(h, buf, sizeof(*h));
    if (memcmp(h->magic, PACK_MAGIC, 8) != 0)
        return avErrorf(err, errlen, AV_ERR_PARSE, "%s: not a compact DB (bad magic)", source);
    if (h->bom != PACK_BOM)
        return avErrorf(err, errlen, AV_ERR_PARSE, "%s: compact DB of another byte order", source);
    if (h->version != PACK_VERSION)
        return avErrorf(err, errlen, AV_ERR_PARSE, "%s: compact DB version %u, expected %u", source,
                        h->version, PACK_VERSION);
    size_t payload =
        packPayloadSize(h->nentries, h->ndlls, h->nnorms, h->strings_len, h->os_name_len);
    if (payload == 0 || payload != len - PACK_HEADER)
        return avErrorf(err, errlen, AV_ERR_PARSE,
                        "%s: compact DB size %zu does not match its header", source, len);
    if (h->strings_len == 0 || h->strings_len > UINT32_MAX || h->nentries > UINT32_MAX - 1)
        return avErrorf(err, errlen, AV_ERR_PARSE, "%s: compact DB header out of range", source);
    if (packDigest(h, buf + PACK_HEADER, payload) != h->checksum)
        return avErrorf(err, errlen, AV_ERR_PARSE, "%s: compact DB checksum mismatch", source);
    return AV_OK;
}

/* Every offset and id must point inside the DB: the crawl trusts them. */
static av_status packCheckContent(const apidb *db, const char *source, char *err, size_t errlen) {
    if (db->strings[db->strings_len - 1] != '\0')
        return avErrorf(err, errlen, AV_ERR_PARSE, "%s: string arena not terminated", source);
    for (size_t i = 0; i < db->ndlls; i++)
        if (db->dlls[i].name >= db->strings_len ||
            (db->dlls[i].bitness != 32 && db->dlls[i].bitness != 64))
            return avErrorf(err, errlen, AV_ERR_PARSE, "%s: dll %zu out of range", source, i);
    for (size_t i = 0; i < db->nnorms; i++) {
        const apidb_norm *n = &db->norms[i];
        if ((uint64_t)n->dll + n->dll_len > db->strings_len ||
            (uint64_t)n->api + n->api_len > db->strings_len)
            return avErrorf(err, errlen, AV_ERR_PARSE, "%s: norm %zu out of range", source, i);
    }
    for (size_t i = 0; i < db->nentries; i++) {
        const apidb_entry *e = &db->entries[i];
        if (e->dll >= db->ndlls || e->api >= db->strings_len || e->norm >= db->nnorms || e->zero)
            return avErrorf(err, errlen, AV_ERR_PARSE, "%s: entry %zu out of range", source, i);
        if (i > 0 && e->address <= db->entries[i - 1].address)
            return avErrorf(err, errlen, AV_ERR_PARSE, "%s: entry %zu not in address order", source,
                            i);
    }
    return AV_OK;
}

static void *packCopy(const unsigned char **p, size_t n) {
    void *dst = malloc(n ? n : 1);
    if (dst && n)
        memcpy(dst, *p, n);
    *p += n;
    return dst;
}

av_status apidbUnpack(const unsigned char *buf, size_t len, const char *source, apidb **out,
                      char *err, size_t errlen) {
    *out = NULL;
    pack_header h;
    av_status st = packCheckHeader(buf, len, source, &h, err, errlen);
    if (st != AV_OK)
        return st;
    const unsigned char *p = buf + PACK_HEADER;
    if (p[h.os_name_len] != '\0' || memchr(p, '\0', h.os_name_len))
        return avErrorf(err, errlen, AV_ERR_PARSE, "%s: bad os_name in compact DB", source);
    apidb *db = calloc(1, sizeof(*db));
    if (!db)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "%s: out of memory", source);
    db->os_name = packCopy(&p, h.os_name_len + 1);
    db->dlls = packCopy(&p, h.ndlls * sizeof(apidb_dll));
    db->norms = packCopy(&p, h.nnorms * sizeof(apidb_norm));
    db->entries = packCopy(&p, h.nentries * sizeof(apidb_entry));
    db->strings = packCopy(&p, h.strings_len);
    db->ndlls = h.ndlls;
    db->nnorms = h.nnorms;
    db->nentries = h.nentries;
    db->strings_len = h.strings_len;
    db->has64 = (h.flags & 1u) != 0;
    db->exports_read = h.exports_read;
    if (!db->os_name || !db->dlls || !db->norms || !db->entries || !db->strings)
        st = avErrorf(err, errlen, AV_ERR_NOMEM, "%s: out of memory", source);
    else
        st = packCheckContent(db, source, err, errlen);
    if (st == AV_OK)
        st = apidbIndexBuild(db, err, errlen);
    if (st != AV_OK) {
        apidbFree(db);
        return st;
    }
    *out = db;
    return AV_OK;
}

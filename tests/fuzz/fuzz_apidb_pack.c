/*
 * fuzz_apidb_pack.c - libFuzzer target for the compact DB form: apidbUnpack()
 * on arbitrary bytes and the apidbPack()/apidbUnpack() round trip.
 *
 * The first byte picks the mode (its value mod 3); the rest is the payload:
 *  0: unpack the bytes as they are.
 *  1: unpack after writing the correct checksum into the header. The
 *     checksum is rewritten with apidbPackReseal(); without it
 *     nearly every mutation would stop at the checksum and the content
 *     validation (offsets, ids, order) would never be reached.
 *  2: the bytes are DB JSON (bit 2 of the first byte: ignore_aslr). When it
 *     loads, pack(db) must unpack to an equal DB, packing that again must
 *     give the same bytes, and a truncated or one-byte-corrupted pack must
 *     be rejected.
 * An unpacked DB is checked with fuzzDbCheck(), and packing it must give
 * back the input's payload byte for byte: unpack copies, it never repairs.
 */
#include <stdlib.h>
#include <string.h>

#include "apidb.h"
#include "fuzz_dbcheck.h"
#include "fuzz_util.h"

#define INPUT_MAX (256u << 10)
#define PACK_HEADER 88

static void unpackAndCheck(const uint8_t *buf, size_t len) {
    char err[AV_ERRLEN] = "";
    apidb *db = (apidb *)1;
    av_status st = apidbUnpack(buf, len, FUZZ_SOURCE, &db, err, sizeof(err));
    if (st != AV_OK) {
        FUZZ_CHECK(db == NULL, "failed unpack left a DB");
        FUZZ_CHECK(st == AV_ERR_PARSE, "status %d: %s", st, err);
        FUZZ_CHECK(fuzzErrorNamesSource(err), "error does not name the input: %s", err);
        return;
    }
    fuzzDbCheck(db, 0);
    unsigned char *again;
    size_t again_len;
    FUZZ_CHECK(apidbPack(db, &again, &again_len, err, sizeof(err)) == AV_OK, "pack: %s", err);
    FUZZ_CHECK(again_len == len &&
                   memcmp(again + PACK_HEADER, buf + PACK_HEADER, len - PACK_HEADER) == 0,
               "repacked payload differs from the unpacked one");
    free(again);
    apidbFree(db);
}

static void unpackFixedChecksum(const uint8_t *data, size_t size) {
    if (size < PACK_HEADER) {
        unpackAndCheck(data, size);
        return;
    }
    uint8_t *buf = malloc(size);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    apidbPackReseal(buf, size);
    unpackAndCheck(buf, size);
    free(buf);
}

/* A damaged copy of a pack must be rejected, never trusted. */
static void checkRejected(const unsigned char *pack, size_t len, size_t flip_at) {
    char err[AV_ERRLEN];
    apidb *db;
    unsigned char *bad = malloc(len);
    if (!bad)
        abort();
    memcpy(bad, pack, len);
    FUZZ_CHECK(apidbUnpack(bad, len - 1, FUZZ_SOURCE, &db, err, sizeof(err)) != AV_OK,
               "truncated pack accepted");
    size_t at = PACK_HEADER + flip_at % (len - PACK_HEADER);
    bad[at] ^= 0x5A;
    FUZZ_CHECK(apidbUnpack(bad, len, FUZZ_SOURCE, &db, err, sizeof(err)) != AV_OK,
               "pack with payload byte %zu flipped accepted", at);
    free(bad);
}

static void roundTrip(const uint8_t *json, size_t len, int ignore_aslr) {
    char err[AV_ERRLEN];
    apidb *db;
    if (apidbParseJson((const char *)json, len, FUZZ_SOURCE, ignore_aslr, &db, err, sizeof(err)) !=
        AV_OK)
        return;
    unsigned char *pack, *pack2;
    size_t pack_len, pack2_len;
    FUZZ_CHECK(apidbPack(db, &pack, &pack_len, err, sizeof(err)) == AV_OK, "pack: %s", err);
    apidb *back;
    FUZZ_CHECK(apidbUnpack(pack, pack_len, FUZZ_SOURCE, &back, err, sizeof(err)) == AV_OK,
               "unpack of a fresh pack: %s", err);
    fuzzDbCheckEqual(db, back);
    FUZZ_CHECK(apidbPack(back, &pack2, &pack2_len, err, sizeof(err)) == AV_OK, "pack: %s", err);
    FUZZ_CHECK(pack2_len == pack_len && memcmp(pack, pack2, pack_len) == 0,
               "pack(unpack(pack(db))) differs from pack(db)");
    checkRejected(pack, pack_len, len);
    free(pack);
    free(pack2);
    apidbFree(back);
    apidbFree(db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > INPUT_MAX)
        return 0;
    switch (data[0] % 3) {
        case 0:
            unpackAndCheck(data + 1, size - 1);
            break;
        case 1:
            unpackFixedChecksum(data + 1, size - 1);
            break;
        default:
            roundTrip(data + 1, size - 1, (data[0] >> 2) & 1);
            break;
    }
    return 0;
}

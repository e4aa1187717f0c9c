/*
 * fuzz_apidb_json.c - libFuzzer target for apidbParseJson(), DatabaseBuilder
 * JSON into a crawl-ready DB.
 *
 * Every input is loaded twice, honouring and ignoring aslr_offset, since the
 * two differ in which fields are required and in the address arithmetic.
 * An accepted DB goes through fuzzDbCheck(): names, sort order, normalized
 * pairs recomputed from the names, the index against a naive lookup and a
 * crawl against a naive scan. A rejected one must name the input in its
 * error and leave no DB behind.
 */
#include "apidb.h"
#include "fuzz_dbcheck.h"
#include "fuzz_util.h"

#define JSON_MAX (256u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > JSON_MAX)
        return 0;
    for (int ignore_aslr = 0; ignore_aslr <= 1; ignore_aslr++) {
        char err[AV_ERRLEN] = "";
        apidb *db = (apidb *)1;
        av_status st = apidbParseJson((const char *)data, size, FUZZ_SOURCE, ignore_aslr, &db, err,
                                      sizeof(err));
        if (st != AV_OK) {
            FUZZ_CHECK(db == NULL, "failed load left a DB");
            FUZZ_CHECK(st == AV_ERR_PARSE || st == AV_ERR_RANGE || st == AV_ERR_LIMIT,
                       "status %d: %s", st, err);
            FUZZ_CHECK(fuzzErrorNamesSource(err), "error does not name the input: %s", err);
            continue;
        }
        fuzzDbCheck(db, 1);
        apidbFree(db);
    }
    return 0;
}

/*
 * fuzz_winapi.c - libFuzzer target for winapiParse(), the WinApi1024 table.
 *
 * Two input modes, chosen by the first byte:
 *  - 0xFF: splice. Bytes 1-2 pick a line of a valid generated table and the
 *    rest of the input replaces it. A random text almost never has exactly
 *    1024 valid lines, so this is how the fuzzer reaches the accept path and
 *    the duplicate checks with hostile names and ranks.
 *  - anything else: the input is the table text as is.
 * The text is handed to the parser in a buffer of exactly its size, so a
 * read past its end is an ASan report.
 *
 * After a successful parse every bit must round-trip: its names look up to
 * that bit and its rank is 1023 - bit. Slices of the input are looked up as
 * well: a hit must be an exact match. A failed parse must name the input.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "winapi.h"

static void checkTable(const winapi_table *t, const uint8_t *data, size_t size) {
    /* Names holding a NUL byte are stored whole but read back as C strings,
     * so the round trip below only holds for NUL-free inputs. */
    int has_nul = memchr(data, 0, size) != NULL;
    for (unsigned bit = 0; bit < WINAPI_BITS; bit++) {
        const char *dll = winapiDll(t, bit), *fn = winapiFunction(t, bit);
        FUZZ_CHECK(dll && fn, "bit %u has no names", bit);
        FUZZ_CHECK(winapiRank(t, bit) == WINAPI_BITS - 1 - bit, "rank of bit %u", bit);
        FUZZ_CHECK(!strchr(fn, '!') && !strchr(dll, '!') && !strchr(dll, ';'),
                   "bit %u: separator in names %s!%s", bit, dll, fn);
        if (!has_nul) {
            FUZZ_CHECK(*dll && *fn, "bit %u: empty name", bit);
            int got = winapiLookup(t, dll, strlen(dll), fn, strlen(fn));
            FUZZ_CHECK(got == (int)bit, "%s!%s looks up to %d, not %u", dll, fn, got, bit);
        }
    }
    /* Arbitrary slices: any hit must be the exact pair. */
    for (size_t k = 0; k < size && k < 64; k += 7) {
        const char *s = (const char *)data;
        int bit = winapiLookup(t, s, k, s + k, size - k < 40 ? size - k : 40);
        if (bit >= 0) {
            FUZZ_CHECK(bit < WINAPI_BITS, "lookup returned %d", bit);
            FUZZ_CHECK(strlen(winapiDll(t, (unsigned)bit)) == k &&
                           memcmp(winapiDll(t, (unsigned)bit), s, k) == 0,
                       "slice lookup hit the wrong dll at bit %d", bit);
        }
    }
}

static void parseAndCheck(const uint8_t *data, size_t size) {
    char err[AV_ERRLEN] = "";
    winapi_table *t = (winapi_table *)1;
    av_status st = winapiParse((const char *)data, size, FUZZ_SOURCE, &t, err, sizeof(err));
    if (st != AV_OK) {
        FUZZ_CHECK(t == NULL, "failed parse left a table");
        FUZZ_CHECK(st == AV_ERR_PARSE, "status %d", st);
        FUZZ_CHECK(fuzzErrorNamesSource(err), "error does not name the input: %s", err);
        return;
    }
    checkTable(t, data, size);
    winapiFree(t);
}

static char *base_text; /* the generated table the splice mode edits */
static size_t base_len;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    base_text = fuzzWinapiText(NULL, 0, &base_len);
    return 0;
}

/* Replaces line `line` of the generated table with `rep`. */
static void spliceAndCheck(unsigned line, const uint8_t *rep, size_t rep_len) {
    size_t start = 0;
    for (unsigned i = 0; i < line; i++)
        start = (size_t)((char *)memchr(base_text + start, '\n', base_len - start) - base_text) + 1;
    size_t end = (size_t)((char *)memchr(base_text + start, '\n', base_len - start) - base_text);
    size_t n = start + rep_len + (base_len - end);
    uint8_t *text = malloc(n ? n : 1);
    if (!text)
        abort();
    memcpy(text, base_text, start);
    memcpy(text + start, rep, rep_len);
    memcpy(text + start + rep_len, base_text + end, base_len - end);
    parseAndCheck(text, n);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20))
        return 0;
    if (size >= 3 && data[0] == 0xFF)
        spliceAndCheck((unsigned)((data[1] << 8 | data[2]) % WINAPI_BITS), data + 3, size - 3);
    else
        parseAndCheck(data, size);
    return 0;
}

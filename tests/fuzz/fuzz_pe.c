/*
 * fuzz_pe.c - libFuzzer target for the dump's own PE header: pePeOffset(),
 * peImageBase32(), peImportsParse()/peImportsIsSlot(), and the reference
 * sites of refsCollect()/refsFind().
 *
 * The input is the dump. The engine's import parse is clever (each thunk
 * walked once, runs merged per residue class), so small dumps are also
 * parsed by a naive model that follows pe.h and the conformance README line
 * by line, walking every descriptor's thunks from scratch; the slot count
 * and the slot test of every offset must agree. The reference sites are
 * likewise recomputed by a plain byte loop and must match the sorted
 * (target, site) tables exactly.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "pe.h"
#include "refs.h"

#define INPUT_MAX (1u << 20)
#define IMPORT_MODEL_MAX 4096
#define SWEEP_MAX (64u << 10)

typedef struct slot_list {
    uint64_t *v;
    size_t n, cap;
} slot_list;

static int rd(const uint8_t *d, size_t len, uint64_t off, unsigned size, uint64_t *out) {
    if (off > len || len - off < size)
        return 0;
    *out = fuzzLe(d + off, size);
    return 1;
}

static void slotPush(slot_list *s, uint64_t v) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
        if (!s->v)
            abort();
    }
    s->v[s->n++] = v;
}

/* Thunk count of one descriptor, or -1 when a read leaves the dump. */
static int64_t modelThunks(const uint8_t *d, size_t len, uint64_t oft, unsigned step) {
    for (int64_t i = 0;; i++) {
        uint64_t thunk;
        if (!rd(d, len, oft + (uint64_t)i * step, step, &thunk))
            return -1;
        if (thunk == 0)
            return i;
        uint32_t t = (uint32_t)thunk;
        if (!(t & 0x80000000u) && (uint64_t)t + 2 >= len)
            return -1; /* hint word at t and name at t+2 must be inside */
    }
}

/* The import slots as the reference finds them; returns the slot count. */
static uint64_t modelImports(const uint8_t *d, size_t len, slot_list *slots, unsigned *step_out) {
    uint64_t pe = 0, machine, magic, rva, total = 0;
    if (len >= 0x40)
        rd(d, len, 0x3c, 2, &pe);
    unsigned step = 4;
    *step_out = step;
    if (!pe || !rd(d, len, pe + 4, 2, &machine) || (machine != 0x14c && machine != 0x8664))
        return 0;
    if (rd(d, len, pe + 0x18, 2, &magic) && magic == 0x20b)
        step = 8;
    *step_out = step;
    if (!rd(d, len, pe + 0x80 + (step == 8 ? 0x10 : 0), 4, &rva) || rva == 0 || rva >= len)
        return 0;
    for (uint64_t off = rva;; off += 20) {
        uint64_t oft, name, ft;
        if (!rd(d, len, off, 4, &oft) || !rd(d, len, off + 12, 4, &name) ||
            !rd(d, len, off + 16, 4, &ft))
            break;
        if (ft == 0 || name >= len)
            break;
        int64_t count = modelThunks(d, len, oft, step);
        if (count < 0)
            break;
        for (int64_t i = 0; i < count; i++)
            slotPush(slots, ft + (uint64_t)i * step);
        total += (uint64_t)count;
    }
    return total;
}

static int u64Compare(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int slotHas(const slot_list *s, uint64_t v) {
    return s->n && bsearch(&v, s->v, s->n, sizeof(uint64_t), u64Compare) != NULL;
}

static void checkImportsModel(const uint8_t *d, size_t len, const pe_imports *imp) {
    slot_list slots = {0};
    unsigned step;
    uint64_t total = modelImports(d, len, &slots, &step);
    FUZZ_CHECK(imp->num_slots == total, "%llu slots, model %llu",
               (unsigned long long)imp->num_slots, (unsigned long long)total);
    if (slots.n)
        qsort(slots.v, slots.n, sizeof(uint64_t), u64Compare);
    int none = total == 0;
    for (uint64_t o = 0; o < len + 64; o++) {
        int got = peImportsIsSlot(imp, o);
        FUZZ_CHECK(got == (none ? -1 : slotHas(&slots, o)), "offset %llu: %d",
                   (unsigned long long)o, got);
    }
    for (size_t i = 0; i < slots.n; i++)
        for (int delta = -1; delta <= 1; delta++) {
            uint64_t o = slots.v[i] + (uint64_t)(int64_t)delta;
            FUZZ_CHECK(peImportsIsSlot(imp, o) == slotHas(&slots, o), "slot %llu (step %u)",
                       (unsigned long long)o, step);
        }
    free(slots.v);
}

static void checkImports(const uint8_t *d, size_t len) {
    pe_imports imp;
    char err[AV_ERRLEN];
    FUZZ_CHECK(peImportsParse(d, len, &imp, err, sizeof(err)) == AV_OK, "parse: %s", err);
    FUZZ_CHECK(imp.step == 4 || imp.step == 8, "step %u", imp.step);
    if (len <= IMPORT_MODEL_MAX) {
        checkImportsModel(d, len, &imp);
    } else if (len <= SWEEP_MAX) {
        for (uint64_t o = 0; o < len; o++)
            FUZZ_CHECK(peImportsIsSlot(&imp, o) >= -1, "slot test");
    }
    peImportsFree(&imp);
    FUZZ_CHECK(imp.num_slots == 0, "free left slots");
}

static void checkHeader(const uint8_t *d, size_t len) {
    uint64_t pe = 0, base = 0;
    if (len >= 0x40)
        pe = fuzzLe(d + 0x3c, 2);
    FUZZ_CHECK(pePeOffset(d, len) == pe, "e_lfanew");
    if (pe && len >= pe + 0x38)
        base = fuzzLe(d + pe + 0x34, 4);
    FUZZ_CHECK(peImageBase32(d, len) == base, "ImageBase");
}

static int pairCompare(const void *a, const void *b) {
    const refs_pair *x = a, *y = b;
    if (x->target != y->target)
        return x->target < y->target ? -1 : 1;
    return x->site < y->site ? -1 : x->site > y->site;
}

static void checkRefTable(const refs_table *t, unsigned bitness, refs_pair *want, size_t n) {
    const refs_pair *got = bitness == 64 ? t->by64 : t->by32;
    size_t got_n = bitness == 64 ? t->n64 : t->n32;
    FUZZ_CHECK(got_n == n, "%zu %u-bit sites, model %zu", got_n, bitness, n);
    if (n)
        qsort(want, n, sizeof(*want), pairCompare);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(got[i].target == want[i].target && got[i].site == want[i].site,
                   "%u-bit pair %zu differs", bitness, i);
    for (size_t i = 0; i < n; i++) {
        size_t cnt, j = i;
        while (j < n && want[j].target == want[i].target)
            j++;
        const refs_pair *p = refsFind(t, bitness, want[i].target, &cnt);
        FUZZ_CHECK(p && cnt == j - i && p->site == want[i].site, "refsFind(%llu)",
                   (unsigned long long)want[i].target);
        FUZZ_CHECK(refsFind(t, bitness, want[i].target + 1, &cnt) == NULL ||
                       (j < n && want[j].target == want[i].target + 1),
                   "refsFind past a target");
        i = j - 1;
    }
}

static void checkRefs(const uint8_t *d, size_t len, uint64_t base) {
    refs_table t;
    char err[AV_ERRLEN];
    FUZZ_CHECK(refsCollect(d, len, base, &t, err, sizeof(err)) == AV_OK, "refs: %s", err);
    refs_pair *w32 = malloc((len / 2 + 1) * sizeof(refs_pair));
    refs_pair *w64 = malloc((len / 2 + 1) * sizeof(refs_pair));
    if (!w32 || !w64)
        abort();
    size_t n32 = 0, n64 = 0;
    for (size_t s = 0; s + 6 <= len;) {
        if (d[s] != 0xFF || (d[s + 1] != 0x15 && d[s + 1] != 0x25)) {
            s++;
            continue;
        }
        uint32_t u = (uint32_t)fuzzLe(d + s + 2, 4);
        __int128 t32 = (__int128)u - (__int128)base;
        if (t32 > 0 && t32 < (__int128)len)
            w32[n32++] = (refs_pair){(uint64_t)t32, s};
        int64_t t64 = (int64_t)(int32_t)u + (int64_t)s + (d[s + 1] == 0x15 ? 6 : 7);
        if (t64 > 0 && (uint64_t)t64 < len)
            w64[n64++] = (refs_pair){(uint64_t)t64, s};
        s += 2;
    }
    checkRefTable(&t, 32, w32, n32);
    checkRefTable(&t, 64, w64, n64);
    free(w32);
    free(w64);
    refsFree(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > INPUT_MAX)
        return 0;
    checkHeader(data, size);
    checkImports(data, size);
    if (size <= SWEEP_MAX) {
        checkRefs(data, size, peImageBase32(data, size));
        checkRefs(data, size, 0);
    }
    return 0;
}

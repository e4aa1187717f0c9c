/*
 * pe.c - image base and import table slots from a dump's own PE header.
 *
 * The import parse follows the reference step by step: descriptors of 20
 * bytes at the import directory RVA until one has FirstThunk 0; for each, the
 * DLL name's first byte must be inside the dump; then the thunks at
 * OriginalFirstThunk are read until a zero thunk, each non-ordinal thunk's
 * hint word and name must be inside the dump, and slot FirstThunk + i*step is
 * an import slot. The first read past the end ends the whole parse, and the
 * descriptor it happened in contributes nothing.
 *
 * A thunk run's outcome depends only on where it starts, so runs are walked
 * from the highest start down, and a walk stops as soon as it reaches the
 * start walked before it in the same residue class: together the walks touch
 * each thunk once, however the descriptors overlap.
 */
#include "pe.h"

#include <stdlib.h>
#include <string.h>

static int peRead(const unsigned char *d, size_t len, uint64_t off, unsigned size, uint64_t *out) {
    if (off > len || len - off < size)
        return 0;
    uint64_t v = 0;
    memcpy(&v, d + off, size); /* little-endian host */
    *out = v;
    return 1;
}

uint32_t pePeOffset(const unsigned char *dump, size_t len) {
    uint64_t v;
    return len >= 0x40 && peRead(dump, len, 0x3c, 2, &v) ? (uint32_t)v : 0;
}

uint64_t peImageBase32(const unsigned char *dump, size_t len) {
    uint32_t pe = pePeOffset(dump, len);
    uint64_t v;
    if (pe && len >= (uint64_t)pe + 0x38 && peRead(dump, len, pe + 0x34, 4, &v))
        return v;
    return 0;
}

typedef struct pe_desc {
    uint64_t oft, ft;
    uint64_t count; /* thunks before the terminating zero */
    int ok;         /* the run ended on a zero thunk with every read inside */
} pe_desc;

/* Walks the thunks at `start` until a zero thunk, a failed read, or `stop`
 * (a start already walked, whose outcome is `stop_desc`). */
static void peWalk(const unsigned char *d, size_t len, unsigned step, pe_desc *x,
                   const pe_desc *stop_desc) {
    uint64_t p = x->oft, i = 0, thunk;
    for (;; i++, p += step) {
        if (stop_desc && p == stop_desc->oft) {
            x->count = i + stop_desc->count;
            x->ok = stop_desc->ok;
            return;
        }
        if (!peRead(d, len, p, step, &thunk)) {
            x->ok = 0;
            return;
        }
        if (thunk == 0) {
            x->count = i;
            x->ok = 1;
            return;
        }
        uint32_t t = (uint32_t)thunk;
        if (!(t & 0x80000000u) && (uint64_t)t + 2 >= len) {
            x->ok = 0;
            return;
        }
    }
}

static int peDescByOftDesc(const void *a, const void *b) {
    const pe_desc *x = *(pe_desc *const *)a, *y = *(pe_desc *const *)b;
    return x->oft < y->oft ? 1 : (x->oft > y->oft ? -1 : 0);
}

static void peWalkAll(const unsigned char *d, size_t len, unsigned step, pe_desc *descs, size_t n,
                      pe_desc **order) {
    for (size_t i = 0; i < n; i++)
        order[i] = &descs[i];
    if (n > 1)
        qsort(order, n, sizeof(*order), peDescByOftDesc);
    const pe_desc *last[8] = {0};
    for (size_t i = 0; i < n; i++) {
        pe_desc *x = order[i];
        if (i > 0 && order[i - 1]->oft == x->oft) {
            x->count = order[i - 1]->count;
            x->ok = order[i - 1]->ok;
            continue;
        }
        unsigned r = (unsigned)(x->oft % step);
        peWalk(d, len, step, x, last[r]);
        last[r] = x;
    }
}

static int peRunCompare(const void *a, const void *b) {
    const pe_run *x = a, *y = b;
    return x->first < y->first ? -1 : (x->first > y->first);
}

/* Sorts and merges the intervals of one residue class in place. */
static size_t peRunsMerge(pe_run *runs, size_t n) {
    if (n == 0)
        return 0;
    qsort(runs, n, sizeof(*runs), peRunCompare);
    size_t m = 0;
    for (size_t i = 1; i < n; i++) {
        uint64_t end = runs[m].first + runs[m].count;
        if (runs[i].first <= end) {
            uint64_t e2 = runs[i].first + runs[i].count;
            if (e2 > end)
                runs[m].count = e2 - runs[m].first;
        } else {
            runs[++m] = runs[i];
        }
    }
    return m + 1;
}

/* Reads descriptors until the end of the table or a failed read, growing
 * the array as it goes: its size follows the table, not the dump. Returns 0
 * when memory runs out. */
static int peReadDescs(const unsigned char *d, size_t len, uint64_t rva, pe_desc **descs,
                       size_t *n) {
    size_t cap = 0;
    *descs = NULL;
    *n = 0;
    for (;; (*n)++) {
        uint64_t off = rva + 20 * (uint64_t)*n, oft, name, ft;
        if (off + 20 > len || !peRead(d, len, off, 4, &oft) ||
            !peRead(d, len, off + 12, 4, &name) || !peRead(d, len, off + 16, 4, &ft))
            return 1;
        if (name >= len || ft == 0)
            return 1;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            pe_desc *p = realloc(*descs, cap * sizeof(**descs));
            if (!p)
                return 0;
            *descs = p;
        }
        (*descs)[*n] = (pe_desc){.oft = oft, .ft = ft};
    }
}

static av_status peCollectRuns(pe_imports *out, const pe_desc *descs, size_t n, char *err,
                               size_t errlen) {
    for (size_t k = 0; k < n; k++) {
        if (!descs[k].ok)
            break;
        if (descs[k].count == 0)
            continue;
        unsigned r = (unsigned)(descs[k].ft % out->step);
        pe_run *p = realloc(out->runs[r], (out->nruns[r] + 1) * sizeof(pe_run));
        if (!p)
            return avErrorf(err, errlen, AV_ERR_NOMEM, "import table: out of memory");
        out->runs[r] = p;
        p[out->nruns[r]++] = (pe_run){descs[k].ft / out->step, descs[k].count};
        out->num_slots += descs[k].count;
    }
    for (unsigned r = 0; r < out->step; r++)
        out->nruns[r] = peRunsMerge(out->runs[r], out->nruns[r]);
    return AV_OK;
}

av_status peImportsParse(const unsigned char *d, size_t len, pe_imports *out, char *err,
                         size_t errlen) {
    memset(out, 0, sizeof(*out));
    out->step = 4;
    uint32_t pe = pePeOffset(d, len);
    uint64_t machine, magic, rva;
    if (!pe || !peRead(d, len, (uint64_t)pe + 4, 2, &machine) ||
        (machine != 0x14c && machine != 0x8664))
        return AV_OK;
    if (peRead(d, len, (uint64_t)pe + 0x18, 2, &magic) && magic == 0x20b)
        out->step = 8;
    uint64_t dd = (uint64_t)pe + 0x80 + (out->step == 8 ? 0x10 : 0);
    if (!peRead(d, len, dd, 4, &rva) || rva == 0 || rva >= len)
        return AV_OK;
    pe_desc *descs;
    pe_desc **order = NULL;
    size_t n;
    av_status st = AV_OK;
    if (!peReadDescs(d, len, rva, &descs, &n) || (n && !(order = malloc(n * sizeof(*order))))) {
        st = avErrorf(err, errlen, AV_ERR_NOMEM, "import table: out of memory");
    } else {
        peWalkAll(d, len, out->step, descs, n, order);
        st = peCollectRuns(out, descs, n, err, errlen);
    }
    free(descs);
    free(order);
    if (st != AV_OK)
        peImportsFree(out);
    return st;
}

void peImportsFree(pe_imports *imp) {
    for (unsigned r = 0; r < 8; r++) {
        free(imp->runs[r]);
        imp->runs[r] = NULL;
        imp->nruns[r] = 0;
    }
    imp->num_slots = 0;
}

int peImportsIsSlot(const pe_imports *imp, uint64_t offset) {
    if (imp->num_slots == 0)
        return -1;
    unsigned r = (unsigned)(offset % imp->step);
    uint64_t idx = offset / imp->step;
    const pe_run *runs = imp->runs[r];
    size_t lo = 0, hi = imp->nruns[r];
    while (lo < hi) { /* first run starting after idx */
        size_t mid = lo + (hi - lo) / 2;
        if (runs[mid].first <= idx)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && idx < runs[lo - 1].first + runs[lo - 1].count;
}

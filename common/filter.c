/*
 * filter.c - the own-image, address range and neighbour filters.
 *
 * Arithmetic is done in 128 bits because the reference computes with
 * unbounded integers: base + dump length or base + offset may pass 2^64.
 */
#include "filter.h"

static int filterKeepStatic(const crawl_row *r, const filter_options *o) {
    unsigned __int128 base = o->base_address;
    if (o->own_image && r->address >= base && r->address <= base + o->dump_len)
        return 0;
    if (o->from_address && base + r->offset < o->from_address)
        return 0;
    if (o->to_address && base + r->offset > o->to_address)
        return 0;
    return 1;
}

size_t filterApply(const crawl_row *in, size_t n, const filter_options *opt, crawl_row *out) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (filterKeepStatic(&in[i], opt))
            out[m++] = in[i];
    if (opt->distance == 0)
        return m;
    if (m < 2)
        return 0;
    /* In place: row i survives when pair (i-1, i) or (i, i+1) is close. The
     * decision for pair (i, i+1) is taken before row i is overwritten. */
    size_t k = 0;
    int prev_close = 0;
    for (size_t i = 0; i < m; i++) {
        int next_close = 0;
        if (i + 1 < m) {
            __int128 diff = (__int128)out[i + 1].offset - (__int128)out[i].offset;
            next_close = diff <= opt->distance;
        }
        if (prev_close || next_close)
            out[k++] = out[i];
        prev_close = next_close;
    }
    return k;
}

/*
 * hex.h - the value of a hexadecimal digit, for the few parsers that read
 * hex by hand (dump names, percent-escapes).
 *
 * Thread-safety: pure.
 */
#ifndef APIVECTOR_HEX_H
#define APIVECTOR_HEX_H

/* 0..15 for [0-9a-fA-F], -1 for anything else. */
static inline int hexDigitValue(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif

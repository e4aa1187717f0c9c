/*
 * sha256.c - SHA-256 helpers over OpenSSL EVP (see sha256.h).
 *
 * EVP rather than the deprecated SHA256_* calls, so the code keeps building
 * on OpenSSL 3 without deprecation warnings and picks the fastest provider
 * implementation (SHA-NI where the CPU has it).
 */
#include "sha256.h"

#include <string.h>

#include <openssl/evp.h>

#include "hex.h"

av_status sha256Init(sha256_ctx *c, char *err, size_t errlen) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "sha256: cannot allocate a digest context");
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return avErrorf(err, errlen, AV_ERR_IO, "sha256: digest initialisation failed");
    }
    c->md = md;
    return AV_OK;
}

av_status sha256Update(sha256_ctx *c, const void *data, size_t len, char *err, size_t errlen) {
    if (!c->md)
        return avErrorf(err, errlen, AV_ERR_USAGE, "sha256: update on a context not started");
    if (len && EVP_DigestUpdate(c->md, data, len) != 1)
        return avErrorf(err, errlen, AV_ERR_IO, "sha256: digest update failed");
    return AV_OK;
}

av_status sha256Final(sha256_ctx *c, unsigned char out[SHA256_LEN], char *err, size_t errlen) {
    unsigned int n = 0;
    if (!c->md)
        return avErrorf(err, errlen, AV_ERR_USAGE, "sha256: final on a context not started");
    int ok = EVP_DigestFinal_ex(c->md, out, &n);
    sha256Free(c);
    if (ok != 1 || n != SHA256_LEN)
        return avErrorf(err, errlen, AV_ERR_IO, "sha256: digest finalisation failed");
    return AV_OK;
}

void sha256Free(sha256_ctx *c) {
    if (c && c->md) {
        EVP_MD_CTX_free(c->md);
        c->md = NULL;
    }
}

av_status sha256Digest(const void *data, size_t len, unsigned char out[SHA256_LEN], char *err,
                       size_t errlen) {
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != SHA256_LEN)
        return avErrorf(err, errlen, AV_ERR_IO, "sha256: digest of %zu bytes failed", len);
    return AV_OK;
}

av_status sha256DigestHex(const void *data, size_t len, char hex[SHA256_HEXLEN], char *err,
                          size_t errlen) {
    unsigned char d[SHA256_LEN];
    av_status st = sha256Digest(data, len, d, err, errlen);
    if (st == AV_OK)
        sha256Hex(d, hex);
    return st;
}

void sha256Hex(const unsigned char digest[SHA256_LEN], char hex[SHA256_HEXLEN]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SHA256_LEN; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 0xf];
    }
    hex[2 * SHA256_LEN] = '\0';
}

av_status sha256FromHex(const char *hex, unsigned char out[SHA256_LEN], char *err, size_t errlen) {
    if (!hex || strlen(hex) != 2 * SHA256_LEN)
        return avErrorf(err, errlen, AV_ERR_PARSE, "sha256: expected 64 hex characters");
    for (int i = 0; i < SHA256_LEN; i++) {
        int hi = hexDigitValue(hex[2 * i]), lo = hexDigitValue(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return avErrorf(err, errlen, AV_ERR_PARSE,
                            "sha256: character %d of \"%.64s\" is not hex",
                            hi < 0 ? 2 * i : 2 * i + 1, hex);
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return AV_OK;
}

/*
 * sha256.h - SHA-256 through OpenSSL libcrypto's EVP interface.
 *
 * Two ways in: sha256Digest/sha256DigestHex hash a whole buffer at once;
 * sha256Init/Update/Final hash a stream (a dump as it downloads). Digests are
 * 32 raw bytes; sha256Hex turns them into 64 lowercase hex characters, the form
 * used in Redis keys, logs and events.
 *
 * Ownership: a sha256_ctx owns an EVP context from sha256Init until
 * sha256Final or sha256Free (both release it; calling sha256Free after
 * sha256Final, or twice, is harmless).
 * Thread-safety: all functions are reentrant; one sha256_ctx must not be used
 * by two threads at once.
 */
#ifndef APIVECTOR_SHA256_H
#define APIVECTOR_SHA256_H

#include <stddef.h>

#include "error.h"

#define SHA256_LEN 32
#define SHA256_HEXLEN 65 /* 64 hex characters and the terminating NUL */

typedef struct sha256_ctx {
    void *md; /* EVP_MD_CTX *, NULL when not started or finished */
} sha256_ctx;

/* Starts a streaming hash. Returns AV_ERR_NOMEM or AV_ERR_IO on failure. */
av_status sha256Init(sha256_ctx *c, char *err, size_t errlen);

/* Feeds len bytes. */
av_status sha256Update(sha256_ctx *c, const void *data, size_t len, char *err, size_t errlen);

/* Writes the digest and releases the context. */
av_status sha256Final(sha256_ctx *c, unsigned char out[SHA256_LEN], char *err, size_t errlen);

/* Releases the context without a digest (error paths). */
void sha256Free(sha256_ctx *c);

/* One-shot hash of a buffer. */
av_status sha256Digest(const void *data, size_t len, unsigned char out[SHA256_LEN], char *err,
                       size_t errlen);

/* One-shot hash of a buffer as lowercase hex. */
av_status sha256DigestHex(const void *data, size_t len, char hex[SHA256_HEXLEN], char *err,
                          size_t errlen);

/* Formats a digest as 64 lowercase hex characters plus NUL. */
void sha256Hex(const unsigned char digest[SHA256_LEN], char hex[SHA256_HEXLEN]);

/* Parses 64 hex characters (either case) into a digest; AV_ERR_PARSE otherwise. */
av_status sha256FromHex(const char *hex, unsigned char out[SHA256_LEN], char *err, size_t errlen);

#endif

/*
 * fileio.h - read local files for the CLI and the consumer: small files into
 * memory, dumps as read-only mappings (never a heap copy), stdin into memory.
 *
 * Ownership: fileRead() returns a malloc'ed, NUL-terminated buffer the caller
 * frees; fileMap() fills a file_map released with fileUnmap().
 * Thread-safety: reentrant.
 */
#ifndef APIVECTOR_FILEIO_H
#define APIVECTOR_FILEIO_H

#include <stddef.h>

#include "error.h"

/* Reads a whole file ("-" = stdin), refusing files over max_bytes. */
av_status fileRead(const char *path, size_t max_bytes, char **out, size_t *len, char *err,
                   size_t errlen);

typedef struct file_map {
    const unsigned char *data; /* NULL for an empty file */
    size_t len;
    void *heap; /* set when the source could not be mapped (stdin) */
} file_map;

/* Maps a file read-only; "-" reads stdin into memory instead. */
av_status fileMap(const char *path, size_t max_bytes, file_map *out, char *err, size_t errlen);

void fileUnmap(file_map *m);

#endif

/*
 * codecs.h - the artifact codecs of the consumer: how each support-server
 * artifact is checked, kept in Redis and parsed (artifact.h knows no formats).
 *
 *   kind         origin bytes          cached bytes        parsed object
 *   db1          DatabaseBuilder JSON  apidbPack() form    apidb (apidbUnpack)
 *   db1-noaslr   the same, parsed with ignore_aslr: a different compact form
 *   collection   collection CSV        the CSV as is       collection
 *   malpedia     Malpedia's CSV        the CSV as is       collection
 *   winapi       WinApi1024 text       the text as is      winapi_table
 *
 * The digit in "db1" is apidbPack()'s format version: bump it when the packed
 * form changes, so consumers of two versions never read each other's bytes.
 * ignore_aslr changes the addresses in the packed DB, so it is part of the
 * kind: two consumer groups configured differently never share a DB.
 *
 * Encoders reject content that would replace a good cached copy with a bad
 * one (the store then keeps serving the last good copy, marked stale):
 *   - a DB that apidbParseJson() refuses;
 *   - a WinApi1024 table that winapiParse() refuses;
 *   - a collection that has lines other than blanks and '#' comments but not
 *     one valid entry (an error page, an HTML answer); an empty collection (or
 *     one of comments only) is accepted, and a collection with some malformed
 *     lines keeps its valid ones (collection.h);
 *   - a Malpedia answer that malpediaValidate() refuses.
 *
 * Every codec returned here is a static constant: share it freely between
 * threads; the objects it decodes are immutable.
 */
#ifndef APIVECTOR_CODECS_H
#define APIVECTOR_CODECS_H

#include <stdbool.h>

#include "artifact.h"

/* The DB codec for the given ignore_aslr setting ("db1" or "db1-noaslr");
 * decodes into an apidb *. */
const artifact_codec *codecDb(bool ignore_aslr);

/* Collections from the support server ("collection"); decodes into a
 * collection *. */
const artifact_codec *codecCollection(void);

/* Malpedia's collection ("malpedia"); decodes into a collection *. */
const artifact_codec *codecMalpedia(void);

/* The WinApi1024 table ("winapi"); decodes into a winapi_table *. */
const artifact_codec *codecWinapi(void);

#endif

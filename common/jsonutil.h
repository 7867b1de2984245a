/*
 * jsonutil.h - small helpers over jansson shared by agent and server.
 */
#ifndef DERELICT_JSONUTIL_H
#define DERELICT_JSONUTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The one serialisation used for hashing: compact, keys sorted. */
#define JSON_CANONICAL_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)

/* Parses len bytes; NULL with err filled on failure.  Rejects NUL bytes in
 * strings (JSON_ALLOW_NUL is not set) and anything nested deeper than
 * jansson's own limit; the caller checks its own tighter limits. */
json_t *json_parse_buf(const char *data, size_t len, json_error_t *err);

/* Member getters that answer NULL / the default when the member is missing
 * or of another type. */
const char *json_get_str(const json_t *obj, const char *key);
int64_t json_get_int(const json_t *obj, const char *key, int64_t dflt);

/* Sets obj[key] to a string, or to null when s is NULL; bytes of s that
 * are not valid UTF-8 become U+FFFD.  0 or -ENOMEM. */
int json_set_str(json_t *obj, const char *key, const char *s);
/* Sets obj[key] to an RFC 3339 time, or to null when t <= 0. */
int json_set_time(json_t *obj, const char *key, int64_t t);

/* Depth of the deepest container (a scalar is 0). */
int json_depth(const json_t *v);

/* Serialises into a malloc'd string; NULL on ENOMEM. */
char *json_canonical(const json_t *v);

struct buf;
/* Appends json_canonical(v) to out, the same bytes without jansson's
 * allocations for each value, key array and copy: a report's thousands
 * of items are serialised this way, one buffer for all.  Strings must be
 * valid UTF-8, as every jansson string made by json_string() or a parse
 * is.  0, -ENOMEM or -E2BIG (out is then as it was). */
int json_canonical_append(const json_t *v, struct buf *out);

#endif

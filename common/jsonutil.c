/* jsonutil.c - see jsonutil.h. */
#include "jsonutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "timeutil.h"

json_t *json_parse_buf(const char *data, size_t len, json_error_t *err)
{
	return json_loadb(data, len, JSON_REJECT_DUPLICATES, err);
}

const char *json_get_str(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int64_t json_get_int(const json_t *obj, const char *key, int64_t dflt)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *p)
{
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

/* s with each byte that is not part of valid UTF-8 replaced by U+FFFD. */
static json_t *json_string_lossy(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), o = 0;
	char *out = malloc(len * 3 + 1);
	json_t *v;

	if (!out)
		return NULL;
	while (*p) {
		size_t n = utf8_seq(p);

		if (n) {
			memcpy(out + o, p, n);
			o += n;
			p += n;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
		}
	}
	v = json_stringn(out, o);
	free(out);
	return v;
}

/* json_string() for text that is mostly ASCII: jansson checks UTF-8 one
 * code point at a time through function calls, which costs more than the
 * rest of building a package's item. */
static json_t *json_string_fast(const char *s)
{
	size_t len = 0;

	while (s[len] && !((unsigned char)s[len] & 0x80))
		len++;
	if (!s[len])
		return json_stringn_nocheck(s, len);
	return json_string(s);
}

int json_set_str(json_t *obj, const char *key, const char *s)
{
	json_t *v = s ? json_string_fast(s) : json_null();

	/* json_string() refuses invalid UTF-8, which a process name, a file
	 * name or a corrupt dpkg database may hold; null would make a
	 * required field missing and the server refuse the whole report. */
	if (!v && s)
		v = json_string_lossy(s);
	if (!v)
		return -ENOMEM;
	return json_object_set_new(obj, key, v) == 0 ? 0 : -ENOMEM;
}

int json_set_time(json_t *obj, const char *key, int64_t t)
{
	char buf[TIME_RFC3339_LEN];

	if (t <= 0 || time_format(t, buf) < 0)
		return json_object_set_new(obj, key, json_null()) == 0 ? 0 : -ENOMEM;
	return json_set_str(obj, key, buf);
}

int json_depth(const json_t *v)
{
	int max = 0, d;

	if (json_is_object(v)) {
		const char *k;
		json_t *m;

		json_object_foreach((json_t *)v, k, m) {
			d = json_depth(m);
			if (d > max)
				max = d;
		}
		return max + 1;
	}
	if (json_is_array(v)) {
		size_t i;
		json_t *m;

		json_array_foreach(v, i, m) {
			d = json_depth(m);
			if (d > max)
				max = d;
		}
		return max + 1;
	}
	return 0;
}

/* jansson's encoder costs more than everything else an agent run does: it
 * formats a pointer with snprintf for loop detection on every container,
 * decodes every string as UTF-8 and goes through a callback per token.
 * This one writes the same bytes as json_dumps() with JSON_SORT_KEYS and
 * either JSON_COMPACT or JSON_INDENT(n) straight into a buffer.  It relies
 * on what jansson guarantees of its values (strings are valid UTF-8) and
 * on the caller's trees having no cycles. */

#define WRITE_DEPTH_MAX 512

/* buf_append() for the many short pieces of a serialisation: a copy when
 * they fit the allocation, the checked path otherwise. */
static inline int put(struct buf *out, const char *s, size_t n)
{
	if (out->data && n < out->cap - out->len && n <= out->max - out->len) {
		memcpy(out->data + out->len, s, n);
		out->len += n;
		out->data[out->len] = '\0';
		return 0;
	}
	return buf_append(out, s, n);
}

struct key_ref {
	const char *key;
	size_t len;
	json_t *value;
};

/* jansson's own key order: bytes, then length. */
static int key_ref_cmp(const struct key_ref *a, const struct key_ref *b)
{
	int r = memcmp(a->key, b->key, a->len < b->len ? a->len : b->len);

	if (r)
		return r;
	return a->len < b->len ? -1 : a->len > b->len;
}

static int key_ref_qcmp(const void *a, const void *b)
{
	return key_ref_cmp(a, b);
}

/* The bytes jansson escapes without JSON_ENSURE_ASCII or
 * JSON_ESCAPE_SLASH: control characters, '"' and '\\'. */
static const unsigned char needs_escape[256] = {
	[0x00 ... 0x1f] = 1,
	['"'] = 1,
	['\\'] = 1,
};

/* The letter after '\\' for those with a short escape; the others are
 * written as \u00XX, in upper case like jansson. */
static const char short_escape[256] = {
	['"'] = '"', ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
	['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
};

static int write_string(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i = 0, run;
	int r = put(out, "\"", 1);

	while (r == 0 && i < len) {
		char esc[7] = { '\\', 0 };
		unsigned char c;
		size_t n = 2;

		for (run = i; run < len && !needs_escape[(unsigned char)s[run]];
		     run++)
			;
		if (run > i && (r = put(out, s + i, run - i)) < 0)
			return r;
		if (run == len)
			break;
		c = (unsigned char)s[run];
		if (short_escape[c]) {
			esc[1] = short_escape[c];
		} else {
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		r = put(out, esc, n);
		i = run + 1;
	}
	return r ? r : put(out, "\"", 1);
}

static int write_integer(struct buf *out, json_int_t v)
{
	char text[24], *p = text + sizeof(text);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v :
			       (unsigned long long)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return put(out, p, (size_t)(text + sizeof(text) - p));
}

/* A newline and depth * indent spaces; nothing when compact. */
static int write_indent(struct buf *out, int indent, int depth)
{
	static const char spaces[] = "                                ";
	size_t n = (size_t)indent * (size_t)depth;
	int r;

	if (!indent)
		return 0;
	r = put(out, "\n", 1);
	while (r == 0 && n) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

		r = put(out, spaces, k);
		n -= k;
	}
	return r;
}

static int write_value(struct buf *out, const json_t *v, int indent,
		       int depth);

static int write_object(struct buf *out, const json_t *v, int indent,
			int depth)
{
	struct key_ref small[16], *keys = small;
	size_t n = json_object_size(v), i = 0;
	void *it;
	int r;

	if (n == 0)
		return put(out, "{}", 2);
	if (n > sizeof(small) / sizeof(small[0])) {
		keys = malloc(n * sizeof(*keys));
		if (!keys)
			return -ENOMEM;
	}
	for (it = json_object_iter((json_t *)v); it && i < n;
	     it = json_object_iter_next((json_t *)v, it), i++) {
		keys[i].key = json_object_iter_key(it);
		keys[i].len = json_object_iter_key_len(it);
		keys[i].value = json_object_iter_value(it);
	}
	n = i;
	if (n > sizeof(small) / sizeof(small[0])) {
		qsort(keys, n, sizeof(*keys), key_ref_qcmp);
	} else {
		/* Items have a handful of members: insertion sort beats
		 * qsort's set-up. */
		for (i = 1; i < n; i++) {
			struct key_ref k = keys[i];
			size_t j = i;

			for (; j > 0 && key_ref_cmp(&keys[j - 1], &k) > 0; j--)
				keys[j] = keys[j - 1];
			keys[j] = k;
		}
	}
	r = put(out, "{", 1);
	for (i = 0; i < n && r == 0; i++) {
		if (i)
			r = put(out, ",", 1);
		if (r == 0)
			r = write_indent(out, indent, depth + 1);
		if (r == 0)
			r = write_string(out, keys[i].key, keys[i].len);
		if (r == 0)
			r = put(out, ": ", indent ? 2 : 1);
		if (r == 0)
			r = write_value(out, keys[i].value, indent, depth + 1);
	}
	if (r == 0)
		r = write_indent(out, indent, depth);
	if (r == 0)
		r = put(out, "}", 1);
	if (keys != small)
		free(keys);
	return r;
}

static int write_array(struct buf *out, const json_t *v, int indent, int depth)
{
	size_t n = json_array_size(v);
	int r;

	if (n == 0)
		return put(out, "[]", 2);
	r = put(out, "[", 1);
	for (size_t i = 0; i < n && r == 0; i++) {
		if (i)
			r = put(out, ",", 1);
		if (r == 0)
			r = write_indent(out, indent, depth + 1);
		if (r == 0)
			r = write_value(out, json_array_get(v, i), indent,
					depth + 1);
	}
	if (r == 0)
		r = write_indent(out, indent, depth);
	return r ? r : put(out, "]", 1);
}

static int write_value(struct buf *out, const json_t *v, int indent, int depth)
{
	char *text;
	int r;

	if (depth > WRITE_DEPTH_MAX)
		return -E2BIG;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return write_object(out, v, indent, depth);
	case JSON_ARRAY:
		return write_array(out, v, indent, depth);
	case JSON_STRING:
		return write_string(out, json_string_value(v),
				    json_string_length(v));
	case JSON_INTEGER:
		return write_integer(out, json_integer_value(v));
	case JSON_TRUE:
		return put(out, "true", 4);
	case JSON_FALSE:
		return put(out, "false", 5);
	case JSON_NULL:
		return put(out, "null", 4);
	case JSON_REAL:
		/* Rare here; jansson's own formatting keeps them exact. */
		text = json_dumps(v, JSON_ENCODE_ANY);
		if (!text)
			return -ENOMEM;
		r = put(out, text, strlen(text));
		free(text);
		return r;
	default:
		return -EINVAL;
	}
}

int json_write_sorted(struct buf *out, const json_t *v, int indent)
{
	size_t start = out->len;
	int r;

	if (!v || indent < 0 || indent > 31)
		return -EINVAL;
	r = write_value(out, v, indent, 0);
	if (r < 0 && out->data) {
		out->len = start;
		out->data[start] = '\0';
	}
	return r;
}

char *json_canonical(const json_t *v)
{
	struct buf b = BUF_INIT(SIZE_MAX / 2);

	if (json_write_sorted(&b, v, 0) < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b, NULL);
}

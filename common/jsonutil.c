/* jsonutil.c - see jsonutil.h. */
#include "jsonutil.h"

#include <errno.h>
#include <stdio.h>
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

int json_set_str(json_t *obj, const char *key, const char *s)
{
	json_t *v = s ? json_string(s) : json_null();

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

char *json_canonical(const json_t *v)
{
	return json_dumps(v, JSON_CANONICAL_FLAGS | JSON_ENCODE_ANY);
}

/* s quoted and escaped as json_dumps() writes it without JSON_ENSURE_ASCII
 * or JSON_ESCAPE_SLASH: the two characters that must be, and the control
 * characters, the common ones by their short names. */
static int canon_string(struct buf *b, const char *s, size_t len)
{
	size_t from = 0;
	int r = buf_append(b, "\"", 1);

	for (size_t i = 0; i < len && r == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		switch (c) {
		case '"': memcpy(esc, "\\\"", 3); break;
		case '\\': memcpy(esc, "\\\\", 3); break;
		case '\b': memcpy(esc, "\\b", 3); break;
		case '\f': memcpy(esc, "\\f", 3); break;
		case '\n': memcpy(esc, "\\n", 3); break;
		case '\r': memcpy(esc, "\\r", 3); break;
		case '\t': memcpy(esc, "\\t", 3); break;
		default: snprintf(esc, sizeof(esc), "\\u%04X", c);
		}
		r = buf_append(b, s + from, i - from);
		if (r == 0)
			r = buf_puts(b, esc);
		from = i + 1;
	}
	if (r == 0)
		r = buf_append(b, s + from, len - from);
	return r ? r : buf_append(b, "\"", 1);
}

struct canon_key {
	const char *key;
	size_t len;
	json_t *value;
};

/* jansson's order for JSON_SORT_KEYS: bytewise, a prefix first. */
static int canon_key_cmp(const void *a, const void *b)
{
	const struct canon_key *x = a, *y = b;
	int r = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);

	return r ? r : (x->len > y->len) - (x->len < y->len);
}

/* -ENOTSUP for what is left to jansson: reals (its own %.17g rules) and
 * objects larger or nestings deeper than an item's. */
static int canon(const json_t *v, int depth, struct buf *b)
{
	struct canon_key keys[32];
	char num[32];
	const char *key;
	size_t n = 0, key_len, i;
	json_t *m;
	int r = 0;

	if (depth > 32)
		return -ENOTSUP;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (json_object_size(v) > sizeof(keys) / sizeof(keys[0]))
			return -ENOTSUP;
		/* An insertion sort: an item has a handful of keys. */
		json_object_keylen_foreach((json_t *)v, key, key_len, m) {
			struct canon_key k = { key, key_len, m };

			for (i = n++;
			     i > 0 && canon_key_cmp(&keys[i - 1], &k) > 0; i--)
				keys[i] = keys[i - 1];
			keys[i] = k;
		}
		r = buf_append(b, "{", 1);
		for (i = 0; i < n && r == 0; i++) {
			if (i)
				r = buf_append(b, ",", 1);
			if (r == 0)
				r = canon_string(b, keys[i].key, keys[i].len);
			if (r == 0)
				r = buf_append(b, ":", 1);
			if (r == 0)
				r = canon(keys[i].value, depth + 1, b);
		}
		return r ? r : buf_append(b, "}", 1);
	case JSON_ARRAY:
		r = buf_append(b, "[", 1);
		json_array_foreach(v, i, m) {
			if (r == 0 && i)
				r = buf_append(b, ",", 1);
			if (r == 0)
				r = canon(m, depth + 1, b);
		}
		return r ? r : buf_append(b, "]", 1);
	case JSON_STRING:
		return canon_string(b, json_string_value(v),
				    json_string_length(v));
	case JSON_INTEGER:
		n = (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
				     json_integer_value(v));
		return buf_append(b, num, n);
	case JSON_TRUE:
		return buf_append(b, "true", 4);
	case JSON_FALSE:
		return buf_append(b, "false", 5);
	case JSON_NULL:
		return buf_append(b, "null", 4);
	default:
		return -ENOTSUP;
	}
}

int json_canonical_append(const json_t *v, struct buf *out)
{
	size_t len = out->len;
	char *text;
	int r = canon(v, 0, out);

	if (r == 0)
		return 0;
	out->len = len;
	if (out->data)
		out->data[len] = '\0';
	if (r != -ENOTSUP)
		return r;
	text = json_canonical(v);
	if (!text)
		return -ENOMEM;
	r = buf_puts(out, text);
	free(text);
	return r;
}

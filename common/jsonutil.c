/* jsonutil.c - see jsonutil.h. */
#include "jsonutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

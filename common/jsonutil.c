/* jsonutil.c - see jsonutil.h. */
#include "jsonutil.h"

#include <errno.h>

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

int json_set_str(json_t *obj, const char *key, const char *s)
{
	json_t *v = s ? json_string(s) : json_null();

	/* json_string() refuses invalid UTF-8; keep the key, mark it unknown. */
	if (!v)
		v = json_null();
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

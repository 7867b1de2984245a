/* cursor.c - see cursor.h. */
#include "cursor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int cursor_parse_id(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -EINVAL;
	v = strtoll(s, &end, 10);
	if (*end || v <= 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

int cursor_parse_finding(const char *s, struct cursor_finding *ret)
{
	char *end;
	long long level = strtoll(s, &end, 10), id;

	if (*end != ':' || level < 0 || level > 4)
		return -EINVAL;
	id = strtoll(end + 1, &end, 10);
	if (*end || id <= 0 || id >= (1LL << 40))
		return -EINVAL;
	ret->level = (int)level;
	ret->id = id;
	return 0;
}

int cursor_parse_package(const char *s, int64_t *ret_host,
			 const char **ret_arch)
{
	char *end;
	long long host = strtoll(s, &end, 10);

	if (host <= 0 || *end != ':')
		return -EINVAL;
	*ret_host = host;
	*ret_arch = end + 1;
	return 0;
}

void cursor_format_id(int64_t id, char out[CURSOR_MAX])
{
	snprintf(out, CURSOR_MAX, "%lld", (long long)id);
}

void cursor_format_finding(const struct cursor_finding *c,
			   char out[CURSOR_MAX])
{
	snprintf(out, CURSOR_MAX, "%d:%lld", c->level, (long long)c->id);
}

void cursor_format_package(int64_t host, const char *arch,
			   char out[CURSOR_MAX])
{
	snprintf(out, CURSOR_MAX, "%lld:%s", (long long)host, arch ? arch : "");
}

/* conf.c - see conf.h. */
#include "conf.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

static const struct conf_key *find_key(const struct conf_key *keys,
				       const char *section, const char *name)
{
	for (const struct conf_key *k = keys; k->name; k++) {
		if (section && strcmp(section, k->section) != 0)
			continue;
		if (strcmp(name, k->name) == 0)
			return k;
	}
	return NULL;
}

static int parse_int(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0')
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_ports(const char *s, struct conf_ports *ret,
		       const char **why)
{
	struct conf_ports p = { 0 };
	const char *q = s;

	for (;;) {
		char *end;
		long v;

		while (*q == ' ' || *q == '\t' || *q == ',')
			q++;
		if (*q == '\0')
			break;
		errno = 0;
		v = strtol(q, &end, 10);
		if (errno || end == q || v < 1 || v > 65535) {
			*why = "expected port numbers from 1 to 65535";
			return -EINVAL;
		}
		if (p.n == CONF_MAX_PORTS) {
			*why = "too many ports";
			return -EINVAL;
		}
		p.port[p.n++] = (uint16_t)v;
		q = end;
		if (*q != '\0' && *q != ',' && *q != ' ' && *q != '\t') {
			*why = "expected a comma-separated list of ports";
			return -EINVAL;
		}
	}
	*ret = p;
	return 0;
}

/* Validates value and stores it; *why names the problem on -EINVAL. */
static int set_value(const struct conf_key *k, void *obj, const char *value,
		     const char **why)
{
	char *field = (char *)obj + k->offset;
	int64_t v;
	char *copy;

	switch (k->type) {
	case CONF_STRING:
		copy = strdup(value);
		if (!copy)
			return -ENOMEM;
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	case CONF_INT:
		if (parse_int(value, &v) < 0) {
			*why = "expected a whole number";
			return -EINVAL;
		}
		break;
	case CONF_SPAN:
		if (span_parse(value, &v) < 0) {
			*why = "expected a time span such as 90s, 48h or 30d";
			return -EINVAL;
		}
		break;
	case CONF_PORTS:
		return parse_ports(value, (struct conf_ports *)field, why);
	default:
		return -EINVAL;
	}
	if (v < k->min || v > k->max) {
		*why = "out of range";
		return -EINVAL;
	}
	*(int64_t *)field = v;
	return 0;
}

int conf_defaults(const struct conf_key *keys, void *obj)
{
	const char *why = NULL;

	for (const struct conf_key *k = keys; k->name; k++) {
		int r = set_value(k, obj, k->dflt ? k->dflt : "", &why);

		/* A default that fails validation is a programming error. */
		if (r < 0)
			return r;
	}
	return 0;
}

struct load_ctx {
	const struct conf_key *keys;
	void *obj;
	const char *path;
	char *err;
	int failed;
	int lineno;
	FILE *f;
	conf_section_fn *other;
	void *other_user;
};

/* Debian's inih does not pass line numbers to the handler, so the reader
 * counts them: the handler always runs for the line read last.  inih's
 * line buffer is fixed; it would parse the rest of a longer line as a line
 * of its own, cutting the value short, so such a line is an error here. */
static char *read_line(char *str, int num, void *stream)
{
	struct load_ctx *c = stream;
	char *s = fgets(str, num, c->f);
	size_t n;
	int next;

	if (!s)
		return NULL;
	c->lineno++;
	n = strlen(s);
	if (n == 0 || s[n - 1] == '\n')
		return s;
	next = getc(c->f);
	if (next == EOF || next == '\n')
		return s; /* the whole line fit, or the file ends without '\n' */
	if (!c->failed)
		snprintf(c->err, CONF_ERR_LEN, "%s:%d: line longer than %d bytes",
			 c->path, c->lineno, num - 1);
	c->failed = 1;
	return NULL;
}

static int on_entry(void *user, const char *section, const char *name,
		    const char *value)
{
	struct load_ctx *c = user;
	int lineno = c->lineno;
	const struct conf_key *k;
	const char *why = "invalid value";
	int r;

	if (c->failed)
		return 1;
	if (!name) /* a section header alone */
		return 1;
	k = find_key(c->keys, section, name);
	if (!k && c->other) {
		r = c->other(c->other_user, section, name, value, &why);
		if (r == 0)
			return 1;
		if (r != -ENOENT) {
			snprintf(c->err, CONF_ERR_LEN, "%s:%d: %s: %s: \"%s\"",
				 c->path, lineno, name,
				 r == -ENOMEM ? "out of memory" : why, value);
			c->failed = 1;
			return 0;
		}
	}
	if (!k) {
		snprintf(c->err, CONF_ERR_LEN, "%s:%d: %s: unknown key in [%s]",
			 c->path, lineno, name, section);
		c->failed = 1;
		return 0;
	}
	r = set_value(k, c->obj, value, &why);
	if (r < 0) {
		snprintf(c->err, CONF_ERR_LEN, "%s:%d: %s: %s: \"%s\"", c->path,
			 lineno, name, r == -ENOMEM ? "out of memory" : why,
			 value);
		c->failed = 1;
		return 0;
	}
	return 1;
}

int conf_load_file(const struct conf_key *keys, void *obj, const char *path,
		   char err[CONF_ERR_LEN])
{
	return conf_load_file_with(keys, obj, path, NULL, NULL, err);
}

int conf_load_file_with(const struct conf_key *keys, void *obj,
			const char *path, conf_section_fn *other,
			void *other_user, char err[CONF_ERR_LEN])
{
	struct load_ctx c = { keys, obj, path, err, 0, 0, NULL, other,
			      other_user };
	int r;

	err[0] = '\0';
	c.f = fopen(path, "re");
	if (!c.f) {
		r = -errno;
		snprintf(err, CONF_ERR_LEN, "%s: %s", path, strerror(errno));
		return r;
	}
	r = ini_parse_stream(read_line, &c, on_entry, &c);
	fclose(c.f);
	if (c.failed)
		return -EINVAL;
	if (r != 0) {
		snprintf(err, CONF_ERR_LEN, "%s:%d: syntax error", path, r);
		return -EINVAL;
	}
	return 0;
}

const struct conf_key *conf_find_flag(const struct conf_key *keys,
				      const char *flag)
{
	char name[64];
	size_t i;

	if (strncmp(flag, "--", 2) != 0)
		return NULL;
	flag += 2;
	for (i = 0; flag[i] && flag[i] != '=' && i < sizeof(name) - 1; i++)
		name[i] = flag[i] == '-' ? '_' : flag[i];
	name[i] = '\0';
	return find_key(keys, NULL, name);
}

int conf_set(const struct conf_key *keys, void *obj, const char *name,
	     const char *value, char err[CONF_ERR_LEN])
{
	char flag[80];
	const struct conf_key *k;
	const char *why = "invalid value";
	int r;

	snprintf(flag, sizeof(flag), "--%s", name);
	k = conf_find_flag(keys, flag);
	if (!k) {
		snprintf(err, CONF_ERR_LEN, "unknown option --%s", name);
		return -ENOENT;
	}
	r = set_value(k, obj, value, &why);
	if (r < 0) {
		/* Name the flag as it is typed: dashes, not underscores. */
		size_t i;

		for (i = 2; flag[i]; i++)
			if (flag[i] == '_')
				flag[i] = '-';
		snprintf(err, CONF_ERR_LEN, "%s: %s: \"%s\"", flag, why, value);
	}
	return r;
}

void conf_free(const struct conf_key *keys, void *obj)
{
	for (const struct conf_key *k = keys; k->name; k++) {
		if (k->type == CONF_STRING) {
			char **p = (char **)((char *)obj + k->offset);

			free(*p);
			*p = NULL;
		}
	}
}

void conf_print_flags(const struct conf_key *keys, void *stream)
{
	for (const struct conf_key *k = keys; k->name; k++) {
		char flag[64];
		size_t i;

		for (i = 0; k->name[i] && i < sizeof(flag) - 1; i++)
			flag[i] = k->name[i] == '_' ? '-' : k->name[i];
		flag[i] = '\0';
		fprintf(stream, "  --%-22s %s (default: %s)\n", flag,
			k->help ? k->help : "",
			k->dflt && *k->dflt ? k->dflt : "none");
	}
}

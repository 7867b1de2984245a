/*
 * collect_packages.c - installed packages straight from dpkg's database,
 * var/lib/dpkg/status, read as a stream (no copy of the whole file).
 */
#include "collect_packages.h"

#include <dirent.h>
#include <errno.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collect_rpm.h"
#include "jsonutil.h"
#include "procfs.h"
#include "report.h"

#define FIELD_MAX 256
#define STATUS_READ_BUF (64 * 1024)

struct stanza {
	char package[FIELD_MAX];
	char version[FIELD_MAX];
	char arch[FIELD_MAX];
	char source[FIELD_MAX];
	char source_version[FIELD_MAX];
	char status[FIELD_MAX];
};

/* Copies a field value, trimmed, truncated to the buffer. */
static void copy_value(char *dst, const char *v)
{
	size_t len;

	while (*v == ' ' || *v == '\t')
		v++;
	len = strcspn(v, "\r\n");
	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (len >= FIELD_MAX)
		len = FIELD_MAX - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

/* Status is "want flag state".  Only state "installed" with flag "ok" has
 * all its files in place; half-installed, config-files and friends are not
 * packages the host runs.  The want word does not matter: a package on
 * hold ("hold ok installed", dpkg-query's "hi") or selected for removal
 * ("deinstall ok installed", "ri") is as installed as "ii". */
static int is_installed(const char *status)
{
	const char *sp = strchr(status, ' ');

	return sp && strcmp(sp, " ok installed") == 0;
}

static int emit(struct stanza *s, json_t *items)
{
	json_t *it;

	if (!s->package[0] || !is_installed(s->status))
		return 0;
	if (json_array_size(items) >= REPORT_MAX_ITEMS)
		return 0;
	it = json_object();
	if (!it || json_set_str(it, "name", s->package) < 0 ||
	    json_set_str(it, "version", s->version) < 0 ||
	    json_set_str(it, "arch", s->arch[0] ? s->arch : NULL) < 0 ||
	    json_set_str(it, "source",
			 s->source[0] ? s->source : s->package) < 0 ||
	    json_set_str(it, "source_version", s->source_version[0] ?
			 s->source_version : s->version) < 0) {
		json_decref(it);
		return -ENOMEM;
	}
	return json_array_append_new(items, it) == 0 ? 0 : -ENOMEM;
}

/* "Source: name (version)" or "Source: name". */
static void parse_source(struct stanza *s, const char *v)
{
	char tmp[FIELD_MAX], *open, *close;

	copy_value(tmp, v);
	open = strchr(tmp, '(');
	if (open) {
		close = strchr(open, ')');
		if (close)
			*close = '\0';
		copy_value(s->source_version, open + 1);
		*open = '\0';
	}
	copy_value(s->source, tmp);
}

int collect_packages_parse_status(FILE *f, json_t *items)
{
	struct stanza *s = calloc(1, sizeof(*s));
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int r = 0;

	if (!s)
		return -ENOMEM;
	while ((len = getline(&line, &cap, f)) >= 0) {
		if (len == 0 || line[0] == '\n' || line[0] == '\r') {
			if ((r = emit(s, items)) < 0)
				goto out;
			memset(s, 0, sizeof(*s));
			continue;
		}
		if (line[0] == ' ' || line[0] == '\t')
			continue;	/* continuation of a multi-line field */
		/* Field names are case-insensitive (deb-control(5)); most
		 * lines are fields we skip, told apart by their first
		 * letter before any comparison. */
		switch (line[0] | 0x20) {
		case 'p': case 'v': case 'a': case 's':
			break;
		default:
			continue;
		}
		if (strncasecmp(line, "Package:", 8) == 0)
			copy_value(s->package, line + 8);
		else if (strncasecmp(line, "Version:", 8) == 0)
			copy_value(s->version, line + 8);
		else if (strncasecmp(line, "Architecture:", 13) == 0)
			copy_value(s->arch, line + 13);
		else if (strncasecmp(line, "Status:", 7) == 0)
			copy_value(s->status, line + 7);
		else if (strncasecmp(line, "Source:", 7) == 0)
			parse_source(s, line + 7);
	}
	r = emit(s, items);
out:
	free(line);
	free(s);
	return r;
}

/* The newest of the status file and the journal in updates/: dpkg writes
 * there first and folds it into status later. */
static int64_t db_changed_at(const char *root)
{
	char path[4096];
	struct stat st;
	int64_t t = 0;
	DIR *d;

	if (procfs_path(path, sizeof(path), root, "var/lib/dpkg/status") == 0 &&
	    stat(path, &st) == 0)
		t = st.st_mtime;
	if (procfs_path(path, sizeof(path), root, "var/lib/dpkg/updates") < 0)
		return t;
	d = opendir(path);
	if (!d)
		return t;
	if (fstat(dirfd(d), &st) == 0 && st.st_mtime > t)
		t = st.st_mtime;
	closedir(d);
	return t;
}

int collect_packages(const char *root, json_t **ret)
{
	json_t *section, *items;
	char *vbuf;
	FILE *f;
	int r;

	f = procfs_fopen(root, "var/lib/dpkg/status");
	/* No dpkg: an RPM host, when it has an RPM database. */
	if (!f && errno == ENOENT && collect_rpm_present(root))
		return collect_rpm(root, ret);
	if (!f)
		return -errno;
	/* stdio's 4 KiB reads mean a few hundred system calls for a
	 * typical 1 MiB status file; a larger buffer still streams it.
	 * glibc ignores setvbuf's size unless it is given the buffer. */
	vbuf = malloc(STATUS_READ_BUF);
	if (vbuf)
		(void)setvbuf(f, vbuf, _IOFBF, STATUS_READ_BUF);
	/* Only this thread reads it: getline() would otherwise take and
	 * drop the stream's lock with two atomic operations per line, two
	 * thirds of its time on a 30,000-line file. */
	(void)__fsetlocking(f, FSETLOCKING_BYCALLER);
	section = json_object();
	items = json_array();
	if (!section || !items ||
	    json_object_set_new(section, "items", items) < 0) {
		fclose(f);
		free(vbuf);
		json_decref(section);
		return -ENOMEM;
	}
	r = collect_packages_parse_status(f, items);
	fclose(f);
	free(vbuf);
	if (r == 0 && (json_set_str(section, "manager", "dpkg") < 0 ||
		       json_set_time(section, "changed_at",
				     db_changed_at(root)) < 0))
		r = -ENOMEM;
	if (r < 0) {
		json_decref(section);
		return r;
	}
	*ret = section;
	return 0;
}

/* procfs.c - see procfs.h. */
#include "procfs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int procfs_path(char *out, size_t size, const char *root, const char *rel)
{
	int n;

	if (!root || !*root || strcmp(root, "/") == 0)
		root = "";
	while (*rel == '/')
		rel++;
	n = snprintf(out, size, "%s/%s", root, rel);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

FILE *procfs_fopen(const char *root, const char *rel)
{
	char path[4096];

	if (procfs_path(path, sizeof(path), root, rel) < 0) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return fopen(path, "re");
}

ssize_t procfs_read_small_file(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	int fd;

	if (size == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

static int cmp_uid(const void *a, const void *b)
{
	uid_t x = ((const struct uid_entry *)a)->uid;
	uid_t y = ((const struct uid_entry *)b)->uid;

	return x < y ? -1 : x > y;
}

int procfs_uid_map_parse(FILE *f, struct uid_map *m)
{
	char line[1024];
	size_t cap = 0;

	m->v = NULL;
	m->n = 0;
	while (fgets(line, sizeof(line), f)) {
		char *name = line, *p, *uidp, *end;
		unsigned long uid;
		size_t len;

		p = strchr(line, ':');
		if (!p || p == line)
			continue;
		*p++ = '\0';
		p = strchr(p, ':');	/* skip the password field */
		if (!p)
			continue;
		uidp = p + 1;
		errno = 0;
		uid = strtoul(uidp, &end, 10);
		if (errno || end == uidp || *end != ':' || uid > (uid_t)-2)
			continue;
		len = strlen(name);
		if (len >= USER_NAME_MAX)
			continue;
		if (m->n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct uid_entry *nv = realloc(m->v, ncap * sizeof(*nv));

			if (!nv) {
				procfs_uid_map_free(m);
				return -ENOMEM;
			}
			m->v = nv;
			cap = ncap;
		}
		m->v[m->n].uid = (uid_t)uid;
		memcpy(m->v[m->n].name, name, len + 1);
		m->n++;
	}
	/* Stable for equal uids would be nicer; the first entry wins below
	 * because bsearch may land on any, so collapse duplicates here. */
	if (m->n > 1) {
		size_t i, o = 1;

		qsort(m->v, m->n, sizeof(*m->v), cmp_uid);
		for (i = 1; i < m->n; i++)
			if (m->v[i].uid != m->v[o - 1].uid)
				m->v[o++] = m->v[i];
		m->n = o;
	}
	return 0;
}

int procfs_uid_map_load(const char *root, struct uid_map *m)
{
	FILE *f = procfs_fopen(root, "etc/passwd");
	int r;

	m->v = NULL;
	m->n = 0;
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	r = procfs_uid_map_parse(f, m);
	fclose(f);
	return r;
}

void procfs_uid_map_free(struct uid_map *m)
{
	if (!m)
		return;
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

const char *procfs_uid_map_name(const struct uid_map *m, uid_t uid,
				char buf[USER_NAME_MAX])
{
	struct uid_entry key = { .uid = uid };
	const struct uid_entry *e = NULL;

	if (m->n)
		e = bsearch(&key, m->v, m->n, sizeof(*m->v), cmp_uid);
	if (e)
		return e->name;
	snprintf(buf, USER_NAME_MAX, "%lu", (unsigned long)uid);
	return buf;
}

int procfs_parse_stat(const char *text, struct proc_info *p)
{
	const char *open = strchr(text, '('), *close = strrchr(text, ')');
	size_t len;
	char state;
	int ppid, pgrp, session, tty, tpgid;
	unsigned long flags;

	if (!open || !close || close < open)
		return -EINVAL;
	len = (size_t)(close - open - 1);
	if (len >= sizeof(p->comm))
		len = sizeof(p->comm) - 1;
	memcpy(p->comm, open + 1, len);
	p->comm[len] = '\0';
	if (sscanf(close + 1, " %c %d %d %d %d %d %lu", &state, &ppid, &pgrp,
		   &session, &tty, &tpgid, &flags) != 7)
		return -EINVAL;
	p->ppid = ppid;
	p->tty_nr = tty;
	p->flags = flags;
	return 0;
}

int procfs_parse_status_uid(const char *text, uid_t *ret)
{
	const char *u = strstr(text, "\nUid:");
	unsigned long real, eff;

	if (!u)
		return -EINVAL;
	if (sscanf(u + 5, "%lu %lu", &real, &eff) != 2)
		return -EINVAL;
	*ret = (uid_t)eff;
	return 0;
}

int procfs_read_proc(const char *root, pid_t pid, int want_exe, int want_uid,
		     struct proc_info *p)
{
	char path[4096], rel[64], text[2048];
	ssize_t n;
	int r;

	memset(p, 0, sizeof(*p) - sizeof(p->exe));
	p->exe[0] = '\0';
	p->pid = pid;
	snprintf(rel, sizeof(rel), "proc/%d/stat", (int)pid);
	if ((r = procfs_path(path, sizeof(path), root, rel)) < 0)
		return r;
	n = procfs_read_small_file(path, text, sizeof(text));
	if (n < 0)
		return (int)n;
	if ((r = procfs_parse_stat(text, p)) < 0)
		return r;
	if (want_uid) {
		snprintf(rel, sizeof(rel), "proc/%d/status", (int)pid);
		if ((r = procfs_path(path, sizeof(path), root, rel)) < 0)
			return r;
		n = procfs_read_small_file(path, text, sizeof(text));
		if (n < 0)
			return (int)n;
		if ((r = procfs_parse_status_uid(text, &p->uid)) < 0)
			return r;
	}
	if (want_exe && !(p->flags & PF_KTHREAD_FLAG)) {
		snprintf(rel, sizeof(rel), "proc/%d/exe", (int)pid);
		if ((r = procfs_path(path, sizeof(path), root, rel)) < 0)
			return r;
		n = readlink(path, p->exe, sizeof(p->exe) - 1);
		if (n < 0)
			n = 0;
		p->exe[n] = '\0';
		/* A replaced binary reads "/usr/sbin/x (deleted)": keep the
		 * path, the program is still that one. */
		if (n > 10 && strcmp(p->exe + n - 10, " (deleted)") == 0)
			p->exe[n - 10] = '\0';
	}
	return 0;
}

int procfs_foreach_pid(const char *root, int (*fn)(pid_t pid, void *ud),
		       void *ud)
{
	char path[4096];
	struct dirent *de;
	DIR *d;
	int r = 0;

	if ((r = procfs_path(path, sizeof(path), root, "proc")) < 0)
		return r;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		long pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		r = fn((pid_t)pid, ud);
		if (r < 0)
			break;
		r = 0;
	}
	closedir(d);
	return r;
}

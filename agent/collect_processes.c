/*
 * collect_processes.c - the running programs grouped by (name, executable,
 * user) with a count, which stays stable between runs unlike pids.
 */
#include "collect_processes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "procfs.h"

#define MAX_PROCS 100000

struct proc_group {
	char *key;	/* "name\0exe\0user" flattened for sorting */
	size_t keylen;
	int count;
};

struct walk {
	const char *root;
	const struct uid_map *users;
	struct proc_group *g;
	size_t n, cap;
	struct proc_info pi;
};

static int on_pid(pid_t pid, void *ud)
{
	struct walk *w = ud;
	char ubuf[USER_NAME_MAX];
	const char *user;
	size_t ln, le, lu;
	char *key;

	if (procfs_read_proc(w->root, pid, 1, 1, &w->pi) < 0)
		return 0;	/* it went away: not running any more */
	if (w->pi.flags & PF_KTHREAD_FLAG)
		return 0;
	if (w->n >= MAX_PROCS)
		return 0;
	user = procfs_uid_map_name(w->users, w->pi.uid, ubuf);
	ln = strlen(w->pi.comm);
	le = strlen(w->pi.exe);
	lu = strlen(user);
	key = malloc(ln + le + lu + 3);
	if (!key)
		return -ENOMEM;
	memcpy(key, w->pi.comm, ln + 1);
	memcpy(key + ln + 1, w->pi.exe, le + 1);
	memcpy(key + ln + le + 2, user, lu + 1);
	if (w->n == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 256;
		struct proc_group *ng = realloc(w->g, ncap * sizeof(*ng));

		if (!ng) {
			free(key);
			return -ENOMEM;
		}
		w->g = ng;
		w->cap = ncap;
	}
	w->g[w->n++] = (struct proc_group){ key, ln + le + lu + 3, 1 };
	return 0;
}

static int cmp_group(const void *a, const void *b)
{
	const struct proc_group *x = a, *y = b;
	size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
	int c = memcmp(x->key, y->key, n);

	if (c)
		return c;
	return x->keylen < y->keylen ? -1 : x->keylen > y->keylen;
}

int collect_processes(const char *root, json_t **ret)
{
	struct uid_map users = { 0 };
	struct walk w = { .root = root, .users = &users };
	json_t *section = NULL, *items;
	size_t i;
	int r;

	if ((r = procfs_uid_map_load(root, &users)) < 0)
		return r;
	r = procfs_foreach_pid(root, on_pid, &w);
	if (r < 0)
		goto out;
	if (w.n)
		qsort(w.g, w.n, sizeof(*w.g), cmp_group);
	section = json_object();
	items = json_array();
	if (!section || !items ||
	    json_object_set_new(section, "items", items) < 0) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < w.n;) {
		size_t j = i + 1;
		const char *name = w.g[i].key;
		const char *exe = name + strlen(name) + 1;
		const char *user = exe + strlen(exe) + 1;
		json_t *it;

		while (j < w.n && cmp_group(&w.g[i], &w.g[j]) == 0)
			j++;
		it = json_object();
		if (!it || json_set_str(it, "name", name) < 0 ||
		    json_set_str(it, "exe", *exe ? exe : NULL) < 0 ||
		    json_set_str(it, "user", user) < 0 ||
		    json_object_set_new(it, "count",
					json_integer((json_int_t)(j - i))) < 0 ||
		    json_array_append_new(items, it) < 0) {
			r = -ENOMEM;
			goto out;
		}
		i = j;
	}
	*ret = section;
	section = NULL;
	r = 0;
out:
	for (i = 0; i < w.n; i++)
		free(w.g[i].key);
	free(w.g);
	json_decref(section);
	procfs_uid_map_free(&users);
	return r;
}

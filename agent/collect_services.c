/*
 * collect_services.c - services: systemd's units through sd-bus in two bulk
 * calls (ListUnits, ListUnitFiles), or the daemons seen in /proc where
 * systemd does not run.
 */
#include "collect.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>

#include "jsonutil.h"
#include "procfs.h"
#include "report.h"

#define BUS_TIMEOUT_US (10ULL * 1000000ULL)

/* ---- procfs ---- */

struct daemon {
	char name[64];
	pid_t pid;
};

struct dwalk {
	const char *root;
	struct daemon *v;
	size_t n, cap;
};

static int on_daemon(pid_t pid, void *ud)
{
	struct dwalk *w = ud;
	struct proc_info *pi;
	int r = 0;

	pi = malloc(sizeof(*pi));
	if (!pi)
		return -ENOMEM;
	/* A daemon here: started by init (pid 1 is its parent, as after the
	 * classic double fork) and without a controlling terminal.  Kernel
	 * threads are children of kthreadd, so they never qualify. */
	if (proc_read(w->root, pid, 0, 0, pi) < 0 || pi->ppid != 1 ||
	    pi->tty_nr != 0 || (pi->flags & PF_KTHREAD_FLAG))
		goto out;
	if (w->n == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 64;
		struct daemon *nv = realloc(w->v, ncap * sizeof(*nv));

		if (!nv) {
			r = -ENOMEM;
			goto out;
		}
		w->v = nv;
		w->cap = ncap;
	}
	snprintf(w->v[w->n].name, sizeof(w->v[w->n].name), "%s", pi->comm);
	w->v[w->n].pid = pid;
	w->n++;
out:
	free(pi);
	return r;
}

static int cmp_daemon(const void *a, const void *b)
{
	const struct daemon *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static json_t *new_section(const char *source, json_t **ret_items)
{
	json_t *section = json_object(), *items = json_array();

	if (!section || !items ||
	    json_object_set_new(section, "items", items) < 0 ||
	    json_set_str(section, "source", source) < 0) {
		json_decref(section);
		return NULL;
	}
	*ret_items = items;
	return section;
}

static int add_service(json_t *items, const char *name, const char *active,
		       const char *sub, const char *enabled, pid_t main_pid)
{
	json_t *it = json_object();

	if (!it || json_set_str(it, "name", name) < 0 ||
	    json_set_str(it, "active", active) < 0 ||
	    json_set_str(it, "sub", sub) < 0 ||
	    json_set_str(it, "enabled", enabled) < 0 ||
	    json_object_set_new(it, "main_pid", main_pid > 0 ?
				json_integer(main_pid) : json_null()) < 0) {
		json_decref(it);
		return -ENOMEM;
	}
	return json_array_append_new(items, it) == 0 ? 0 : -ENOMEM;
}

int services_from_procfs(const char *root, json_t **ret)
{
	struct dwalk w = { .root = root };
	json_t *section, *items;
	int r;

	r = proc_foreach_pid(root, on_daemon, &w);
	if (r < 0) {
		free(w.v);
		return r;
	}
	if (w.n)
		qsort(w.v, w.n, sizeof(*w.v), cmp_daemon);
	section = new_section("procfs", &items);
	if (!section) {
		free(w.v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < w.n; i++) {
		if (i > 0 && strcmp(w.v[i].name, w.v[i - 1].name) == 0)
			continue;
		r = add_service(items, w.v[i].name, "active", "running", NULL,
				w.v[i].pid);
		if (r < 0) {
			free(w.v);
			json_decref(section);
			return r;
		}
	}
	free(w.v);
	*ret = section;
	return 0;
}

/* ---- systemd ---- */

struct unit_file {
	char *name;	/* basename of the path, points into path */
	char *path;
	char *state;
};

static int cmp_unit_file(const void *a, const void *b)
{
	return strcmp(((const struct unit_file *)a)->name,
		      ((const struct unit_file *)b)->name);
}

static void free_unit_files(struct unit_file *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].state);
	}
	free(v);
}

/* ListUnitFiles: every installed unit file and its enablement state. */
static int list_unit_files(sd_bus *bus, struct unit_file **ret, size_t *ret_n)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	struct unit_file *v = NULL;
	size_t n = 0, cap = 0;
	const char *path, *state;
	int r;

	r = sd_bus_call_method(bus, "org.freedesktop.systemd1",
			       "/org/freedesktop/systemd1",
			       "org.freedesktop.systemd1.Manager",
			       "ListUnitFiles", &err, &reply, "");
	sd_bus_error_free(&err);
	if (r < 0)
		return r;
	r = sd_bus_message_enter_container(reply, 'a', "(ss)");
	if (r < 0)
		goto out;
	while ((r = sd_bus_message_read(reply, "(ss)", &path, &state)) > 0) {
		const char *slash = strrchr(path, '/');

		if (n >= REPORT_MAX_ITEMS)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct unit_file *nv = realloc(v, ncap * sizeof(*nv));

			if (!nv) {
				r = -ENOMEM;
				goto out;
			}
			v = nv;
			cap = ncap;
		}
		v[n].path = strdup(path);
		v[n].state = strdup(state);
		if (!v[n].path || !v[n].state) {
			free(v[n].path);
			free(v[n].state);
			r = -ENOMEM;
			goto out;
		}
		v[n].name = v[n].path + (slash ? slash + 1 - path : 0);
		n++;
	}
	if (r < 0)
		goto out;
	if (n)
		qsort(v, n, sizeof(*v), cmp_unit_file);
	*ret = v;
	*ret_n = n;
	v = NULL;
	n = 0;
	r = 0;
out:
	free_unit_files(v, n);
	sd_bus_message_unref(reply);
	return r;
}

static const char *unit_file_state(const struct unit_file *v, size_t n,
				   const char *unit)
{
	struct unit_file key, *f;
	char tmpl[512];
	const char *at, *dot;

	if (!n)
		return NULL;
	key.name = (char *)unit;
	f = bsearch(&key, v, n, sizeof(*v), cmp_unit_file);
	if (f)
		return f->state;
	/* An instance ("getty@tty1.service") is enabled through its
	 * template ("getty@.service"). */
	at = strchr(unit, '@');
	dot = strrchr(unit, '.');
	if (!at || !dot || dot < at ||
	    (size_t)(at - unit) + strlen(dot) + 2 > sizeof(tmpl))
		return NULL;
	snprintf(tmpl, sizeof(tmpl), "%.*s@%s", (int)(at - unit), unit, dot);
	key.name = tmpl;
	f = bsearch(&key, v, n, sizeof(*v), cmp_unit_file);
	return f ? f->state : NULL;
}

/* Main pids without a call per unit: the lowest pid in each service's
 * cgroup, from /proc/<pid>/cgroup.  That is the main process for simple,
 * notify and forking services alike (workers and helpers are forked after
 * it), barring pid wrap-around. */
struct cg_pid {
	char unit[256];
	pid_t pid;
};

struct cgwalk {
	const char *root;
	struct cg_pid *v;
	size_t n, cap;
};

static int on_cgroup(pid_t pid, void *ud)
{
	struct cgwalk *w = ud;
	char path[4096], rel[64], text[2048];
	const char *unit = NULL;
	size_t ulen = 0;
	char *line, *save = NULL;

	snprintf(rel, sizeof(rel), "proc/%d/cgroup", (int)pid);
	if (root_path(path, sizeof(path), w->root, rel) < 0 ||
	    read_small_file(path, text, sizeof(text)) <= 0)
		return 0;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		/* cgroup v2 "0::/system.slice/x.service", or v1's
		 * "1:name=systemd:/system.slice/x.service". */
		char *p = strchr(line, ':'), *seg;

		if (!p)
			continue;
		p = strchr(p + 1, ':');
		if (!p)
			continue;
		if (!(line[0] == '0' && line[1] == ':' && line[2] == ':') &&
		    !strstr(line, ":name=systemd:"))
			continue;
		for (seg = strtok_r(p + 1, "/", &p); seg;
		     seg = strtok_r(NULL, "/", &p)) {
			size_t l = strlen(seg);

			if (l > 8 && strcmp(seg + l - 8, ".service") == 0) {
				unit = seg;
				ulen = l;
			}
		}
		if (unit)
			break;
	}
	if (!unit || ulen >= sizeof(w->v[0].unit))
		return 0;
	for (size_t i = 0; i < w->n; i++) {
		if (strcmp(w->v[i].unit, unit) == 0) {
			if (pid < w->v[i].pid)
				w->v[i].pid = pid;
			return 0;
		}
	}
	if (w->n == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 64;
		struct cg_pid *nv = realloc(w->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		w->v = nv;
		w->cap = ncap;
	}
	memcpy(w->v[w->n].unit, unit, ulen + 1);
	w->v[w->n].pid = pid;
	w->n++;
	return 0;
}

static pid_t main_pid_of(const struct cgwalk *w, const char *unit)
{
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->v[i].unit, unit) == 0)
			return w->v[i].pid;
	return 0;
}

int services_from_systemd(const char *root, json_t **ret)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	struct unit_file *files = NULL;
	struct cgwalk cg = { .root = root };
	size_t nfiles = 0;
	json_t *section = NULL, *items;
	char path[4096];
	struct stat st;
	sd_bus *bus = NULL;
	const char *name, *desc, *load, *active, *sub, *following, *job_type;
	const char *unit_path, *job_path;
	uint32_t job_id;
	int r;

	/* sd_booted(3)'s test, under the root. */
	if ((r = root_path(path, sizeof(path), root, "run/systemd/system")) < 0)
		return r;
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return -ENXIO;
	r = sd_bus_open_system(&bus);
	if (r < 0)
		return r;
	(void)sd_bus_set_method_call_timeout(bus, BUS_TIMEOUT_US);
	r = sd_bus_call_method(bus, "org.freedesktop.systemd1",
			       "/org/freedesktop/systemd1",
			       "org.freedesktop.systemd1.Manager", "ListUnits",
			       &err, &reply, "");
	sd_bus_error_free(&err);
	if (r < 0)
		goto out;
	/* Enablement is an extra; without it the units still go out. */
	if (list_unit_files(bus, &files, &nfiles) < 0)
		nfiles = 0;
	(void)proc_foreach_pid(root, on_cgroup, &cg);
	section = new_section("systemd", &items);
	if (!section) {
		r = -ENOMEM;
		goto out;
	}
	r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
	if (r < 0)
		goto out;
	while ((r = sd_bus_message_read(reply, "(ssssssouso)", &name, &desc,
					&load, &active, &sub, &following,
					&unit_path, &job_id, &job_type,
					&job_path)) > 0) {
		pid_t pid = 0;

		if (json_array_size(items) >= REPORT_MAX_ITEMS)
			continue;
		if (strcmp(active, "inactive") != 0 &&
		    strcmp(active, "failed") != 0)
			pid = main_pid_of(&cg, name);
		r = add_service(items, name, active, sub,
				unit_file_state(files, nfiles, name), pid);
		if (r < 0)
			goto out;
	}
	if (r < 0)
		goto out;
	*ret = section;
	section = NULL;
	r = 0;
out:
	json_decref(section);
	free(cg.v);
	free_unit_files(files, nfiles);
	sd_bus_message_unref(reply);
	sd_bus_flush_close_unref(bus);
	return r;
}

int collect_services(const char *root, json_t **ret)
{
	int r = services_from_systemd(root, ret);

	if (r == 0)
		return 0;
	/* No systemd there, or its bus does not answer: what runs is still
	 * visible in /proc. */
	return services_from_procfs(root, ret);
}

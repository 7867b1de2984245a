/*
 * collect_services.c - services: systemd's units through sd-bus (ListUnits,
 * then each unit's UnitFileState and each service's MainPID in pipelined
 * property reads), or the daemons seen in /proc where systemd does not run.
 */
#include "collect_services.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <time.h>

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
	if (procfs_read_proc(w->root, pid, 0, 0, pi) < 0 || pi->ppid != 1 ||
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

int collect_services_procfs(const char *root, json_t **ret)
{
	struct dwalk w = { .root = root };
	json_t *section, *items;
	int r;

	r = procfs_foreach_pid(root, on_daemon, &w);
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

/* Property reads in flight at once: dbus-daemon's system bus allows a
 * connection 128 pending replies. */
#define BUS_WINDOW 64

struct unit {
	char *name, *active, *sub, *path;
	char *file_state;	/* UnitFileState, NULL until it comes */
	uint32_t main_pid;	/* MainPID, 0 until it comes */
};

struct prop_call {
	struct unit *u;
	int main_pid;		/* 1: Service.MainPID, 0: Unit.UnitFileState */
	size_t *pending;
	sd_bus_slot *slot;
};

static void free_units(struct unit *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].active);
		free(v[i].sub);
		free(v[i].path);
		free(v[i].file_state);
	}
	free(v);
}

/* ListUnits: every loaded unit, with its object path. */
static int list_units(sd_bus *bus, struct unit **ret, size_t *ret_n)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	struct unit *v = NULL;
	size_t n = 0, cap = 0;
	const char *name, *desc, *load, *active, *sub, *following, *job_type;
	const char *unit_path, *job_path;
	uint32_t job_id;
	int r;

	r = sd_bus_call_method(bus, "org.freedesktop.systemd1",
			       "/org/freedesktop/systemd1",
			       "org.freedesktop.systemd1.Manager", "ListUnits",
			       &err, &reply, "");
	sd_bus_error_free(&err);
	if (r < 0)
		return r;
	r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
	if (r < 0)
		goto out;
	while ((r = sd_bus_message_read(reply, "(ssssssouso)", &name, &desc,
					&load, &active, &sub, &following,
					&unit_path, &job_id, &job_type,
					&job_path)) > 0) {
		if (n >= REPORT_MAX_ITEMS)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct unit *nv = realloc(v, ncap * sizeof(*nv));

			if (!nv) {
				r = -ENOMEM;
				goto out;
			}
			v = nv;
			cap = ncap;
		}
		memset(&v[n], 0, sizeof(v[n]));
		v[n].name = strdup(name);
		v[n].active = strdup(active);
		v[n].sub = strdup(sub);
		v[n].path = strdup(unit_path);
		n++;
		if (!v[n - 1].name || !v[n - 1].active || !v[n - 1].sub ||
		    !v[n - 1].path) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (r < 0)
		goto out;
	*ret = v;
	*ret_n = n;
	v = NULL;
	n = 0;
	r = 0;
out:
	free_units(v, n);
	sd_bus_message_unref(reply);
	return r;
}

static int on_property(sd_bus_message *m, void *ud, sd_bus_error *ret_error)
{
	struct prop_call *c = ud;
	const char *state;
	uint32_t pid;

	(void)ret_error;
	(*c->pending)--;
	c->slot = sd_bus_slot_unref(c->slot);
	/* A unit gone meanwhile, or no such property: it goes out
	 * without. */
	if (sd_bus_message_is_method_error(m, NULL))
		return 0;
	if (c->main_pid) {
		if (sd_bus_message_read(m, "v", "u", &pid) >= 0)
			c->u->main_pid = pid;
	} else if (sd_bus_message_read(m, "v", "s", &state) >= 0 && *state) {
		free(c->u->file_state);
		c->u->file_state = strdup(state);
	}
	return 0;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

static int is_service(const char *name)
{
	size_t l = strlen(name);

	return l > 8 && strcmp(name + l - 8, ".service") == 0;
}

/* UnitFileState of every unit and MainPID of every service, as systemd
 * has them: Properties.Get calls sent BUS_WINDOW at a time without waiting
 * for each answer, all within one BUS_TIMEOUT_US. */
static int read_properties(sd_bus *bus, struct unit *v, size_t n)
{
	struct prop_call *calls;
	size_t ncalls = 0, next = 0, pending = 0;
	uint64_t deadline;
	int r = 0;

	calls = calloc(2 * n + 1, sizeof(*calls));
	if (!calls)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		calls[ncalls++] = (struct prop_call){ .u = &v[i],
						      .pending = &pending };
		if (is_service(v[i].name))
			calls[ncalls++] = (struct prop_call){
				.u = &v[i], .main_pid = 1, .pending = &pending
			};
	}
	deadline = now_us() + BUS_TIMEOUT_US;
	while (next < ncalls || pending > 0) {
		uint64_t now;

		while (pending < BUS_WINDOW && next < ncalls) {
			struct prop_call *c = &calls[next++];

			r = sd_bus_call_method_async(
				bus, &c->slot, "org.freedesktop.systemd1",
				c->u->path, "org.freedesktop.DBus.Properties",
				"Get", on_property, c, "ss",
				c->main_pid ? "org.freedesktop.systemd1.Service"
					    : "org.freedesktop.systemd1.Unit",
				c->main_pid ? "MainPID" : "UnitFileState");
			if (r < 0)
				goto out;
			pending++;
		}
		r = sd_bus_process(bus, NULL);
		if (r < 0)
			goto out;
		if (r > 0)
			continue;
		now = now_us();
		if (now >= deadline) {
			r = -ETIMEDOUT;
			goto out;
		}
		r = sd_bus_wait(bus, deadline - now);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	/* Unanswered calls are dropped before their targets are freed. */
	for (size_t i = 0; i < ncalls; i++)
		sd_bus_slot_unref(calls[i].slot);
	free(calls);
	return r;
}

int collect_services_systemd(const char *root, json_t **ret)
{
	struct unit *units = NULL;
	size_t nunits = 0;
	json_t *section = NULL, *items;
	char path[4096];
	struct stat st;
	sd_bus *bus = NULL;
	int r;

	/* sd_booted(3)'s test, under the root. */
	r = procfs_path(path, sizeof(path), root, "run/systemd/system");
	if (r < 0)
		return r;
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return -ENXIO;
	r = sd_bus_open_system(&bus);
	if (r < 0)
		return r;
	(void)sd_bus_set_method_call_timeout(bus, BUS_TIMEOUT_US);
	r = list_units(bus, &units, &nunits);
	if (r < 0)
		goto out;
	/* Enablement and main pids are extras; without them the units still
	 * go out. */
	(void)read_properties(bus, units, nunits);
	section = new_section("systemd", &items);
	if (!section) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nunits; i++) {
		r = add_service(items, units[i].name, units[i].active,
				units[i].sub, units[i].file_state,
				(pid_t)units[i].main_pid);
		if (r < 0)
			goto out;
	}
	*ret = section;
	section = NULL;
	r = 0;
out:
	json_decref(section);
	free_units(units, nunits);
	sd_bus_flush_close_unref(bus);
	return r;
}

int collect_services(const char *root, json_t **ret)
{
	int r = collect_services_systemd(root, ret);

	if (r == 0)
		return 0;
	/* No systemd there, or its bus does not answer: what runs is still
	 * visible in /proc. */
	return collect_services_procfs(root, ret);
}

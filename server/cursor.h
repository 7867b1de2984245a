/*
 * cursor.h - the cursors of the API's pages, parsed (api_*.c) and
 * formatted (store_*.c) here and nowhere else.  Opaque to clients; each
 * names the last row of the page it ends:
 *   hosts, history, a section's items, projects: "id" (an offset for a
 *     section, the name for projects, which needs no parsing)
 *   findings: "level:id", the order of the list (worst first)
 *   packages: "host_id:arch", a multi-arch package having a row per
 *     architecture
 */
#ifndef DERELICT_CURSOR_H
#define DERELICT_CURSOR_H

#include <stdint.h>

#define CURSOR_MAX 96	/* a formatted cursor's bytes, with the NUL */

/* A findings page's: the severity level (0-4) and the id of its last. */
struct cursor_finding {
	int level;
	int64_t id;	/* 0: the first page */
};

/* 0 with *ret for a positive decimal id, -EINVAL otherwise. */
int cursor_parse_id(const char *s, int64_t *ret);
/* 0 with *ret for "level:id" (level 0-4, id below 2^40), else -EINVAL. */
int cursor_parse_finding(const char *s, struct cursor_finding *ret);
/* 0 for "host_id:arch": *ret_arch points into s; -EINVAL otherwise. */
int cursor_parse_package(const char *s, int64_t *ret_host,
			 const char **ret_arch);

void cursor_format_id(int64_t id, char out[CURSOR_MAX]);
void cursor_format_finding(const struct cursor_finding *c,
			   char out[CURSOR_MAX]);
void cursor_format_package(int64_t host, const char *arch,
			   char out[CURSOR_MAX]);

#endif

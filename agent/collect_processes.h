/*
 * collect_processes.h - the processes section of the report (SPEC section
 * 3): the running programs, counted by name, exe and user.
 *
 * collect_processes() reads the host's own files under a root directory ("/"
 * or a fixture tree) and returns 0 with a new reference in *ret (owned by
 * the caller), or a negative errno with *ret untouched.  The section comes
 * without its "hash"; assemble.c adds that.
 */
#ifndef DERELICT_AGENT_COLLECT_PROCESSES_H
#define DERELICT_AGENT_COLLECT_PROCESSES_H

#include <jansson.h>

/* processes: {"items": [{name, exe, user, count}]}, kernel threads left
 * out; exe is null when unreadable. */
int collect_processes(const char *root, json_t **ret);

#endif

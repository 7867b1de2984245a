/*
 * collect_host.h - the report's host object (SPEC section 3): who and what
 * the machine is.
 *
 * collect_host() reads the host's own files under a root directory ("/" or a
 * fixture tree) and returns 0 with a new reference in *ret (owned by the
 * caller), or a negative errno with *ret untouched.  It has no hash.
 */
#ifndef DERELICT_AGENT_COLLECT_HOST_H
#define DERELICT_AGENT_COLLECT_HOST_H

#include <jansson.h>

/* host: hostname, fqdn, machine_id, os{}, kernel, arch, boot_time,
 * addresses[]; project and owner (NULL -> null) come from the config. */
int collect_host(const char *root, const char *project, const char *owner,
		 json_t **ret);

#endif

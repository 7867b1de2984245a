/*
 * collect_services.h - the services section of the report (SPEC section 3):
 * the services, from systemd or else from /proc.
 *
 * collect_services() reads the host's own files under a root directory ("/"
 * or a fixture tree) and returns 0 with a new reference in *ret (owned by
 * the caller), or a negative errno with *ret untouched.  The section comes
 * without its "hash"; assemble.c adds that.
 */
#ifndef DERELICT_AGENT_COLLECT_SERVICES_H
#define DERELICT_AGENT_COLLECT_SERVICES_H

#include <jansson.h>

/* services: {"source": "systemd"|"procfs", "items": [...]}.  Through sd-bus
 * (ListUnits, each unit's UnitFileState and each service's MainPID as
 * systemd has them) when <root>/run/systemd/system exists and
 * the system bus answers (DBUS_SYSTEM_BUS_ADDRESS is honoured); otherwise
 * from /proc: the daemons, i.e. processes that are children of pid 1 and
 * have no controlling terminal, as {name, active: "active", sub: "running",
 * enabled: null, main_pid}, one per (name), lowest pid. */
int collect_services(const char *root, json_t **ret);
int collect_services_procfs(const char *root, json_t **ret);
/* The sd-bus half alone; -ENXIO when systemd is not running there. */
int collect_services_systemd(const char *root, json_t **ret);

#endif

/*
 * api.h - the request handlers, one group per api_<resource>.c file.  Each
 * parses and validates its input, calls the store, and renders a reply.
 */
#ifndef DERELICT_API_H
#define DERELICT_API_H

#include "reply.h"
#include "request.h"
#include "server.h"
#include "store.h"

#define HANDLER(name) \
	int name(struct app *app, struct request *rq, struct reply *rp)

/* api_agent.c: what agents call */
HANDLER(api_enroll);
HANDLER(api_reports);

/* api_hosts.c */
HANDLER(api_hosts_list);
HANDLER(api_host_get);
HANDLER(api_host_section);
HANDLER(api_host_changes);
HANDLER(api_host_patch);
HANDLER(api_host_delete);
HANDLER(api_packages);

/* api_projects.c */
HANDLER(api_projects_list);
HANDLER(api_project_create);
HANDLER(api_project_get);
HANDLER(api_project_patch);
HANDLER(api_project_delete);

/* api_findings.c */
HANDLER(api_findings_list);
HANDLER(api_finding_ack);

/* api_notifications.c */
HANDLER(api_notifications_list);
HANDLER(api_notification_retry);
/* api_discovered.c */
HANDLER(api_discovered_list);

/* api_advisories.c */
HANDLER(api_advisories);

/* api_answers.c: the owners' mail links */
HANDLER(api_answer_get);
HANDLER(api_answer_post);

/* api_misc.c */
HANDLER(api_summary);
HANDLER(api_openapi);
HANDLER(api_healthz);
HANDLER(api_metrics);
HANDLER(api_whoami);
HANDLER(web_index);
HANDLER(web_static);

#endif

/*
 * assemble.c - a full report from the collectors (SPEC 3): every section
 * with its items, cut to the server's caps, and its hash.
 */
#include "assemble.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collect_host.h"
#include "collect_logins.h"
#include "collect_mail.h"
#include "collect_packages.h"
#include "collect_ports.h"
#include "collect_processes.h"
#include "collect_services.h"
#include "jsonutil.h"
#include "timeutil.h"
#include "version.h"

/* A failed collector's section: the error and no items (which a 0.2
 * server needs to take the report at all), and no hash: the server keeps
 * what it held for the section, so a failure is never acknowledged as
 * the section's state and always travels in full. */
static json_t *error_section(int err)
{
	json_t *s = json_object();
	char text[128];

	snprintf(text, sizeof(text), "%s", strerror(-err));
	if (!s || json_set_str(s, "error", text) < 0 ||
	    json_object_set_new(s, "items", json_array()) < 0) {
		json_decref(s);
		return NULL;
	}
	return s;
}

int assemble_report(const char *root, const char *agent_id,
		    const struct agent_conf *conf, json_t **ret)
{
	json_t *report = json_object(), *agent = json_object(),
	       *sections = json_object(), *host = NULL;
	int64_t now = time_now();
	int r = -ENOMEM;

	if (!report || !agent || !sections)
		goto fail;
	if (json_object_set_new(report, "schema",
				json_integer(REPORT_SCHEMA)) < 0 ||
	    json_set_str(agent, "id", agent_id) < 0 ||
	    json_set_str(agent, "version", DERELICT_VERSION) < 0 ||
	    json_object_set(report, "agent", agent) < 0 ||
	    json_set_time(report, "collected_at", now) < 0)
		goto fail;
	r = collect_host(root, conf->project, conf->owner, &host);
	if (r < 0) {
		/* The host object carries no error member: send what the
		 * server needs to place the report at least. */
		host = json_object();
		if (!host)
			goto fail;
		json_set_str(host, "hostname", NULL);
	}
	/* Whatever a host's files say, the report stays within the
	 * server's caps (common/report.h, the cut rule). */
	if (json_object_set_new(report, "host", host) < 0 ||
	    report_cap_host(host) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	for (int s = 0; s < SECTION_COUNT; s++) {
		char hash[SHA256_HEX_LEN];
		json_t *sec = NULL;

		switch (s) {
		case SECTION_PORTS:
			r = collect_ports(root, &sec);
			break;
		case SECTION_SERVICES:
			r = collect_services(root, &sec);
			break;
		case SECTION_PROCESSES:
			r = collect_processes(root, &sec);
			break;
		case SECTION_PACKAGES:
			r = collect_packages(root, &sec);
			break;
		case SECTION_LOGINS:
			r = collect_logins(root, now, &sec);
			break;
		case SECTION_MAIL: {
			/* From the packages just collected; none to go by
			 * when that section failed. */
			json_t *pk = json_object_get(sections, "packages");

			r = !pk || json_object_get(pk, "error") ?
				    -ENODATA :
				    collect_mail_at(root, pk, now, &sec);
			break;
		}
		default:
			r = -EINVAL;
		}
		if (r < 0) {
			sec = error_section(r);
			if (!sec ||
			    json_object_set_new(sections, section_names[s],
						sec) < 0) {
				r = -ENOMEM;
				goto fail;
			}
			continue;
		}
		/* A process of any local user can name itself as it likes:
		 * cut and drop before hashing, so the hash covers what is
		 * sent and one odd item never costs the report. */
		r = report_cap_section(s, sec);
		if (r == 0)
			r = report_section_hash(sec, hash);
		if (r < 0 || json_set_str(sec, "hash", hash) < 0 ||
		    json_object_set_new(sections, section_names[s], sec) < 0) {
			r = r < 0 ? r : -ENOMEM;
			goto fail;
		}
	}
	if (json_object_set(report, "sections", sections) < 0)
		goto fail;
	json_decref(agent);
	json_decref(sections);
	*ret = report;
	return 0;
fail:
	json_decref(report);
	json_decref(agent);
	json_decref(sections);
	return r < 0 ? r : -ENOMEM;
}

int assemble_section_failed(const json_t *report, enum section s)
{
	const json_t *sec = json_object_get(json_object_get(report, "sections"),
					    section_names[s]);

	return json_is_string(json_object_get(sec, "error"));
}

void assemble_hashes(const json_t *report,
		     char out[SECTION_COUNT][SHA256_HEX_LEN])
{
	json_t *sections = json_object_get(report, "sections");

	for (int s = 0; s < SECTION_COUNT; s++) {
		const char *h = json_get_str(
			json_object_get(sections, section_names[s]), "hash");

		snprintf(out[s], SHA256_HEX_LEN, "%s", h ? h : "");
	}
}

/*
 * collect_mail.h - the mail section of the report (SPEC section 3): the CVE
 * ids the MTA packages' own changelogs name, and whether the MTA still
 * carries mail.
 *
 * collect_mail() reads the host's own files under a root directory ("/" or a
 * fixture tree) and returns 0 with a new reference in *ret (owned by the
 * caller), or a negative errno with *ret untouched.  The section comes
 * without its "hash"; assemble.c adds that.
 */
#ifndef DERELICT_AGENT_COLLECT_MAIL_H
#define DERELICT_AGENT_COLLECT_MAIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "report.h"

/* mail: {"items": [{source, source_version, package, changelog_cves}]}:
 * for each MTA source package installed (from the packages section), the
 * CVE ids named by usr/share/doc/<package>/changelog.Debian.gz in its
 * entries up to the installed version, read up to MAIL_MAX_CHANGELOG
 * bytes ("changelog_truncated": true when a cap cut it); no item when
 * that file is absent or unreadable.  The packages
 * section is borrowed. */
#define MAIL_MAX_CHANGELOG (8u << 20)
#define MAIL_MAX_ITEMS REPORT_MAIL_MAX_ITEMS
#define MAIL_MAX_CVES REPORT_MAIL_MAX_CVES
int collect_mail(const char *root, const json_t *packages, json_t **ret);
/* The same at time now, and with each MTA's activity from its own log and
 * queue (mail_activity.h): added to the item of its source package ("mta",
 * "last_delivered_at", "queue", ...), or to an item of its own ({"source":
 * "exim4", "mta": "exim", ...}) when its files exist without a package
 * listed.  collect_mail() is this at the current time. */
int collect_mail_at(const char *root, const json_t *packages, int64_t now,
		    json_t **ret);
/* Appends to cves the CVE ids (each once, at most MAIL_MAX_CVES in all)
 * that a changelog.Debian text names in its entries whose version is not
 * after installed (every entry when installed is NULL); *ret_truncated (if
 * not NULL) is set to 1 when the cap left some out.  0, -EINVAL or
 * -ENOMEM. */
int collect_mail_changelog_cves(const char *text, size_t len,
				const char *installed, json_t *cves,
				int *ret_truncated);

#endif

/*
 * collect_mail.h - the mail section of the report (SPEC section 3): the CVE
 * ids the MTA packages' own changelogs name.
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
/* Appends to cves the CVE ids (each once, at most MAIL_MAX_CVES in all)
 * that a changelog.Debian text names in its entries whose version is not
 * after installed (every entry when installed is NULL); *ret_truncated (if
 * not NULL) is set to 1 when the cap left some out.  0, -EINVAL or
 * -ENOMEM. */
int collect_mail_changelog_cves(const char *text, size_t len,
				const char *installed, json_t *cves,
				int *ret_truncated);

#endif

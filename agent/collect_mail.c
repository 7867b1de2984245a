/*
 * collect_mail.c - what the host's mail transfer agents say about
 * themselves: for each installed MTA package, the CVE ids its own
 * usr/share/doc/<package>/changelog.Debian.gz names in the entries up to
 * the installed version.  That is the host's evidence of what its package
 * fixes, whoever built it (Debian, Freexian ELTS, a backport, a rebuild).
 * And, for Exim and Postfix, whether they still carry mail
 * (mail_activity.c).
 */
#include "collect_mail.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dpkgver.h"
#include "jsonutil.h"
#include "mail_activity.h"
#include "procfs.h"
#include "timeutil.h"

/* Binary packages whose changelog speaks for an MTA (the source packages
 * of the MTA table in server/rules.c).  Where several are installed from
 * one source, the first listed that has a changelog is read. */
static const char *const mta_packages[] = {
	"exim4-base", "exim4-daemon-light", "exim4-daemon-heavy", "exim4",
	"postfix", "sendmail-base", "sendmail-bin", "opensmtpd",
	"courier-mta", "courier-base", "qmail", "netqmail", "notqmail",
	"msmtp-mta", "msmtp", "nullmailer", "dma", NULL,
};

static int is_mta_package(const char *name)
{
	for (const char *const *p = mta_packages; *p; p++)
		if (strcmp(*p, name) == 0)
			return 1;
	return 0;
}

/* Whether p starts a CVE id (CVE-YYYY-NNNN...); its length, else 0. */
static size_t cve_at(const char *p, const char *start, const char *end)
{
	size_t num = 0;

	if (end - p < 13 || strncmp(p, "CVE-", 4) != 0)
		return 0;
	/* Not "GCVE-25-2026-07-45-1". */
	if (p > start && ((p[-1] >= 'A' && p[-1] <= 'Z') ||
			  (p[-1] >= 'a' && p[-1] <= 'z') ||
			  (p[-1] >= '0' && p[-1] <= '9')))
		return 0;
	for (int i = 4; i < 8; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	if (p[8] != '-')
		return 0;
	while (p + 9 + num < end && num < 8 && p[9 + num] >= '0' &&
	       p[9 + num] <= '9')
		num++;
	return num >= 4 && num <= 7 ? 9 + num : 0;
}

static int array_has(const json_t *arr, const char *s, size_t len)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		const char *t = json_string_value(v);

		if (t && strlen(t) == len && strncmp(t, s, len) == 0)
			return 1;
	}
	return 0;
}

int collect_mail_changelog_cves(const char *text, size_t len,
				const char *installed, json_t *cves,
				int *ret_truncated)
{
	const char *end = text + len, *line, *nl;
	int skip = 0;

	if (!text || !cves)
		return -EINVAL;
	for (line = text; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		/* "exim4 (4.96-15+deb12u5) bookworm-security; urgency=high" */
		if (line < nl && *line != ' ' && *line != '\t') {
			const char *o = memchr(line, '(', (size_t)(nl - line));
			const char *c = o ? memchr(o, ')', (size_t)(nl - o)) :
					    NULL;
			char version[DPKGVER_MAX_LEN + 1];

			if (o && c && (size_t)(c - o - 1) <= DPKGVER_MAX_LEN) {
				memcpy(version, o + 1, (size_t)(c - o - 1));
				version[c - o - 1] = '\0';
				skip = installed && dpkgver_valid(version) == 0 &&
				       dpkgver_compare(version, installed) > 0;
			}
			continue;
		}
		for (const char *p = line; !skip && p < nl; p++) {
			size_t n = cve_at(p, line, nl);

			if (!n)
				continue;
			if (json_array_size(cves) >= MAIL_MAX_CVES) {
				if (ret_truncated)
					*ret_truncated = 1;
				return 0;
			}
			if (!array_has(cves, p, n) &&
			    json_array_append_new(cves, json_stringn(p, n)) < 0)
				return -ENOMEM;
			p += n - 1;
		}
	}
	return 0;
}

/* The first MAIL_MAX_CHANGELOG bytes of a gzip file, NUL-terminated, to
 * free.  0, -ENOENT, -EIO on a corrupt file, or -ENOMEM. */
static int read_gz(const char *path, char **ret, size_t *ret_len)
{
	gzFile gz;
	size_t len = 0, cap = 64 * 1024;
	char *buf;
	int n;

	errno = 0;
	gz = gzopen(path, "rb");
	if (!gz)
		return errno ? -errno : -ENOMEM;
	buf = malloc(cap + 1);
	if (!buf) {
		gzclose(gz);
		return -ENOMEM;
	}
	while (len < MAIL_MAX_CHANGELOG) {
		if (len == cap) {
			char *p;

			cap = cap * 2 > MAIL_MAX_CHANGELOG ? MAIL_MAX_CHANGELOG :
							      cap * 2;
			p = realloc(buf, cap + 1);
			if (!p) {
				free(buf);
				gzclose(gz);
				return -ENOMEM;
			}
			buf = p;
		}
		n = gzread(gz, buf + len, (unsigned)(cap - len));
		if (n < 0) {
			free(buf);
			gzclose(gz);
			return -EIO;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	gzclose(gz);
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* The item of one source package, from the changelog of its binary
 * package pkg; NULL in *ret when that has no changelog. */
static int mail_item(const char *root, const json_t *pkg, json_t **ret)
{
	const char *name = json_get_str(pkg, "name");
	const char *src = json_get_str(pkg, "source");
	const char *ver = json_get_str(pkg, "source_version");
	char rel[512], path[4096], *text = NULL;
	json_t *item, *cves;
	size_t len = 0;
	int r, truncated = 0;

	*ret = NULL;
	if (!ver)
		ver = json_get_str(pkg, "version");
	snprintf(rel, sizeof(rel), "usr/share/doc/%s/changelog.Debian.gz",
		 name);
	if (procfs_path(path, sizeof(path), root, rel) < 0)
		return 0;
	r = read_gz(path, &text, &len);
	if (r == -ENOENT || r == -ENOTDIR || r == -EACCES || r == -EIO)
		return 0;
	if (r < 0)
		return r;
	item = json_object();
	cves = json_array();
	if (!item || !cves || json_object_set_new(item, "changelog_cves",
						  cves) < 0) {
		json_decref(cves);
		r = -ENOMEM;
		goto fail;
	}
	r = collect_mail_changelog_cves(
		text, len, ver && dpkgver_valid(ver) == 0 ? ver : NULL, cves,
		&truncated);
	if (r < 0)
		goto fail;
	/* Cut at a cap: what was read still counts, and says so. */
	if ((truncated || len >= MAIL_MAX_CHANGELOG) &&
	    json_object_set_new(item, "changelog_truncated", json_true()) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	if (json_set_str(item, "source", src ? src : name) < 0 ||
	    json_set_str(item, "source_version", ver) < 0 ||
	    json_set_str(item, "package", name) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	free(text);
	*ret = item;
	return 0;
fail:
	free(text);
	json_decref(item);
	return r;
}

/* The MTAs whose files mail_activity.c reads, and the source package an
 * item of theirs is named after when no package of theirs is listed. */
static const struct {
	const char *mta, *prefix, *source;
} activity_mtas[] = {
	{ "exim", "exim", "exim4" },
	{ "postfix", "postfix", "postfix" },
};

/* Adds each MTA's activity to its package's item, or to an item of its
 * own when its files exist without a package listed. */
static int add_activity(const char *root, int64_t now, json_t *items)
{
	for (size_t m = 0; m < sizeof(activity_mtas) / sizeof(activity_mtas[0]);
	     m++) {
		json_t *item = NULL, *it;
		size_t i;
		int found = 0, own = 0, r;

		json_array_foreach(items, i, it) {
			const char *src = json_get_str(it, "source");

			if (!item && src &&
			    strncmp(src, activity_mtas[m].prefix,
				    strlen(activity_mtas[m].prefix)) == 0)
				item = it;
		}
		if (!item) {
			if (json_array_size(items) >= MAIL_MAX_ITEMS)
				continue;
			item = json_object();
			own = 1;
			if (!item ||
			    json_set_str(item, "source",
					 activity_mtas[m].source) < 0) {
				json_decref(item);
				return -ENOMEM;
			}
		}
		r = mail_activity_collect(root, activity_mtas[m].mta, now, item,
					  &found);
		if (r == 0 && found)
			r = json_set_str(item, "mta", activity_mtas[m].mta);
		if (r == 0 && own && found)
			r = json_array_append(items, item) < 0 ? -ENOMEM : 0;
		if (own)
			json_decref(item);
		if (r < 0)
			return r;
	}
	return 0;
}

int collect_mail(const char *root, const json_t *packages, json_t **ret)
{
	return collect_mail_at(root, packages, time_now(), ret);
}

int collect_mail_at(const char *root, const json_t *packages, int64_t now,
		    json_t **ret)
{
	json_t *sec = json_object(), *items = json_array(), *pkg, *it;
	const json_t *list = json_object_get(packages, "items");
	size_t i;
	int r = -ENOMEM;

	if (!sec || !items || json_object_set_new(sec, "items", items) < 0) {
		json_decref(items);
		goto fail;
	}
	/* In the table's order, so exim4-base speaks for exim4 before
	 * exim4-daemon-light, whatever order dpkg lists them in. */
	for (const char *const *p = mta_packages; *p; p++) {
		json_array_foreach(list, i, pkg) {
			const char *name = json_get_str(pkg, "name");
			const char *src = json_get_str(pkg, "source");
			int seen = 0;
			size_t j;

			if (!name || strcmp(name, *p) != 0 ||
			    !is_mta_package(name))
				continue;
			json_array_foreach(items, j, it)
				seen |= !strcmp(json_get_str(it, "source"),
						src ? src : name);
			if (seen || json_array_size(items) >= MAIL_MAX_ITEMS)
				continue;
			r = mail_item(root, pkg, &it);
			if (r < 0)
				goto fail;
			if (it && json_array_append_new(items, it) < 0) {
				r = -ENOMEM;
				goto fail;
			}
		}
	}
	if ((r = add_activity(root, now, items)) < 0)
		goto fail;
	*ret = sec;
	return 0;
fail:
	json_decref(sec);
	return r;
}

/* advisory_osv.c - see advisory_osv.h. */
#include "advisory_osv.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpkgver.h"
#include "jsonutil.h"
#include "rpmver.h"

#define MAX_ENTRIES 500000

struct advisory_osv {
	const struct advisory_db *eol;
	json_t *entries;	/* "source\tCVE" -> shipped-format entry */
	char newest[11];	/* the latest "modified" date, YYYY-MM-DD */
};

int advisory_osv_new(const struct advisory_db *eol, struct advisory_osv **ret)
{
	struct advisory_osv *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	o->eol = eol;
	o->entries = json_object();
	if (!o->entries) {
		free(o);
		return -ENOMEM;
	}
	*ret = o;
	return 0;
}

void advisory_osv_free(struct advisory_osv *o)
{
	if (!o)
		return;
	json_decref(o->entries);
	free(o);
}

/* The Red Hat family's ecosystems and the os-release IDs their releases
 * are named by (advisory.h): "Rocky Linux:8" is "rocky:8". */
static const struct {
	const char *ecosystem;
	const char *os_id;
} rpm_ecosystems[] = {
	{ "Rocky Linux:", "rocky" },
	{ "AlmaLinux:", "almalinux" },
};

/* "Rocky Linux:8" -> "rocky:8" into buf (size bytes); NULL when eco is
 * not one of the family's. */
static const char *rpm_release_of(const char *eco, char *buf, size_t size)
{
	for (size_t i = 0;
	     eco && i < sizeof(rpm_ecosystems) / sizeof(*rpm_ecosystems); i++) {
		size_t pl = strlen(rpm_ecosystems[i].ecosystem);
		const char *v = eco + pl;
		size_t n;

		if (strncmp(eco, rpm_ecosystems[i].ecosystem, pl) != 0)
			continue;
		n = strspn(v, "0123456789");
		if (n == 0 || n > 8 || (v[n] && v[n] != ':'))
			return NULL;
		snprintf(buf, size, "%s:%.*s", rpm_ecosystems[i].os_id, (int)n,
			 v);
		return buf;
	}
	return NULL;
}

/* "Ubuntu:22.04:LTS" -> "jammy"; *pro when it is an Ubuntu Pro one.  NULL
 * for another ecosystem or an unknown release. */
static const char *codename_of(const struct advisory_osv *o, const char *eco,
			       bool *pro)
{
	const struct advisory_eol *info = NULL;
	char ver[16];
	const char *p;
	size_t n;

	if (!eco || strncmp(eco, "Ubuntu:", 7) != 0)
		return NULL;
	p = eco + 7;
	*pro = strncmp(p, "Pro:", 4) == 0;
	if (*pro)
		p += 4;
	n = strcspn(p, ":");
	if (n == 0 || n >= sizeof(ver))
		return NULL;
	memcpy(ver, p, n);
	ver[n] = '\0';
	if (advisory_eol(o->eol, "ubuntu", ver, NULL, &info) < 0 ||
	    !info->codename[0])
		return NULL;
	return info->codename;
}

/* The CVE ids a record is about, into ids (up to max); their number. */
static size_t cves_of(json_t *rec, const char **ids, size_t max)
{
	static const char *const lists[] = { "aliases", "related", "upstream" };
	const char *id = json_get_str(rec, "id");
	size_t n = 0;

	if (id && strncmp(id, "UBUNTU-CVE-", 11) == 0)
		ids[n++] = id + 7;
	for (size_t l = 0; l < 3; l++) {
		json_t *a = json_object_get(rec, lists[l]), *v;
		size_t i;

		json_array_foreach(a, i, v) {
			const char *s = json_string_value(v);
			bool dup = false;

			if (s && strncmp(s, "UBUNTU-CVE-", 11) == 0)
				s += 7;
			if (!s || strncmp(s, "CVE-", 4) != 0 || strlen(s) > 32)
				continue;
			for (size_t k = 0; k < n && !dup; k++)
				dup = strcmp(ids[k], s) == 0;
			if (!dup && n < max)
				ids[n++] = s;
		}
	}
	return n;
}

/* The USN the record is or names, or the Rocky or Alma erratum it is;
 * NULL when none. */
static const char *usn_of(json_t *rec)
{
	const char *id = json_get_str(rec, "id");
	json_t *v;
	size_t i;

	if (id && strlen(id) < 32 &&
	    (strncmp(id, "USN-", 4) == 0 || strncmp(id, "RLSA-", 5) == 0 ||
	     strncmp(id, "ALSA-", 5) == 0))
		return id;
	json_array_foreach(json_object_get(rec, "related"), i, v) {
		const char *s = json_string_value(v);

		if (s && strncmp(s, "USN-", 4) == 0 && strlen(s) < 32)
			return s;
	}
	return NULL;
}

/* The fixed event of the affected entry's ECOSYSTEM range; "open" when it
 * has none; NULL when it is malformed.  rpm: an RPM version. */
static const char *fixed_of(json_t *aff, bool rpm)
{
	json_t *r, *ev;
	size_t i, j;

	json_array_foreach(json_object_get(aff, "ranges"), i, r) {
		if (!json_is_string(json_object_get(r, "type")) ||
		    strcmp(json_get_str(r, "type"), "ECOSYSTEM") != 0)
			continue;
		json_array_foreach(json_object_get(r, "events"), j, ev) {
			const char *f = json_get_str(ev, "fixed");

			if (f)
				return (rpm ? rpmver_valid(f) : dpkgver_valid(f)) == 0 ?
					       f : NULL;
		}
		return "open";
	}
	return NULL;
}

/* Red Hat's rating, the first word of a Rocky or Alma summary
 * ("Important: postfix security update"), in the shipped scale. */
static const char *rh_severity(json_t *rec)
{
	static const char *const words[][2] = {
		{ "Critical:", "critical" }, { "Important:", "high" },
		{ "Moderate:", "medium" },   { "Low:", "low" },
	};
	const char *s = json_get_str(rec, "summary");

	for (size_t i = 0; s && i < sizeof(words) / sizeof(*words); i++)
		if (strncmp(s, words[i][0], strlen(words[i][0])) == 0)
			return words[i][1];
	return NULL;
}

static int add_fix(struct advisory_osv *o, json_t *rec, const char *cve,
		   const char *source, const char *release, bool pro,
		   const char *version, const char *usn, const char *priority)
{
	char key[320];
	json_t *e, *fixed, *f;

	snprintf(key, sizeof(key), "%s\t%s", source, cve);
	e = json_object_get(o->entries, key);
	if (!e) {
		const char *details = json_get_str(rec, "details");
		const char *summary = json_get_str(rec, "summary");

		if (json_object_size(o->entries) >= MAX_ENTRIES)
			return -E2BIG;
		e = json_pack("{s:s,s:s,s:s,s:{}}", "cve", cve, "source",
			      source, "summary",
			      summary ? summary : details ? details : "",
			      "fixed");
		if (!e || json_object_set_new(o->entries, key, e) < 0)
			return -ENOMEM;
		if (rh_severity(rec))
			json_object_set_new(e, "severity",
					    json_string(rh_severity(rec)));
	}
	fixed = json_object_get(e, "fixed");
	f = json_object_get(fixed, release);
	/* Pro only where nothing else covers the release; otherwise the
	 * first record's version stays and an advisory id is filled in. */
	if (f && (pro || !json_is_true(json_object_get(f, "pro")))) {
		if (usn && !json_get_str(f, "advisory"))
			json_object_set_new(f, "advisory", json_string(usn));
		if (priority && !json_get_str(f, "urgency"))
			json_object_set_new(f, "urgency", json_string(priority));
		return 0;
	}
	f = json_pack("{s:s}", "version", version);
	if (!f)
		return -ENOMEM;
	if (usn)
		json_object_set_new(f, "advisory", json_string(usn));
	if (priority)
		json_object_set_new(f, "urgency", json_string(priority));
	if (pro)
		json_object_set_new(f, "pro", json_true());
	return json_object_set_new(fixed, release, f) < 0 ? -ENOMEM : 0;
}

int advisory_osv_add(struct advisory_osv *o, const char *json, size_t len)
{
	const char *ids[16], *usn, *modified;
	json_error_t jerr;
	json_t *rec, *aff, *a;
	size_t n_ids, i, added = 0;
	int r = 0;

	if (len > ADVISORY_OSV_MAX_RECORD)
		return -E2BIG;
	rec = json_parse_buf(json, len, &jerr);
	if (!json_is_object(rec) || !json_get_str(rec, "id") ||
	    !json_is_array(json_object_get(rec, "affected"))) {
		json_decref(rec);
		return -EINVAL;
	}
	n_ids = cves_of(rec, ids, sizeof(ids) / sizeof(*ids));
	usn = usn_of(rec);
	modified = json_get_str(rec, "modified");
	aff = json_object_get(rec, "affected");
	json_array_foreach(aff, i, a) {
		json_t *pkg = json_object_get(a, "package");
		const char *source = json_get_str(pkg, "name");
		const char *prio = json_get_str(
			json_object_get(a, "ecosystem_specific"),
			"ubuntu_priority");
		const char *eco = json_get_str(pkg, "ecosystem");
		char rpm_rel[32];
		const char *rpm = rpm_release_of(eco, rpm_rel, sizeof(rpm_rel));
		const char *version = fixed_of(a, rpm != NULL);
		bool pro = false;
		const char *release = rpm ? rpm : codename_of(o, eco, &pro);

		if (!release || !version || !source || !*source ||
		    strlen(source) > 128)
			continue;
		for (size_t k = 0; k < n_ids && r == 0; k++)
			r = add_fix(o, rec, ids[k], source, release, pro,
				    version, usn, prio);
		if (r < 0)
			break;
		added++;
	}
	if (r == 0 && added && modified && strlen(modified) >= 10 &&
	    strncmp(modified, o->newest, 10) > 0)
		snprintf(o->newest, sizeof(o->newest), "%.10s", modified);
	json_decref(rec);
	if (r < 0)
		return r;
	return added && n_ids ? 0 : 1;
}

int advisory_osv_finish(struct advisory_osv *o, char **ret, size_t *ret_len,
			size_t *ret_entries)
{
	json_t *doc, *list = json_array(), *e;
	const char *key;
	size_t n;
	char *text;

	if (!list)
		return -ENOMEM;
	json_object_foreach(o->entries, key, e) {
		const char *rel;
		json_t *f;

		/* "pro" only steered the merge. */
		json_object_foreach(json_object_get(e, "fixed"), rel, f)
			json_object_del(f, "pro");
		if (json_array_append(list, e) < 0) {
			json_decref(list);
			return -ENOMEM;
		}
	}
	n = json_array_size(list);
	doc = json_pack("{s:i,s:s,s:o}", "format", 1, "origin", "osv",
			"advisories", list);
	if (!doc)
		return -ENOMEM;
	if (o->newest[0])
		json_object_set_new(doc, "data_date", json_string(o->newest));
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (!text)
		return -ENOMEM;
	*ret_len = strlen(text);
	*ret_entries = n;
	*ret = text;
	return 0;
}

/*
 * report_check.c - see report_check.h.  Everything a report carries is
 * checked here, before the ingest writer sees it, so a bad report never
 * reaches the database.
 */
#include "report_check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "report.h"
#include "timeutil.h"

static int refuse(struct report_verdict *v, int status, const char *code,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int refuse(struct report_verdict *v, int status, const char *code,
		  const char *fmt, ...)
{
	va_list ap;

	v->status = status;
	v->code = code;
	va_start(ap, fmt);
	vsnprintf(v->message, sizeof(v->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Every string within limits, at any depth. */
static int check_strings(const json_t *j, struct report_verdict *v)
{
	const char *k;
	json_t *m;
	size_t i;

	if (json_is_string(j)) {
		if (json_string_length(j) > REPORT_MAX_STRING)
			return refuse(v, 413, "too_large",
				      "a string is longer than %d bytes",
				      REPORT_MAX_STRING);
		return 0;
	}
	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, m) {
			if (strlen(k) > REPORT_MAX_STRING)
				return refuse(v, 413, "too_large",
					      "a key is too long");
			if (check_strings(m, v) < 0)
				return -EINVAL;
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, m)
			if (check_strings(m, v) < 0)
				return -EINVAL;
	}
	return 0;
}

struct field {
	const char *name;
	json_type type;
	int nullable;
};

static const struct field required_fields[SECTION_COUNT][4] = {
	[SECTION_PORTS] = { { "proto", JSON_STRING, 0 },
			    { "address", JSON_STRING, 0 },
			    { "port", JSON_INTEGER, 0 } },
	[SECTION_SERVICES] = { { "name", JSON_STRING, 0 } },
	[SECTION_PROCESSES] = { { "name", JSON_STRING, 0 },
				{ "count", JSON_INTEGER, 0 } },
	[SECTION_PACKAGES] = { { "name", JSON_STRING, 0 },
			       { "version", JSON_STRING, 0 } },
	[SECTION_LOGINS] = { { "user", JSON_STRING, 0 },
			     { "at", JSON_STRING, 0 } },
	[SECTION_MAIL] = { { "source", JSON_STRING, 0 } },
};

static const char *type_name(json_type t)
{
	return t == JSON_STRING ? "string" : t == JSON_INTEGER ? "integer"
					      : "object";
}

/* changelog_cves, where present: at most REPORT_MAIL_MAX_CVES CVE ids. */
static int check_mail_item(const json_t *item, size_t i,
			   struct report_verdict *v)
{
	const json_t *cves = json_object_get(item, "changelog_cves");
	const json_t *c;
	size_t j;

	if (!cves)
		return 0;
	if (!json_is_array(cves))
		return refuse(v, 422, "invalid_field",
			      "sections.mail.items[%zu].changelog_cves: "
			      "expected an array",
			      i);
	if (json_array_size(cves) > REPORT_MAIL_MAX_CVES)
		return refuse(v, 413, "too_large",
			      "sections.mail.items[%zu].changelog_cves: more "
			      "than %d ids",
			      i, REPORT_MAIL_MAX_CVES);
	json_array_foreach(cves, j, c) {
		const char *s = json_string_value(c);

		if (!s || strncmp(s, "CVE-", 4) != 0 || strlen(s) > 32)
			return refuse(v, 422, "invalid_field",
				      "sections.mail.items[%zu]."
				      "changelog_cves[%zu]: expected a CVE id",
				      i, j);
	}
	return 0;
}

/* Each item of arr is an object with the section's required fields. */
static int check_items(enum section s, const char *member, const json_t *arr,
		       const struct field *fields, struct report_verdict *v)
{
	const char *name = section_names[s];
	json_t *item;
	size_t i;

	if (!json_is_array(arr))
		return refuse(v, 422, "invalid_field",
			      "sections.%s.%s: expected an array", name, member);
	if (json_array_size(arr) > REPORT_MAX_ITEMS)
		return refuse(v, 413, "too_large",
			      "sections.%s: more than %d items", name,
			      REPORT_MAX_ITEMS);
	if (s == SECTION_MAIL && json_array_size(arr) > REPORT_MAIL_MAX_ITEMS)
		return refuse(v, 413, "too_large",
			      "sections.mail: more than %d items",
			      REPORT_MAIL_MAX_ITEMS);
	json_array_foreach(arr, i, item) {
		if (!json_is_object(item))
			return refuse(v, 422, "invalid_field",
				      "sections.%s.%s[%zu]: expected an "
				      "object",
				      name, member, i);
		for (const struct field *f = fields; f->name; f++) {
			json_t *m = json_object_get(item, f->name);

			if (!m)
				return refuse(v, 422, "missing_field",
					      "missing field: sections.%s."
					      "%s[%zu].%s",
					      name, member, i, f->name);
			if (json_typeof(m) != f->type)
				return refuse(v, 422, "invalid_field",
					      "sections.%s.%s[%zu].%s: "
					      "expected %s",
					      name, member, i, f->name,
					      type_name(f->type));
		}
		if (s == SECTION_MAIL && check_mail_item(item, i, v) < 0)
			return -EINVAL;
		if (s == SECTION_PORTS) {
			json_int_t port = json_integer_value(
				json_object_get(item, "port"));

			if (port < 0 || port > 65535)
				return refuse(v, 422, "invalid_field",
					      "sections.ports.items[%zu].port: "
					      "out of range",
					      i);
		}
	}
	return 0;
}

static const struct field removed_fields[] = { { "name", JSON_STRING, 0 },
					       { NULL, 0, 0 } };

/* A packages section sent as a delta from the state whose hash is "base":
 * the items "added" (new or changed) and the identities "removed".  Its
 * hash can only be checked against the stored state, by the store. */
static int check_delta(enum section s, json_t *sec, const char *claimed,
		       struct ingest_section *out, struct report_verdict *v)
{
	const char *name = section_names[s];
	const char *base = json_get_str(sec, "base");
	json_t *added = json_object_get(sec, "added");
	json_t *removed = json_object_get(sec, "removed");
	json_t *item;
	size_t i;

	if (s != SECTION_PACKAGES)
		return refuse(v, 422, "invalid_field",
			      "sections.%s: only packages may be sent as a "
			      "delta",
			      name);
	if (!base || strlen(base) != 64)
		return refuse(v, 422, "invalid_field",
			      "sections.%s.base: expected a hash", name);
	if (!claimed || strlen(claimed) != 64)
		return refuse(v, 422, "missing_field",
			      "missing field: sections.%s.hash", name);
	if (json_object_get(sec, "items"))
		return refuse(v, 422, "invalid_field",
			      "sections.%s: a delta has no items", name);
	if (!added && json_object_set_new(sec, "added", json_array()) < 0)
		return refuse(v, 500, "internal", "out of memory");
	if (!removed && json_object_set_new(sec, "removed", json_array()) < 0)
		return refuse(v, 500, "internal", "out of memory");
	added = json_object_get(sec, "added");
	removed = json_object_get(sec, "removed");
	if (check_items(s, "added", added, required_fields[s], v) < 0 ||
	    check_items(s, "removed", removed, removed_fields, v) < 0)
		return -EINVAL;
	if (json_array_size(added) + json_array_size(removed) >
	    REPORT_MAX_ITEMS)
		return refuse(v, 413, "too_large",
			      "sections.%s: more than %d items", name,
			      REPORT_MAX_ITEMS);
	json_array_foreach(removed, i, item) {
		json_t *arch = json_object_get(item, "arch");

		if (arch && !json_is_string(arch) && !json_is_null(arch))
			return refuse(v, 422, "invalid_field",
				      "sections.%s.removed[%zu].arch: "
				      "expected string or null",
				      name, i);
	}
	snprintf(out->hash, sizeof(out->hash), "%s", claimed);
	snprintf(out->base_hash, sizeof(out->base_hash), "%s", base);
	json_object_del(sec, "hash");
	out->body = json_incref(sec);
	if (json_array_size(added)) {
		out->digests = malloc(json_array_size(added) * REPORT_SUM_LEN);
		if (!out->digests)
			return refuse(v, 500, "internal", "out of memory");
	}
	json_array_foreach(added, i, item)
		if (report_item_digest(item, out->digests + i * REPORT_SUM_LEN) < 0)
			return refuse(v, 500, "internal", "cannot hash");
	out->delta = 1;
	out->full = 1;
	return 0;
}

/* Whether claimed is the section's hash as a 0.1.0 agent computes it: such
 * an agent's full sections are taken (under the server's own hash), and
 * its next bare hashes get a 409, so it keeps reporting until upgraded. */
static int legacy_hash(json_t *body, const char *claimed)
{
	char v1[SHA256_HEX_LEN];

	return report_section_hash_v1(body, v1) == 0 && strcmp(v1, claimed) == 0;
}

static int check_section(enum section s, json_t *sec,
			 struct ingest_section *out, struct report_verdict *v)
{
	const char *name = section_names[s];
	const char *claimed = json_get_str(sec, "hash");
	char claimed_copy[SHA256_HEX_LEN + 1] = "";
	json_t *items = json_object_get(sec, "items");

	if (!json_is_object(sec))
		return refuse(v, 422, "invalid_field",
			      "sections.%s: expected an object", name);
	out->present = 1;
	if (json_object_get(sec, "base"))
		return check_delta(s, sec, claimed, out, v);
	if (!items) {
		if (!claimed || strlen(claimed) != 64)
			return refuse(v, 422, "missing_field",
				      "sections.%s: needs items, or a hash "
				      "alone when unchanged",
				      name);
		snprintf(out->hash, sizeof(out->hash), "%s", claimed);
		return 0;
	}
	if (check_items(s, "items", items, required_fields[s], v) < 0)
		return -EINVAL;
	/* The server's own hash, never the agent's word for it.  The
	 * section becomes the body in place: the report is ours to change,
	 * and a copy of a thousand packages is not free. */
	if (claimed)
		snprintf(claimed_copy, sizeof(claimed_copy), "%s", claimed);
	json_object_del(sec, "hash");
	out->body = json_incref(sec);
	/* Packages are stored as rows: their digests, not their text. */
	if (report_section_canonical(out->body, out->hash,
				     s == SECTION_PACKAGES ? NULL : &out->text,
				     out->sum,
				     s == SECTION_PACKAGES ? &out->digests
							   : NULL) < 0)
		return refuse(v, 500, "internal", "cannot hash");
	if (claimed && strcmp(claimed_copy, out->hash) != 0 &&
	    !legacy_hash(out->body, claimed_copy))
		return refuse(v, 422, "hash_mismatch",
			      "sections.%s: hash does not match the content",
			      name);
	out->full = 1;
	return 0;
}

int report_check(json_t *rep, const char *agent_id, struct ingest_job *job,
		 struct report_verdict *v)
{
	json_t *agent, *host, *sections, *sec;
	json_t *schema = json_object_get(rep, "schema");
	const char *id, *collected;
	int64_t t;

	if (json_depth(rep) > REPORT_MAX_DEPTH)
		return refuse(v, 413, "too_large", "nested deeper than %d",
			      REPORT_MAX_DEPTH);
	if (check_strings(rep, v) < 0)
		return -EINVAL;
	if (!schema)
		return refuse(v, 422, "missing_field", "missing field: schema");
	if (!json_is_integer(schema) || json_integer_value(schema) != REPORT_SCHEMA)
		return refuse(v, 422, "unsupported_schema",
			      "schema: only %d is understood", REPORT_SCHEMA);
	agent = json_object_get(rep, "agent");
	id = json_get_str(agent, "id");
	if (!id)
		return refuse(v, 422, "missing_field", "missing field: agent.id");
	if (strcmp(id, agent_id) != 0)
		return refuse(v, 403, "forbidden",
			      "this token belongs to another host");
	host = json_object_get(rep, "host");
	if (!json_is_object(host))
		return refuse(v, 422, "missing_field", "missing field: host");
	if (!json_get_str(host, "hostname"))
		return refuse(v, 422, "missing_field",
			      "missing field: host.hostname");
	collected = json_get_str(rep, "collected_at");
	if (collected && time_parse(collected, &t) < 0)
		return refuse(v, 422, "invalid_field",
			      "collected_at: expected an RFC 3339 time");
	sections = json_object_get(rep, "sections");
	if (!json_is_object(sections))
		return refuse(v, 422, "missing_field", "missing field: sections");
	for (int s = 0; s < SECTION_COUNT; s++) {
		sec = json_object_get(sections, section_names[s]);
		if (sec && check_section(s, sec, &job->sec[s], v) < 0)
			return -EINVAL;
	}
	return 0;
}

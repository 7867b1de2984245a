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

/* Every string within limits, at any depth.  The sections' contents
 * are not looked at here: an over-long string there costs its item or
 * header member only (check_section()). */
static int check_strings(const json_t *j, int top, struct report_verdict *v)
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
			if (top && strcmp(k, "sections") == 0 &&
			    json_is_object(m))
				continue;
			if (check_strings(m, 0, v) < 0)
				return -EINVAL;
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, m)
			if (check_strings(m, 0, v) < 0)
				return -EINVAL;
	}
	return 0;
}

/* What the server left out of one section, kept with it as "rejected". */
struct rejects {
	size_t items, fields;
	char first[256];
};

static void rejects_note(struct rejects *rj, int item, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void rejects_note(struct rejects *rj, int item, const char *fmt, ...)
{
	va_list ap;

	if (!rj->items && !rj->fields) {
		va_start(ap, fmt);
		vsnprintf(rj->first, sizeof(rj->first), fmt, ap);
		va_end(ap);
	}
	if (item)
		rj->items++;
	else
		rj->fields++;
}

static int rejects_put(const struct rejects *rj, json_t *sec)
{
	json_object_del(sec, "rejected");
	if (!rj->items && !rj->fields)
		return 0;
	return json_object_set_new(sec, "rejected",
				   json_pack("{s:I,s:I,s:s}", "items",
					     (json_int_t)rj->items, "fields",
					     (json_int_t)rj->fields, "first",
					     rj->first));
}

/* A removed package: its identity alone. */
static int removed_check(const json_t *item, char *why, size_t size)
{
	json_t *arch = json_object_get(item, "arch");
	const char *name = json_get_str(item, "name");

	if (!json_is_object(item) || !name) {
		snprintf(why, size, "name: missing");
		return -EINVAL;
	}
	if ((arch && !json_is_string(arch) && !json_is_null(arch)) ||
	    strlen(name) > REPORT_MAX_STRING ||
	    json_string_length(arch) > REPORT_MAX_STRING) {
		snprintf(why, size, "arch: expected a string or null");
		return -EINVAL;
	}
	return 0;
}

/* Marks in *ret_drop (calloc'd when the first is found; NULL while none
 * is) each item of arr the server does not store, and those beyond the
 * cap.  0, or -ENOMEM. */
static int mark_items(enum section s, const char *member, const json_t *arr,
		      struct rejects *rj, unsigned char **ret_drop)
{
	int removed = strcmp(member, "removed") == 0;
	unsigned char *drop = NULL;
	char why[160];
	json_t *item;
	size_t i;

	*ret_drop = NULL;
	json_array_foreach(arr, i, item) {
		int bad = i >= report_max_items(s);

		if (bad)
			snprintf(why, sizeof(why), "beyond %zu items",
				 report_max_items(s));
		else
			bad = (removed ? removed_check(item, why, sizeof(why))
				       : report_item_check(s, item, why,
							   sizeof(why))) < 0;
		if (!bad)
			continue;
		if (!drop && !(drop = calloc(json_array_size(arr), 1)))
			return -ENOMEM;
		drop[i] = 1;
		rejects_note(rj, 1, "sections.%s.%s[%zu]: %s", section_names[s],
			     member, i, why);
	}
	*ret_drop = drop;
	return 0;
}

static int drop_marked(json_t *sec, const char *member,
		       const unsigned char *drop)
{
	json_t *arr = json_object_get(sec, member), *kept, *item;
	size_t i;

	if (!drop)
		return 0;
	if (!(kept = json_array()))
		return -ENOMEM;
	json_array_foreach(arr, i, item)
		if (!drop[i] && json_array_append(kept, item) < 0) {
			json_decref(kept);
			return -ENOMEM;
		}
	return json_object_set_new(sec, member, kept);
}

/* Not part of a section's header. */
static int not_header(const char *k)
{
	return strcmp(k, "hash") == 0 || strcmp(k, "items") == 0 ||
	       strcmp(k, "base") == 0 || strcmp(k, "added") == 0 ||
	       strcmp(k, "removed") == 0;
}

/* Counts the header members the server does not keep; with del set,
 * deletes them (without noting them again). */
static void header_members(enum section s, json_t *sec, int del,
			   struct rejects *rj)
{
	const char *k;
	json_t *m;
	void *tmp;
	char why[160];

	json_object_foreach_safe(sec, tmp, k, m) {
		if (not_header(k) ||
		    report_header_check(s, k, m, why, sizeof(why)) == 0)
			continue;
		if (del)
			json_object_del(sec, k);
		else if (strcmp(k, "rejected") != 0)
			rejects_note(rj, 0, "sections.%s.%s", section_names[s],
				     why);
	}
}

static const char *const delta_members[] = { "added", "removed" };

/* A packages section sent as a delta from the state whose hash is "base":
 * the items "added" (new or changed) and the identities "removed".  Its
 * hash can only be checked against the stored state, by the store.  An
 * item or header member the server does not keep is left out as in a
 * full section; the delta then no longer leads to the hash the agent
 * claims, so the store answers 409 and the agent sends the section in
 * full, where the same items are dropped and the rest stored. */
static int check_delta(enum section s, json_t *sec, const char *claimed,
		       struct ingest_section *out, struct report_verdict *v)
{
	const char *name = section_names[s];
	const char *base = json_get_str(sec, "base");
	struct rejects rj = { 0 };
	json_t *added, *item;
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
	for (int d = 0; d < 2; d++) {
		const char *member = delta_members[d];
		json_t *arr = json_object_get(sec, member);
		unsigned char *drop;
		int r;

		if (!arr && json_object_set_new(sec, member, json_array()) < 0)
			return refuse(v, 500, "internal", "out of memory");
		arr = json_object_get(sec, member);
		if (!json_is_array(arr))
			return refuse(v, 422, "invalid_field",
				      "sections.%s.%s: expected an array",
				      name, member);
		r = mark_items(s, member, arr, &rj, &drop);
		if (r == 0)
			r = drop_marked(sec, member, drop);
		free(drop);
		if (r < 0)
			return refuse(v, 500, "internal", "out of memory");
	}
	header_members(s, sec, 0, &rj);
	header_members(s, sec, 1, &rj);
	if (rejects_put(&rj, sec) < 0)
		return refuse(v, 500, "internal", "out of memory");
	added = json_object_get(sec, "added");
	snprintf(out->hash, sizeof(out->hash), "%s", claimed);
	snprintf(out->delta_base, sizeof(out->delta_base), "%s", base);
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

/* The hash and items' sum of sec as received (its "hash" aside), on a
 * copy: sec's own items keep their order, which the marks refer to. */
static int whole_hash(json_t *sec, char hash[SHA256_HEX_LEN],
		      unsigned char sum[REPORT_SUM_LEN], const char *claimed,
		      int *ret_legacy)
{
	json_t *copy = json_copy(sec);
	json_t *items = json_copy(json_object_get(sec, "items"));
	int r = -ENOMEM;

	*ret_legacy = 0;
	if (copy && items && json_object_set(copy, "items", items) == 0)
		r = report_section_canonical(copy, hash, NULL, sum, NULL);
	if (r == 0 && claimed && strcmp(claimed, hash) != 0)
		*ret_legacy = legacy_hash(copy, claimed);
	json_decref(items);
	json_decref(copy);
	return r;
}

/* A section sent in full.  Items and header members the server does not
 * keep are dropped and counted in "rejected" (the cut rule in
 * common/report.h), the rest is stored. */
static int check_full(enum section s, json_t *sec, const char *claimed,
		      struct ingest_section *out, struct report_verdict *v)
{
	const char *name = section_names[s];
	char whole[SHA256_HEX_LEN], kept[SHA256_HEX_LEN];
	unsigned char sum[REPORT_SUM_LEN];
	struct rejects rj = { 0 };
	unsigned char *drop = NULL;
	int r, changed, legacy = 0;

	if (mark_items(s, "items", json_object_get(sec, "items"), &rj,
		       &drop) < 0)
		return refuse(v, 500, "internal", "out of memory");
	header_members(s, sec, 0, &rj);
	changed = rj.items || rj.fields || json_object_get(sec, "rejected");
	/* The agent's claim is checked against the section it sent, before
	 * anything is left out of it. */
	if (changed && whole_hash(sec, whole, sum, claimed, &legacy) < 0) {
		free(drop);
		return refuse(v, 500, "internal", "cannot hash");
	}
	if (changed && claimed && strcmp(claimed, whole) != 0 && !legacy) {
		free(drop);
		return refuse(v, 422, "hash_mismatch",
			      "sections.%s: hash does not match the content",
			      name);
	}
	r = changed ? drop_marked(sec, "items", drop) : 0;
	free(drop);
	if (changed && r == 0) {
		header_members(s, sec, 1, &rj);
		r = rejects_put(&rj, sec);
	}
	if (r < 0)
		return refuse(v, 500, "internal", "out of memory");
	/* The server's own hash, never the agent's word for it.  The
	 * section becomes the body in place: the report is ours to change,
	 * and a copy of a thousand packages is not free. */
	json_object_del(sec, "hash");
	out->body = json_incref(sec);
	/* Packages are stored as rows: their digests, not their text. */
	if (report_section_canonical(out->body, kept,
				     s == SECTION_PACKAGES ? NULL : &out->text,
				     out->sum,
				     s == SECTION_PACKAGES ? &out->digests
							   : NULL) < 0)
		return refuse(v, 500, "internal", "cannot hash");
	if (!changed && claimed && strcmp(claimed, kept) != 0 &&
	    !legacy_hash(out->body, claimed))
		return refuse(v, 422, "hash_mismatch",
			      "sections.%s: hash does not match the content",
			      name);
	snprintf(out->hash, sizeof(out->hash), "%s", kept);
	/* With items left out, the stored hash is still that of the section
	 * as received, so the agent's next bare hash of the unchanged
	 * section matches and costs no 409 and no resend.  Packages are the
	 * exception: a delta adds to the stored rows' sum, which must then
	 * be theirs, so they keep the hash of what is stored, and the next
	 * bare hash or delta gets a 409 and the section in full (one extra
	 * round trip per report, only for an agent that does not apply the
	 * cut rule itself). */
	if (changed && s != SECTION_PACKAGES && !legacy) {
		snprintf(out->hash, sizeof(out->hash), "%s", whole);
		memcpy(out->sum, sum, REPORT_SUM_LEN);
	}
	out->full = 1;
	return 0;
}

/* A section whose collector failed on the agent (SPEC section 2): only
 * its error is read, cut to REPORT_MAX_ERROR bytes at a character
 * boundary and marked with "…"; items and hash, if sent, are not, for
 * the store keeps the section as it was. */
static int check_failed(enum section s, const json_t *err,
			struct ingest_section *out, struct report_verdict *v)
{
	static const char mark[] = "\xe2\x80\xa6";	/* … */
	const char *text = json_string_value(err);
	size_t len = json_string_length(err);

	if (!json_is_string(err))
		return refuse(v, 422, "invalid_field",
			      "sections.%s.error: expected a string",
			      section_names[s]);
	if (len == 0) {
		text = "unknown error";
		len = strlen(text);
	}
	if (len > REPORT_MAX_ERROR) {
		len = REPORT_MAX_ERROR - (sizeof(mark) - 1);
		while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
			len--;
		snprintf(out->error, sizeof(out->error), "%.*s%s", (int)len,
			 text, mark);
	} else {
		snprintf(out->error, sizeof(out->error), "%.*s", (int)len,
			 text);
	}
	out->failed = 1;
	return 0;
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
	/* "error": null is no error, as a serializer may write it. */
	if (json_object_get(sec, "error") &&
	    !json_is_null(json_object_get(sec, "error")))
		return check_failed(s, json_object_get(sec, "error"), out, v);
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
	if (!json_is_array(items))
		return refuse(v, 422, "invalid_field",
			      "sections.%s.items: expected an array", name);
	if (claimed)
		snprintf(claimed_copy, sizeof(claimed_copy), "%s", claimed);
	return check_full(s, sec, claimed ? claimed_copy : NULL, out, v);
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
	if (check_strings(rep, 1, v) < 0)
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
	/* collected_at is optional: of another type it is dropped; a time
	 * more than a day ahead (a host whose clock is wrong) is stored as
	 * the time the report arrived, not as sent. */
	if (json_object_get(rep, "collected_at") &&
	    !json_is_string(json_object_get(rep, "collected_at")))
		json_object_del(rep, "collected_at");
	collected = json_get_str(rep, "collected_at");
	if (collected && time_parse(collected, &t) < 0)
		return refuse(v, 422, "invalid_field",
			      "collected_at: expected an RFC 3339 time");
	if (collected && t > time_now() + REPORT_MAX_AHEAD_S &&
	    json_set_time(rep, "collected_at", time_now()) < 0)
		return refuse(v, 500, "internal", "out of memory");
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

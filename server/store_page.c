/*
 * store_page.c - a page of a list, as every list of the API answers: up to
 * limit rows, the count of all and the cursor of the next page.
 */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "jsonutil.h"
#include "rules.h"
#include "timeutil.h"

/* See store_int.h. */
int store_page_collect(struct db_conn *c, struct db_stmt *s, int limit,
		       json_t *(*fix)(json_t *row), const char *cursor_col,
		       json_t **ret_items, json_t **ret_cursor)
{
	json_t *items = json_array(), *last = NULL;
	int r, n = 0;

	*ret_cursor = json_null();
	while ((r = db_step(c, s)) == DB_ROW) {
		json_t *row;

		if (n == limit) {
			json_t *v = json_object_get(last, cursor_col);
			char cur[CURSOR_MAX];

			if (json_is_integer(v))
				cursor_format_id(json_integer_value(v), cur);
			else
				snprintf(cur, sizeof(cur), "%s",
					 json_is_string(v) ? json_string_value(v)
							   : "");
			json_decref(*ret_cursor);
			*ret_cursor = json_string(cur);
			r = 0;
			break;
		}
		row = db_row_json(s);
		if (fix)
			row = fix(row);
		json_array_append_new(items, row);
		last = row;
		n++;
	}
	db_reset(s);
	if (r < 0) {
		json_decref(items);
		json_decref(*ret_cursor);
		return r;
	}
	*ret_items = items;
	return 0;
}

/* A page of a list: items, the count of all (c's "SELECT count(*)", bound)
 * and the cursor of the next page.  Takes items and cursor either way. */
int store_page_make(struct db_conn *c, struct db_stmt *count, json_t *items,
		    json_t *cursor, json_t **ret)
{
	int64_t total = 0;
	int r = db_count(c, count, &total);

	if (r < 0) {
		json_decref(items);
		json_decref(cursor);
		return r;
	}
	*ret = json_pack("{s:o,s:I,s:o}", "items", items, "total",
			 (json_int_t)total, "next_cursor", cursor);
	return *ret ? 0 : -ENOMEM;
}

/* Turns the flat mail columns into {"running", "exposed"} and 0/1 into
 * booleans. */

json_t *store_severity_name(json_t *row, const char *key,
			    const char *none_name)
{
	json_int_t level = json_integer_value(json_object_get(row, key));
	const char *name = level > 0 ? rules_severity_name(level) : none_name;

	json_object_set_new(row, key, name ? json_string(name) : json_null());
	return row;
}

/*
 * conf.h - INI configuration described by a table, overridable by flags.
 *
 * Each program describes its keys once in a struct conf_key table; defaults,
 * the file (via inih) and command-line flags all go through the same
 * validation, so "--check-config" and start-up can never disagree.  Errors
 * are written to a caller's buffer as "FILE:LINE: key: what is wrong".
 */
#ifndef DERELICT_CONF_H
#define DERELICT_CONF_H

#include <stddef.h>
#include <stdint.h>

enum conf_type {
	CONF_STRING,	/* char *, malloc'd; "" stays "" */
	CONF_INT,	/* int64_t within [min, max] */
	CONF_SPAN,	/* int64_t seconds, from "90s", "48h", "30d" */
	CONF_PORTS,	/* struct conf_ports from "25, 465, 587" */
};

#define CONF_MAX_PORTS 32

struct conf_ports {
	int n;
	uint16_t port[CONF_MAX_PORTS];
};

struct conf_key {
	const char *section;
	const char *name;	/* also the flag: "--" and '_' as '-' */
	enum conf_type type;
	size_t offset;		/* into the caller's config struct */
	const char *dflt;	/* as it would be written in the file */
	int64_t min, max;	/* for CONF_INT and CONF_SPAN */
	const char *help;
};

#define CONF_ERR_LEN 512

/* Sets every key to its default.  0 or -ENOMEM. */
int conf_defaults(const struct conf_key *keys, void *obj);

/* Reads path over the current values.  0; -ENOENT when the file does not
 * exist (err says so); -EINVAL with err filled. */
int conf_load_file(const struct conf_key *keys, void *obj, const char *path,
		   char err[CONF_ERR_LEN]);

/* Takes the lines that no key of the table names (sections with a name
 * of their own, say "[webhook ops]"): 0 when it took the line, -ENOENT
 * when it does not know it either (an unknown key), else a negative errno
 * with *why saying what is wrong with the value. */
typedef int conf_section_fn(void *user, const char *section, const char *name,
			    const char *value, const char **why);

/* conf_load_file(), with other given the lines no key names. */
int conf_load_file_with(const struct conf_key *keys, void *obj,
			const char *path, conf_section_fn *other,
			void *other_user, char err[CONF_ERR_LEN]);

/* Sets one key by name ("listen" or "enroll-secret-file").  0; -ENOENT for
 * an unknown name; -EINVAL with err filled. */
int conf_set(const struct conf_key *keys, void *obj, const char *name,
	     const char *value, char err[CONF_ERR_LEN]);

/* Finds the key a "--flag" names, or NULL. */
const struct conf_key *conf_find_flag(const struct conf_key *keys,
				      const char *flag);

/* Frees every CONF_STRING value; the struct may be reused after defaults. */
void conf_free(const struct conf_key *keys, void *obj);

/* Prints "  --name VALUE  help (default)" lines for usage texts. */
void conf_print_flags(const struct conf_key *keys, void *stream);

#endif

/*
 * state.h - the agent's files in its state directory: its id, the token
 * and whether the server ever took a report under it, the acknowledged
 * section hashes, and the packages section the server last acknowledged
 * (the base of the next item delta, delta.h).
 */
#ifndef DERELICT_AGENT_STATE_H
#define DERELICT_AGENT_STATE_H

#include <jansson.h>

#include "hash.h"
#include "report.h"

/* The file in the state directory, mode 0600:
 *
 *   derelict-packages 1
 *   <the section's hash>
 *   <its header: the section without "hash" and "items", canonical JSON>
 *   <one item per line, its canonical JSON, in strcmp order>
 *
 * Each item line is exactly the text its digest is taken of, so checking
 * the file against the acknowledged hash costs one SHA-256 pass and no
 * JSON parsing, and a delta is found by comparing texts. */
#define STATE_PACKAGES_FILE "packages"
#define STATE_PACKAGES_MAGIC "derelict-packages 1"
/* A larger file is not read (the section is then sent in full); 50,000
 * items of a few hundred bytes fit well within. */
#define STATE_PACKAGES_MAX ((size_t)64 << 20)

#define AGENT_ID_LEN 37		/* UUID text and NUL */
#define TOKEN_MAX 512

/* Reads <dir>/agent-id, or makes a new UUID and stores it (creating dir,
 * mode 0700) when create is set.  0, -ENOENT without the file and create,
 * or negative errno. */
int state_agent_id(const char *dir, int create, char out[AGENT_ID_LEN]);

/* Reads <dir>/token into out.  0, -ENOENT, -EINVAL when empty or too long,
 * or negative errno. */
int state_read_token(const char *dir, char out[TOKEN_MAX]);
/* Replaces <dir>/token atomically, mode 0600.  0 or negative errno. */
int state_write_token(const char *dir, const char *token);
/* Whether the server ever accepted a report under token: <dir>/token-ok
 * holds the token's SHA-256 once it did (state_confirm_token()).  A token
 * refused before that was never the server's (an enrollment it did not
 * keep), and the agent enrolls again; one refused after it was revoked. */
int state_token_confirmed(const char *dir, const char *token);
/* Notes that the server accepted a report under token.  0 or negative
 * errno. */
int state_confirm_token(const char *dir, const char *token);
/* Removes <dir>/token and <dir>/token-ok.  0 (also when they were not
 * there) or negative errno. */
int state_drop_token(const char *dir);

/* The acknowledged hash of each section ("" when none), from
 * <dir>/hashes.  A missing or unreadable file means none: 0 always but for
 * bad arguments. */
int state_read_hashes(const char *dir,
		      char out[SECTION_COUNT][SHA256_HEX_LEN]);
/* Replaces <dir>/hashes atomically.  0 or negative errno. */
int state_write_hashes(const char *dir,
		       char hashes[SECTION_COUNT][SHA256_HEX_LEN]);

/* The server URL that last answered, kept in <dir>/server so that the next
 * run starts from it when `server` lists several.  state_read_server():
 * 0 with out filled, -ENOENT, or negative errno; state_write_server()
 * replaces the file atomically.  0 or negative errno. */
#define STATE_URL_MAX 2048
int state_read_server(const char *dir, char out[STATE_URL_MAX]);
int state_write_server(const char *dir, const char *url);

/* Reads a secret file: its first line, trimmed.  0, or negative errno
 * (-EINVAL when empty). */
int state_read_secret(const char *path, char *out, size_t size);

/* The items of an acknowledged section, as the file keeps them. */
struct state_items {
	char *data;		/* the file, each line cut at its newline */
	char **text;		/* n canonical item texts in data, sorted */
	size_t n;
};

/* Frees what state_read_packages() filled; accepts a zeroed struct. */
void state_items_free(struct state_items *items);

/* Reads <dir>/packages into *ret, but only if the hash of what it holds,
 * recomputed here, is acked: a stale, damaged or foreign file is as good
 * as none.  0; -ENOENT when the file or acked is missing; -EBADMSG when
 * it is not in the form above (item lines not sorted, more than
 * REPORT_MAX_ITEMS of them); -ESTALE when its hash is not acked; -E2BIG
 * past STATE_PACKAGES_MAX; -ENOMEM or another negative errno from
 * reading.  *ret is untouched on failure. */
int state_read_packages(const char *dir, const char *acked,
			struct state_items *ret);

/* Replaces <dir>/packages atomically (temporary file, fsync, rename),
 * mode 0600, with the full section given (its items and "hash").  Call it
 * only once the server acknowledged that section.  0, -EINVAL for a
 * section without hash or items, or negative errno; the old file stays
 * on failure. */
int state_write_packages(const char *dir, const json_t *section);

#endif

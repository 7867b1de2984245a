/*
 * state.c - the agent's files in its state directory: agent-id, token
 * (0600), the hashes the server last acknowledged and the packages section
 * it last acknowledged, which deltas are computed against.
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "buf.h"
#include "jsonutil.h"
#include "procfs.h"

static int state_path(char *out, size_t size, const char *dir,
		      const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int ensure_dir(const char *dir)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Writes data to dir/name through a temporary file and rename(2), so a
 * crash leaves the old file or the new one, never half of one. */
static int write_atomic(const char *dir, const char *name, const char *data,
			mode_t mode)
{
	char path[4096], tmp[4096];
	size_t len = strlen(data), off = 0;
	int fd, r;

	if ((r = ensure_dir(dir)) < 0 ||
	    (r = state_path(path, sizeof(path), dir, name)) < 0 ||
	    (r = state_path(tmp, sizeof(tmp), dir, ".tmp-state")) < 0)
		return r;
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto fail;
		}
		off += (size_t)n;
	}
	/* The umask must not loosen or tighten what we asked for. */
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (close(fd) < 0) {
		r = -errno;
		(void)unlink(tmp);
		return r;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		(void)unlink(tmp);
		return r;
	}
	return 0;
fail:
	close(fd);
	(void)unlink(tmp);
	return r;
}

static void trim(char *s)
{
	size_t len = strlen(s);

	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' ||
		       s[len - 1] == ' ' || s[len - 1] == '\t'))
		s[--len] = '\0';
}

int state_agent_id(const char *dir, int create, char out[AGENT_ID_LEN])
{
	char path[4096], text[128];
	uuid_t u;
	ssize_t n;
	int r;

	if ((r = state_path(path, sizeof(path), dir, "agent-id")) < 0)
		return r;
	n = procfs_read_small_file(path, text, sizeof(text));
	if (n >= 0) {
		trim(text);
		if (uuid_parse(text, u) == 0) {
			uuid_unparse_lower(u, out);
			return 0;
		}
		/* A damaged id is replaced like a missing one. */
	} else if (n != -ENOENT) {
		return (int)n;
	}
	if (!create)
		return -ENOENT;
	uuid_generate_random(u);
	uuid_unparse_lower(u, text);
	r = snprintf(path, sizeof(path), "%s\n", text) < 0 ? -EIO : 0;
	if (r == 0)
		r = write_atomic(dir, "agent-id", path, 0600);
	if (r < 0)
		return r;
	memcpy(out, text, AGENT_ID_LEN);
	return 0;
}

int state_read_secret(const char *path, char *out, size_t size)
{
	ssize_t n = procfs_read_small_file(path, out, size);

	if (n < 0)
		return (int)n;
	out[strcspn(out, "\r\n")] = '\0';
	trim(out);
	return out[0] ? 0 : -EINVAL;
}

int state_read_server(const char *dir, char out[STATE_URL_MAX])
{
	char path[4096];
	int r;

	if ((r = state_path(path, sizeof(path), dir, "server")) < 0)
		return r;
	return state_read_secret(path, out, STATE_URL_MAX);
}

int state_write_server(const char *dir, const char *url)
{
	char text[STATE_URL_MAX + 1];

	if (!*url || strlen(url) >= STATE_URL_MAX || strchr(url, '\n'))
		return -EINVAL;
	snprintf(text, sizeof(text), "%s\n", url);
	return write_atomic(dir, "server", text, 0644);
}

int state_read_token(const char *dir, char out[TOKEN_MAX])
{
	char path[4096];
	int r;

	if ((r = state_path(path, sizeof(path), dir, "token")) < 0)
		return r;
	return state_read_secret(path, out, TOKEN_MAX);
}

int state_write_token(const char *dir, const char *token)
{
	char text[TOKEN_MAX + 2];

	if (!*token || strlen(token) >= TOKEN_MAX || strchr(token, '\n'))
		return -EINVAL;
	snprintf(text, sizeof(text), "%s\n", token);
	return write_atomic(dir, "token", text, 0600);
}

int state_token_confirmed(const char *dir, const char *token)
{
	char path[4096], want[SHA256_HEX_LEN], have[SHA256_HEX_LEN + 2];

	if (state_path(path, sizeof(path), dir, "token-ok") < 0 ||
	    sha256_hex(token, strlen(token), want) < 0 ||
	    state_read_secret(path, have, sizeof(have)) < 0)
		return 0;
	return strcmp(have, want) == 0;
}

int state_confirm_token(const char *dir, const char *token)
{
	char hex[SHA256_HEX_LEN], text[SHA256_HEX_LEN + 1];
	int r = sha256_hex(token, strlen(token), hex);

	if (r < 0)
		return r;
	snprintf(text, sizeof(text), "%s\n", hex);
	return write_atomic(dir, "token-ok", text, 0600);
}

int state_drop_token(const char *dir)
{
	static const char *const names[] = { "token", "token-ok" };
	char path[4096];
	int r;

	for (size_t i = 0; i < 2; i++) {
		if ((r = state_path(path, sizeof(path), dir, names[i])) < 0)
			return r;
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}

int state_read_hashes(const char *dir, char out[SECTION_COUNT][SHA256_HEX_LEN])
{
	char path[4096], line[256];
	FILE *f;

	for (int s = 0; s < SECTION_COUNT; s++)
		out[s][0] = '\0';
	if (state_path(path, sizeof(path), dir, "hashes") < 0)
		return -EINVAL;
	f = fopen(path, "re");
	if (!f)
		return 0;
	/* "section hash" per line; anything else is ignored. */
	while (fgets(line, sizeof(line), f)) {
		char name[32], hash[SHA256_HEX_LEN];
		int s;

		if (sscanf(line, "%31s %64s", name, hash) != 2 ||
		    strlen(hash) != SHA256_HEX_LEN - 1)
			continue;
		s = section_from_name(name);
		if (s >= 0)
			memcpy(out[s], hash, SHA256_HEX_LEN);
	}
	fclose(f);
	return 0;
}

int state_write_hashes(const char *dir,
		       char hashes[SECTION_COUNT][SHA256_HEX_LEN])
{
	char text[SECTION_COUNT * (SHA256_HEX_LEN + 32)];
	size_t off = 0;

	text[0] = '\0';
	for (int s = 0; s < SECTION_COUNT; s++) {
		int n;

		if (!hashes[s][0])
			continue;
		n = snprintf(text + off, sizeof(text) - off, "%s %s\n",
			     section_names[s], hashes[s]);
		if (n < 0 || (size_t)n >= sizeof(text) - off)
			return -ENOSPC;
		off += (size_t)n;
	}
	return write_atomic(dir, "hashes", text, 0600);
}

void state_items_free(struct state_items *items)
{
	if (!items)
		return;
	free(items->text);
	free(items->data);
	items->text = NULL;
	items->data = NULL;
	items->n = 0;
}

/* The line at *pos, NUL-terminated in place of its newline, and its
 * length; NULL at the end or for a last line without its newline. */
static char *cut_line(char **pos, char *end, size_t *ret_len)
{
	char *start = *pos, *nl;

	if (start >= end || !(nl = memchr(start, '\n', (size_t)(end - start))))
		return NULL;
	*nl = '\0';
	*pos = nl + 1;
	*ret_len = (size_t)(nl - start);
	return start;
}

static int cmp_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int state_read_packages(const char *dir, const char *acked,
			struct state_items *ret)
{
	struct buf file = BUF_INIT(STATE_PACKAGES_MAX);
	unsigned char sum[REPORT_SUM_LEN] = { 0 }, d[REPORT_SUM_LEN];
	char path[4096], hash[SHA256_HEX_LEN];
	char *pos, *end, *magic, *h, *hdr, *line, **text = NULL;
	size_t n = 0, cap = 0, len;
	json_t *header = NULL;
	json_error_t jerr;
	int r;

	if (!acked || !acked[0])
		return -ENOENT;
	if ((r = state_path(path, sizeof(path), dir, STATE_PACKAGES_FILE)) < 0)
		return r;
	if ((r = buf_read_file(&file, path)) < 0)
		goto out;
	pos = file.data;
	end = file.data + file.len;
	magic = cut_line(&pos, end, &len);
	h = cut_line(&pos, end, &len);
	hdr = cut_line(&pos, end, &len);
	if (!magic || !h || !hdr || strcmp(magic, STATE_PACKAGES_MAGIC) != 0) {
		r = -EBADMSG;
		goto out;
	}
	/* A stale file is ruled out before any hashing. */
	if (strcmp(h, acked) != 0) {
		r = -ESTALE;
		goto out;
	}
	while ((line = cut_line(&pos, end, &len))) {
		if (n == REPORT_MAX_ITEMS || line[0] != '{' ||
		    (n && strcmp(text[n - 1], line) > 0)) {
			r = -EBADMSG;
			goto out;
		}
		if (n == cap) {
			char **t = reallocarray(text, cap ? 2 * cap : 256,
						sizeof(*t));

			if (!t) {
				r = -ENOMEM;
				goto out;
			}
			text = t;
			cap = cap ? 2 * cap : 256;
		}
		text[n++] = line;
		/* The line is the item's canonical text: its digest. */
		sha256_raw(line, len, d);
		report_sum_add(sum, d);
	}
	header = pos == end ? json_parse_buf(hdr, strlen(hdr), &jerr) : NULL;
	if (!json_is_object(header)) {
		r = -EBADMSG;
		goto out;
	}
	r = report_section_hash_sum(header, sum, hash);
	if (r == 0 && strcmp(hash, acked) != 0)
		r = -ESTALE;
out:
	json_decref(header);
	if (r < 0) {
		free(text);
		buf_free(&file);
		return r;
	}
	ret->text = text;
	ret->n = n;
	ret->data = buf_take(&file, NULL);
	return 0;
}

int state_write_packages(const char *dir, const json_t *section)
{
	json_t *items = json_object_get(section, "items"), *it;
	const char *hash = json_get_str(section, "hash");
	struct buf out = BUF_INIT(STATE_PACKAGES_MAX);
	size_t n = json_array_size(items), i;
	char **text = NULL, *hdr = NULL;
	int r = -ENOMEM;

	if (!json_is_array(items) || !hash ||
	    strlen(hash) != SHA256_HEX_LEN - 1)
		return -EINVAL;
	if ((r = report_section_header(section, &hdr)) < 0)
		goto out;
	r = -ENOMEM;
	text = calloc(n ? n : 1, sizeof(*text));
	if (!text)
		goto out;
	json_array_foreach(items, i, it) {
		if (!(text[i] = json_canonical(it)))
			goto out;
	}
	/* Usually sorted already: report_section_hash() sorted the items. */
	qsort(text, n, sizeof(*text), cmp_text);
	if ((r = buf_printf(&out, "%s\n%s\n%s\n", STATE_PACKAGES_MAGIC, hash,
			    hdr)) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if ((r = buf_puts(&out, text[i])) < 0 ||
		    (r = buf_puts(&out, "\n")) < 0)
			goto out;
	}
	r = write_atomic(dir, STATE_PACKAGES_FILE, out.data, 0600);
out:
	if (text) {
		for (i = 0; i < n; i++)
			free(text[i]);
		free(text);
	}
	free(hdr);
	buf_free(&out);
	return r;
}

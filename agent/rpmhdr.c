/* rpmhdr.c - see rpmhdr.h.  Written from rpm's documented header format
 * (rpm.org, "Package file format": the header structure), not from rpm's
 * code: only the lookups the agent needs, every bound checked first. */
#include "rpmhdr.h"

#include <errno.h>
#include <string.h>

enum {
	TAG_NAME = 1000,
	TAG_VERSION = 1001,
	TAG_RELEASE = 1002,
	TAG_EPOCH = 1003,
	TAG_INSTALLTIME = 1008,
	TAG_ARCH = 1022,
	TAG_SOURCERPM = 1044,
};

enum {
	TYPE_INT32 = 4,
	TYPE_STRING = 6,
	TYPE_I18NSTRING = 9,
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The string at off in the store, or NULL when it does not end inside it,
 * is too long or holds a control character. */
static const char *store_string(const uint8_t *store, uint32_t dl,
				uint32_t off)
{
	const uint8_t *end;
	size_t n;

	if (off >= dl)
		return NULL;
	end = memchr(store + off, '\0', dl - off);
	if (!end)
		return NULL;
	n = (size_t)(end - (store + off));
	if (n > RPMHDR_MAX_STRING)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (store[off + i] < 0x20 || store[off + i] == 0x7f)
			return NULL;
	return (const char *)store + off;
}

int rpmhdr_parse(const uint8_t *blob, size_t len, struct rpmhdr_pkg *ret)
{
	static const uint8_t magic[4] = { 0x8e, 0xad, 0xe8, 0x01 };
	struct rpmhdr_pkg p = { .epoch = -1 };
	const uint8_t *index, *store;
	uint32_t il, dl;

	if (len >= 16 && memcmp(blob, magic, 4) == 0) {
		blob += 8;
		len -= 8;
	}
	if (len < 8)
		return -EBADMSG;
	il = be32(blob);
	dl = be32(blob + 4);
	if (il == 0)
		return -EBADMSG;
	if (il > RPMHDR_MAX_ENTRIES || dl > RPMHDR_MAX_DATA)
		return -E2BIG;
	/* 8 + 16 il + dl fits easily in 64 bits after the caps. */
	if ((uint64_t)8 + (uint64_t)il * 16 + dl > len)
		return -EBADMSG;
	index = blob + 8;
	store = index + (size_t)il * 16;
	for (uint32_t i = 0; i < il; i++) {
		const uint8_t *e = index + (size_t)i * 16;
		uint32_t tag = be32(e), type = be32(e + 4);
		uint32_t off = be32(e + 8), count = be32(e + 12);
		const char **str = NULL;
		int64_t *num = NULL;

		switch (tag) {
		case TAG_NAME: str = &p.name; break;
		case TAG_VERSION: str = &p.version; break;
		case TAG_RELEASE: str = &p.release; break;
		case TAG_ARCH: str = &p.arch; break;
		case TAG_SOURCERPM: str = &p.sourcerpm; break;
		case TAG_EPOCH: num = &p.epoch; break;
		case TAG_INSTALLTIME: num = &p.installtime; break;
		default: continue;
		}
		if (str) {
			if (type != TYPE_STRING && type != TYPE_I18NSTRING)
				return -EBADMSG;
			if (!(*str = store_string(store, dl, off)))
				return -EBADMSG;
		} else {
			if (type != TYPE_INT32 || count < 1 || off % 4 ||
			    off > dl || dl - off < 4)
				return -EBADMSG;
			*num = be32(store + off);
		}
	}
	if (!p.name || !p.version || !p.release || !p.name[0])
		return -ENOENT;
	*ret = p;
	return 0;
}

/* testutil.c - the helpers every Check suite shares (testutil.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "testutil.h"

int testutil_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* A few buffers in turn, so that one call can take two paths. */
static char *next_path(void)
{
	static char paths[4][4096];
	static unsigned next;

	return paths[next++ % 4];
}

static const char *fixtures_dir(void)
{
	const char *fx = getenv("FIXTURES");

	return fx ? fx : "tests/fixtures";
}

const char *testutil_fixture(const char *rel)
{
	char *p = next_path();

	snprintf(p, 4096, "%s/%s", fixtures_dir(), rel);
	return p;
}

const char *testutil_root(const char *name)
{
	char *p = next_path();

	snprintf(p, 4096, "%s/roots/%s", fixtures_dir(), name);
	return p;
}

const char *testutil_repo(const char *rel)
{
	const char *fx = getenv("FIXTURES");
	char *p = next_path();

	if (strncmp(rel, "tests/fixtures/", 15) == 0)
		snprintf(p, 4096, "%s/%s", fixtures_dir(), rel + 15);
	else if (fx)
		snprintf(p, 4096, "%s/../../%s", fx, rel);
	else
		snprintf(p, 4096, "%s", rel);
	return p;
}

void testutil_read(const char *path, struct buf *b)
{
	int r;

	buf_init(b, 64 * 1024 * 1024);
	r = buf_read_file(b, path);
	ck_assert_msg(r == 0, "read %s: %s", path, strerror(-r));
}

void testutil_copy_file(const char *from, const char *to)
{
	char data[8192];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t n;

	ck_assert_msg(in && out, "copy %s to %s: %s", from, to,
		      strerror(errno));
	while ((n = fread(data, 1, sizeof(data), in)) > 0)
		ck_assert_uint_eq(fwrite(data, 1, n, out), n);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
}

json_t *testutil_parse(const char *text)
{
	json_error_t err;
	json_t *v = json_parse_buf(text, strlen(text), &err);

	ck_assert_msg(v != NULL, "parse \"%s\": %s", text, err.text);
	return v;
}

void testutil_tmpdir(char *dir, size_t n, const char *name)
{
	int len = snprintf(dir, n, "/tmp/check-%s-XXXXXX", name);

	ck_assert(len > 0 && (size_t)len < n);
	ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
}

void testutil_rmtree(const char *dir)
{
	char cmd[4200];

	ck_assert_ptr_null(strchr(dir, '\''));
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/*
 * testutil.h - what every Check suite in tests/unit shares: running the
 * suite from main(), finding and reading fixtures, parsing JSON text,
 * temporary directories.  Each helper fails the running test (ck_assert)
 * rather than returning an error, so a test reads as its story.
 *
 * The suites run from the repository root with FIXTURES pointing at
 * tests/fixtures (make unit); without FIXTURES, tests/fixtures is used.
 */
#ifndef DERELICT_TESTUTIL_H
#define DERELICT_TESTUTIL_H

#include <check.h>
#include <jansson.h>
#include <stddef.h>

#include "buf.h"

/* Runs every test case of s, frees it, and answers main()'s exit status:
 * EXIT_FAILURE when a test failed. */
int testutil_run(Suite *s);

/* The path of rel below the fixtures directory, and of the fake root
 * roots/name there.  The answer lives in one of a few static buffers that
 * later calls reuse: copy it to keep it past four more calls. */
const char *testutil_fixture(const char *rel);
const char *testutil_root(const char *name);
/* The path of a file of the repository, rel from its root
 * ("data/eol.json", "tests/fixtures/..."). */
const char *testutil_repo(const char *rel);

/* Reads the file at path into b (initialised here, capped at 64 MiB). */
void testutil_read(const char *path, struct buf *b);
/* Copies the file from to the file to, creating or truncating it. */
void testutil_copy_file(const char *from, const char *to);

/* The JSON value of text; the caller owns it. */
json_t *testutil_parse(const char *text);

/* Makes a new directory /tmp/check-<name>-XXXXXX, whose path goes to dir
 * (n bytes), and removes one with all it holds. */
void testutil_tmpdir(char *dir, size_t n, const char *name);
void testutil_rmtree(const char *dir);

#endif

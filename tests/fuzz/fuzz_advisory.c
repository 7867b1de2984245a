/*
 * fuzz_advisory.c - the advisories loader (shipped format and the Debian
 * Security Tracker's export, told apart by "format"), then matching and
 * the EOL loader over the same bytes.
 */
#include <string.h>

#include "advisory.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct advisory *hits[8];
	struct advisory_db *db = NULL;
	int64_t date;

	if (advisory_load((const char *)data, size, &db) == 0) {
		advisory_match(db, "bookworm", "exim4", "4.96-15+deb12u1",
			       hits, 8);
		advisory_match(db, "", "exim4", "1:4.92-8", hits, 8);
		advisory_match(db, "buster", "postfix", "3.4.14-0+deb10u1",
			       hits, 8);
		for (size_t i = 0; i < advisory_db_count(db); i++)
			if (!advisory_db_get(db, i))
				abort();
		advisory_db_load_eol(db, (const char *)data, size);
		advisory_eol(db, "debian", "10", &date, NULL);
		advisory_eol(db, "ubuntu", "jammy", &date, NULL);
		advisory_db_free(db);
	}
	if (advisory_db_new(&db) == 0) {
		advisory_db_load_eol(db, (const char *)data, size);
		advisory_eol(db, "debian", "12.4", &date, NULL);
		advisory_db_free(db);
	}
	return 0;
}

/*
 * fuzz_mail_log.c - the agent's readers of an MTA's own files: Exim's
 * mainlog, Postfix's syslog lines, an Exim spool header's flags.  The
 * input is all three at once.
 */
#include <stdlib.h>

#include "fuzz_util.h"
#include "mail_activity.h"

static void check(const struct mail_log *l, size_t size)
{
	/* At most one message per line, and the oldest time read is never
	 * after a message's. */
	if (l->delivered < 0 || l->received < 0 ||
	    (size_t)(l->delivered + l->received) > size ||
	    (l->last_delivered && l->since > l->last_delivered) ||
	    (l->last_received && l->since > l->last_received))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	/* The collection time is fixed: 2026-12-01T12:00:00Z. */
	int64_t now = 1796126400;
	struct mail_log exim = { 0 }, postfix = { 0 };

	if (mail_activity_exim_log(text, size, now, &exim) < 0 ||
	    mail_activity_postfix_log(text, size, now, &postfix) < 0)
		abort();
	check(&exim, size);
	check(&postfix, size);
	if (mail_activity_exim_frozen(text, size) > 1)
		abort();
	return 0;
}

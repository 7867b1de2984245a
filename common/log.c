/* log.c - see log.h. */
#include "log.h"

#include <stdio.h>
#include <string.h>

static enum log_level max_level = LOG_LEVEL_INFO;
static int with_prefix = 1;

void log_set_level(enum log_level level)
{
	max_level = level;
}

void log_set_prefix(int on)
{
	with_prefix = on;
}

static void log_line(enum log_level level, int err, const char *fmt, va_list ap)
{
	/* Room for the newline is kept back so a long line is cut, not lost. */
	char line[2048];
	size_t cap = sizeof(line) - 1, n = 0;
	int r;

	if (level > max_level)
		return;
	if (with_prefix) {
		r = snprintf(line, cap, "<%d>", (int)level);
		n = r > 0 ? (size_t)r : 0;
	}
	r = vsnprintf(line + n, cap - n, fmt, ap);
	n = r < 0 ? n : (n + (size_t)r < cap ? n + (size_t)r : cap - 1);
	if (err != 0) {
		r = snprintf(line + n, cap - n, ": %s", strerror(-err));
		n = r < 0 ? n : (n + (size_t)r < cap ? n + (size_t)r : cap - 1);
	}
	line[n++] = '\n';
	/* One write per line keeps lines from several threads whole. */
	fwrite(line, 1, n, stderr);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(level, 0, fmt, ap);
	va_end(ap);
}

int log_msg_errno(enum log_level level, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(level, err < 0 ? err : -err, fmt, ap);
	va_end(ap);
	return err < 0 ? err : -err;
}

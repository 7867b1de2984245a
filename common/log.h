/*
 * log.h - logging to stderr with journald priority prefixes.
 *
 * Every line starts with "<N>" (sd-daemon(3)), so journald files it at the
 * right priority while a terminal still reads it.  Only the top layer of a
 * program logs; library code returns negative errno values instead.
 */
#ifndef DERELICT_LOG_H
#define DERELICT_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

/* Lines above max_level are dropped.  Without a call, LOG_LEVEL_INFO. */
void log_set_level(enum log_level max_level);
/* Whether to prefix lines with "<N>"; on by default. */
void log_set_prefix(int on);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends ": strerror(-err)"; returns err so handlers can
 * "return log_error_errno(r, ...)". err is a negative errno value. */
int log_msg_errno(enum log_level level, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_error_errno(e, ...) log_msg_errno(LOG_LEVEL_ERR, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_msg_errno(LOG_LEVEL_WARNING, (e), __VA_ARGS__)

#endif

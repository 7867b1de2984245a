/*
 * html.h - escaping for the HTML derelictd writes itself (the owners'
 * mails, the answer page): every string that came from an agent or a user
 * goes through it, so it is text and never markup.
 */
#ifndef DERELICT_HTML_H
#define DERELICT_HTML_H

#include "buf.h"

/* Appends s with & < > " ' escaped and control characters (CR and LF too)
 * as spaces.  0, or buf_append()'s -E2BIG / -ENOMEM. */
int html_escape(struct buf *b, const char *s);

#endif

/* html.c - HTML escaping (see html.h). */
#include "html.h"

#include <string.h>

int html_escape(struct buf *b, const char *s)
{
	int r = 0;

	for (; s && *s && r == 0; s++) {
		unsigned char ch = (unsigned char)*s;

		switch (ch) {
		case '&':
			r = buf_puts(b, "&amp;");
			break;
		case '<':
			r = buf_puts(b, "&lt;");
			break;
		case '>':
			r = buf_puts(b, "&gt;");
			break;
		case '"':
			r = buf_puts(b, "&quot;");
			break;
		case '\'':
			r = buf_puts(b, "&#39;");
			break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				ch = ' ';
			r = buf_append(b, &ch, 1);
		}
	}
	return r;
}

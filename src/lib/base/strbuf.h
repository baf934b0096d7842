/* SPDX-License-Identifier: GPL-2.0-or-later */
/* strbuf.h - a growable, NUL-terminated text buffer. */
#ifndef BMAP_STRBUF_H
#define BMAP_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *buf;
	size_t len;
	size_t cap;
	int error;		/* sticky: -ENOMEM once an append failed */
};

void strbuf_init(struct strbuf *sb);
void strbuf_free(struct strbuf *sb);
void strbuf_add(struct strbuf *sb, const char *s);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Bytes of any value (binary data: len counts them, NULs included). */
void strbuf_addbytes(struct strbuf *sb, const void *p, size_t n);
void strbuf_addch(struct strbuf *sb, char c, size_t count);
/* Hand the text over to the caller: *out owns it, sb is empty again. */
int strbuf_detach(struct strbuf *sb, char **out, size_t *len);

#endif

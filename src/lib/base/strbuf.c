/* SPDX-License-Identifier: GPL-2.0-or-later */
/* strbuf.c - a growable, NUL-terminated text buffer. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"

void strbuf_init(struct strbuf *sb)
{
	memset(sb, 0, sizeof(*sb));
}

void strbuf_free(struct strbuf *sb)
{
	free(sb->buf);
	strbuf_init(sb);
}

static int strbuf_grow(struct strbuf *sb, size_t extra)
{
	size_t want, cap;
	char *p;

	if (sb->error)
		return sb->error;
	if (extra > (size_t)-1 / 2 - sb->len) {
		sb->error = -ENOMEM;
		return sb->error;
	}
	want = sb->len + extra + 1;
	if (want <= sb->cap)
		return 0;
	cap = sb->cap ? sb->cap : 4096;
	while (cap < want)
		cap *= 2;
	p = realloc(sb->buf, cap);
	if (!p) {
		sb->error = -ENOMEM;
		return sb->error;
	}
	sb->buf = p;
	sb->cap = cap;
	return 0;
}

void strbuf_add(struct strbuf *sb, const char *s)
{
	size_t n = strlen(s);

	if (strbuf_grow(sb, n))
		return;
	memcpy(sb->buf + sb->len, s, n + 1);
	sb->len += n;
}

void strbuf_addbytes(struct strbuf *sb, const void *p, size_t n)
{
	if (strbuf_grow(sb, n))
		return;
	memcpy(sb->buf + sb->len, p, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void strbuf_addch(struct strbuf *sb, char c, size_t count)
{
	if (strbuf_grow(sb, count))
		return;
	memset(sb->buf + sb->len, c, count);
	sb->len += count;
	sb->buf[sb->len] = '\0';
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->error = -EINVAL;
		return;
	}
	if (strbuf_grow(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

int strbuf_detach(struct strbuf *sb, char **out, size_t *len)
{
	int ret = sb->error;

	if (!ret && !sb->buf)
		ret = strbuf_grow(sb, 0);
	if (ret) {
		strbuf_free(sb);
		return ret;
	}
	*out = sb->buf;
	if (len)
		*len = sb->len;
	strbuf_init(sb);
	return 0;
}

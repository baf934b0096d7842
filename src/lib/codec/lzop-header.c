/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lzop-header.c - lzop's messages, its input read exactly as far as the
 * format says, and each file's header, parsed and its checksum verified.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lzo/lzo1x.h>

#include "base/error.h"
#include "codec/codec.h"
#include "codec/lzop.h"

/* Every lzop file starts with this. */
static const unsigned char lzp_magic[LZP_MAGIC_LEN] = {
	0x89, 'L', 'Z', 'O', 0x00, '\r', '\n', 0x1a, '\n',
};

/* ------------------------------------------------------------------ */
/* Messages                                                            */

int lzp_truncated(struct bmap_err *err)
{
	return codec_truncated(err, "lzop");
}

static int lzp_bad_header(const char *what, struct bmap_err *err)
{
	return codec_corrupt(err, "lzop", "%s (file header)", what);
}

int lzp_corrupt(const struct lzp_block *b, const char *what,
		struct bmap_err *err)
{
	return codec_corrupt(err, "lzop", "%s (block at byte %llu)", what,
			     (unsigned long long)b->at);
}

/* ------------------------------------------------------------------ */
/* Input                                                               */

/* Up to len raw bytes into buf, fewer only at the end of the input. */
int lzp_take(struct lzp *s, unsigned char *buf, size_t len, size_t *got,
	     struct bmap_err *err)
{
	ssize_t n;

	*got = 0;
	while (*got < len) {
		n = codec_input_read(s->in, buf + *got, len - *got);
		if (n < 0)
			return bmap_seterr(err, (int)-n,
					   "cannot read the image: %s",
					   strerror((int)-n));
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

/* Exactly len raw bytes into buf: the end of the input is truncation. */
int lzp_need(struct lzp *s, unsigned char *buf, size_t len,
	     struct bmap_err *err)
{
	size_t got;
	int ret = lzp_take(s, buf, len, &got, err);

	if (ret < 0)
		return ret;
	return got < len ? lzp_truncated(err) : 0;
}

/* A buffer of at least size bytes; its contents need not be kept. */
int lzp_grow(unsigned char **buf, size_t *cur, size_t size,
	     struct bmap_err *err)
{
	if (*cur >= size)
		return 0;
	free(*buf);
	*cur = 0;
	*buf = malloc(size);
	if (!*buf)
		return bmap_seterr(err, ENOMEM, "lzop: out of memory");
	*cur = size;
	return 0;
}

/* ------------------------------------------------------------------ */
/* File header                                                         */

/* The header checksum (and the extra field's): CRC-32 or Adler-32. */
static uint32_t lzp_hsum_init(uint32_t flags)
{
	return flags & LZP_F_H_CRC32 ? 0 : 1;
}

static uint32_t lzp_hsum(uint32_t flags, uint32_t sum,
			 const unsigned char *p, size_t n)
{
	if (flags & LZP_F_H_CRC32)
		return lzo_crc32(sum, p, n);
	return lzo_adler32(sum, p, n);
}

/* The extra field: a length, that many bytes (lzop writes none and reads
 * none), a checksum of both. */
static int lzp_extra(struct lzp *s, uint32_t flags, struct bmap_err *err)
{
	unsigned char b[LZP_SKIP_CHUNK];
	uint32_t left, sum = lzp_hsum_init(flags);
	size_t n;
	int ret;

	ret = lzp_need(s, b, 4, err);
	if (ret < 0)
		return ret;
	left = lzp_be32(b);
	sum = lzp_hsum(flags, sum, b, 4);
	while (left > 0) {
		n = left < sizeof(b) ? left : sizeof(b);
		ret = lzp_need(s, b, n, err);
		if (ret < 0)
			return ret;
		sum = lzp_hsum(flags, sum, b, n);
		left -= (uint32_t)n;
	}
	ret = lzp_need(s, b, 4, err);
	if (ret < 0)
		return ret;
	if (lzp_be32(b) != sum)
		return lzp_bad_header("extra field checksum mismatch", err);
	return 0;
}

/* Whether this decoder can take a header whose checksum matched. */
static int lzp_check_header(const struct lzp_header *h, struct bmap_err *err)
{
	const uint32_t f = h->flags;

	if (h->needed < LZP_V_FIRST)
		return lzp_bad_header("bad version", err);
	if (h->needed > LZP_V_KNOWN)
		return bmap_seterr(err, EBADMSG, "unsupported lzop data: "
				   "needs lzop %x.%03x", h->needed >> 12,
				   h->needed & 0xfff);
	if (h->method < LZP_M_LZO1X_1 || h->method > LZP_M_LZO1X_999)
		return bmap_seterr(err, EBADMSG, "unsupported lzop "
				   "compression method %u", h->method);
	if (h->level > 9)
		return lzp_bad_header("bad compression level", err);
	if (f & LZP_F_RESERVED)
		return bmap_seterr(err, EBADMSG, "unsupported lzop header "
				   "flags 0x%08lx", (unsigned long)f);
	if (f & LZP_F_FILTER)
		return bmap_seterr(err, EBADMSG, "unsupported lzop filter %lu",
				   (unsigned long)h->filter);
	/* lzop refuses these too: a stored block would go unchecked. */
	if (((f & LZP_F_ADLER32_C) && !(f & LZP_F_ADLER32_D)) ||
	    ((f & LZP_F_CRC32_C) && !(f & LZP_F_CRC32_D)))
		return lzp_bad_header("compressed-data checksum without "
				      "the data checksum", err);
	return 0;
}

/* The header after the magic into buf: its fields in h, *len bytes. */
static int lzp_header_read(struct lzp *s, unsigned char *buf, size_t *len,
			   struct lzp_header *h, struct bmap_err *err)
{
	unsigned char *p = buf;
	bool v2;
	size_t n;
	int ret;

	ret = lzp_need(s, p, 4, err);
	if (ret < 0)
		return ret;
	h->version = lzp_be16(p);
	if (h->version < LZP_V_FIRST)
		return lzp_bad_header("bad version", err);
	v2 = h->version >= LZP_V_FIELDS;
	p += 4;
	/* version needed, method, level, flags */
	n = (v2 ? 4u : 1u) + 4;
	ret = lzp_need(s, p, n, err);
	if (ret < 0)
		return ret;
	h->needed = v2 ? lzp_be16(p) : LZP_V_FIRST;
	p += v2 ? 2 : 0;
	h->method = *p++;
	h->level = v2 ? *p++ : 0;
	h->flags = lzp_be32(p);
	p += 4;
	/* filter, mode, mtime, name length; then name and checksum */
	n = (h->flags & LZP_F_FILTER ? 4u : 0u) + 8 + (v2 ? 4u : 0u) + 1;
	ret = lzp_need(s, p, n, err);
	if (ret < 0)
		return ret;
	h->filter = h->flags & LZP_F_FILTER ? lzp_be32(p) : 0;
	p += n;
	n = (size_t)p[-1] + 4;
	ret = lzp_need(s, p, n, err);
	if (ret < 0)
		return ret;
	*len = (size_t)(p + n - buf);
	return 0;
}

/* A file's header, after its magic. */
static int lzp_header(struct lzp *s, struct bmap_err *err)
{
	unsigned char buf[LZP_HEADER_MAX];
	struct lzp_header h = { 0 };
	uint32_t sum;
	size_t len = 0;
	int ret;

	ret = lzp_header_read(s, buf, &len, &h, err);
	if (ret < 0)
		return ret;
	sum = lzp_hsum(h.flags, lzp_hsum_init(h.flags), buf, len - 4);
	if (lzp_be32(buf + len - 4) != sum)
		return lzp_bad_header("header checksum mismatch", err);
	ret = lzp_check_header(&h, err);
	if (ret < 0)
		return ret;
	if (h.flags & LZP_F_EXTRA) {
		ret = lzp_extra(s, h.flags, err);
		if (ret < 0)
			return ret;
	}
	s->flags = h.flags;
	s->phase = LZP_BLOCKS;
	return 0;
}

/* At the start of a file. After the first, the end of the input may come
 * instead, but nothing else than another lzop magic. */
int lzp_file(struct lzp *s, struct bmap_err *err)
{
	unsigned char m[LZP_MAGIC_LEN];
	size_t got;
	int ret;

	ret = lzp_take(s, m, sizeof(m), &got, err);
	if (ret < 0)
		return ret;
	if (got == 0 && s->files > 0) {
		s->phase = LZP_END;
		return 0;
	}
	if (memcmp(m, lzp_magic, got) == 0 && got < sizeof(m))
		return lzp_truncated(err);
	if (memcmp(m, lzp_magic, got) != 0 && s->files > 0)
		return bmap_seterr(err, EBADMSG, "corrupt lzop data: "
				   "trailing garbage after the last file");
	if (memcmp(m, lzp_magic, got) != 0)
		return bmap_seterr(err, EBADMSG, "not lzop data");
	return lzp_header(s, err);
}


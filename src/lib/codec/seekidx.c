/* SPDX-License-Identifier: GPL-2.0-or-later */
/* seekidx.c - the one encoding of seek points kept between runs. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "base/error.h"
#include "codec/seekidx.h"

static const char magic[8] = "BMAPSEEK";
#define SEEKIDX_VERSION 1u
#define NAME_LEN 16
#define HEAD_LEN (8 + 4 + NAME_LEN + 4 + 8)
#define SUM_LEN 8

static void put_le(unsigned char *b, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *b, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i-- > 0;)
		v = v << 8 | b[i];
	return v;
}

static void add_le(struct strbuf *sb, uint64_t v, size_t n)
{
	unsigned char b[8];

	put_le(b, v, n);
	strbuf_addbytes(sb, b, n);
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--)
		h = (h ^ *p++) * 0x100000001b3ull;
	return h;
}

void seekidx_begin(struct seekidx_out *o, struct strbuf *sb,
		   const char *format, unsigned nfields)
{
	char name[NAME_LEN] = "";

	strncpy(name, format, NAME_LEN - 1);
	o->sb = sb;
	o->start = sb->len;
	o->count = 0;
	o->nfields = nfields;
	strbuf_addbytes(sb, magic, sizeof(magic));
	add_le(sb, SEEKIDX_VERSION, 4);
	strbuf_addbytes(sb, name, NAME_LEN);
	add_le(sb, nfields, 4);
	o->count_at = sb->len;
	add_le(sb, 0, 8);
}

void seekidx_put(struct seekidx_out *o, const uint64_t *fields,
		 const void *blob, uint32_t bloblen)
{
	for (unsigned i = 0; i < o->nfields; i++)
		add_le(o->sb, fields[i], 8);
	add_le(o->sb, bloblen, 4);
	if (bloblen)
		strbuf_addbytes(o->sb, blob, bloblen);
	o->count++;
}

int seekidx_end(struct seekidx_out *o)
{
	struct strbuf *sb = o->sb;

	if (sb->error)
		return sb->error;
	put_le((unsigned char *)sb->buf + o->count_at, o->count, 8);
	/* The list only: what comes before it in sb is not load's. */
	add_le(sb, fnv1a((const unsigned char *)sb->buf + o->start,
			 sb->len - o->start), SUM_LEN);
	return sb->error;
}

int seekidx_open(struct seekidx_in *in, const void *buf, size_t len,
		 const char *format, unsigned nfields, struct bmap_err *err)
{
	const unsigned char *b = buf;
	char name[NAME_LEN] = "";
	uint64_t count, min;

	strncpy(name, format, NAME_LEN - 1);
	if (len < HEAD_LEN + SUM_LEN || memcmp(b, magic, sizeof(magic)))
		return bmap_seterr(err, EINVAL, "saved %s seek points: not "
				   "a seek point list", format);
	if (get_le(b + 8, 4) != SEEKIDX_VERSION)
		return bmap_seterr(err, EINVAL, "saved %s seek points: "
				   "version %u is not known", format,
				   (unsigned)get_le(b + 8, 4));
	if (memcmp(b + 12, name, NAME_LEN) ||
	    get_le(b + 12 + NAME_LEN, 4) != nfields)
		return bmap_seterr(err, EINVAL, "saved %s seek points: they "
				   "are of another format", format);
	if (fnv1a(b, len - SUM_LEN) != get_le(b + len - SUM_LEN, SUM_LEN))
		return bmap_seterr(err, EINVAL, "saved %s seek points: "
				   "damaged (checksum)", format);
	count = get_le(b + 12 + NAME_LEN + 4, 8);
	min = (uint64_t)nfields * 8 + 4;
	if (count > (len - HEAD_LEN - SUM_LEN) / min)
		return bmap_seterr(err, EINVAL, "saved %s seek points: more "
				   "points than the file holds", format);
	in->p = b + HEAD_LEN;
	in->end = b + len - SUM_LEN;
	in->left = count;
	in->nfields = nfields;
	return 0;
}

int seekidx_next(struct seekidx_in *in, uint64_t *fields,
		 const void **blob, uint32_t *bloblen)
{
	size_t need = (size_t)in->nfields * 8 + 4;
	uint32_t n;

	if (in->left == 0)
		return in->p == in->end ? 0 : -EINVAL;
	if ((size_t)(in->end - in->p) < need)
		return -EINVAL;
	for (unsigned i = 0; i < in->nfields; i++)
		fields[i] = get_le(in->p + 8 * i, 8);
	n = (uint32_t)get_le(in->p + (size_t)in->nfields * 8, 4);
	in->p += need;
	if ((size_t)(in->end - in->p) < n)
		return -EINVAL;
	*blob = n ? in->p : NULL;
	*bloblen = n;
	in->p += n;
	in->left--;
	return 1;
}

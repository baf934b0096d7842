/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bz2-table.c - the SEEK side's table of cuts in a bzip2 file: the scan
 * of the whole file for candidate cuts (on `threads` threads), and what
 * the front (from 0) and the back (from the image size, when told) know
 * of their output offsets. See bz2-seek.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "codec/bz2-seek.h"
#include "base/io.h"

/* ------------------------------------------------------------------ */
/* Little things                                                       */

int bz2_pread(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n = io_pread_full(fd, buf, len, off);

	return n < 0 ? (int)n : (size_t)n == len ? 0 : -ENODATA;
}

uint64_t bz2_data_end(int fd, uint64_t size)
{
	unsigned char buf[65536];
	size_t n;

	while (size > 0) {
		n = size < sizeof(buf) ? (size_t)size : sizeof(buf);
		if (bz2_pread(fd, buf, n, size - n) < 0)
			return size;
		while (n > 0 && buf[n - 1] == 0) {
			n--;
			size--;
		}
		if (n > 0)
			break;
	}
	return size;
}

/* Where an end of stream's trailer ends (a byte offset), and the bit the
 * next stream's first cut must be at. */
uint64_t bz2_eos_end(uint64_t pos)
{
	return pos / 8 + (pos % 8 + 87) / 8;
}

uint64_t bz2_eos_next(uint64_t pos)
{
	return (bz2_eos_end(pos) + 4) * 8;
}

/* Index of the first cut at or after bit pos. With the lock held. */
size_t bz2_cut_index(const struct bz2_fmt *f, uint64_t pos)
{
	size_t lo = 0, hi = f->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (f->cuts[mid].pos < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ------------------------------------------------------------------ */
/* The scan                                                            */

struct part {
	struct bz2_fmt *f;
	uint64_t from, to;	/* bytes */
	struct bz2_entry *cuts;
	size_t n, cap;
	const unsigned char *buf;
	size_t len;
	uint64_t base;
	int err;
};

static int on_magic(void *ctx, enum bz2_cut_kind kind, uint64_t bit)
{
	struct part *p = ctx;
	struct bz2_cut look = { .kind = kind, .pos = bit % 8 };
	struct bz2_entry *c;
	size_t at = (size_t)(bit / 8), q = (size_t)(bit % 8 + 87) / 8;

	if (p->n >= (p->to - p->from) / 16 + 64)
		return -E2BIG;	/* no real file has blocks this small */
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 1024;
		c = realloc(p->cuts, p->cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		p->cuts = c;
	}
	look.looklen = p->len - at < BZ2_LOOK ? p->len - at : BZ2_LOOK;
	memcpy(look.look, p->buf + at, look.looklen);
	c = &p->cuts[p->n++];
	memset(c, 0, sizeof(*c));
	c->pos = p->base * 8 + bit;
	c->out = UNKNOWN;
	c->len = NOLEN;
	c->kind = (uint8_t)kind;
	c->crc = bz2_cut_has_crc(&look) ? bz2_cut_crc(&look) : 0;
	if (kind == BZ2_CUT_EOS && look.looklen > q)
		c->level = (uint8_t)bz2_header_level(look.look + q,
						 look.looklen - q);
	return 0;
}

static void *scan_part(void *arg)
{
	struct part *p = arg;
	unsigned char *buf = malloc(SCAN_CHUNK + SCAN_OVER + 8);
	uint64_t end;
	size_t want;

	if (!buf) {
		p->err = -ENOMEM;
		return NULL;
	}
	for (p->base = p->from; p->base < p->to && !p->err;
	     p->base += SCAN_CHUNK) {
		end = p->base + SCAN_CHUNK + SCAN_OVER;
		want = (size_t)((end < p->f->fsize ? end : p->f->fsize) -
				p->base);
		p->err = bz2_pread(p->f->fd, buf, want, p->base);
		memset(buf + want, 0, 8);
		p->buf = buf;
		p->len = want;
		end = p->to - p->base < SCAN_CHUNK ? p->to - p->base :
		      SCAN_CHUNK;
		if (!p->err)
			p->err = bz2_find_magics(buf, want, p->base, 0,
						 end * 8, on_magic, p);
	}
	free(buf);
	return NULL;
}

/* Join the parts' cuts, and give each block its stream's level. */
static int scan_merge(struct bz2_fmt *f, struct part *parts, unsigned np,
		      unsigned level)
{
	size_t total = 0, i;
	unsigned k;

	for (k = 0; k < np; k++)
		total += parts[k].n;
	f->cuts = malloc((total ? total : 1) * sizeof(*f->cuts));
	if (!f->cuts)
		return -ENOMEM;
	for (k = 0; k < np; k++) {
		memcpy(f->cuts + f->n, parts[k].cuts,
		       parts[k].n * sizeof(*f->cuts));
		f->n += parts[k].n;
	}
	for (i = 0; i < f->n; i++) {
		if (f->cuts[i].kind == BZ2_CUT_BLOCK)
			f->cuts[i].level = (uint8_t)level;
		else if (f->cuts[i].level)
			level = f->cuts[i].level;
	}
	if (f->n == 0 || f->cuts[0].pos != 32)
		return -EBADMSG;
	f->cuts[0].out = 0;
	f->back = f->n;
	return 0;
}

static int do_scan(struct bz2_fmt *f, struct bmap_err *err)
{
	struct part parts[THREADS_MAX];
	pthread_t tids[THREADS_MAX];
	unsigned np = f->threads, k, started = 0;
	uint64_t step;
	int ret = 0;

	if (f->fsize / np < SCAN_CHUNK)
		np = (unsigned)(f->fsize / SCAN_CHUNK) + 1;
	step = (f->fsize + np - 1) / np;
	memset(parts, 0, sizeof(parts));
	for (k = 0; k < np; k++) {
		parts[k].f = f;
		parts[k].from = k * step;
		parts[k].to = k + 1 == np ? f->fsize : (k + 1) * step;
		if (k > 0 && pthread_create(&tids[k], NULL, scan_part,
					    &parts[k]) == 0)
			started = k;
		else if (k > 0)
			scan_part(&parts[k]);
	}
	scan_part(&parts[0]);
	for (k = 1; k <= started; k++)
		pthread_join(tids[k], NULL);
	for (k = 0; k < np && !ret; k++)
		ret = parts[k].err;
	if (!ret)
		ret = scan_merge(f, parts, np, f->level0);
	for (k = 0; k < np; k++)
		free(parts[k].cuts);
	if (ret == -ENOMEM)
		return bz2_err_nomem(err);
	if (ret == -E2BIG)
		return bmap_seterr(err, EBADMSG,
				   "corrupt bzip2 data: too many block magics");
	if (ret == -EBADMSG || ret == -ENODATA)
		return bmap_seterr(err, EIO,
				   "bzip2 file changed or unreadable");
	return ret < 0 ? bz2_err_read(err, ret) : 0;
}

/* With work held. */
int bz2_ensure_scanned(struct bz2_fmt *f, struct bmap_err *err)
{
	int ret;

	if (f->scanned)
		return 0;
	ret = do_scan(f, err);
	pthread_mutex_lock(&f->lock);
	if (ret == 0)
		f->scanned = true;
	else {
		free(f->cuts);
		f->cuts = NULL;
		f->n = 0;
	}
	pthread_mutex_unlock(&f->lock);
	return ret;
}

/* ------------------------------------------------------------------ */
/* The table: what the front and the back know                         */

/* Forget the offsets found from the end (they contradict the front). */
void bz2_drop_back(struct bz2_fmt *f)
{
	size_t i;

	for (i = f->front + 1; i < f->n; i++)
		f->cuts[i].out = UNKNOWN;
	f->back = f->n;
	f->back_dead = true;
	f->hint = UNKNOWN;
}

/* A cut found inside a block: out of the table. */
static void drop_cut(struct bz2_fmt *f, size_t i)
{
	memmove(f->cuts + i, f->cuts + i + 1,
		(f->n - i - 1) * sizeof(*f->cuts));
	f->n--;
	if (f->front > i)
		f->front--;
	if (f->back > i)
		f->back--;
}

/* Give the next cut its offset. */
static void front_set(struct bz2_fmt *f, size_t j, uint64_t out)
{
	if (f->cuts[j].out != UNKNOWN && f->cuts[j].out != out)
		bz2_drop_back(f);
	f->cuts[j].out = out;
	f->front = j;
}

/* Move the front on while lengths are known. With the lock held. */
void bz2_advance_front(struct bz2_fmt *f)
{
	struct bz2_entry *c;
	uint64_t next;

	while (!f->front_end && f->front + 1 <= f->n) {
		c = &f->cuts[f->front];
		if (c->kind == BZ2_CUT_BLOCK) {
			if (c->len == NOLEN || f->front + 1 == f->n)
				return;
			front_set(f, f->front + 1, c->out + c->len);
			continue;
		}
		if (!c->level) {
			f->front_end = bz2_eos_end(c->pos) >= f->data_end &&
				       f->front + 1 == f->n;
			if (f->front_end && f->back < f->n &&
			    f->cuts[f->front].out != f->hint)
				bz2_drop_back(f);
			return;
		}
		next = bz2_eos_next(c->pos);
		while (f->front + 1 < f->n && f->cuts[f->front + 1].pos < next)
			drop_cut(f, f->front + 1);
		if (f->front + 1 == f->n || f->cuts[f->front + 1].pos != next)
			return;
		front_set(f, f->front + 1, c->out);
	}
}

/* Anchor the back at the end of the last stream. */
static void anchor_back(struct bz2_fmt *f)
{
	struct bz2_entry *c = &f->cuts[f->n - 1];

	if (c->kind != BZ2_CUT_EOS || c->level ||
	    bz2_eos_end(c->pos) < f->data_end) {
		f->back_dead = true;
		return;
	}
	if (c->out != UNKNOWN && c->out != f->hint) {
		f->back_dead = true;
		f->hint = UNKNOWN;
		return;
	}
	c->out = f->hint;
	f->back = f->n - 1;
}

/* Move the back on (towards 0) while lengths are known. */
void bz2_advance_back(struct bz2_fmt *f)
{
	struct bz2_entry *a, *b;
	uint64_t out;

	if (f->hint == UNKNOWN || f->back_dead || !f->scanned)
		return;
	if (f->back == f->n)
		anchor_back(f);
	while (!f->back_dead && f->back > 0 && f->back > f->front) {
		a = &f->cuts[f->back - 1];
		b = &f->cuts[f->back];
		if (a->kind == BZ2_CUT_BLOCK && a->len == NOLEN)
			return;
		if (a->kind == BZ2_CUT_BLOCK && a->len > b->out) {
			bz2_drop_back(f);
			return;
		}
		if (a->kind == BZ2_CUT_EOS &&
		    (!a->level || bz2_eos_next(a->pos) != b->pos)) {
			f->back_dead = true;
			return;
		}
		out = a->kind == BZ2_CUT_EOS ? b->out : b->out - a->len;
		if (a->out != UNKNOWN && a->out != out) {
			bz2_drop_back(f);
			return;
		}
		a->out = out;
		f->back--;
	}
}

/* The block at bit `from` decodes up to the cut at bit `to` into len
 * bytes: record it, dropping the cuts found false in between. */
void bz2_learn(struct bz2_fmt *f, uint64_t from, uint64_t to, uint64_t len)
{
	size_t i = bz2_cut_index(f, from);

	if (i >= f->n || f->cuts[i].pos != from || len >= NOLEN)
		return;
	while (i + 1 < f->n && f->cuts[i + 1].pos < to)
		drop_cut(f, i + 1);
	if (i + 1 < f->n && f->cuts[i + 1].pos == to)
		f->cuts[i].len = (uint32_t)len;
	bz2_advance_front(f);
	bz2_advance_back(f);
}

/* The known cut where a cursor for off starts, or n when off is beyond
 * what is known. With the lock held. */
size_t bz2_known_cut(const struct bz2_fmt *f, uint64_t off, bool exact)
{
	size_t lo, hi, mid;

	if (!f->scanned)
		return off == 0 || !exact ? 0 : f->n;
	if (f->back < f->n && off >= f->cuts[f->back].out) {
		lo = f->back;
		hi = f->n - 1;
	} else if (f->front_end || off <= f->cuts[f->front].out) {
		lo = 0;
		hi = f->front;
	} else {
		return exact ? f->n : f->front;
	}
	while (lo < hi) {	/* the last cut in lo..hi with out <= off */
		mid = hi - (hi - lo) / 2;
		if (f->cuts[mid].out <= off)
			lo = mid;
		else
			hi = mid - 1;
	}
	while (lo > 0 && f->cuts[lo].dropped)
		lo--;
	return lo;
}


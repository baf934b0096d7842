/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ra-bzip2.c - seek points in bzip2 files: every block.
 *
 * A bzip2 block decodes on its own, but its place in the output is the sum
 * of the output lengths of all blocks before it, which bzip2 records
 * nowhere. So:
 *  - The first cursor_open (or load) scans the whole file for block and
 *    end-of-stream magics (bz2_find_magics, on `threads` threads): a table
 *    of candidate cuts, 32 bytes each. Magics may also occur by chance
 *    inside a block; decoding tells them (they are then dropped).
 *  - The output offsets are known for a front run of the table (from 0)
 *    and, when the engine gives the image size (hint_size), for a
 *    back run (from the end). A cursor_open beyond both extends the cheaper
 *    one: batches of blocks decoded on `threads` threads just for their
 *    lengths, the side that has cost less so far going next.
 *  - Disk images hold many identical blocks (runs of zeros): a block's
 *    length is remembered by its exact bits, so each costs one decode, and
 *    a cursor passes an all-zero block without decoding it.
 *  - Cursors decode from a block in order, check every block CRC (libbz2
 *    does, on a block wrapped as a stream of its own), a stream's combined
 *    CRC when they saw the whole stream, and what lies between streams;
 *    they record the lengths they learn. From its second block on, a
 *    cursor (given two threads or more) has a worker decode the next block
 *    that needs decoding while it decodes and hands out the current one
 *    (ra-bzip2-ahead.c): the cursor takes it over, output, then result,
 *    in the order a decode of its own would give them.
 *
 * The engine tells the image size (hint_size) when it knows it: it must be
 * exact; a wrong size is noticed, and dropped, only when the front meets
 * the back or a cursor reaches the end (and a range read with wrong
 * offsets fails its checksum).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec/bz2.h"
#include "base/error.h"
#include "codec/codec.h"
#include "codec/ra-bzip2-ahead.h"
#include "codec/seekidx.h"


#define UNKNOWN UINT64_MAX
#define NOLEN UINT32_MAX
#define SCAN_CHUNK (4u << 20)
#define SCAN_OVER 64u		/* bytes read past a chunk: a cut's look */
#define SCRATCH (1u << 20)	/* output of length-only decodes */
#define MEMO_BYTES 1024u	/* blocks remembered by their bits... */
#define MEMO_N 64u		/* ...this many of them */
#define BATCH_JOBS 64u
#define BATCH_BITS (1ull << 23)	/* compressed bits per thread and batch */
#define THREADS_MAX 64u
/* Remembered all-zero blocks looked past for one to decode ahead. */
#define AHEAD_SKIP 64u
/* The most output a block of a level can hold (5 bytes of run make 259). */
#define BLOCK_OUT_MAX(level) ((uint64_t)(level) * 5200000u)

struct cut {
	uint64_t pos;		/* bit offset of the magic */
	uint64_t out;		/* output offset, or UNKNOWN */
	uint32_t len;		/* block: output up to the next cut, or NOLEN */
	uint32_t crc;		/* the 32 bits after the magic */
	uint8_t kind;		/* BZ2_CUT_BLOCK or BZ2_CUT_EOS */
	uint8_t level;		/* block: its stream's; EOS: the next's, or 0 */
	bool dropped;		/* no cursor starts here (drop_point) */
};

struct memo {
	unsigned char *bits;	/* the block's bits, from its magic on */
	uint64_t nbits;
	uint32_t len;
	bool zero;		/* its output is all zeros */
};

struct bzfmt {
	int fd;
	uint64_t fsize;
	unsigned threads;
	unsigned level0;	/* the first stream's level */
	pthread_mutex_t work;	/* one scan or resolver at a time */
	pthread_mutex_t lock;	/* everything below */
	bool scanned;
	struct cut *cuts;
	size_t n;
	size_t front;		/* out known for cuts[0..front] */
	size_t back;		/* out known for cuts[back..n-1]; n: none */
	bool front_end;		/* cuts[front] is the final end of stream */
	bool front_stuck, back_dead;
	uint64_t hint;		/* the image size given, or UNKNOWN */
	uint64_t effort[2];	/* bits decoded for the front and the back */
	struct memo memo[MEMO_N];
	unsigned memo_next;
};

/* ------------------------------------------------------------------ */
/* Little things                                                       */

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n;
	size_t got = 0;

	while (got < len) {
		n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (int)(got == len ? 0 : -ENODATA);
}

/* Where an end of stream's trailer ends (a byte offset), and the bit the
 * next stream's first cut must be at. */
static uint64_t eos_end(uint64_t pos)
{
	return pos / 8 + (pos % 8 + 87) / 8;
}

static uint64_t eos_next(uint64_t pos)
{
	return (eos_end(pos) + 4) * 8;
}

/* Index of the first cut at or after bit pos. With the lock held. */
static size_t cut_index(const struct bzfmt *f, uint64_t pos)
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
	struct bzfmt *f;
	uint64_t from, to;	/* bytes */
	struct cut *cuts;
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
	struct cut *c;
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
		p->err = pread_all(p->f->fd, buf, want, p->base);
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
static int scan_merge(struct bzfmt *f, struct part *parts, unsigned np,
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

static int do_scan(struct bzfmt *f, struct bmap_err *err)
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
static int ensure_scanned(struct bzfmt *f, struct bmap_err *err)
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
static void drop_back(struct bzfmt *f)
{
	size_t i;

	for (i = f->front + 1; i < f->n; i++)
		f->cuts[i].out = UNKNOWN;
	f->back = f->n;
	f->back_dead = true;
	f->hint = UNKNOWN;
}

/* A cut found inside a block: out of the table. */
static void drop_cut(struct bzfmt *f, size_t i)
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
static void front_set(struct bzfmt *f, size_t j, uint64_t out)
{
	if (f->cuts[j].out != UNKNOWN && f->cuts[j].out != out)
		drop_back(f);
	f->cuts[j].out = out;
	f->front = j;
}

/* Move the front on while lengths are known. With the lock held. */
static void advance_front(struct bzfmt *f)
{
	struct cut *c;
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
			f->front_end = eos_end(c->pos) == f->fsize &&
				       f->front + 1 == f->n;
			if (f->front_end && f->back < f->n &&
			    f->cuts[f->front].out != f->hint)
				drop_back(f);
			return;
		}
		next = eos_next(c->pos);
		while (f->front + 1 < f->n && f->cuts[f->front + 1].pos < next)
			drop_cut(f, f->front + 1);
		if (f->front + 1 == f->n || f->cuts[f->front + 1].pos != next)
			return;
		front_set(f, f->front + 1, c->out);
	}
}

/* Anchor the back at the end of the last stream. */
static void anchor_back(struct bzfmt *f)
{
	struct cut *c = &f->cuts[f->n - 1];

	if (c->kind != BZ2_CUT_EOS || c->level ||
	    eos_end(c->pos) != f->fsize) {
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
static void advance_back(struct bzfmt *f)
{
	struct cut *a, *b;
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
			drop_back(f);
			return;
		}
		if (a->kind == BZ2_CUT_EOS &&
		    (!a->level || eos_next(a->pos) != b->pos)) {
			f->back_dead = true;
			return;
		}
		out = a->kind == BZ2_CUT_EOS ? b->out : b->out - a->len;
		if (a->out != UNKNOWN && a->out != out) {
			drop_back(f);
			return;
		}
		a->out = out;
		f->back--;
	}
}

/* The block at bit `from` decodes up to the cut at bit `to` into len
 * bytes: record it, dropping the cuts found false in between. */
static void learn(struct bzfmt *f, uint64_t from, uint64_t to, uint64_t len)
{
	size_t i = cut_index(f, from);

	if (i >= f->n || f->cuts[i].pos != from || len >= NOLEN)
		return;
	while (i + 1 < f->n && f->cuts[i + 1].pos < to)
		drop_cut(f, i + 1);
	if (i + 1 < f->n && f->cuts[i + 1].pos == to)
		f->cuts[i].len = (uint32_t)len;
	advance_front(f);
	advance_back(f);
}

/* The known cut where a cursor for off starts, or n when off is beyond
 * what is known. With the lock held. */
static size_t known_cut(const struct bzfmt *f, uint64_t off, bool exact)
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

/* ------------------------------------------------------------------ */
/* Blocks decoded for their length                                     */

/* Append the bits [from, to) of the file to b. */
static int append_bits(struct bzfmt *f, uint64_t from, uint64_t to,
		       struct bz2_bits *b)
{
	size_t n = (size_t)((to + 7) / 8 - from / 8);
	unsigned char *raw = malloc(n + 8);
	int ret;

	if (!raw)
		return -ENOMEM;
	ret = pread_all(f->fd, raw, n, from / 8);
	memset(raw + n, 0, 8);
	if (ret == 0)
		ret = bz2_bits_append(b, raw, from % 8, to - from);
	free(raw);
	return ret;
}

/* The bits [from, to) of the file, after 32 bits of room, in b. */
static int read_bits(struct bzfmt *f, uint64_t from, uint64_t to,
		     struct bz2_bits *b)
{
	b->nbits = 0;
	return append_bits(f, from, to, b);
}

/* Whether the bits in b are those of memo m. */
static bool memo_match(const struct memo *m, const struct bz2_bits *b)
{
	size_t whole = (size_t)(b->nbits / 8);
	unsigned rest = (unsigned)(b->nbits % 8);
	unsigned char mask = (unsigned char)(0xff00 >> rest);

	return m->bits && m->nbits == b->nbits &&
	       memcmp(m->bits, b->buf + 4, whole) == 0 &&
	       (!rest || ((m->bits[whole] ^ b->buf[4 + whole]) & mask) == 0);
}

static const struct memo *memo_find(struct bzfmt *f, const struct bz2_bits *b)
{
	unsigned i;

	if (b->nbits > MEMO_BYTES * 8)
		return NULL;
	for (i = 0; i < MEMO_N; i++)
		if (memo_match(&f->memo[i], b))
			return &f->memo[i];
	return NULL;
}

/* With the lock held. */
static void memo_add(struct bzfmt *f, const struct bz2_bits *b, uint64_t len,
		     bool zero)
{
	struct memo *m = &f->memo[f->memo_next];
	size_t n = (size_t)((b->nbits + 7) / 8);
	unsigned char *p;

	if (b->nbits > MEMO_BYTES * 8 || len >= NOLEN || memo_find(f, b))
		return;
	p = malloc(n);
	if (!p)
		return;
	memcpy(p, b->buf + 4, n);
	free(m->bits);
	m->bits = p;
	m->nbits = b->nbits;
	m->len = (uint32_t)len;
	m->zero = zero;
	f->memo_next = (f->memo_next + 1) % MEMO_N;
}

/* A remembered block: its length and whether it is all zeros. */
static bool memo_get(struct bzfmt *f, const struct bz2_bits *b, uint64_t *len,
		     bool *zero)
{
	const struct memo *m;

	pthread_mutex_lock(&f->lock);
	m = memo_find(f, b);
	if (m) {
		*len = m->len;
		*zero = m->zero;
	}
	pthread_mutex_unlock(&f->lock);
	return m != NULL;
}

struct job {
	uint64_t from, to;
	uint32_t crc;
	unsigned level;
	int res;		/* a BZ2_ATT_ result, or -errno */
	uint64_t len;
	bool decoded;		/* not from the memo */
};

/* Decode a block for its length, into scratch. */
static void run_job(struct bzfmt *f, struct job *j, struct bz2_bits *b,
		    unsigned char *scratch)
{
	struct bz2_attempt a;
	size_t slen, boundary, n;
	bool zero = true;
	int ret;

	j->len = 0;
	if (j->to - j->from > BZ2_BLOCK_BITS_MAX(9)) {
		j->res = BZ2_ATT_BAD;
		return;
	}
	ret = read_bits(f, j->from, j->to, b);
	if (ret < 0) {
		j->res = ret;
		return;
	}
	if (memo_get(f, b, &j->len, &zero)) {
		j->res = BZ2_ATT_DONE;
		return;
	}
	j->decoded = true;
	if (bz2_bits_wrap(b, j->level, j->crc, &slen, &boundary) < 0) {
		j->res = BZ2_ATT_NOMEM;
		return;
	}
	ret = bz2_attempt_start(&a, b->buf, slen, boundary);
	while (ret == BZ2_ATT_MORE) {
		ret = bz2_attempt_step(&a, scratch, SCRATCH, &n);
		if (ret > BZ2_ATT_DONE)
			break;
		j->len += n;
		zero = zero && bz2_all_zero(scratch, n);
	}
	bz2_attempt_end(&a);
	j->res = ret;
	if (ret == BZ2_ATT_DONE) {
		pthread_mutex_lock(&f->lock);
		memo_add(f, b, j->len, zero);
		pthread_mutex_unlock(&f->lock);
	}
}

struct batch {
	struct bzfmt *f;
	struct job *jobs;
	unsigned n, next;
};

static void *batch_worker(void *arg)
{
	struct batch *bt = arg;
	struct bz2_bits b = { 0 };
	unsigned char *scratch = malloc(SCRATCH);
	unsigned i;

	while ((i = __atomic_fetch_add(&bt->next, 1, __ATOMIC_RELAXED)) <
	       bt->n) {
		if (scratch)
			run_job(bt->f, &bt->jobs[i], &b, scratch);
		else
			bt->jobs[i].res = BZ2_ATT_NOMEM;
	}
	bz2_bits_free(&b);
	free(scratch);
	return NULL;
}

static void run_batch(struct bzfmt *f, struct job *jobs, unsigned n)
{
	struct batch bt = { f, jobs, n, 0 };
	pthread_t tids[THREADS_MAX];
	unsigned k, started = 0;

	for (k = 1; k < f->threads && k < n; k++) {
		if (pthread_create(&tids[k], NULL, batch_worker, &bt) != 0)
			break;
		started = k;
	}
	batch_worker(&bt);
	for (k = 1; k <= started; k++)
		pthread_join(tids[k], NULL);
}

/* ------------------------------------------------------------------ */
/* Finding the offset of a block far on                                */

static void add_job(struct bzfmt *f, struct job *jobs, unsigned *n,
		    uint64_t *bits, size_t i)
{
	struct cut *c = &f->cuts[i];
	struct job *j = &jobs[(*n)++];

	memset(j, 0, sizeof(*j));
	j->from = c->pos;
	j->to = f->cuts[i + 1].pos;
	j->crc = c->crc;
	j->level = c->level;
	*bits += j->to - j->from;
}

/* The next blocks of unknown length from the front (side 0) or the back
 * (side 1). With the lock held. */
static unsigned pick_jobs(struct bzfmt *f, int side, struct job *jobs)
{
	uint64_t bits = 0, most = BATCH_BITS * f->threads;
	unsigned n = 0;
	size_t i;

	if (side == 0) {
		for (i = f->front; i + 1 < f->n && n < BATCH_JOBS &&
		     bits < most; i++)
			if (f->cuts[i].kind == BZ2_CUT_BLOCK &&
			    f->cuts[i].len == NOLEN)
				add_job(f, jobs, &n, &bits, i);
		return n;
	}
	for (i = f->back; i-- > f->front && n < BATCH_JOBS && bits < most;)
		if (f->cuts[i].kind == BZ2_CUT_BLOCK && f->cuts[i].len == NOLEN)
			add_job(f, jobs, &n, &bits, i);
	return n;
}

/* The candidate cuts after a block, from the table, for
 * bz2_block_join. */
struct table_more {
	struct bzfmt *f;
	uint64_t last;		/* the bits up to this cut are joined */
};

static int table_next(void *ctx, struct bz2_bits *bits, uint64_t *pos,
		      enum bz2_cut_kind *kind, struct bmap_err *err)
{
	struct table_more *m = ctx;
	struct bzfmt *f = m->f;
	uint64_t to = f->fsize * 8;
	bool more;
	size_t i;
	int ret;

	pthread_mutex_lock(&f->lock);
	i = cut_index(f, m->last);
	*kind = i < f->n && f->cuts[i].pos == m->last ?
		(enum bz2_cut_kind)f->cuts[i].kind : BZ2_CUT_END;
	i += i < f->n && f->cuts[i].pos == m->last;
	more = i < f->n;
	if (more)
		to = f->cuts[i].pos;
	pthread_mutex_unlock(&f->lock);
	if (to - m->last > BZ2_BLOCK_BITS_MAX(9))
		return bz2_err_corrupt(err, "no block boundary where one "
				       "must be", m->last);
	ret = append_bits(f, m->last, to, bits);
	if (ret == -ENOMEM)
		return bz2_err_nomem(err);
	if (ret < 0)
		return bz2_err_read(err, ret == -ENODATA ? -EIO : ret);
	m->last = to;
	*pos = to;
	return more;
}

/*
 * The block at bit `from` did not decode up to its next cut, or its CRC
 * did not match: find its true end past false cuts (bz2_block_join) and
 * learn it. Without locks; 0, or -errno with a message in err.
 */
static int join_block(struct bzfmt *f, uint64_t from, struct bz2_bits *b,
		      struct bmap_err *err)
{
	struct table_more m = { f, 0 };
	struct bz2_more more = { table_next, &m };
	struct bz2_joined out;
	unsigned level = 0;
	uint32_t crc = 0;
	size_t i;
	int ret;

	pthread_mutex_lock(&f->lock);
	i = cut_index(f, from);
	if (i + 1 < f->n && f->cuts[i].pos == from) {
		crc = f->cuts[i].crc;
		level = f->cuts[i].level;
		m.last = f->cuts[i + 1].pos;
	}
	pthread_mutex_unlock(&f->lock);
	if (!level)
		return bz2_err_truncated(err);
	ret = read_bits(f, from, m.last, b);
	if (ret < 0)
		return ret == -ENOMEM ? bz2_err_nomem(err) :
		       bz2_err_read(err, ret == -ENODATA ? -EIO : ret);
	ret = bz2_block_join(b, from, level, crc, &more, &out, err);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&f->lock);
	learn(f, from, out.end, out.len);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* The job for the block at bit pos, or NULL. */
static const struct job *job_at(const struct job *jobs, unsigned n,
				uint64_t pos)
{
	unsigned k;

	for (k = 0; k < n; k++)
		if (jobs[k].from == pos)
			return &jobs[k];
	return NULL;
}

/* Record a batch's results. A failure of the block next to the known
 * side stops that side, but for a block ending before its next cut at
 * the front: *retry is then its bit offset, else UNKNOWN. With the lock
 * held. */
static void commit(struct bzfmt *f, int side, struct job *jobs, unsigned n,
		   uint64_t *retry)
{
	const struct job *j = NULL;
	unsigned k;

	for (k = 0; k < n; k++) {
		if (jobs[k].decoded)
			f->effort[side] += jobs[k].to - jobs[k].from;
		if (jobs[k].res == BZ2_ATT_DONE)
			learn(f, jobs[k].from, jobs[k].to, jobs[k].len);
	}
	*retry = UNKNOWN;
	if (side == 0 && !f->front_end && f->cuts[f->front].len == NOLEN)
		j = job_at(jobs, n, f->cuts[f->front].pos);
	if (side == 1 && f->back < f->n && f->back > f->front &&
	    f->cuts[f->back - 1].len == NOLEN)
		j = job_at(jobs, n, f->cuts[f->back - 1].pos);
	if (!j || j->res == BZ2_ATT_DONE)
		return;
	if (side == 0 && (j->res == BZ2_ATT_RETRY || j->res == BZ2_ATT_BAD))
		*retry = j->from;
	else if (side == 0)
		f->front_stuck = true;
	else
		f->back_dead = true;
}

/* Bits of the blocks in cuts[from..to) still to decode, but for small
 * ones (likely remembered). */
static uint64_t todo_bits(const struct bzfmt *f, size_t from, size_t to)
{
	uint64_t bits = 0, d;
	size_t i;

	for (i = from; i < to && i + 1 < f->n; i++) {
		d = f->cuts[i + 1].pos - f->cuts[i].pos;
		if (f->cuts[i].len == NOLEN && d > MEMO_BYTES * 8)
			bits += d;
	}
	return bits;
}

/*
 * The side to extend next, or -1. Guessing that off is where it would be
 * if every block had the same output, take the side whose cost so far
 * plus what it has left to decode to the guess is lower (blocks small
 * enough to be remembered count as free). With the lock held.
 */
static int pick_side(struct bzfmt *f, uint64_t off)
{
	bool front = !f->front_end && !f->front_stuck;
	bool back = f->hint != UNKNOWN && !f->back_dead;
	size_t guess;
	uint64_t cost[2];

	if (!front || !back)
		return front ? 0 : back ? 1 : -1;
	guess = off >= f->hint ? f->n :
		(size_t)((double)off / (double)f->hint * (double)f->n);
	cost[0] = f->effort[0] + todo_bits(f, f->front, guess);
	cost[1] = f->effort[1] + (guess < f->back ?
				  todo_bits(f, guess, f->back) : 0);
	return cost[1] < cost[0];
}

/* One step towards knowing the block of off: false when no more can be
 * done (or it is known). With work held. */
static bool resolve_step(struct bzfmt *f, uint64_t off, struct job *jobs)
{
	struct bz2_bits b = { 0 };
	struct bmap_err err;
	uint64_t retry;
	unsigned n = 0;
	int side;

	pthread_mutex_lock(&f->lock);
	advance_back(f);
	side = known_cut(f, off, true) < f->n ? -1 : pick_side(f, off);
	if (side >= 0)
		n = pick_jobs(f, side, jobs);
	if (side == 0 && n == 0)
		f->front_stuck = true;
	if (side == 1 && n == 0)
		f->back_dead = true;
	pthread_mutex_unlock(&f->lock);
	if (n == 0)
		return side >= 0;
	run_batch(f, jobs, n);
	pthread_mutex_lock(&f->lock);
	commit(f, side, jobs, n, &retry);
	pthread_mutex_unlock(&f->lock);
	if (retry == UNKNOWN)
		return true;
	if (join_block(f, retry, &b, &err) < 0) {
		pthread_mutex_lock(&f->lock);
		f->front_stuck = true;
		pthread_mutex_unlock(&f->lock);
	}
	bz2_bits_free(&b);
	return true;
}

static int resolve(struct bzfmt *f, uint64_t off, struct bmap_err *err)
{
	struct job *jobs;
	int ret;

	pthread_mutex_lock(&f->work);
	ret = ensure_scanned(f, err);
	jobs = ret ? NULL : malloc(BATCH_JOBS * sizeof(*jobs));
	if (!ret && !jobs)
		ret = bz2_err_nomem(err);
	while (!ret && resolve_step(f, off, jobs))
		;
	free(jobs);
	pthread_mutex_unlock(&f->work);
	return ret;
}

static void bzip2_hint_size(void *fmt, uint64_t size)
{
	struct bzfmt *f = fmt;

	pthread_mutex_lock(&f->lock);
	if (f->hint != size) {
		if (f->back < f->n)
			drop_back(f);
		f->back_dead = false;
		f->hint = size;
		advance_back(f);
	}
	pthread_mutex_unlock(&f->lock);
}

/* ------------------------------------------------------------------ */
/* Cursors                                                             */

struct bzcur {
	struct bzfmt *f;
	uint64_t pos;		/* bit of the cut being decoded, or next */
	uint64_t to;		/* where the current block's bits end */
	uint64_t produced;	/* output of the current block so far */
	uint64_t zeros;		/* left of a remembered all-zero block */
	uint32_t known;		/* the block's length as the table has it */
	uint32_t crc, combined;
	bool whole;		/* the stream was seen from its start */
	bool in_block, zero, joined, done;
	bool taken;		/* the block is the worker's: read from it */
	bool tried;		/* to start the worker */
	unsigned blocks;	/* blocks started */
	struct bz2_ahead *ahead;	/* started on the second block */
	struct bz2_attempt att;
	struct bz2_bits bits;
	int error;
	struct bmap_err msg;
};

static int block_bad(struct bzcur *c, const char *what)
{
	return bz2_err_corrupt(&c->msg, what, c->pos);
}

/* The block is done: learn its length, go on to the next cut. */
static int finish_block(struct bzcur *c)
{
	struct bzfmt *f = c->f;

	bz2_attempt_end(&c->att);
	c->in_block = false;
	if (c->known != NOLEN && c->produced != c->known)
		return block_bad(c, "block length differs from the index");
	c->combined = bz2_combine_crc(c->combined, c->crc);
	pthread_mutex_lock(&f->lock);
	if (c->zero && !c->zeros)
		memo_add(f, &c->bits, c->produced, true);
	learn(f, c->pos, c->to, c->produced);
	pthread_mutex_unlock(&f->lock);
	c->pos = c->to;
	c->joined = false;
	return 0;
}

/* The worker's: read a block's bits, or know it is all zeros. */
static int prepare_block(void *ctx, const struct bz2_job *job,
			 struct bz2_bits *bits, uint64_t *len)
{
	struct bzfmt *f = ctx;
	bool zero = false;
	int ret = read_bits(f, job->pos, job->to, bits);

	if (ret < 0)
		return ret;
	return memo_get(f, bits, len, &zero) && zero ? 1 : 0;
}

/* The block after the one at bit pos (past an end of stream), as the
 * table has it: false when there is none (or not yet). */
static bool block_after(struct bzfmt *f, uint64_t pos, struct bz2_job *job)
{
	const struct cut *d = NULL;
	size_t j;

	pthread_mutex_lock(&f->lock);
	j = cut_index(f, pos) + 1;
	if (j + 1 < f->n && f->cuts[j].kind == BZ2_CUT_EOS &&
	    f->cuts[j].level && f->cuts[j + 1].pos == eos_next(f->cuts[j].pos))
		j++;
	if (j + 1 < f->n && f->cuts[j].kind == BZ2_CUT_BLOCK &&
	    f->cuts[j + 1].pos - f->cuts[j].pos <= BZ2_BLOCK_BITS_MAX(9)) {
		d = &f->cuts[j];
		job->pos = d->pos;
		job->to = d[1].pos;
		job->crc = d->crc;
		job->level = d->level;
	}
	pthread_mutex_unlock(&f->lock);
	return d != NULL;
}

/* Whether the block is one of zeros the memo knows (read with b). */
static bool known_zeros(struct bzfmt *f, const struct bz2_job *job,
			struct bz2_bits *b)
{
	uint64_t len;
	bool zero = false;

	return job->to - job->pos <= MEMO_BYTES * 8 &&
	       read_bits(f, job->pos, job->to, b) == 0 &&
	       memo_get(f, b, &len, &zero) && zero;
}

/* Have the worker decode the next block after this one that needs a
 * decode (the cursor passes remembered zeros itself), from the second
 * block on: a cursor for a short read never starts it. */
static void decode_ahead(struct bzcur *c)
{
	struct bzfmt *f = c->f;
	struct bz2_bits probe = { 0 };
	struct bz2_job job = { .pos = c->pos };
	unsigned k;

	if (++c->blocks < 2 || f->threads < 2)
		return;
	if (!c->ahead && !c->tried) {
		c->tried = true;
		c->ahead = bz2_ahead_new(prepare_block, f);
	}
	if (!c->ahead || !bz2_ahead_idle(c->ahead))
		return;
	for (k = 0; k < AHEAD_SKIP && block_after(f, job.pos, &job); k++)
		if (!known_zeros(f, &job, &probe)) {
			bz2_ahead_give(c->ahead, &job);
			break;
		}
	bz2_bits_free(&probe);
}

static int start_block(struct bzcur *c, const struct cut *cut)
{
	struct bz2_job job = { c->pos, c->to, cut->crc, cut->level };
	uint64_t len;
	size_t slen, boundary;
	bool zero;
	int ret;

	if (c->to == UNKNOWN)
		return bz2_err_truncated(&c->msg);
	if (c->to - c->pos > BZ2_BLOCK_BITS_MAX(9))
		return block_bad(c, "no block boundary where one must be");
	c->produced = 0;
	c->crc = cut->crc;
	c->known = cut->len;
	if (c->ahead && bz2_ahead_take(c->ahead, &job)) {
		c->taken = true;
		c->blocks++;
		return 0;
	}
	decode_ahead(c);
	ret = read_bits(c->f, c->pos, c->to, &c->bits);
	if (ret == -ENOMEM)
		return bz2_err_nomem(&c->msg);
	if (ret < 0)
		return bz2_err_read(&c->msg, ret == -ENODATA ? -EIO : ret);
	if (memo_get(c->f, &c->bits, &len, &zero) && zero) {
		c->zeros = len;
		c->zero = false;
		return len ? 0 : finish_block(c);
	}
	c->zero = c->bits.nbits <= MEMO_BYTES * 8;
	if (bz2_bits_wrap(&c->bits, cut->level, cut->crc, &slen,
			  &boundary) < 0 ||
	    bz2_attempt_start(&c->att, c->bits.buf, slen, boundary) !=
	    BZ2_ATT_MORE)
		return bz2_err_nomem(&c->msg);
	c->in_block = true;
	return 0;
}

/* The end of a stream: its CRC, then the end or another stream. */
static int on_eos(struct bzcur *c, const struct cut *cut)
{
	struct bzfmt *f = c->f;
	struct bz2_cut look = { .kind = BZ2_CUT_EOS, .pos = cut->pos % 8 };
	uint64_t t = eos_end(cut->pos), avail = f->fsize - cut->pos / 8;
	size_t q = (size_t)(t - cut->pos / 8), i;

	look.looklen = avail < BZ2_LOOK ? (size_t)avail : BZ2_LOOK;
	if (pread_all(f->fd, look.look, look.looklen, cut->pos / 8) < 0 ||
	    !bz2_cut_has_crc(&look))
		return bz2_err_truncated(&c->msg);
	if (c->whole && bz2_cut_crc(&look) != c->combined)
		return block_bad(c, "stream CRC mismatch");
	if (t == f->fsize) {
		c->done = true;
		return 0;
	}
	if (look.looklen < q + 4 && memcmp(look.look + q, "BZh",
					   look.looklen - q < 3 ?
					   look.looklen - q : 3) == 0)
		return bz2_err_truncated(&c->msg);
	if (!bz2_header_level(look.look + q, look.looklen - q))
		return bmap_seterr(&c->msg, EBADMSG,
				   "trailing garbage after bzip2 data");
	c->pos = eos_next(cut->pos);
	pthread_mutex_lock(&f->lock);
	i = cut_index(f, c->pos);
	t = i < f->n ? f->cuts[i].pos : UNKNOWN;
	pthread_mutex_unlock(&f->lock);
	if (t == UNKNOWN)
		return bz2_err_truncated(&c->msg);
	if (t != c->pos)
		return block_bad(c, "no block where one must start");
	c->whole = true;
	c->combined = 0;
	return 0;
}

/* Start on the cut at c->pos. */
static int next_cut(struct bzcur *c)
{
	struct bzfmt *f = c->f;
	struct cut cut = { .pos = UNKNOWN };
	size_t i;

	pthread_mutex_lock(&f->lock);
	i = cut_index(f, c->pos);
	if (i < f->n && f->cuts[i].pos == c->pos) {
		cut = f->cuts[i];
		c->to = i + 1 < f->n ? f->cuts[i + 1].pos : UNKNOWN;
	}
	pthread_mutex_unlock(&f->lock);
	if (cut.pos != c->pos)
		return block_bad(c, "the index lost a block");
	return cut.kind == BZ2_CUT_EOS ? on_eos(c, &cut) : start_block(c, &cut);
}

/* The block ended before its next cut: find where it really ends. */
static int rejoin(struct bzcur *c)
{
	struct bz2_bits b = { 0 };
	int ret;

	bz2_attempt_end(&c->att);
	c->in_block = false;
	if (c->joined)
		return block_bad(c, "bad block or CRC mismatch");
	ret = join_block(c->f, c->pos, &b, &c->msg);
	bz2_bits_free(&b);
	c->joined = true;
	return ret;
}

static ssize_t block_read(struct bzcur *c, void *buf, size_t len)
{
	size_t n = 0;
	int ret = bz2_attempt_step(&c->att, buf, len, &n);

	if (ret == BZ2_ATT_NOMEM)
		return bz2_err_nomem(&c->msg);
	if (ret == BZ2_ATT_RETRY)
		return rejoin(c);
	if (ret == BZ2_ATT_BAD)
		return block_bad(c, "bad block or CRC mismatch");
	c->produced += n;
	c->zero = c->zero && bz2_all_zero(buf, n);
	if (ret == BZ2_ATT_DONE)
		ret = finish_block(c);
	return ret < 0 ? ret : (ssize_t)n;
}

/* The worker's block: its output, then what it found. */
static ssize_t ahead_step(struct bzcur *c, void *buf, size_t len)
{
	struct bz2_ahead_end end;
	size_t n = bz2_ahead_read(c->ahead, buf, len);

	if (n) {
		c->produced += n;
		return (ssize_t)n;
	}
	c->taken = false;
	bz2_ahead_result(c->ahead, &end, &c->bits);
	if (end.err == -ENOMEM)
		return bz2_err_nomem(&c->msg);
	if (end.err)
		return bz2_err_read(&c->msg, end.err == -ENODATA ? -EIO : end.err);
	if (end.zeros) {
		c->zeros = end.len;
		c->zero = false;
		return end.len ? 0 : finish_block(c);
	}
	c->zero = end.zero && c->bits.nbits <= MEMO_BYTES * 8;
	switch (end.att) {
	case BZ2_ATT_DONE:
		return finish_block(c);
	case BZ2_ATT_RETRY:
		return rejoin(c);
	case BZ2_ATT_NOMEM:
		return bz2_err_nomem(&c->msg);
	default:
		return block_bad(c, "bad block or CRC mismatch");
	}
}

static ssize_t cur_step(struct bzcur *c, void *buf, size_t len)
{
	size_t n;

	if (c->zeros) {
		n = c->zeros < len ? (size_t)c->zeros : len;
		memset(buf, 0, n);
		c->zeros -= n;
		c->produced += n;
		if (!c->zeros && finish_block(c) < 0)
			return -EBADMSG;
		return (ssize_t)n;
	}
	if (c->taken)
		return ahead_step(c, buf, len);
	if (c->in_block)
		return block_read(c, buf, len);
	return next_cut(c);
}

static ssize_t bzip2_cursor_read(void *cur, void *buf, size_t len,
				 struct bmap_err *err)
{
	struct bzcur *c = cur;
	ssize_t n = 0;

	while (n == 0 && !c->done && !c->error && len > 0) {
		n = cur_step(c, buf, len);
		if (n < 0)
			c->error = (int)-n;
	}
	if (c->error) {
		if (err)
			*err = c->msg;
		return -c->error;
	}
	return n;
}

static void bzip2_cursor_close(void *cur)
{
	struct bzcur *c = cur;

	if (!c)
		return;
	bz2_ahead_free(c->ahead);
	bz2_attempt_end(&c->att);
	bz2_bits_free(&c->bits);
	free(c);
}

static int bzip2_cursor_open(void *fmt, uint64_t off, void **cur,
			     uint64_t *start, struct bmap_err *err)
{
	struct bzfmt *f = fmt;
	struct bzcur *c;
	size_t i;
	bool known;
	int ret;

	pthread_mutex_lock(&f->lock);
	known = f->scanned && known_cut(f, off, true) < f->n;
	pthread_mutex_unlock(&f->lock);
	if (!known) {
		ret = resolve(f, off, err);
		if (ret < 0)
			return ret;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return bz2_err_nomem(err);
	c->f = f;
	pthread_mutex_lock(&f->lock);
	i = known_cut(f, off, false);
	c->pos = f->cuts[i].pos;
	*start = f->cuts[i].out;
	c->whole = i == 0 || (f->cuts[i - 1].kind == BZ2_CUT_EOS &&
			      f->cuts[i - 1].out != UNKNOWN);
	pthread_mutex_unlock(&f->lock);
	*cur = c;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Saving and loading the table                                        */

/*
 * Through seekidx ("bzip2", 3 fields a point): first a START point with
 * the file size and the image size the back was anchored at (+1, or 0);
 * then each cut: its kind, its bit offset and its output length (+1, or
 * 0). Output offsets follow from these, so they are not stored.
 */
#define IDX_FIELDS 3

static int bzip2_save(void *fmt, struct strbuf *out)
{
	struct bzfmt *f = fmt;
	struct seekidx_out o;
	uint64_t v[IDX_FIELDS];
	size_t i;

	pthread_mutex_lock(&f->lock);
	seekidx_begin(&o, out, "bzip2", IDX_FIELDS);
	v[0] = BZ2_CUT_START;
	v[1] = f->fsize;
	v[2] = f->back < f->n ? f->hint + 1 : 0;
	seekidx_put(&o, v, NULL, 0);
	for (i = 0; f->scanned && i < f->n; i++) {
		v[0] = f->cuts[i].kind;
		v[1] = f->cuts[i].pos;
		v[2] = f->cuts[i].len == NOLEN ? 0 :
		       (uint64_t)f->cuts[i].len + 1;
		seekidx_put(&o, v, NULL, 0);
	}
	pthread_mutex_unlock(&f->lock);
	return seekidx_end(&o);
}

/* Check a loaded cut against the file: its magic, and take its CRC and
 * (after an end of stream) the next level from there. */
static bool load_check(struct bzfmt *f, struct cut *c)
{
	unsigned char raw[BZ2_LOOK + 8] = { 0 };
	struct bz2_cut look = { .kind = c->kind, .pos = c->pos % 8 };
	uint64_t avail = f->fsize - c->pos / 8, magic, v = 0;
	size_t q = (size_t)(eos_end(c->pos) - c->pos / 8), i;

	look.looklen = avail < BZ2_LOOK ? (size_t)avail : BZ2_LOOK;
	if (pread_all(f->fd, raw, look.looklen, c->pos / 8) < 0)
		return false;
	memcpy(look.look, raw, BZ2_LOOK);
	for (i = 0; i < 8; i++)
		v = v << 8 | raw[i];
	magic = (v << (c->pos % 8)) >> 16;
	if (magic != (c->kind == BZ2_CUT_BLOCK ? BZ2_MAGIC_BLOCK :
		      BZ2_MAGIC_EOS))
		return false;
	c->crc = bz2_cut_has_crc(&look) ? bz2_cut_crc(&look) : 0;
	if (c->kind == BZ2_CUT_EOS && look.looklen > q)
		c->level = (uint8_t)bz2_header_level(look.look + q,
						 look.looklen - q);
	return true;
}

/* Read the cuts; their levels come from the file as the scan's do. */
static int load_cuts(struct bzfmt *f, struct seekidx_in *in,
		     struct cut *cuts, size_t n)
{
	uint64_t v[IDX_FIELDS], prev = 0;
	unsigned level = f->level0;
	const void *blob;
	uint32_t bloblen;
	size_t i;

	for (i = 0; i < n; i++) {
		if (seekidx_next(in, v, &blob, &bloblen) != 1 || bloblen ||
		    (v[0] != BZ2_CUT_BLOCK && v[0] != BZ2_CUT_EOS) ||
		    (i == 0 && v[1] != 32) || (i > 0 && v[1] <= prev) ||
		    v[1] / 8 >= f->fsize || v[1] + 48 > f->fsize * 8 ||
		    v[2] > (uint64_t)NOLEN)
			return -EINVAL;
		prev = v[1];
		cuts[i].kind = (uint8_t)v[0];
		cuts[i].pos = v[1];
		cuts[i].out = UNKNOWN;
		cuts[i].len = v[2] ? (uint32_t)(v[2] - 1) : NOLEN;
		if (!load_check(f, &cuts[i]))
			return -EINVAL;
		if (cuts[i].kind == BZ2_CUT_EOS && cuts[i].level)
			level = cuts[i].level;
		if (cuts[i].kind == BZ2_CUT_BLOCK)
			cuts[i].level = (uint8_t)level;
		if (v[2] && (cuts[i].kind == BZ2_CUT_EOS ||
			     v[2] - 1 > BLOCK_OUT_MAX(cuts[i].level)))
			return -EINVAL;
	}
	return seekidx_next(in, v, &blob, &bloblen) == 0 ? 0 : -EINVAL;
}

/* Put a loaded table in place of what the fmt has. With both locks. */
static void install(struct bzfmt *f, struct cut *cuts, size_t n,
		    uint64_t anchor)
{
	free(f->cuts);
	f->cuts = cuts;
	f->n = n;
	f->scanned = true;
	f->front = 0;
	f->back = n;
	f->front_end = f->front_stuck = f->back_dead = false;
	f->effort[0] = f->effort[1] = 0;
	cuts[0].out = 0;
	/* Blocks are placed from the end only by a size told this run
	 * (hint_size), never by one a file says; the file's is kept when
	 * they agree. */
	if (anchor && f->hint != anchor - 1)
		anchor = 0;
	advance_front(f);
	advance_back(f);
}

static int bzip2_load(void *fmt, const void *buf, size_t len,
		      struct bmap_err *err)
{
	struct bzfmt *f = fmt;
	struct seekidx_in in;
	uint64_t v[IDX_FIELDS], n;
	const void *blob;
	uint32_t bloblen;
	struct cut *cuts;
	int ret;

	ret = seekidx_open(&in, buf, len, "bzip2", IDX_FIELDS, err);
	if (ret < 0)
		return ret;
	if (seekidx_next(&in, v, &blob, &bloblen) != 1 ||
	    v[0] != BZ2_CUT_START || v[1] != f->fsize)
		return bmap_seterr(err, EINVAL,
				   "saved bzip2 seek points: not this file's");
	n = seekidx_count(&in);
	if (n == 0)
		return 0;
	if (n > f->fsize * 8 / 48 + 1)
		return bmap_seterr(err, EINVAL,
				   "saved bzip2 seek points: too many");
	cuts = calloc((size_t)n, sizeof(*cuts));
	if (!cuts)
		return bz2_err_nomem(err);
	ret = load_cuts(f, &in, cuts, (size_t)n);
	if (ret < 0) {
		free(cuts);
		return bmap_seterr(err, EINVAL, "saved bzip2 seek points: "
				   "they do not fit the file");
	}
	pthread_mutex_lock(&f->work);
	pthread_mutex_lock(&f->lock);
	install(f, cuts, (size_t)n, v[2]);
	pthread_mutex_unlock(&f->lock);
	pthread_mutex_unlock(&f->work);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The format                                                          */

static int bzip2_open(int fd, uint64_t file_size, unsigned threads,
		      void **fmt, struct bmap_err *err)
{
	unsigned char h[10];
	uint64_t magic = 0;
	struct bzfmt *f;
	int i;

	if (file_size < sizeof(h) || pread_all(fd, h, sizeof(h), 0) < 0 ||
	    !bz2_header_level(h, 4))
		return -ENOTSUP;
	for (i = 4; i < 10; i++)
		magic = magic << 8 | h[i];
	if (magic != BZ2_MAGIC_BLOCK && magic != BZ2_MAGIC_EOS)
		return -ENOTSUP;
	f = calloc(1, sizeof(*f));
	if (!f)
		return bz2_err_nomem(err);
	f->fd = fd;
	f->fsize = file_size;
	f->level0 = bz2_header_level(h, 4);
	f->threads = threads < 1 ? 1 : threads > THREADS_MAX ? THREADS_MAX :
		     threads;
	f->hint = UNKNOWN;
	pthread_mutex_init(&f->work, NULL);
	pthread_mutex_init(&f->lock, NULL);
	*fmt = f;
	return 0;
}

static uint64_t bzip2_size(void *fmt)
{
	struct bzfmt *f = fmt;
	uint64_t size;

	pthread_mutex_lock(&f->lock);
	size = f->front_end ? f->cuts[f->front].out : BMAP_SIZE_UNKNOWN;
	pthread_mutex_unlock(&f->lock);
	return size;
}

static uint64_t bzip2_point(void *fmt, uint64_t off)
{
	struct bzfmt *f = fmt;
	uint64_t out = 0;

	pthread_mutex_lock(&f->lock);
	if (f->scanned)
		out = f->cuts[known_cut(f, off, false)].out;
	pthread_mutex_unlock(&f->lock);
	return out;
}

/* The cuts placed at off start no cursor again; a cursor decoding through
 * them is unaffected (it checks every block's CRC as it goes). A cut
 * placed from the end was placed by the size the engine told: that size
 * is wrong, and every cut placed by it goes, for good. */
static void bzip2_drop_point(void *fmt, uint64_t off)
{
	struct bzfmt *f = fmt;
	size_t i;

	if (off == 0)
		return;
	pthread_mutex_lock(&f->lock);
	for (i = 1; f->scanned && i < f->n; i++) {
		if (f->cuts[i].out != off)
			continue;
		if (i > f->front) {
			drop_back(f);
			break;
		}
		f->cuts[i].dropped = true;
	}
	pthread_mutex_unlock(&f->lock);
}

static void bzip2_close(void *fmt)
{
	struct bzfmt *f = fmt;
	unsigned i;

	for (i = 0; i < MEMO_N; i++)
		free(f->memo[i].bits);
	free(f->cuts);
	pthread_mutex_destroy(&f->lock);
	pthread_mutex_destroy(&f->work);
	free(f);
}

const struct codec_seek_ops ra_bzip2_ops = {
	.name = "bzip2",
	.open = bzip2_open,
	.size = bzip2_size,
	.point = bzip2_point,
	.drop_point = bzip2_drop_point,
	.cursor_open = bzip2_cursor_open,
	.cursor_read = bzip2_cursor_read,
	.cursor_close = bzip2_cursor_close,
	.save = bzip2_save,
	.load = bzip2_load,
	.hint_size = bzip2_hint_size,
	.close = bzip2_close,
};

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bz2-resolve.c - the SEEK side's blocks decoded for their length only:
 * the memo of blocks by their bits, batches of blocks decoded on
 * `threads` threads to move the front or the back on, the join of a
 * block cut short at a false magic (bz2_block_join over the table), and
 * the choice of the side to extend. See bz2-seek.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "codec/bz2-seek.h"

/* ------------------------------------------------------------------ */
/* Blocks decoded for their length                                     */

/* Append the bits [from, to) of the file to b. */
int bz2_append_bits(struct bz2_fmt *f, uint64_t from, uint64_t to,
		       struct bz2_bits *b)
{
	size_t n = (size_t)((to + 7) / 8 - from / 8);
	unsigned char *raw = malloc(n + 8);
	int ret;

	if (!raw)
		return -ENOMEM;
	ret = bz2_pread(f->fd, raw, n, from / 8);
	memset(raw + n, 0, 8);
	if (ret == 0)
		ret = bz2_bits_append(b, raw, from % 8, to - from);
	free(raw);
	return ret;
}

/* The bits [from, to) of the file, after 32 bits of room, in b. */
int bz2_read_bits(struct bz2_fmt *f, uint64_t from, uint64_t to,
		     struct bz2_bits *b)
{
	b->nbits = 0;
	return bz2_append_bits(f, from, to, b);
}

/* Whether the bits in b are those of memo m. */
static bool memo_match(const struct bz2_memo *m, const struct bz2_bits *b)
{
	size_t whole = (size_t)(b->nbits / 8);
	unsigned rest = (unsigned)(b->nbits % 8);
	unsigned char mask = (unsigned char)(0xff00 >> rest);

	return m->bits && m->nbits == b->nbits &&
	       memcmp(m->bits, b->buf + 4, whole) == 0 &&
	       (!rest || ((m->bits[whole] ^ b->buf[4 + whole]) & mask) == 0);
}

static const struct bz2_memo *memo_find(struct bz2_fmt *f, const struct bz2_bits *b)
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
void bz2_memo_add(struct bz2_fmt *f, const struct bz2_bits *b, uint64_t len,
		     bool zero)
{
	struct bz2_memo *m = &f->memo[f->memo_next];
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
bool bz2_memo_get(struct bz2_fmt *f, const struct bz2_bits *b, uint64_t *len,
		     bool *zero)
{
	const struct bz2_memo *m;

	pthread_mutex_lock(&f->lock);
	m = memo_find(f, b);
	if (m) {
		*len = m->len;
		*zero = m->zero;
	}
	pthread_mutex_unlock(&f->lock);
	return m != NULL;
}

struct bz2_len_job {
	uint64_t from, to;
	uint32_t crc;
	unsigned level;
	int res;		/* a BZ2_ATT_ result, or -errno */
	uint64_t len;
	bool decoded;		/* not from the memo */
};

/* Decode a block for its length, into scratch. */
static void bz2_run_job(struct bz2_fmt *f, struct bz2_len_job *j, struct bz2_bits *b,
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
	ret = bz2_read_bits(f, j->from, j->to, b);
	if (ret < 0) {
		j->res = ret;
		return;
	}
	if (bz2_memo_get(f, b, &j->len, &zero)) {
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
		bz2_memo_add(f, b, j->len, zero);
		pthread_mutex_unlock(&f->lock);
	}
}

struct batch {
	struct bz2_fmt *f;
	struct bz2_len_job *jobs;
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
			bz2_run_job(bt->f, &bt->jobs[i], &b, scratch);
		else
			bt->jobs[i].res = BZ2_ATT_NOMEM;
	}
	bz2_bits_free(&b);
	free(scratch);
	return NULL;
}

static void run_batch(struct bz2_fmt *f, struct bz2_len_job *jobs, unsigned n)
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

static void add_job(struct bz2_fmt *f, struct bz2_len_job *jobs, unsigned *n,
		    uint64_t *bits, size_t i)
{
	struct bz2_entry *c = &f->cuts[i];
	struct bz2_len_job *j = &jobs[(*n)++];

	memset(j, 0, sizeof(*j));
	j->from = c->pos;
	j->to = f->cuts[i + 1].pos;
	j->crc = c->crc;
	j->level = c->level;
	*bits += j->to - j->from;
}

/* The next blocks of unknown length from the front (side 0) or the back
 * (side 1). With the lock held. */
static unsigned pick_jobs(struct bz2_fmt *f, int side, struct bz2_len_job *jobs)
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
	struct bz2_fmt *f;
	uint64_t last;		/* the bits up to this cut are joined */
};

static int table_next(void *ctx, struct bz2_bits *bits, uint64_t *pos,
		      enum bz2_cut_kind *kind, struct bmap_err *err)
{
	struct table_more *m = ctx;
	struct bz2_fmt *f = m->f;
	uint64_t to = f->fsize * 8;
	bool more;
	size_t i;
	int ret;

	pthread_mutex_lock(&f->lock);
	i = bz2_cut_index(f, m->last);
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
	ret = bz2_append_bits(f, m->last, to, bits);
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
int bz2_join_block(struct bz2_fmt *f, uint64_t from, struct bz2_bits *b,
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
	i = bz2_cut_index(f, from);
	if (i + 1 < f->n && f->cuts[i].pos == from) {
		crc = f->cuts[i].crc;
		level = f->cuts[i].level;
		m.last = f->cuts[i + 1].pos;
	}
	pthread_mutex_unlock(&f->lock);
	if (!level)
		return bz2_err_truncated(err);
	ret = bz2_read_bits(f, from, m.last, b);
	if (ret < 0)
		return ret == -ENOMEM ? bz2_err_nomem(err) :
		       bz2_err_read(err, ret == -ENODATA ? -EIO : ret);
	ret = bz2_block_join(b, from, level, crc, &more, &out, err);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&f->lock);
	bz2_learn(f, from, out.end, out.len);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* The job for the block at bit pos, or NULL. */
static const struct bz2_len_job *job_at(const struct bz2_len_job *jobs, unsigned n,
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
static void commit(struct bz2_fmt *f, int side, struct bz2_len_job *jobs, unsigned n,
		   uint64_t *retry)
{
	const struct bz2_len_job *j = NULL;
	unsigned k;

	for (k = 0; k < n; k++) {
		if (jobs[k].decoded)
			f->effort[side] += jobs[k].to - jobs[k].from;
		if (jobs[k].res == BZ2_ATT_DONE)
			bz2_learn(f, jobs[k].from, jobs[k].to, jobs[k].len);
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
static uint64_t todo_bits(const struct bz2_fmt *f, size_t from, size_t to)
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
static int pick_side(struct bz2_fmt *f, uint64_t off)
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
static bool resolve_step(struct bz2_fmt *f, uint64_t off, struct bz2_len_job *jobs)
{
	struct bz2_bits b = { 0 };
	struct bmap_err err;
	uint64_t retry;
	unsigned n = 0;
	int side;

	pthread_mutex_lock(&f->lock);
	bz2_advance_back(f);
	side = bz2_known_cut(f, off, true) < f->n ? -1 : pick_side(f, off);
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
	if (bz2_join_block(f, retry, &b, &err) < 0) {
		pthread_mutex_lock(&f->lock);
		f->front_stuck = true;
		pthread_mutex_unlock(&f->lock);
	}
	bz2_bits_free(&b);
	return true;
}

int bz2_resolve(struct bz2_fmt *f, uint64_t off, struct bmap_err *err)
{
	struct bz2_len_job *jobs;
	int ret;

	pthread_mutex_lock(&f->work);
	ret = bz2_ensure_scanned(f, err);
	jobs = ret ? NULL : malloc(BATCH_JOBS * sizeof(*jobs));
	if (!ret && !jobs)
		ret = bz2_err_nomem(err);
	while (!ret && resolve_step(f, off, jobs))
		;
	free(jobs);
	pthread_mutex_unlock(&f->work);
	return ret;
}


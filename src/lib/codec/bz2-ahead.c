/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bz2-ahead.c - decoding the next bzip2 block on a worker thread.
 *
 * The worker decodes into one buffer, a piece at a time, while there is
 * room; the cursor copies out of it. A block's output can be 45 MB (runs
 * of a byte): the buffer holds at most AHEAD_MAX of it, and the worker
 * goes on as the cursor drains it. Between pieces the worker looks
 * whether it is told to stop, so a close waits for one piece at most.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codec/bz2-seek.h"


#define AHEAD_MAX (4u << 20)	/* output held ahead */
#define AHEAD_PIECE (1u << 20)	/* decoded at a time */

enum ahead_state {
	AH_IDLE,	/* no block */
	AH_RUN,		/* a block given, being decoded */
	AH_DONE,	/* decoded: the result is in */
};

struct bz2_ahead {
	bz2_prepare_fn prepare;
	void *ctx;
	pthread_t tid;
	pthread_mutex_t mu;	/* everything below */
	pthread_cond_t wake;	/* for the worker: a job, room, a stop */
	pthread_cond_t ready;	/* for the cursor: output, the end */
	enum ahead_state state;
	bool quit;		/* the cursor closes */
	bool drop;		/* stop the block in hand, forget it */
	struct bz2_job job;
	struct bz2_ahead_end end;	/* once AH_DONE */
	unsigned char *buf;	/* AHEAD_MAX bytes */
	size_t rpos, wpos;	/* output read up to, written up to */
	struct bz2_bits bits;	/* the worker's until AH_DONE */
};

/* Room to decode into: false when told to stop. With mu. */
static bool wait_room(struct bz2_ahead *a)
{
	for (;;) {
		if (a->quit || a->drop)
			return false;
		if (a->rpos == a->wpos)
			a->rpos = a->wpos = 0;
		if (a->wpos < AHEAD_MAX)
			return true;
		pthread_cond_wait(&a->wake, &a->mu);
	}
}

/* Decode the job in hand: its result, or BZ2_ATT_MORE when stopped.
 * Called and returns with mu. */
static int decode(struct bz2_ahead *a)
{
	struct bz2_job job = a->job;
	struct bz2_attempt att = { 0 };
	size_t slen, boundary, room, n;
	unsigned char *p;
	uint64_t len = 0;
	int ret;

	pthread_mutex_unlock(&a->mu);
	ret = a->prepare(a->ctx, &job, &a->bits, &len);
	a->end.err = ret < 0 ? ret : 0;
	a->end.zeros = ret == 1;
	if (ret < 0 || ret == 1)
		ret = BZ2_ATT_DONE;	/* nothing to decode */
	else if (bz2_bits_wrap(&a->bits, job.level, job.crc, &slen,
			       &boundary) < 0 ||
		 bz2_attempt_start(&att, a->bits.buf, slen, boundary) !=
		 BZ2_ATT_MORE)
		ret = BZ2_ATT_NOMEM;
	else
		ret = BZ2_ATT_MORE;
	pthread_mutex_lock(&a->mu);
	a->end.len = len;
	while (ret == BZ2_ATT_MORE && wait_room(a)) {
		p = a->buf + a->wpos;
		room = AHEAD_MAX - a->wpos;
		room = room < AHEAD_PIECE ? room : AHEAD_PIECE;
		pthread_mutex_unlock(&a->mu);
		n = 0;
		ret = bz2_attempt_step(&att, p, room, &n);
		if (ret > BZ2_ATT_DONE)
			n = 0;	/* failed: its output is not handed out */
		pthread_mutex_lock(&a->mu);
		a->wpos += n;
		a->end.zero = a->end.zero && bz2_all_zero(p, n);
		pthread_cond_signal(&a->ready);
	}
	bz2_attempt_end(&att);
	return ret;
}

static void *worker(void *arg)
{
	struct bz2_ahead *a = arg;
	int ret;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (!a->quit && a->state != AH_RUN)
			pthread_cond_wait(&a->wake, &a->mu);
		if (a->quit)
			break;
		a->rpos = a->wpos = 0;
		a->end.zero = true;
		ret = a->drop ? BZ2_ATT_MORE : decode(a);
		if (ret == BZ2_ATT_MORE) {	/* stopped */
			a->state = AH_IDLE;
			a->drop = false;
		} else {
			a->end.att = (enum bz2_att)ret;
			a->state = AH_DONE;
		}
		pthread_cond_signal(&a->ready);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

struct bz2_ahead *bz2_ahead_new(bz2_prepare_fn prepare, void *ctx)
{
	struct bz2_ahead *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->buf = malloc(AHEAD_MAX);
	if (!a->buf) {
		free(a);
		return NULL;
	}
	a->prepare = prepare;
	a->ctx = ctx;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->wake, NULL);
	pthread_cond_init(&a->ready, NULL);
	if (pthread_create(&a->tid, NULL, worker, a) != 0) {
		a->quit = true;
		bz2_ahead_free(a);
		return NULL;
	}
	return a;
}

void bz2_ahead_free(struct bz2_ahead *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	if (!a->quit) {
		a->quit = true;
		pthread_cond_signal(&a->wake);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->tid, NULL);
	} else {
		pthread_mutex_unlock(&a->mu);
	}
	pthread_cond_destroy(&a->ready);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->mu);
	bz2_bits_free(&a->bits);
	free(a->buf);
	free(a);
}

bool bz2_ahead_idle(struct bz2_ahead *a)
{
	bool idle;

	pthread_mutex_lock(&a->mu);
	idle = a->state == AH_IDLE;
	pthread_mutex_unlock(&a->mu);
	return idle;
}

void bz2_ahead_give(struct bz2_ahead *a, const struct bz2_job *job)
{
	pthread_mutex_lock(&a->mu);
	if (a->state == AH_IDLE) {
		a->job = *job;
		a->state = AH_RUN;
		pthread_cond_signal(&a->wake);
	}
	pthread_mutex_unlock(&a->mu);
}

static bool same_job(const struct bz2_job *x, const struct bz2_job *y)
{
	return x->pos == y->pos && x->to == y->to && x->crc == y->crc &&
	       x->level == y->level;
}

bool bz2_ahead_take(struct bz2_ahead *a, const struct bz2_job *job)
{
	bool mine;

	pthread_mutex_lock(&a->mu);
	mine = a->state != AH_IDLE && !a->drop && same_job(&a->job, job);
	if (!mine && a->job.pos > job->pos)
		;	/* further on: kept */
	else if (!mine && a->state == AH_DONE)
		a->state = AH_IDLE;
	else if (!mine && a->state == AH_RUN) {
		a->drop = true;
		pthread_cond_signal(&a->wake);
	}
	pthread_mutex_unlock(&a->mu);
	return mine;
}

size_t bz2_ahead_read(struct bz2_ahead *a, void *buf, size_t len)
{
	size_t n, at;

	pthread_mutex_lock(&a->mu);
	while (a->rpos == a->wpos && a->state == AH_RUN)
		pthread_cond_wait(&a->ready, &a->mu);
	n = a->wpos - a->rpos;
	at = a->rpos;
	pthread_mutex_unlock(&a->mu);
	if (n == 0)
		return 0;
	/* the worker writes only past wpos, and moves back to the start
	 * only when all is read: [at, at + n) stays as it is */
	n = n < len ? n : len;
	memcpy(buf, a->buf + at, n);
	pthread_mutex_lock(&a->mu);
	a->rpos += n;
	if (a->rpos == a->wpos)
		pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->mu);
	return n;
}

void bz2_ahead_result(struct bz2_ahead *a, struct bz2_ahead_end *end,
		      struct bz2_bits *bits)
{
	struct bz2_bits t;

	pthread_mutex_lock(&a->mu);
	*end = a->end;
	t = a->bits;
	a->bits = *bits;
	*bits = t;
	a->state = AH_IDLE;
	pthread_mutex_unlock(&a->mu);
}

/* ------------------------------------------------------------------ */
/* What a cursor gives the worker                                      */

/* The worker's: read a block's bits, or know it is all zeros. */
static int bz2_prepare_block(void *ctx, const struct bz2_job *job,
			 struct bz2_bits *bits, uint64_t *len)
{
	struct bz2_fmt *f = ctx;
	bool zero = false;
	int ret = bz2_read_bits(f, job->pos, job->to, bits);

	if (ret < 0)
		return ret;
	return bz2_memo_get(f, bits, len, &zero) && zero ? 1 : 0;
}

/* The block after the one at bit pos (past an end of stream), as the
 * table has it: false when there is none (or not yet). */
static bool bz2_block_after(struct bz2_fmt *f, uint64_t pos, struct bz2_job *job)
{
	const struct bz2_entry *d = NULL;
	size_t j;

	pthread_mutex_lock(&f->lock);
	j = bz2_cut_index(f, pos) + 1;
	if (j + 1 < f->n && f->cuts[j].kind == BZ2_CUT_EOS &&
	    f->cuts[j].level && f->cuts[j + 1].pos == bz2_eos_next(f->cuts[j].pos))
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
static bool bz2_known_zeros(struct bz2_fmt *f, const struct bz2_job *job,
			struct bz2_bits *b)
{
	uint64_t len;
	bool zero = false;

	return job->to - job->pos <= MEMO_BYTES * 8 &&
	       bz2_read_bits(f, job->pos, job->to, b) == 0 &&
	       bz2_memo_get(f, b, &len, &zero) && zero;
}

/* Have the worker decode the next block after this one that needs a
 * decode (the cursor passes remembered zeros itself), from the second
 * block on: a cursor for a short read never starts it. */
void bz2_decode_ahead(struct bz2_cursor *c)
{
	struct bz2_fmt *f = c->f;
	struct bz2_bits probe = { 0 };
	struct bz2_job job = { .pos = c->pos };
	unsigned k;

	if (++c->blocks < 2 || f->threads < 2)
		return;
	if (!c->ahead && !c->tried) {
		c->tried = true;
		c->ahead = bz2_ahead_new(bz2_prepare_block, f);
	}
	if (!c->ahead || !bz2_ahead_idle(c->ahead))
		return;
	for (k = 0; k < AHEAD_SKIP && bz2_block_after(f, job.pos, &job); k++)
		if (!bz2_known_zeros(f, &job, &probe)) {
			bz2_ahead_give(c->ahead, &job);
			break;
		}
	bz2_bits_free(&probe);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bz2-pipe.h - the bzip2 STREAM decoder's own parts: the pipeline of
 * items (bz2-pipe.c), the reader taking them in order (bz2-stream.c),
 * and the one-thread decoder (bz2-serial.c).
 */
#ifndef BMAP_CODEC_BZ2_PIPE_H
#define BMAP_CODEC_BZ2_PIPE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "codec/bz2.h"
#include "codec/codec.h"

/* Output is handed over in chunks of this size, and a block runs at most
 * this many chunks ahead of the reader (chunks of zeros take no memory
 * and are not counted). */
#define OUT_CHUNK (1024 * 1024)
#define QUEUE_MAX 2
/* More workers than this is a mistake. */
#define WORKERS_MAX 64u

/* A chunk of output. Disk images are mostly zeros, which bzip2 packs 45
 * MB to a block: a chunk of them is queued as its length alone, so that a
 * worker can decode such a block well ahead of the reader. */
struct bz2_chunk {
	struct bz2_chunk *next;
	size_t len;
	size_t pos;		/* bytes already handed out */
	unsigned char *data;	/* OUT_CHUNK bytes, or NULL: zeros */
};

enum bz2_item_state {
	IT_NONE,	/* not a block */
	IT_PENDING,	/* a block waiting for a worker */
	IT_RUNNING,
	IT_OK,		/* decoded, verified, ends exactly at the next cut */
	IT_RETRY,
	IT_BAD,
	IT_NOMEM,
	IT_STOPPED,	/* nobody wanted its output any more */
};

struct bz2_item {
	struct bz2_item *next;
	struct bz2_cut cut;
	struct bz2_bits seg;	/* bits from this cut to the next */
	size_t len;		/* block: stand-alone stream in seg.buf */
	size_t boundary;
	enum bz2_item_state state;
	bool released;		/* out of the list; freed when not running */
	bool taken;		/* some of its output was handed out */
	struct bz2_chunk *qhead, *qtail;
	unsigned qlen;		/* chunks queued that hold data */
};

struct bz2_pipe {
	struct codec_input *in;
	pthread_mutex_t lock;
	pthread_cond_t work;	/* workers: a block, queue room, stop */
	pthread_cond_t ready;	/* reader: an item, output, a result */
	pthread_cond_t room;	/* scanner: room for another item */
	struct bz2_item *head, *tail;
	unsigned nitems, maxitems;	/* items allocated, and the limit */
	bool stop;
	volatile int halt;	/* stop, for the scanner's input reads */
	bool nomem;		/* the scanner could not go on */
	struct bz2_chunk *spare;
	unsigned nspare, maxspare;
	struct bz2_scan scan;
	struct bz2_item *building;	/* the scanner's item in the making */
	pthread_t scanner;
	bool scanning;		/* scanner thread started */
	pthread_t *workers;
	unsigned nworkers, started;
	/* The reader's side. */
	uint64_t expect;	/* bit offset where the next thing starts */
	unsigned level;		/* of the current stream */
	uint32_t combined;	/* CRC of the current stream so far */
	bool padding;		/* past the last stream: zeros up to the end */
	bool finished;
	struct bz2_attempt local;	/* a block the reader decodes itself */
	bool local_active;
	uint64_t local_end;
	uint32_t local_crc;
	struct bz2_bits joined;
	int error;		/* sticky failure, and its message */
	struct bmap_err errmsg;
};

/* bz2-pipe.c: with the lock held but where said. */
void bz2_free_chunk(struct bz2_chunk *c);
void bz2_put_chunk(struct bz2_pipe *d, struct bz2_chunk *c);
void bz2_free_item(struct bz2_pipe *d, struct bz2_item *it);
/* Take an item out of the list (prev is the one before it, or NULL). */
void bz2_release(struct bz2_pipe *d, struct bz2_item *prev,
		 struct bz2_item *it);
/* The threads' bodies (arg: the pipe). */
void *bz2_worker_main(void *arg);
void *bz2_scanner_main(void *arg);

/* bz2-serial.c: the decoder for one thread. */
int bz2_serial_open(struct codec_input *in,
		    const struct codec_stream_ops **ops, void **state,
		    struct bmap_err *err);

#endif

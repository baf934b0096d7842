/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cache.c - the random-access engine's bounded cache of decoded chunks:
 * a hash table by chunk index, an LRU list, reference counts for readers
 * holding a chunk, and serials telling one decode of a chunk from the
 * next. The engine (ra.c) calls it with its lock held; see cache.h.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "fs/cache.h"

/* Slots in the hash table. */
#define RA_CACHE_SLOTS 4096

int ra_cache_init(struct ra_cache *cache, uint64_t max)
{
	*cache = (struct ra_cache){ .max = max, .nhash = RA_CACHE_SLOTS };
	cache->hash = calloc(cache->nhash, sizeof(*cache->hash));
	return cache->hash ? 0 : -ENOMEM;
}

static struct ra_chunk **hash_slot(struct ra_cache *cache, uint64_t idx)
{
	struct ra_chunk **p = &cache->hash[idx % cache->nhash];

	while (*p && (*p)->idx != idx)
		p = &(*p)->hnext;
	return p;
}

static void lru_unlink(struct ra_cache *cache, struct ra_chunk *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		cache->lru_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		cache->lru_tail = c->prev;
	c->prev = c->next = NULL;
}

static void lru_push(struct ra_cache *cache, struct ra_chunk *c)
{
	c->prev = NULL;
	c->next = cache->lru_head;
	if (cache->lru_head)
		cache->lru_head->prev = c;
	cache->lru_head = c;
	if (!cache->lru_tail)
		cache->lru_tail = c;
}

static void lru_push_tail(struct ra_cache *cache, struct ra_chunk *c)
{
	c->next = NULL;
	c->prev = cache->lru_tail;
	if (cache->lru_tail)
		cache->lru_tail->next = c;
	cache->lru_tail = c;
	if (!cache->lru_head)
		cache->lru_head = c;
}

/* Chunk buffers are mapped, not malloc()ed: freed chunks then go back to
 * the system at once, where malloc's per-thread arenas (a FUSE daemon
 * has many threads) would keep hundreds of MiB above the cache's size. */
struct ra_chunk *ra_chunk_new(void)
{
	struct ra_chunk *ch = calloc(1, sizeof(*ch));
	void *p;

	if (!ch)
		return NULL;
	p = mmap(NULL, RA_CHUNK, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		free(ch);
		return NULL;
	}
	ch->data = p;
	return ch;
}

void ra_chunk_free(struct ra_chunk *ch)
{
	if (ch)
		munmap(ch->data, RA_CHUNK);
	free(ch);
}

/* Out of the cache; freed now, or by the last reader holding it. */
static void chunk_drop(struct ra_cache *cache, struct ra_chunk *c)
{
	*hash_slot(cache, c->idx) = c->hnext;
	lru_unlink(cache, c);
	cache->cached -= c->len;
	if (c->refs)
		c->gone = true;
	else
		ra_chunk_free(c);
}

void ra_cache_fini(struct ra_cache *cache)
{
	while (cache->lru_tail)
		chunk_drop(cache, cache->lru_tail);
	free(cache->hash);
	cache->hash = NULL;
}

struct ra_chunk *ra_cache_lookup(struct ra_cache *cache, uint64_t idx)
{
	struct ra_chunk *c = *hash_slot(cache, idx);

	if (c) {
		lru_unlink(cache, c);
		lru_push(cache, c);
	}
	return c;
}

void ra_cache_add(struct ra_cache *cache, struct ra_chunk *c)
{
	struct ra_chunk **slot = hash_slot(cache, c->idx);

	if (*slot) {		/* another thread got there first */
		ra_chunk_free(c);
		return;
	}
	while (cache->lru_tail && cache->cached + c->len > cache->max)
		chunk_drop(cache, cache->lru_tail);
	c->hnext = NULL;
	c->serial = ++cache->serial;
	*slot = c;
	lru_push(cache, c);
	cache->cached += c->len;
}

void ra_cache_hold(struct ra_chunk *c)
{
	c->refs++;
}

void ra_cache_release(struct ra_chunk *c)
{
	if (--c->refs == 0 && c->gone)
		ra_chunk_free(c);
}

void ra_cache_reject(struct ra_cache *cache, uint64_t idx, uint64_t serial)
{
	struct ra_chunk *c = *hash_slot(cache, idx);

	if (c && c->serial == serial)
		chunk_drop(cache, c);
}

void ra_cache_demote(struct ra_cache *cache, uint64_t idx)
{
	struct ra_chunk *c = *hash_slot(cache, idx);

	if (c) {
		lru_unlink(cache, c);
		lru_push_tail(cache, c);
	}
}

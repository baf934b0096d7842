/* SPDX-License-Identifier: GPL-2.0-or-later */
/* create.c - make the block map of a sparse image file. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmap.h"
#include "base/error.h"
#include "base/io.h"

/*
 * 128 KiB: the read's copy and the hash then stay in the core's cache. At
 * 256 KiB and above the same work took 1.6 times as long here.
 */
#define HASH_CHUNK (128u * 1024)
/* Ranges are hashed by this many threads at most, each taking the next
 * range not yet taken. */
#define HASH_THREADS_MAX 4

struct hash_job {
	int fd;
	struct bmap *map;
	pthread_mutex_t lock;
	size_t next;		/* the next range to hash */
	int ret;		/* the first failure, or 0 */
	struct bmap_err err;
};

/* Hash bytes [off, off + len) of the file. */
static int hash_bytes(int fd, uint64_t off, uint64_t len, void *buf,
		      struct bmap_digest *d, unsigned char *out,
		      struct bmap_err *err)
{
	while (len) {
		size_t want = len < HASH_CHUNK ? (size_t)len : HASH_CHUNK;
		ssize_t n = io_pread_full(fd, buf, want, off);

		if (n < 0)
			return bmap_seterr(err, (int)-n, "cannot read the image "
					   "at byte %llu: %s",
					   (unsigned long long)off,
					   strerror((int)-n));
		if ((size_t)n < want)
			return bmap_seterr(err, EIO, "the image shrank while "
					   "being read (at byte %llu)",
					   (unsigned long long)off + (size_t)n);
		if (bmap_digest_update(d, buf, want))
			return bmap_seterr(err, EIO, "hashing failed");
		off += want;
		len -= want;
	}
	return bmap_digest_final(d, out) ?
	       bmap_seterr(err, EIO, "hashing failed") : 0;
}

/* Take the next range to hash, or NULL when all are taken or one failed. */
static struct bmap_range *take(struct hash_job *job)
{
	struct bmap_range *r = NULL;

	pthread_mutex_lock(&job->lock);
	if (!job->ret && job->next < job->map->nranges)
		r = &job->map->ranges[job->next++];
	pthread_mutex_unlock(&job->lock);
	return r;
}

static void fail_job(struct hash_job *job, int ret, const struct bmap_err *e)
{
	pthread_mutex_lock(&job->lock);
	if (!job->ret) {
		job->ret = ret;
		job->err = *e;
	}
	pthread_mutex_unlock(&job->lock);
}

static void *hash_worker(void *arg)
{
	struct hash_job *job = arg;
	struct bmap_digest *d = NULL;
	struct bmap_range *r;
	struct bmap_err e;
	void *buf;
	int ret;

	buf = malloc(HASH_CHUNK);
	if (!buf) {
		fail_job(job, bmap_seterr(&e, ENOMEM, "out of memory"), &e);
		return NULL;
	}
	ret = bmap_digest_new(&d, job->map->checksum_type, &e);
	while (!ret && (r = take(job)) != NULL) {
		ret = hash_bytes(job->fd, bmap_range_offset(job->map, r),
				 bmap_range_length(job->map, r), buf, d,
				 r->digest, &e);
		r->has_digest = !ret;
	}
	if (ret)
		fail_job(job, ret, &e);
	bmap_digest_free(d);
	free(buf);
	return NULL;
}

static unsigned hash_threads(size_t nranges)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	if (n > HASH_THREADS_MAX)
		n = HASH_THREADS_MAX;
	if ((size_t)n > nranges)
		n = (long)nranges;
	return (unsigned)n;
}

/* Fill in every range's digest, hashing ranges in parallel. */
static int hash_ranges(int fd, struct bmap *map, struct bmap_err *err)
{
	struct hash_job job = { .fd = fd, .map = map };
	pthread_t tid[HASH_THREADS_MAX];
	unsigned i, n = hash_threads(map->nranges), started = 0;

	if (!n)
		return 0;
	pthread_mutex_init(&job.lock, NULL);
	for (i = 1; i < n; i++) {
		if (pthread_create(&tid[i], NULL, hash_worker, &job))
			break;
		started++;
	}
	hash_worker(&job);
	for (i = 1; i <= started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&job.lock);
	if (job.ret && err)
		*err = job.err;
	return job.ret;
}

static int add_ranges(const struct bmap_extent_list *ext, struct bmap *map,
		      struct bmap_err *err)
{
	size_t i;
	int ret;

	for (i = 0; i < ext->n; i++) {
		ret = bmap_add_range(map, ext->v[i].first, ext->v[i].last,
				     NULL, err);
		if (ret)
			return ret;
	}
	return 0;
}

int bmap_create(int fd, const struct bmap_create_opts *opts, struct bmap *map,
		enum bmap_extent_method *method, struct bmap_err *err)
{
	struct bmap_extent_list ext;
	uint64_t bs = opts->block_size;
	struct stat st;
	int ret;

	bmap_init(map);
	if (fstat(fd, &st) < 0)
		return bmap_seterr(err, errno, "cannot stat: %s",
				   strerror(errno));
	if (!S_ISREG(st.st_mode))
		return bmap_seterr(err, EINVAL, "not a regular file");
	if (st.st_size == 0)
		return bmap_seterr(err, EINVAL, "the image is empty: there is "
				   "nothing to map");
	if (!bs) {
		ret = bmap_fs_block_size(fd, &bs, err);
		if (ret)
			return ret;
	}
	map->version_major = 2;
	ret = bmap_set_geometry(map, (uint64_t)st.st_size, bs, err);
	if (!ret)
		ret = bmap_set_checksum_type(map, opts->checksum_type ?
					     opts->checksum_type : "sha1",
					     err);
	if (ret)
		return ret;
	ret = bmap_extents_scan(fd, map->image_size, bs, opts->extent_flags,
				&ext, method, err);
	if (ret)
		return ret;
	ret = add_ranges(&ext, map, err);
	bmap_extent_list_free(&ext);
	if (!ret && !opts->no_checksum)
		ret = hash_ranges(fd, map, err);
	if (ret)
		bmap_free(map);
	return ret;
}

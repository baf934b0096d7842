/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xz.c - what the two sides of the xz module share: the magic, the
 * decoder's options, and the one mapping from liblzma's answers to the
 * codec error rule (codec.h), so that bmapcopy (STREAM, xz-stream.c) and
 * bmapfs (SEEK, xz-seek.c) report the same damage alike.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "base/error.h"
#include "codec/codec.h"
#include "codec/xz.h"

/* Above this much memory liblzma uses fewer threads, down to one (which
 * it never refuses: see memlimit_stop). */
#define XZ_MEMLIMIT_THREADING (256ull * 1024 * 1024)
/* More threads than this is a mistake (liblzma's own limit is 16384). */
#define XZ_THREADS_MAX 256u

const unsigned char xz_magic[XZ_MAGIC_LEN] = { 0xfd, '7', 'z', 'X', 'Z', 0 };

bool xz_probe(const unsigned char *head, size_t len)
{
	return len >= XZ_MAGIC_LEN && !memcmp(head, xz_magic, XZ_MAGIC_LEN);
}

void xz_options(lzma_mt *mt, unsigned threads)
{
	memset(mt, 0, sizeof(*mt));
	/* Checks are verified (no LZMA_IGNORE_CHECK); a check type liblzma
	 * cannot verify is an error, not a silent pass (the SEEK side
	 * leaves such files to this decoder: xz_checks_supported). Streams
	 * are taken one at a time (no LZMA_CONCATENATED) so that what
	 * follows one can be told apart: padding, another stream, or
	 * garbage. No LZMA_FAIL_FAST: with it, liblzma 5.4 reports some
	 * truncated files as corrupt. */
	mt->flags = LZMA_TELL_UNSUPPORTED_CHECK;
	mt->threads = threads < 1 ? 1 : threads > XZ_THREADS_MAX ?
		      XZ_THREADS_MAX : threads;
	mt->timeout = 0;	/* block until input is used or output full */
	/* One thread: liblzma's plain single-threaded decoder. */
	mt->memlimit_threading = mt->threads == 1 ? 1 : XZ_MEMLIMIT_THREADING;
	/* No limit: a file that needs much memory to decode is still
	 * decoded (the block decoder of the SEEK side has none either). */
	mt->memlimit_stop = UINT64_MAX;
}

bool xz_checks_supported(uint32_t checks)
{
	unsigned id;

	for (id = 0; id <= LZMA_CHECK_ID_MAX; id++)
		if ((checks & (1u << id)) &&
		    !lzma_check_is_supported((lzma_check)id))
			return false;
	return true;
}

int xz_error(lzma_ret ret, struct bmap_err *err)
{
	switch (ret) {
	case LZMA_BUF_ERROR:
		return codec_truncated(err, "xz");
	case LZMA_DATA_ERROR:
		return codec_corrupt(err, "xz", "compressed data or integrity "
				     "check is wrong");
	case LZMA_FORMAT_ERROR:
		return codec_corrupt(err, "xz", "no xz stream header");
	case LZMA_OPTIONS_ERROR:
		return codec_corrupt(err, "xz", "unsupported options");
	case LZMA_UNSUPPORTED_CHECK:
		return codec_corrupt(err, "xz", "unsupported integrity check: "
				     "the data cannot be verified");
	case LZMA_MEM_ERROR:
		return bmap_seterr(err, ENOMEM, "xz: out of memory");
	case LZMA_MEMLIMIT_ERROR:
		return bmap_seterr(err, ENOMEM, "xz: memory limit reached");
	default:
		return bmap_seterr(err, EIO, "xz: liblzma error %d", (int)ret);
	}
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * registry.c - the one table of formats: each format's name, its magic
 * probe, its STREAM decoder and its SEEK decoder; the one archive
 * detector; and the one error rule every codec reports by.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "codec/codec.h"
#include "codec/zstd.h"

static bool starts(const unsigned char *h, size_t n, const char *magic,
		   size_t mlen)
{
	return n >= mlen && !memcmp(h, magic, mlen);
}

static bool probe_gzip(const unsigned char *h, size_t n)
{
	return starts(h, n, "\x1f\x8b\x08", 3);
}

/* "BZh", a level, then the magic of a block or of the stream's end. */
static bool probe_bzip2(const unsigned char *h, size_t n)
{
	return n >= 10 && starts(h, n, "BZh", 3) && h[3] >= '1' &&
	       h[3] <= '9' &&
	       (!memcmp(h + 4, "\x31\x41\x59\x26\x53\x59", 6) ||
		!memcmp(h + 4, "\x17\x72\x45\x38\x50\x90", 6));
}

/* A frame, maybe after skippable frames (pzstd writes one first) that
 * end within the bytes looked at. */
static bool probe_zstd(const unsigned char *h, size_t n)
{
	size_t at = 0;

	while (n - at >= 8 && zstd_is_skippable(h + at) &&
	       zstd_le32(h + at + 4) <= n - at - 8)
		at += 8 + zstd_le32(h + at + 4);
	return n - at >= 4 && zstd_is_frame(h + at);
}

/* lz4 frames, and the legacy format. */
static bool probe_lz4(const unsigned char *h, size_t n)
{
	return starts(h, n, "\x04\x22\x4d\x18", 4) ||
	       starts(h, n, "\x02\x21\x4c\x18", 4);
}

static bool probe_lzop(const unsigned char *h, size_t n)
{
	return starts(h, n, "\x89LZO\0\r\n\x1a\n", 9);
}

/* A local file header, or the end record of an empty archive. */
static bool probe_zip(const unsigned char *h, size_t n)
{
	return starts(h, n, "PK\x03\x04", 4) || starts(h, n, "PK\x05\x06", 4);
}

static bool probe_any(const unsigned char *h, size_t n)
{
	(void)h;
	(void)n;
	return true;
}

static const struct codec codec_gzip = {
	.name = "gzip", .probe = probe_gzip,
	.stream_open = gzip_stream_open, .seek = &gzip_seek_ops,
};
static const struct codec codec_bzip2 = {
	.name = "bzip2", .probe = probe_bzip2,
	.stream_open = bz2_stream_open, .seek = &bz2_seek_ops,
};
static const struct codec codec_xz = {
	.name = "xz", .probe = xz_probe,
	.stream_open = xz_stream_open, .seek = &xz_seek_ops,
};
static const struct codec codec_zstd = {
	.name = "zstd", .probe = probe_zstd,
	.stream_open = zstd_stream_open, .seek = &zstd_seek_ops,
};
static const struct codec codec_lz4 = {
	.name = "lz4", .probe = probe_lz4, .stream_open = archive_filter_open,
};
static const struct codec codec_lzop = {
	.name = "lzop", .probe = probe_lzop, .stream_open = lzop_stream_open,
};
const struct codec codec_zip = { .name = "zip", .probe = probe_zip };
const struct codec codec_raw = { .name = "raw", .probe = probe_any };

static const struct codec *const codecs[] = {
	&codec_gzip, &codec_bzip2, &codec_xz, &codec_zstd, &codec_lz4,
	&codec_lzop, &codec_zip,
};

const struct codec *codec_find(const unsigned char *head, size_t len)
{
	if (len > CODEC_HEAD_MAX)
		len = CODEC_HEAD_MAX;
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (codecs[i]->probe(head, len))
			return codecs[i];
	return &codec_raw;
}

/* A tar header: "ustar" at offset 257 and a valid header checksum. */
bool codec_is_tar(const unsigned char *h, size_t n)
{
	unsigned long sum = 0, stored = 0;
	size_t i;

	if (n < 512 || memcmp(h + 257, "ustar", 5))
		return false;
	for (i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	for (i = 148; i < 156 && h[i] == ' '; i++)
		;
	for (; i < 156 && h[i] >= '0' && h[i] <= '7'; i++)
		stored = stored * 8 + (unsigned long)(h[i] - '0');
	return sum == stored;
}

bool codec_is_archive(const unsigned char *h, size_t n)
{
	return probe_zip(h, n) || codec_is_tar(h, n);
}

int codec_truncated(struct bmap_err *err, const char *fmt)
{
	return bmap_seterr(err, EIO, "truncated %s data", fmt);
}

int codec_corrupt(struct bmap_err *err, const char *fmt, const char *why,
		  ...)
{
	char buf[BMAP_ERR_MAX];
	va_list ap;

	va_start(ap, why);
	vsnprintf(buf, sizeof(buf), why, ap);
	va_end(ap);
	return bmap_seterr(err, EBADMSG, "corrupt %s data: %s", fmt, buf);
}

int codec_pread(int fd, void *buf, size_t len, uint64_t off,
		const char *what, struct bmap_err *err)
{
	ssize_t n = io_pread_full(fd, buf, len, off);

	if (n < 0)
		return bmap_seterr(err, (int)-n, "cannot read the %s file: %s",
				   what, strerror((int)-n));
	if ((size_t)n < len)
		return codec_truncated(err, what);
	return 0;
}

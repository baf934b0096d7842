/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-input.h - what the file-reading harnesses share: the fuzzed bytes
 * as a file with a path (a memfd, named through /proc/self/fd), made once
 * and refilled for each input.
 */
#ifndef BMAP_FUZZ_INPUT_H
#define BMAP_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

struct fuzz_file {
	int fd;
	char path[64];
};

/* Make the file on first use, then replace its bytes with data. */
static inline const char *fuzz_file_fill(struct fuzz_file *f,
					 const uint8_t *data, size_t size)
{
	if (f->path[0] == '\0') {
		f->fd = memfd_create("bmap-fuzz", MFD_CLOEXEC);
		if (f->fd < 0)
			abort();
		snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
	}
	if (ftruncate(f->fd, 0) < 0)
		abort();
	for (size_t done = 0; done < size;) {
		ssize_t n = pwrite(f->fd, data + done, size - done,
				   (off_t)done);

		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	return f->path;
}

#endif

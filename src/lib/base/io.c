/* SPDX-License-Identifier: GPL-2.0-or-later */
/* io.c - reading exactly what is asked for (see io.h for the rule). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

#include "base/io.h"

/* The one loop: pread at off + done, or read when at is false. */
static ssize_t full(int fd, void *buf, size_t len, bool at, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		char *p = (char *)buf + done;
		ssize_t n = at ? pread(fd, p, len - done, (off_t)(off + done)) :
			    read(fd, p, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t io_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	return full(fd, buf, len, true, off);
}

ssize_t io_read_full(int fd, void *buf, size_t len)
{
	return full(fd, buf, len, false, 0);
}

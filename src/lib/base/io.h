/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * io.h - reading exactly what is asked for, with one rule for a short
 * file: the count read is returned, and it is smaller than asked only
 * when the file ends first (a caller that needs every byte says what a
 * short file means for it). EINTR is retried; other errors are -errno.
 */
#ifndef BMAP_BASE_IO_H
#define BMAP_BASE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Up to len bytes at off (pread: the file position is not moved). */
ssize_t io_pread_full(int fd, void *buf, size_t len, uint64_t off);
/* Up to len bytes from the file position (read). */
ssize_t io_read_full(int fd, void *buf, size_t len);

#endif

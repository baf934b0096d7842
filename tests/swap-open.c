/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * swap-open.c - an LD_PRELOAD shim for race tests: just before the
 * program's first open() of the path $SWAP_AT, rename() $SWAP_WITH over
 * it, as another process could between a program's look at a file and
 * its open. A program that decides by a stat() made earlier then opens
 * something else than it looked at.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*open_fn)(const char *, int, ...);

static int swapped;

static void maybe_swap(const char *path)
{
	const char *at = getenv("SWAP_AT"), *with = getenv("SWAP_WITH");

	if (swapped || !at || !with || strcmp(path, at) != 0)
		return;
	swapped = 1;
	if (rename(with, at) != 0)
		perror("swap-open: rename");
}

static int shim(const char *name, const char *path, int flags, int mode)
{
	open_fn real = (open_fn)dlsym(RTLD_NEXT, name);

	maybe_swap(path);
	return real(path, flags, mode);
}

/* open and open64: the mode is there only when a file may be made. */
#define OPEN_SHIM(name)							\
	int name(const char *path, int flags, ...)			\
	{								\
		va_list ap;						\
		int mode = 0;						\
									\
		if (flags & (O_CREAT | O_TMPFILE)) {			\
			va_start(ap, flags);				\
			mode = va_arg(ap, int);				\
			va_end(ap);					\
		}							\
		return shim(#name, path, flags, mode);			\
	}

OPEN_SHIM(open)
OPEN_SHIM(open64)

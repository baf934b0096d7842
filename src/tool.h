/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tool.h - what the programs share: messages, exit codes, output. */
#ifndef BMAP_TOOL_H
#define BMAP_TOOL_H

#include <stdbool.h>
#include <stddef.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Set once by main(): the name every message starts with. */
void tool_init(const char *name, bool *quiet);

void tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Silenced by the program's -q. */
void tool_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the error and a hint to --help, then exit 2. */
__attribute__((noreturn, format(printf, 1, 2)))
void tool_usage_error(const char *fmt, ...);
void tool_version(void);
/* The options every program takes, and getopt's complaints: -h (usage()
 * and exit 0), -V (version, exit 0), a missing argument or an unknown
 * option (a usage error, exit 2). For the default: of the option switch;
 * it does not return. */
__attribute__((noreturn))
void tool_common_option(int c, char **argv, void (*usage)(void));

/* Write all of buf to fd; -errno on failure. */
int tool_write_all(int fd, const void *buf, size_t len);

/* Write buf to path as a whole, through a new file made exclusively
 * beside it and renamed over it: a failure leaves what was there, and a
 * symbolic link at path is replaced, never followed. path must be absent,
 * a regular file, or a symbolic link to one or to nothing; anything else
 * (a device, a FIFO, a folder, a link to one) is -ENOTSUP, with *what
 * saying what it is ("a block device", ...; else NULL). NULL or "-" is
 * standard output. */
int tool_write_file(const char *path, const void *buf, size_t len,
		    const char **what);

/* The bmap beside an image: IMAGE.bmap, then IMAGE with its last
 * extension replaced by .bmap, repeatedly (a.img.xz.bmap, a.img.bmap,
 * a.bmap). A malloc()ed path, or NULL when there is none. */
char *tool_find_bmap(const char *image);

/* Are the two paths the same file? (Either may not exist: then no.)
 * "-" stands for standard input. */
bool tool_same_file(const char *a, const char *b);

/* Seconds since some fixed point, for timing. */
double tool_now(void);

#endif

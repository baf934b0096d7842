/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tool.c - what the programs share: messages, exit codes, output. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

static const char *progname = "bmap-tools";
static bool *quiet_flag;

void tool_init(const char *name, bool *quiet)
{
	progname = name;
	quiet_flag = quiet;
}

static void say(const char *kind, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: %s: ", progname, kind);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void tool_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say("error", fmt, ap);
	va_end(ap);
}

void tool_warn(const char *fmt, ...)
{
	va_list ap;

	if (quiet_flag && *quiet_flag)
		return;
	va_start(ap, fmt);
	say("warning", fmt, ap);
	va_end(ap);
}

void tool_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say("error", fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", progname);
	exit(EXIT_USAGE);
}

void tool_version(void)
{
	printf("%s (%s) %s\n", progname, PACKAGE_NAME, PACKAGE_VERSION);
}

void tool_common_option(int c, char **argv, void (*usage)(void))
{
	switch (c) {
	case 'h':
		usage();
		exit(EXIT_OK);
	case 'V':
		tool_version();
		exit(EXIT_OK);
	case ':':
		tool_usage_error("option '%s' needs an argument",
				 argv[optind - 1]);
	default:
		tool_usage_error("unknown option '%s'", argv[optind - 1]);
	}
}

int tool_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * A new file beside path, made exclusively (O_EXCL: never an existing
 * file, never through a symbolic link): path with ".XXXXXX" after it,
 * the X random. tmp holds path and room for the suffix. The descriptor,
 * or -errno.
 */
static int make_temp(char *tmp, size_t plen)
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyz"
				  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char r[6];
	struct timespec ts;
	int tries, fd;
	size_t i;

	tmp[plen] = '.';
	tmp[plen + 7] = '\0';
	for (tries = 0; tries < 100; tries++) {
		if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
			clock_gettime(CLOCK_REALTIME, &ts);
			for (i = 0; i < sizeof(r); i++)
				r[i] = (unsigned char)((unsigned long)ts.tv_nsec >>
						       (4 * i) ^
						       (unsigned)getpid() ^
						       (unsigned)tries);
		}
		for (i = 0; i < sizeof(r); i++)
			tmp[plen + 1 + i] = set[r[i] % (sizeof(set) - 1)];
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			  O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
	}
	return -EEXIST;
}

/* Write buf to a new file beside path, then rename() it over path: that
 * replaces whatever name is at path (a symbolic link too), never what a
 * link points to, and a failure leaves path as it was. */
static int write_replacing(const char *path, const void *buf, size_t len)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 8);
	mode_t mask;
	int fd, ret;

	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, path, plen);
	fd = make_temp(tmp, plen);
	if (fd < 0) {
		free(tmp);
		return fd;
	}
	mask = umask(0);
	umask(mask);
	ret = tool_write_all(fd, buf, len);
	if (!ret && fchmod(fd, 0666 & ~mask) < 0)
		ret = -errno;
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	free(tmp);
	return ret;
}

/* What a file that is not a regular one is, for a message. */
static const char *kind_of(mode_t mode, bool link)
{
	if (S_ISDIR(mode))
		return link ? "a symbolic link to a folder" : "a folder";
	if (S_ISBLK(mode))
		return link ? "a symbolic link to a block device" :
		       "a block device";
	if (S_ISCHR(mode))
		return link ? "a symbolic link to a character device" :
		       "a character device";
	if (S_ISFIFO(mode))
		return link ? "a symbolic link to a FIFO" : "a FIFO";
	if (S_ISSOCK(mode))
		return link ? "a symbolic link to a socket" : "a socket";
	return link ? "a symbolic link to something" : "something";
}

int tool_write_file(const char *path, const void *buf, size_t len,
		    const char **what)
{
	struct stat st;
	bool link = false;

	*what = NULL;
	if (!path || !strcmp(path, "-"))
		return tool_write_all(STDOUT_FILENO, buf, len);
	/* Only to tell what is refused: nothing is opened at path, so what
	 * is there may change before the rename() at no risk. */
	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			return -errno;
		st.st_mode = S_IFREG;		/* a new file */
	} else if (S_ISLNK(st.st_mode)) {
		link = true;
		if (stat(path, &st) < 0) {
			if (errno != ENOENT)
				return -errno;
			st.st_mode = S_IFREG;	/* dangling: replaced */
		}
	}
	if (!S_ISREG(st.st_mode)) {
		*what = kind_of(st.st_mode, link);
		return -ENOTSUP;
	}
	return write_replacing(path, buf, len);
}

static bool is_regular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *tool_find_bmap(const char *image)
{
	size_t n = strlen(image);
	char *path = malloc(n + sizeof(".bmap"));
	char *dot, *slash;

	if (!path)
		return NULL;
	memcpy(path, image, n + 1);
	for (;;) {
		size_t len = strlen(path);

		memcpy(path + len, ".bmap", sizeof(".bmap"));
		if (is_regular(path))
			return path;
		path[len] = '\0';
		dot = strrchr(path, '.');
		slash = strrchr(path, '/');
		if (!dot || dot == path || (slash && dot < slash) ||
		    (slash && dot == slash + 1))
			break;
		*dot = '\0';
	}
	free(path);
	return NULL;
}

static int stat_or_stdin(const char *path, struct stat *st)
{
	return strcmp(path, "-") ? stat(path, st) : fstat(STDIN_FILENO, st);
}

bool tool_same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (!a || !b || stat_or_stdin(a, &sa) < 0 ||
	    stat_or_stdin(b, &sb) < 0)
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

double tool_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* check-ra-gzip.c - seek points in gzip files. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "check-suites.h"
#include "ra.h"

START_TEST(test_not_gzip)
{
	void *fmt = NULL;
	int fd = open("/dev/null", O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ra_gzip_ops.open(fd, 0, 1, &fmt, NULL), -ENOTSUP);
	close(fd);
}
END_TEST

Suite *ra_gzip_suite(void)
{
	Suite *s = suite_create("ra-gzip");
	TCase *tc = tcase_create("open");

	tcase_add_test(tc, test_not_gzip);
	suite_add_tcase(s, tc);
	return s;
}

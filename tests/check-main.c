/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-main.c - run every suite; the exit status is 0 when all tests
 * pass, 1 when some failed, 99 (a hard error) when the tests could not
 * even be set up.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check-suites.h"
#include "check-util.h"

int main(void)
{
	SRunner *sr;
	int ret, failed;

	ret = cu_scratch_init();
	if (ret < 0) {
		fprintf(stderr, "check-bmap: cannot make a scratch folder "
			"here: %s\n", strerror(-ret));
		return 99;
	}
	sr = srunner_create(model_suite());
	srunner_add_suite(sr, digest_suite());
	srunner_add_suite(sr, xmlread_suite());
	srunner_add_suite(sr, xmlwrite_suite());
	srunner_add_suite(sr, extents_suite());
	srunner_add_suite(sr, create_suite());
	srunner_add_suite(sr, ra_gzip_suite());
	srunner_add_suite(sr, ra_bzip2_suite());
	srunner_add_suite(sr, ra_xz_suite());
	srunner_add_suite(sr, ra_zstd_suite());
	srunner_add_suite(sr, ra_suite());
	srunner_add_suite(sr, view_suite());
	srunner_add_suite(sr, source_suite());
	srunner_add_suite(sr, seekidx_suite());
	srunner_add_suite(sr, parity_suite());
	srunner_add_suite(sr, verify_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	cu_scratch_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

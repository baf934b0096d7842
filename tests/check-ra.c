/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "check-suites.h"
#include "bmap.h"

START_TEST(test_placeholder)
{
	ck_assert_int_eq(1, 1);
}
END_TEST

Suite *ra_suite(void)
{
	Suite *s = suite_create("ra");
	TCase *tc = tcase_create("placeholder");

	tcase_add_test(tc, test_placeholder);
	suite_add_tcase(s, tc);
	return s;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* check-suites.h - one Check suite per library module. */
#ifndef CHECK_SUITES_H
#define CHECK_SUITES_H

#include <check.h>

Suite *model_suite(void);
Suite *digest_suite(void);
Suite *xmlread_suite(void);
Suite *xmlwrite_suite(void);
Suite *extents_suite(void);
Suite *create_suite(void);
Suite *ra_gzip_suite(void);
Suite *ra_bzip2_suite(void);
Suite *ra_xz_suite(void);
Suite *ra_zstd_suite(void);
Suite *ra_suite(void);
Suite *view_suite(void);
Suite *source_suite(void);
Suite *seekidx_suite(void);
Suite *parity_suite(void);
Suite *verify_suite(void);

#endif

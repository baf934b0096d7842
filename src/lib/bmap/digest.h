/* SPDX-License-Identifier: GPL-2.0-or-later */
/* digest.h - checksum helpers internal to the library. */
#ifndef BMAP_DIGEST_H
#define BMAP_DIGEST_H

#include <stddef.h>

#include "bmap.h"

/* The algorithm's canonical short name in lower case ("SHA2-256" and
 * "SHA256" both give "sha256") into out; its digest size is returned. */
int bmap_digest_canonical(const char *name, char *out, size_t size,
			  struct bmap_err *err);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xmlparse.h - the bmap file before the model (xmlparse.c): its bytes
 * parsed by libxml2 safely and silently, and its own checksum checked
 * over those bytes (bmap_read_file, in bmap.h, reads them in there
 * too). xmlread.c builds the model from the document.
 */
#ifndef BMAP_XMLPARSE_H
#define BMAP_XMLPARSE_H

#include <stddef.h>

#include <libxml/tree.h>

#include "bmap.h"

/* Parse buf into *doc (the caller frees it with xmlFreeDoc): network
 * access off, no DTD loading, no entity substitution, and a document
 * with a DOCTYPE refused, before parsing and after. libxml2 prints
 * nothing; the first message that names the cause becomes the error.
 * -EFBIG (above INT_MAX bytes), -EINVAL (DOCTYPE, malformed), -ENOMEM. */
int bmap_xml_parse(const char *buf, size_t len, xmlDocPtr *doc,
		   struct bmap_err *err);

/* The bmap file's own checksum (format 1.3 and later): buf, hashed by
 * map's checksum type with the stored value in element <tag> replaced by
 * as many ASCII '0's, must give stored (map->digest_len bytes). -EINVAL
 * when the stored value is not found in buf, -EBADMSG when the sums
 * differ, or the digest's error. */
int bmap_check_file_checksum(const struct bmap *map, const char *buf,
			     size_t len, const char *tag,
			     const unsigned char *stored,
			     struct bmap_err *err);

#endif

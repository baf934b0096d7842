/* SPDX-License-Identifier: GPL-2.0-or-later */
/* xml.h - bmap XML helpers shared by the reader, the writer and tests. */
#ifndef BMAP_XML_H
#define BMAP_XML_H

#include <stddef.h>
#include <stdint.h>

/* Leading and trailing XML white space (space, tab, CR, LF). */
int bmap_xml_space(char c);

/* A plain unsigned base-10 number, XML white space around it allowed.
 * -EINVAL: not such a number; -ERANGE: above UINT64_MAX. */
int bmap_parse_u64(const char *text, uint64_t *out);

/* "N" or "N-M" (white space around the numbers allowed). "N" gives
 * first == last. -EINVAL/-ERANGE as above; first > last is not checked. */
int bmap_parse_range(const char *text, uint64_t *first, uint64_t *last);

/* Offset in buf of the hex value stored in element <tag> (the text after
 * the opening tag and any white space), where that text starts with `hex`
 * (hexlen bytes, compared ignoring case). -ENOENT when there is none. */
long bmap_find_element_value(const char *buf, size_t len, const char *tag,
			     const char *hex, size_t hexlen);

#endif

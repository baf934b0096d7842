/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xmlread.c - read and validate a bmap file, versions 1.0 to 2.x: the
 * numbers and ranges in its text, and the model built from the document
 * that xmlparse.c reads in and parses (safely, with libxml2 silent) and
 * whose own checksum it checks.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "bmap.h"
#include "base/error.h"
#include "bmap/xml.h"
#include "bmap/xmlparse.h"

int bmap_xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Parse digits in [s, e) into *out. */
static int parse_digits(const char *s, const char *e, uint64_t *out)
{
	uint64_t v = 0;

	if (s == e)
		return -EINVAL;
	for (; s < e; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && bmap_xml_space(**s))
		(*s)++;
	while (*e > *s && bmap_xml_space((*e)[-1]))
		(*e)--;
}

int bmap_parse_u64(const char *text, uint64_t *out)
{
	const char *s = text, *e = text + strlen(text);

	trim(&s, &e);
	return parse_digits(s, e, out);
}

int bmap_parse_range(const char *text, uint64_t *first, uint64_t *last)
{
	const char *s = text, *e = text + strlen(text);
	const char *dash;
	const char *a, *b;
	int ret;

	trim(&s, &e);
	dash = memchr(s, '-', (size_t)(e - s));
	if (!dash) {
		ret = parse_digits(s, e, first);
		*last = *first;
		return ret;
	}
	a = s;
	b = dash;
	trim(&a, &b);
	ret = parse_digits(a, b, first);
	if (ret)
		return ret;
	a = dash + 1;
	b = e;
	trim(&a, &b);
	return parse_digits(a, b, last);
}

/* ------------------------------------------------------------------ */

struct fields {
	xmlNodePtr image_size, block_size, blocks_count, mapped_count;
	xmlNodePtr checksum_type, file_checksum, block_map;
};

struct reader {
	struct bmap *map;
	struct bmap_err *err;
	const char *buf;
	size_t len;
	bool sha1_style;	/* versions 1.0 - 1.3 */
	const char *file_sum_tag;	/* NULL when the version has none */
	struct fields f;
};

static int check_version(struct reader *rd, xmlNodePtr root)
{
	xmlChar *v = xmlGetProp(root, (const xmlChar *)"version");
	const char *s, *dot;
	uint64_t major, minor;
	int ret = 0;

	if (!v)
		return bmap_seterr(rd->err, EINVAL, "the <bmap> element has "
				   "no version attribute");
	s = (const char *)v;
	dot = strchr(s, '.');
	if (!dot || parse_digits(s, dot, &major) ||
	    parse_digits(dot + 1, s + strlen(s), &minor) ||
	    major > UINT_MAX || minor > UINT_MAX) {
		ret = bmap_seterr(rd->err, EINVAL, "bad bmap format version "
				  "'%.40s'", s);
		goto out;
	}
	if (major < 1 || major > 2) {
		ret = bmap_seterr(rd->err, ENOTSUP, "unsupported bmap format "
				  "version %.40s", s);
		goto out;
	}
	rd->map->version_major = (unsigned)major;
	rd->map->version_minor = (unsigned)minor;
	rd->sha1_style = major == 1 && minor <= 3;
	if (major == 1 && minor == 3)
		rd->file_sum_tag = "BmapFileSHA1";
	else if (!rd->sha1_style)
		rd->file_sum_tag = "BmapFileChecksum";
out:
	xmlFree(v);
	return ret;
}

static int is_elem(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE &&
	       !strcmp((const char *)n->name, name);
}

static int collect(struct reader *rd, xmlNodePtr root)
{
	struct {
		const char *name;
		xmlNodePtr *slot;
	} known[] = {
		{ "ImageSize", &rd->f.image_size },
		{ "BlockSize", &rd->f.block_size },
		{ "BlocksCount", &rd->f.blocks_count },
		{ "MappedBlocksCount", &rd->f.mapped_count },
		{ "ChecksumType", &rd->f.checksum_type },
		{ "BlockMap", &rd->f.block_map },
		{ rd->file_sum_tag ? rd->file_sum_tag : "", &rd->f.file_checksum },
	};
	xmlNodePtr n;
	size_t i;

	for (n = root->children; n; n = n->next) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
			if (!is_elem(n, known[i].name))
				continue;
			if (*known[i].slot)
				return bmap_seterr(rd->err, EINVAL,
						   "duplicate <%s> element",
						   known[i].name);
			*known[i].slot = n;
		}
	}
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		int needed = i < 4 || known[i].slot == &rd->f.block_map ||
			     (known[i].slot == &rd->f.file_checksum &&
			      rd->file_sum_tag) ||
			     (known[i].slot == &rd->f.checksum_type &&
			      !rd->sha1_style);

		if (needed && !*known[i].slot)
			return bmap_seterr(rd->err, EINVAL, "missing <%s> "
					   "element (required by format "
					   "version %u.%u)", known[i].name,
					   rd->map->version_major,
					   rd->map->version_minor);
	}
	return 0;
}

/* The text of an element, trimmed, into a malloc()ed string. */
static char *text_of(xmlNodePtr n)
{
	xmlChar *c = xmlNodeGetContent(n);
	char *s;

	if (!c)
		return NULL;
	s = strdup((const char *)c);
	xmlFree(c);
	return s;
}

static int number(struct reader *rd, xmlNodePtr n, uint64_t *out)
{
	char *t = text_of(n);
	int ret;

	if (!t)
		return bmap_seterr(rd->err, ENOMEM, "out of memory");
	ret = bmap_parse_u64(t, out);
	if (ret == -ERANGE)
		bmap_seterr(rd->err, ERANGE, "<%s>: '%.40s' is too large",
			    (const char *)n->name, t);
	else if (ret)
		bmap_seterr(rd->err, EINVAL, "<%s>: '%.40s' is not an "
			    "unsigned decimal number", (const char *)n->name,
			    t);
	free(t);
	return ret;
}

static int read_geometry(struct reader *rd)
{
	uint64_t size, bs, count;
	int ret;

	if ((ret = number(rd, rd->f.image_size, &size)) ||
	    (ret = number(rd, rd->f.block_size, &bs)) ||
	    (ret = number(rd, rd->f.blocks_count, &count)))
		return ret;
	/*
	 * The image is read, written and shown as a file: its size and every
	 * offset in it are off_t. Ranges must lie below blocks_count, so a
	 * range's first byte is below image_size and its length is cut at
	 * image_size: with image_size within off_t, so is every offset and
	 * every offset plus length the ranges give.
	 */
	if (size > (uint64_t)INT64_MAX)
		return bmap_seterr(rd->err, EFBIG, "<ImageSize> %" PRIu64 " is "
				   "too large (at most %" PRId64 " bytes)",
				   size, INT64_MAX);
	ret = bmap_set_geometry(rd->map, size, bs, rd->err);
	if (ret)
		return ret;
	if (count != rd->map->blocks_count)
		return bmap_seterr(rd->err, EINVAL, "<BlocksCount> is %" PRIu64
				   " but ImageSize %" PRIu64 " in blocks of %"
				   PRIu64 " makes %" PRIu64, count, size, bs,
				   rd->map->blocks_count);
	return 0;
}

static int checksum_type(struct reader *rd)
{
	char *t;
	const char *s, *e;
	int ret;

	if (rd->sha1_style)
		return bmap_set_checksum_type(rd->map, "sha1", rd->err);
	t = text_of(rd->f.checksum_type);
	if (!t)
		return bmap_seterr(rd->err, ENOMEM, "out of memory");
	s = t;
	e = t + strlen(t);
	trim(&s, &e);
	t[e - t] = '\0';
	if (s == e)
		ret = bmap_seterr(rd->err, EINVAL, "<ChecksumType> is empty");
	else
		ret = bmap_set_checksum_type(rd->map, s, rd->err);
	free(t);
	return ret;
}

/* Decode a checksum text into bin, as map->digest_len bytes. */
static int hex_value(struct reader *rd, const char *what, const char *text,
		     unsigned char *bin)
{
	const char *s = text, *e = text + strlen(text);

	trim(&s, &e);
	if (bmap_hex_decode(s, (size_t)(e - s), bin, rd->map->digest_len))
		return bmap_seterr(rd->err, EINVAL, "%s: checksum '%.*s' is "
				   "not %zu hex digits of %s", what,
				   (int)(e - s > 140 ? 140 : e - s), s,
				   2 * rd->map->digest_len,
				   rd->map->checksum_type);
	return 0;
}

static int one_range(struct reader *rd, xmlNodePtr n)
{
	const char *want = rd->sha1_style ? "sha1" : "chksum";
	const char *other = rd->sha1_style ? "chksum" : "sha1";
	unsigned char digest[BMAP_DIGEST_MAX];
	xmlChar *sum = NULL;
	char what[64];
	uint64_t first, last;
	char *t = text_of(n);
	int ret;

	if (!t)
		return bmap_seterr(rd->err, ENOMEM, "out of memory");
	ret = bmap_parse_range(t, &first, &last);
	if (ret) {
		const char *s = t, *e = t + strlen(t);

		trim(&s, &e);
		ret = bmap_seterr(rd->err, -ret, "bad range '%.*s': %s",
				  (int)(e - s > 60 ? 60 : e - s), s,
				  ret == -ERANGE ? "number too large" :
				  "not N or N-M");
		goto out;
	}
	snprintf(what, sizeof(what), "range %" PRIu64 "-%" PRIu64, first,
		 last);
	if (xmlHasProp(n, (const xmlChar *)other)) {
		ret = bmap_seterr(rd->err, EINVAL, "%s: a '%s' attribute does "
				  "not belong in format version %u.%u", what,
				  other, rd->map->version_major,
				  rd->map->version_minor);
		goto out;
	}
	sum = xmlGetProp(n, (const xmlChar *)want);
	if (sum) {
		ret = hex_value(rd, what, (const char *)sum, digest);
		if (ret)
			goto out;
	}
	ret = bmap_add_range(rd->map, first, last, sum ? digest : NULL,
			     rd->err);
out:
	xmlFree(sum);
	free(t);
	return ret;
}

static int read_ranges(struct reader *rd)
{
	uint64_t declared;
	xmlNodePtr n;
	int ret;

	for (n = rd->f.block_map->children; n; n = n->next) {
		if (!is_elem(n, "Range"))
			continue;
		ret = one_range(rd, n);
		if (ret)
			return ret;
	}
	ret = number(rd, rd->f.mapped_count, &declared);
	if (ret)
		return ret;
	if (declared != rd->map->mapped_count)
		return bmap_seterr(rd->err, EINVAL, "<MappedBlocksCount> is %"
				   PRIu64 " but the ranges hold %" PRIu64
				   " blocks", declared,
				   rd->map->mapped_count);
	return 0;
}

/* The bmap file's own checksum, when its version has one: the whole
 * file, hashed with the stored value replaced by '0's (xmlparse.c). */
static int file_checksum(struct reader *rd)
{
	unsigned char stored[BMAP_DIGEST_MAX];
	char what[64];
	char *t;
	int ret;

	if (!rd->file_sum_tag)
		return 0;
	t = text_of(rd->f.file_checksum);
	if (!t)
		return bmap_seterr(rd->err, ENOMEM, "out of memory");
	snprintf(what, sizeof(what), "<%s>", rd->file_sum_tag);
	ret = hex_value(rd, what, t, stored);
	free(t);
	if (ret)
		return ret;
	return bmap_check_file_checksum(rd->map, rd->buf, rd->len,
					rd->file_sum_tag, stored, rd->err);
}

int bmap_read_memory(struct bmap *map, const char *buf, size_t len,
		     struct bmap_err *err)
{
	struct reader rd = { .map = map, .err = err, .buf = buf, .len = len };
	xmlDocPtr doc = NULL;
	xmlNodePtr root;
	int ret;

	bmap_init(map);
	ret = bmap_xml_parse(buf, len, &doc, err);
	if (ret)
		goto out;
	root = xmlDocGetRootElement(doc);
	if (!root || !is_elem(root, "bmap")) {
		ret = bmap_seterr(err, EINVAL, "not a bmap file: the root "
				  "element is <%.40s>", root ?
				  (const char *)root->name : "");
		goto out;
	}
	if ((ret = check_version(&rd, root)) || (ret = collect(&rd, root)) ||
	    (ret = read_geometry(&rd)) || (ret = checksum_type(&rd)) ||
	    (ret = file_checksum(&rd)) || (ret = read_ranges(&rd)))
		goto out;
out:
	if (ret)
		bmap_free(map);
	xmlFreeDoc(doc);
	return ret;
}

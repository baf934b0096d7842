/* SPDX-License-Identifier: GPL-2.0-or-later */
/* check-xmlread.c - reading and validating bmap files (xmlread.c). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "bmap.h"
#include "check-suites.h"
#include "check-util.h"
#include "bmap/xml.h"

#define V12 "test.image.bmap.v1.2"
#define V13 "test.image.bmap.v1.3"
#define V14 "test.image.bmap.v1.4"
#define V20 "test.image.bmap.v2.0"
#define V20B "test.image.bmap.v2.0-bmaptool36"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

/* Read doc; it must succeed. */
static void read_ok(struct bmap *map, const char *doc)
{
	struct bmap_err err = { "" };
	int ret = bmap_read_memory(map, doc, strlen(doc), &err);

	ck_assert_msg(ret == 0, "refused (%d): %s", ret, err.msg);
}

/* Read doc; it must fail with a message holding msg, and leave the map
 * empty. code is the expected return value, or 0 for any failure. */
static void read_fails(const char *doc, size_t len, const char *msg, int code)
{
	struct bmap_err err = { "" };
	struct bmap map;
	int ret;

	ret = bmap_read_memory(&map, doc, len, &err);
	ck_assert_msg(ret < 0, "accepted, expected '%s'", msg);
	if (code)
		ck_assert_int_eq(ret, code);
	ck_assert_msg(strstr(err.msg, msg), "message '%s' lacks '%s'",
		      err.msg, msg);
	ck_assert_uint_eq(map.nranges, 0);
	ck_assert_ptr_null(map.ranges);
}

/* The file checksum element of a golden text, if it has one. */
static const char *sum_tag(const char *doc)
{
	if (strstr(doc, "<BmapFileSHA1>"))
		return "BmapFileSHA1";
	if (strstr(doc, "<BmapFileChecksum>"))
		return "BmapFileChecksum";
	return NULL;
}

/* A golden text with from replaced by to inside <bmap>, resealed with
 * `seal` (a checksum type) unless it is NULL. */
static char *mutate(const char *name, const char *from, const char *to,
		    const char *seal)
{
	size_t len;
	char *doc = cu_read_data(name, &len), *out;

	out = cu_subst(doc, from, to);
	free(doc);
	if (seal)
		cu_reseal(out, sum_tag(out), seal);
	return out;
}

/* The ranges as the golden text writes them, found without libxml2. */
struct text_range {
	uint64_t first, last;
	char hex[2 * BMAP_DIGEST_MAX + 1];
};

static size_t scan_ranges(const char *doc, struct text_range *out,
			  size_t max)
{
	const char *p = doc, *q, *qe, *t;
	char *end;
	size_t n = 0;

	while ((p = strstr(p, "<Range")) != NULL) {
		ck_assert_uint_lt(n, max);
		q = strchr(p, '"');
		ck_assert_ptr_nonnull(q);
		qe = strchr(++q, '"');
		ck_assert_ptr_nonnull(qe);
		ck_assert_uint_lt((size_t)(qe - q), sizeof(out[n].hex));
		memcpy(out[n].hex, q, (size_t)(qe - q));
		out[n].hex[qe - q] = '\0';
		t = strchr(qe, '>');
		ck_assert_ptr_nonnull(t);
		out[n].first = strtoull(t + 1, &end, 10);
		out[n].last = *end == '-' ? strtoull(end + 1, &end, 10) :
			      out[n].first;
		ck_assert(!strncmp(end, " </Range>", 9));
		p = end;
		n++;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* The golden files                                                    */

static const struct {
	const char *file;
	unsigned major, minor;
	const char *type;
	size_t digest_len;
} goldens[] = {
	{ V12, 1, 2, "sha1", 20 },
	{ V13, 1, 3, "sha1", 20 },
	{ V14, 1, 4, "sha256", 32 },
	{ V20, 2, 0, "sha256", 32 },
	{ V20B, 2, 0, "sha256", 32 },
};

START_TEST(test_golden)
{
	struct text_range tr[64];
	char hex[2 * BMAP_DIGEST_MAX + 1];
	struct bmap map;
	size_t len, n, i;
	char *doc = cu_read_data(goldens[_i].file, &len);

	read_ok(&map, doc);
	ck_assert_uint_eq(map.version_major, goldens[_i].major);
	ck_assert_uint_eq(map.version_minor, goldens[_i].minor);
	ck_assert_uint_eq(map.image_size, 821752);
	ck_assert_uint_eq(map.block_size, 4096);
	ck_assert_uint_eq(map.blocks_count, 201);
	ck_assert_uint_eq(map.mapped_count, 117);
	ck_assert_uint_eq(map.nranges, 48);
	ck_assert_str_eq(map.checksum_type, goldens[_i].type);
	ck_assert_uint_eq(map.digest_len, goldens[_i].digest_len);
	ck_assert_uint_eq(map.ranges[0].first, 0);
	ck_assert_uint_eq(map.ranges[0].last, 1);
	ck_assert_uint_eq(map.ranges[47].first, 198);
	ck_assert_uint_eq(map.ranges[47].last, 199);
	ck_assert_uint_eq(bmap_mapped_bytes(&map), 117 * 4096);

	/* Every range, as the text has it. */
	n = scan_ranges(doc, tr, 64);
	ck_assert_uint_eq(n, 48);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(map.ranges[i].first, tr[i].first);
		ck_assert_uint_eq(map.ranges[i].last, tr[i].last);
		ck_assert(map.ranges[i].has_digest);
		bmap_hex_encode(map.ranges[i].digest, map.digest_len, hex);
		ck_assert_str_eq(hex, tr[i].hex);
	}
	if (goldens[_i].digest_len == 20)
		ck_assert_str_eq(tr[0].hex,
				 "94789636db14cdb8929133e7b8d3a158837e2e5a");
	bmap_free(&map);
	free(doc);
}
END_TEST

START_TEST(test_golden_agree)
{
	struct bmap a, b;

	cu_load_golden(&a, V12);
	cu_load_golden(&b, V13);
	cu_assert_same_ranges(&a, &b);
	bmap_free(&a);
	bmap_free(&b);
	cu_load_golden(&a, V14);
	cu_load_golden(&b, V20);
	cu_assert_same_ranges(&a, &b);
	bmap_free(&b);
	cu_load_golden(&b, V20B);
	cu_assert_same_ranges(&a, &b);
	bmap_free(&a);
	bmap_free(&b);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Refused documents, each a golden text with one change               */

static const struct bad {
	const char *file;
	const char *from, *to;
	const char *from2, *to2;	/* a second change, or NULL */
	const char *seal;		/* reseal with this type, or NULL */
	const char *msg;
	int code;			/* exact return, or 0 */
} bads[] = {
	/* Version. */
	{ V12, "\"1.2\"", "\"3.0\"", NULL, NULL, NULL,
	  "unsupported bmap format version 3.0", -ENOTSUP },
	{ V12, "\"1.2\"", "\"0.9\"", NULL, NULL, NULL,
	  "unsupported bmap format version 0.9", -ENOTSUP },
	{ V20, "\"2.0\"", "\"3.0\"", NULL, NULL, NULL,
	  "unsupported bmap format version 3.0", -ENOTSUP },
	{ V12, "\"1.2\"", "\"x\"", NULL, NULL, NULL,
	  "bad bmap format version 'x'", -EINVAL },
	{ V12, "\"1.2\"", "\"1\"", NULL, NULL, NULL,
	  "bad bmap format version '1'", -EINVAL },
	{ V12, "\"1.2\"", "\"1.\"", NULL, NULL, NULL,
	  "bad bmap format version", -EINVAL },
	{ V12, "\"1.2\"", "\".2\"", NULL, NULL, NULL,
	  "bad bmap format version", -EINVAL },
	{ V12, "\"1.2\"", "\"\"", NULL, NULL, NULL,
	  "bad bmap format version", -EINVAL },
	{ V12, "\"1.2\"", "\"1.2.3\"", NULL, NULL, NULL,
	  "bad bmap format version", -EINVAL },
	{ V12, "\"1.2\"", "\"4294967297.2\"", NULL, NULL, NULL,
	  "bad bmap format version", -EINVAL },
	{ V12, " version=\"1.2\"", "", NULL, NULL, NULL,
	  "no version attribute", -EINVAL },

	/* Required elements. */
	{ V12, "<ImageSize> 821752 </ImageSize>", "", NULL, NULL, NULL,
	  "missing <ImageSize> element (required by format version 1.2)",
	  -EINVAL },
	{ V12, "<BlockSize> 4096 </BlockSize>", "", NULL, NULL, NULL,
	  "missing <BlockSize>", -EINVAL },
	{ V12, "<BlocksCount> 201 </BlocksCount>", "", NULL, NULL, NULL,
	  "missing <BlocksCount>", -EINVAL },
	{ V12, "<MappedBlocksCount> 117 </MappedBlocksCount>", "", NULL, NULL,
	  NULL, "missing <MappedBlocksCount>", -EINVAL },
	{ V12, "<BlockMap>", "<Blocks>", "</BlockMap>", "</Blocks>", NULL,
	  "missing <BlockMap>", -EINVAL },
	{ V20, "<ImageSize>", "<Size>", "</ImageSize>", "</Size>", NULL,
	  "missing <ImageSize> element (required by format version 2.0)",
	  -EINVAL },
	{ V20, "<MappedBlocksCount>", "<Mapped>", "</MappedBlocksCount>",
	  "</Mapped>", NULL, "missing <MappedBlocksCount>", -EINVAL },
	{ V13, "<BmapFileSHA1>", "<BmapFileChecksum>", "</BmapFileSHA1>",
	  "</BmapFileChecksum>", NULL,
	  "missing <BmapFileSHA1> element (required by format version 1.3)",
	  -EINVAL },
	{ V12, "\"1.2\"", "\"1.3\"", NULL, NULL, NULL,
	  "missing <BmapFileSHA1>", -EINVAL },
	{ V20, "<ChecksumType>", "<Type>", "</ChecksumType>", "</Type>", NULL,
	  "missing <ChecksumType> element (required by format version 2.0)",
	  -EINVAL },
	{ V14, "<ChecksumType>", "<Type>", "</ChecksumType>", "</Type>", NULL,
	  "missing <ChecksumType> element (required by format version 1.4)",
	  -EINVAL },
	{ V20, "<BmapFileChecksum>", "<BmapFileSHA1>", "</BmapFileChecksum>",
	  "</BmapFileSHA1>", NULL,
	  "missing <BmapFileChecksum> element (required by format version "
	  "2.0)", -EINVAL },
	{ V14, "<BmapFileChecksum>", "<Sum>", "</BmapFileChecksum>",
	  "</Sum>", NULL, "missing <BmapFileChecksum>", -EINVAL },

	/* Duplicates. */
	{ V12, "<BlockSize> 4096 </BlockSize>",
	  "<BlockSize> 4096 </BlockSize><BlockSize> 4096 </BlockSize>",
	  NULL, NULL, NULL, "duplicate <BlockSize> element", -EINVAL },
	{ V12, "</ImageSize>", "</ImageSize><ImageSize>1</ImageSize>",
	  NULL, NULL, NULL, "duplicate <ImageSize> element", -EINVAL },
	{ V12, "</BlocksCount>", "</BlocksCount><BlocksCount>1</BlocksCount>",
	  NULL, NULL, NULL, "duplicate <BlocksCount> element", -EINVAL },
	{ V12, "</MappedBlocksCount>", "</MappedBlocksCount>"
	  "<MappedBlocksCount>117</MappedBlocksCount>", NULL, NULL, NULL,
	  "duplicate <MappedBlocksCount> element", -EINVAL },
	{ V12, "</BlockMap>", "</BlockMap><BlockMap></BlockMap>", NULL, NULL,
	  NULL, "duplicate <BlockMap> element", -EINVAL },
	{ V20, "</ChecksumType>",
	  "</ChecksumType><ChecksumType> sha256 </ChecksumType>", NULL, NULL,
	  NULL, "duplicate <ChecksumType> element", -EINVAL },
	{ V20, "</BmapFileChecksum>",
	  "</BmapFileChecksum><BmapFileChecksum>0</BmapFileChecksum>", NULL,
	  NULL, NULL, "duplicate <BmapFileChecksum> element", -EINVAL },
	{ V13, "</BmapFileSHA1>",
	  "</BmapFileSHA1><BmapFileSHA1>0</BmapFileSHA1>", NULL, NULL, NULL,
	  "duplicate <BmapFileSHA1> element", -EINVAL },

	/* Numbers. */
	{ V12, "<ImageSize> 821752 <", "<ImageSize> -5 <", NULL, NULL, NULL,
	  "<ImageSize>: ' -5 ' is not an unsigned decimal number", -EINVAL },
	{ V12, "<ImageSize> 821752 <", "<ImageSize> +5 <", NULL, NULL, NULL,
	  "is not an unsigned decimal number", -EINVAL },
	{ V12, "<ImageSize> 821752 <", "<ImageSize> 0x10 <", NULL, NULL, NULL,
	  "is not an unsigned decimal number", -EINVAL },
	{ V12, "<ImageSize> 821752 <", "<ImageSize> 1e3 <", NULL, NULL, NULL,
	  "is not an unsigned decimal number", -EINVAL },
	{ V12, "<ImageSize> 821752 <", "<ImageSize><", NULL, NULL, NULL,
	  "is not an unsigned decimal number", -EINVAL },
	{ V12, "<ImageSize> 821752 <", "<ImageSize>   <", NULL, NULL, NULL,
	  "is not an unsigned decimal number", -EINVAL },
	{ V12, "<ImageSize> 821752 <", "<ImageSize> 12 34 <", NULL, NULL,
	  NULL, "is not an unsigned decimal number", -EINVAL },
	{ V12, "<ImageSize> 821752 <", "<ImageSize> 821752.0 <", NULL, NULL,
	  NULL, "is not an unsigned decimal number", -EINVAL },
	{ V12, "<ImageSize> 821752 <", "<ImageSize> 18446744073709551616 <",
	  NULL, NULL, NULL, "<ImageSize>: ' 18446744073709551616 ' is too "
	  "large", -ERANGE },
	{ V12, "<ImageSize> 821752 <", "<ImageSize> 99999999999999999999999 <",
	  NULL, NULL, NULL, "is too large", -ERANGE },
	{ V12, "<BlockSize> 4096 <", "<BlockSize> -5 <", NULL, NULL, NULL,
	  "<BlockSize>: ' -5 ' is not an unsigned decimal number", -EINVAL },
	{ V12, "<BlocksCount> 201 <", "<BlocksCount> x <", NULL, NULL, NULL,
	  "<BlocksCount>: ' x ' is not an unsigned decimal number", -EINVAL },
	{ V12, "<MappedBlocksCount> 117 <", "<MappedBlocksCount> abc <", NULL,
	  NULL, NULL, "<MappedBlocksCount>: ' abc ' is not an unsigned",
	  -EINVAL },

	/* Geometry. */
	{ V12, "<BlockSize> 4096 <", "<BlockSize> 0 <", NULL, NULL, NULL,
	  "block size 0 is invalid", -EINVAL },
	{ V12, "<BlockSize> 4096 <", "<BlockSize> 134217728 <", NULL, NULL,
	  NULL, "block size 134217728 is too large", -EINVAL },
	{ V20, "<BlockSize> 4096 <", "<BlockSize> 0 <", NULL, NULL, NULL,
	  "block size 0 is invalid", -EINVAL },
	{ V12, "<BlockSize> 4096 <", "<BlockSize> 8192 <", NULL, NULL, NULL,
	  "<BlocksCount> is 201 but ImageSize 821752 in blocks of 8192 "
	  "makes 101", -EINVAL },
	{ V12, "<BlocksCount> 201 <", "<BlocksCount> 200 <", NULL, NULL, NULL,
	  "<BlocksCount> is 200 but", -EINVAL },
	{ V12, "<BlocksCount> 201 <", "<BlocksCount> 202 <", NULL, NULL, NULL,
	  "<BlocksCount> is 202 but", -EINVAL },
	{ V12, "<ImageSize> 821752 <", "<ImageSize> 819200 <", NULL, NULL,
	  NULL, "<BlocksCount> is 201 but ImageSize 819200", -EINVAL },
	/* An image size must fit in off_t: files and offsets are off_t. */
	{ V12, "<ImageSize> 821752 <", "<ImageSize> 9223372036854775808 <",
	  NULL, NULL, NULL, "<ImageSize> 9223372036854775808 is too large "
	  "(at most 9223372036854775807 bytes)", -EFBIG },
	{ V12, "<ImageSize> 821752 <", "<ImageSize> 18446744073709551615 <",
	  NULL, NULL, NULL, "<ImageSize> 18446744073709551615 is too large",
	  -EFBIG },
	{ V20, "<ImageSize> 821752 <", "<ImageSize> 9223372036854775808 <",
	  NULL, NULL, "sha256", "<ImageSize> 9223372036854775808 is too "
	  "large", -EFBIG },

	/* Range texts. */
	{ V12, "> 0-1 <", "> a <", NULL, NULL, NULL,
	  "bad range 'a': not N or N-M", -EINVAL },
	{ V12, "> 0-1 <", "> 1- <", NULL, NULL, NULL,
	  "bad range '1-': not N or N-M", -EINVAL },
	{ V12, "> 0-1 <", "> -1 <", NULL, NULL, NULL,
	  "bad range '-1': not N or N-M", -EINVAL },
	{ V12, "> 0-1 <", "> 1-2-3 <", NULL, NULL, NULL,
	  "bad range '1-2-3': not N or N-M", -EINVAL },
	{ V12, "> 0-1 <", "> 1..2 <", NULL, NULL, NULL,
	  "bad range '1..2': not N or N-M", -EINVAL },
	{ V12, "> 0-1 <", "><", NULL, NULL, NULL,
	  "bad range '': not N or N-M", -EINVAL },
	{ V12, "> 0-1 <", "> 0x1 <", NULL, NULL, NULL,
	  "not N or N-M", -EINVAL },
	{ V12, "> 0-1 <", "> 0-18446744073709551616 <", NULL, NULL, NULL,
	  "bad range '0-18446744073709551616': number too large", -ERANGE },
	{ V12, "> 0-1 <", "> 18446744073709551616 <", NULL, NULL, NULL,
	  "number too large", -ERANGE },
	{ V12, "> 3-5 <", "> 5-3 <", NULL, NULL, NULL,
	  "range 5-3: first block is after the last", -EINVAL },
	{ V12, "> 198-199 <", "> 198-201 <", NULL, NULL, NULL,
	  "range 198-201 goes past the image's 201 blocks", -EINVAL },
	{ V12, "> 198-199 <", "> 201 <", NULL, NULL, NULL,
	  "range 201-201 goes past", -EINVAL },
	{ V12, "> 3-5 <", "> 1-5 <", NULL, NULL, NULL,
	  "range 1-5 does not come after the previous range 0-1", -EINVAL },
	{ V12, "> 3-5 <", "> 0-5 <", NULL, NULL, NULL,
	  "does not come after", -EINVAL },
	{ V12, "> 9-10 <", "> 2 <", NULL, NULL, NULL,
	  "range 2-2 does not come after the previous range 3-5", -EINVAL },
	{ V12, "<MappedBlocksCount> 117 <", "<MappedBlocksCount> 118 <", NULL,
	  NULL, NULL, "<MappedBlocksCount> is 118 but the ranges hold 117",
	  -EINVAL },
	{ V12, "<MappedBlocksCount> 117 <", "<MappedBlocksCount> 0 <", NULL,
	  NULL, NULL, "<MappedBlocksCount> is 0", -EINVAL },

	/* Range checksums. */
	{ V12, "837e2e5a\"", "837e2e5\"", NULL, NULL, NULL,
	  "range 0-1: checksum '94789636db14cdb8929133e7b8d3a158837e2e5' is "
	  "not 40 hex digits of sha1", -EINVAL },
	{ V12, "837e2e5a\"", "837e2e5a0\"", NULL, NULL, NULL,
	  "not 40 hex digits of sha1", -EINVAL },
	{ V12, "837e2e5a\"", "837e2e5g\"", NULL, NULL, NULL,
	  "not 40 hex digits of sha1", -EINVAL },
	{ V12, "sha1=\"94789636db14cdb8929133e7b8d3a158837e2e5a\"", "sha1=\"\"",
	  NULL, NULL, NULL, "range 0-1: checksum '' is not 40 hex digits",
	  -EINVAL },
	{ V12, "<Range sha1=", "<Range chksum=\"00\" sha1=", NULL, NULL, NULL,
	  "range 0-1: a 'chksum' attribute does not belong in format version "
	  "1.2", -EINVAL },

	/* Range checks of sealed files: the seal is checked first. */
	{ V20, "<MappedBlocksCount> 117 ", "<MappedBlocksCount> 118 ", NULL,
	  NULL, NULL, "bmap file checksum mismatch", -EBADMSG },
	{ V20, "<MappedBlocksCount> 117 ", "<MappedBlocksCount> 118 ", NULL,
	  NULL, "sha256", "<MappedBlocksCount> is 118 but the ranges hold 117",
	  -EINVAL },
	{ V13, "<MappedBlocksCount> 117 ", "<MappedBlocksCount> 116 ", NULL,
	  NULL, "sha1", "<MappedBlocksCount> is 116", -EINVAL },
	{ V20, "> 3-5 <", "> 1-5 <", NULL, NULL, "sha256",
	  "range 1-5 does not come after", -EINVAL },
	{ V20, "> 198-199 <", "> 198-201 <", NULL, NULL, "sha256",
	  "range 198-201 goes past", -EINVAL },
	{ V20, "> 0-1 <", "> 1..2 <", NULL, NULL, "sha256",
	  "bad range '1..2': not N or N-M", -EINVAL },
	{ V20, "<Range chksum=",
	  "<Range sha1=\"94789636db14cdb8929133e7b8d3a158837e2e5a\" chksum=",
	  NULL, NULL, "sha256", "range 0-1: a 'sha1' attribute does not "
	  "belong in format version 2.0", -EINVAL },
	{ V14, "<Range chksum=", "<Range sha1=\"00\" chksum=", NULL, NULL,
	  "sha256", "'sha1' attribute does not belong in format version 1.4",
	  -EINVAL },
	{ V13, "<Range sha1=", "<Range chksum=\"00\" sha1=", NULL, NULL,
	  "sha1", "'chksum' attribute does not belong in format version 1.3",
	  -EINVAL },
	{ V20, "chksum=\"9eaf", "chksum=\"9ea", NULL, NULL, "sha256",
	  "range 0-1: checksum '9ea", -EINVAL },
	{ V20, "chksum=\"9eaf", "chksum=\"9ea", NULL, NULL, "sha256",
	  "is not 64 hex digits of sha256", -EINVAL },
	{ V20, "chksum=\"9eaf", "chksum=\"xeaf", NULL, NULL, "sha256",
	  "is not 64 hex digits of sha256", -EINVAL },

	/* Checksum type. */
	{ V20, "> sha256 <", "> nope <", NULL, NULL, NULL,
	  "unknown checksum type 'nope'", -EINVAL },
	{ V20, "> sha256 <", "> shake128 <", NULL, NULL, NULL,
	  "no fixed size", -EINVAL },
	{ V20, "> sha256 <", ">  <", NULL, NULL, NULL,
	  "<ChecksumType> is empty", -EINVAL },
	{ V20, "> sha256 <", "> sha1 <", NULL, NULL, NULL,
	  "<BmapFileChecksum>: checksum 'd9cf7d44790d04fcbb089c5eeec7700e9233"
	  "439ab6e4bd759035906e20f90070", -EINVAL },
	{ V20, "> sha256 <", "> sha1 <", NULL, NULL, NULL,
	  "is not 40 hex digits of sha1",
	  -EINVAL },

	/* The file checksum's own text. */
	{ V20, "<BmapFileChecksum> d9cf", "<BmapFileChecksum> d9c", NULL,
	  NULL, NULL, "<BmapFileChecksum>: checksum 'd9c", -EINVAL },
	{ V20, "<BmapFileChecksum> d9cf", "<BmapFileChecksum> x9cf", NULL,
	  NULL, NULL, "is not 64 hex digits of sha256", -EINVAL },
	{ V20, "<BmapFileChecksum> d9cf", "<BmapFileChecksum> ", NULL, NULL,
	  NULL, "is not 64 hex digits of sha256", -EINVAL },
	{ V13, "<BmapFileSHA1> e235", "<BmapFileSHA1> e23", NULL, NULL, NULL,
	  "<BmapFileSHA1>: checksum 'e23", -EINVAL },
	{ V13, "<BmapFileSHA1> e235", "<BmapFileSHA1> e235f", NULL, NULL, NULL,
	  "is not 40 hex digits of sha1", -EINVAL },
	/* A range changed after sealing. */
	{ V20, "chksum=\"9eaf", "chksum=\"9eae", NULL, NULL, NULL,
	  "bmap file checksum mismatch: <BmapFileChecksum> says d9cf7d44790d04"
	  "fcbb089c5eeec7700e9233439ab6e4bd759035906e20f90070, the file's "
	  "sha256 is ", -EBADMSG },
	{ V13, "sha1=\"9478", "sha1=\"9479", NULL, NULL, NULL,
	  "bmap file checksum mismatch: <BmapFileSHA1> says e235f7cd0c6b8c07a2"
	  "e6f2538510fb763e7790a6, the file's sha1 is ", -EBADMSG },
	/* The file checksum of another file. */
	{ V20, "d9cf7d44790d04fcbb089c5eeec7700e9233439ab6e4bd759035906e20f90070",
	  "4310fd457a88d307abeeb593a7888e1fa3cae0cfc01d905158967c904c5375e5",
	  NULL, NULL, NULL, "bmap file checksum mismatch", -EBADMSG },
};

START_TEST(test_refused)
{
	const struct bad *b = &bads[_i];
	char *doc = mutate(b->file, b->from, b->to, NULL), *doc2;

	if (b->from2) {
		doc2 = cu_subst(doc, b->from2, b->to2);
		free(doc);
		doc = doc2;
	}
	if (b->seal)
		cu_reseal(doc, sum_tag(doc), b->seal);
	read_fails(doc, strlen(doc), b->msg, b->code);
	free(doc);
}
END_TEST

/* A change anywhere, even in a comment before <bmap>, breaks the seal. */
START_TEST(test_seal_comment)
{
	static const char *const files[] = { V13, V14, V20, V20B };
	size_t i, len;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *doc = cu_read_data(files[i], &len);
		char *bad = cu_replace(doc, NULL, "This file contains",
				       "This file containz");

		read_fails(bad, len, "bmap file checksum mismatch", -EBADMSG);
		/* The trailing newline is part of the file too. */
		read_fails(doc, len - 1, "bmap file checksum mismatch",
			   -EBADMSG);
		/* And resealing makes it good again. */
		cu_reseal(bad, sum_tag(bad), i == 0 ? "sha1" : "sha256");
		{
			struct bmap map;

			read_ok(&map, bad);
			ck_assert_uint_eq(map.nranges, 48);
			bmap_free(&map);
		}
		free(bad);
		free(doc);
	}
}
END_TEST

/* v1.2 has no seal: a comment may change freely. */
START_TEST(test_v12_unsealed)
{
	struct bmap map;
	char *doc = mutate(V12, "Image size in bytes", "Image size, bytes",
			   NULL);

	read_ok(&map, doc);
	ck_assert_uint_eq(map.nranges, 48);
	bmap_free(&map);
	free(doc);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Accepted variations                                                 */

START_TEST(test_range_without_checksum)
{
	struct bmap map;
	char *doc;

	doc = mutate(V12, " sha1=\"94789636db14cdb8929133e7b8d3a158837e2e5a\"",
		     "", NULL);
	read_ok(&map, doc);
	ck_assert_uint_eq(map.nranges, 48);
	ck_assert(!map.ranges[0].has_digest);
	ck_assert(map.ranges[1].has_digest);
	ck_assert_uint_eq(map.mapped_count, 117);
	bmap_free(&map);
	free(doc);

	doc = mutate(V20, " chksum=\"9eaf19215d55d23de1be1fe4bed4a95bfe620a40"
		     "4352fd06e782738fff58e500\"", "", "sha256");
	read_ok(&map, doc);
	ck_assert(!map.ranges[0].has_digest);
	ck_assert(map.ranges[47].has_digest);
	bmap_free(&map);
	free(doc);
}
END_TEST

START_TEST(test_upper_case_hex)
{
	struct bmap gold, map;
	char *doc;

	cu_load_golden(&gold, V12);
	doc = mutate(V12, "94789636db14cdb8929133e7b8d3a158837e2e5a",
		     "94789636DB14CDB8929133E7B8D3A158837E2E5A", NULL);
	read_ok(&map, doc);
	cu_assert_same_ranges(&gold, &map);
	bmap_free(&map);
	bmap_free(&gold);
	free(doc);

	cu_load_golden(&gold, V20);
	doc = mutate(V20, "9eaf19215d55d23de1be1fe4bed4a95bfe620a404352fd06e7"
		     "82738fff58e500", "9EAF19215D55D23DE1BE1FE4BED4A95BFE620A"
		     "404352FD06E782738FFF58E500", "sha256");
	read_ok(&map, doc);
	cu_assert_same_ranges(&gold, &map);
	bmap_free(&map);
	free(doc);

	/* The file checksum itself in upper case (it is zeroed for
	 * hashing, so the value stays right). */
	doc = mutate(V20, "d9cf7d44790d04fcbb089c5eeec7700e9233439ab6e4bd7590"
		     "35906e20f90070", "D9CF7D44790D04FCBB089C5EEEC7700E923343"
		     "9AB6E4BD759035906E20F90070", NULL);
	read_ok(&map, doc);
	cu_assert_same_ranges(&gold, &map);
	bmap_free(&map);
	free(doc);

	/* And in mixed case. */
	doc = mutate(V20, "d9cf7d44790d04fcbb089c5eeec7700e9233439ab6e4bd7590"
		     "35906e20f90070", "D9cf7d44790d04fcbb089c5eeec7700e9233439"
		     "ab6e4bd759035906e20f90070", NULL);
	read_ok(&map, doc);
	cu_assert_same_ranges(&gold, &map);
	bmap_free(&map);
	bmap_free(&gold);
	free(doc);
}
END_TEST

START_TEST(test_range_spaces)
{
	struct bmap gold, map;
	char *doc, *doc2;

	cu_load_golden(&gold, V12);
	doc = mutate(V12, "> 0-1 <", "> 0 - 1 <", NULL);
	doc2 = cu_subst(doc, "> 3-5 <", ">\n\t3\t-\r\n5\n<");
	free(doc);
	doc = cu_subst(doc2, "> 12 <", ">12<");
	free(doc2);
	read_ok(&map, doc);
	cu_assert_same_ranges(&gold, &map);
	bmap_free(&map);
	bmap_free(&gold);
	free(doc);
}
END_TEST

START_TEST(test_versions_accepted)
{
	struct bmap map;
	char *doc;

	doc = mutate(V12, "\"1.2\"", "\"1.0\"", NULL);
	read_ok(&map, doc);
	ck_assert_uint_eq(map.version_major, 1);
	ck_assert_uint_eq(map.version_minor, 0);
	ck_assert_str_eq(map.checksum_type, "sha1");
	bmap_free(&map);
	free(doc);

	doc = mutate(V20, "\"2.0\"", "\"2.1\"", "sha256");
	read_ok(&map, doc);
	ck_assert_uint_eq(map.version_major, 2);
	ck_assert_uint_eq(map.version_minor, 1);
	ck_assert_uint_eq(map.nranges, 48);
	bmap_free(&map);
	free(doc);

	doc = mutate(V14, "\"1.4\"", "\"1.5\"", "sha256");
	read_ok(&map, doc);
	ck_assert_uint_eq(map.version_minor, 5);
	ck_assert_str_eq(map.checksum_type, "sha256");
	bmap_free(&map);
	free(doc);
}
END_TEST

START_TEST(test_checksum_type_case)
{
	struct bmap gold, map;
	char *doc;

	cu_load_golden(&gold, V20);
	doc = mutate(V20, "> sha256 <", "> SHA256 <", "sha256");
	read_ok(&map, doc);
	ck_assert_str_eq(map.checksum_type, "sha256");
	cu_assert_same_ranges(&gold, &map);
	bmap_free(&map);
	bmap_free(&gold);
	free(doc);
}
END_TEST

/* Elements the reader does not know are ignored, as are non-Range
 * children of <BlockMap>. */
START_TEST(test_unknown_elements)
{
	struct bmap gold, map;
	char *doc, *doc2;

	cu_load_golden(&gold, V20);
	doc = mutate(V20, "<BlockMap>", "<Extra a=\"1\">x</Extra><BlockMap>"
		     "<Note>7-9</Note>", NULL);
	doc2 = cu_subst(doc, "</bmap>", "<!-- end --></bmap>");
	free(doc);
	cu_reseal(doc2, "BmapFileChecksum", "sha256");
	read_ok(&map, doc2);
	cu_assert_same_ranges(&gold, &map);
	bmap_free(&map);
	bmap_free(&gold);
	free(doc2);
}
END_TEST

/* The smallest document and the largest numbers. */
START_TEST(test_minimal_and_limits)
{
	static const char small[] =
		"<bmap version='1.2'><BlockMap/><ImageSize>0</ImageSize>"
		"<BlockSize>1</BlockSize><BlocksCount>0</BlocksCount>"
		"<MappedBlocksCount>0</MappedBlocksCount></bmap>";
	/* The largest image: INT64_MAX bytes, the largest off_t. */
	static const char big[] =
		"<?xml version=\"1.0\"?>\n<bmap version=\"1.2\">"
		"<ImageSize>9223372036854775807</ImageSize>"
		"<BlockSize>1</BlockSize>"
		"<BlocksCount>9223372036854775807</BlocksCount>"
		"<BlockMap><Range>9223372036854775806</Range></BlockMap>"
		"<MappedBlocksCount>1</MappedBlocksCount></bmap>";
	/* Its last, partial block of 4096: 2^51 blocks, the last one's
	 * offset 2^63 - 4096 and length 4095 end exactly at INT64_MAX. */
	static const char big4k[] =
		"<bmap version=\"1.2\">"
		"<ImageSize>9223372036854775807</ImageSize>"
		"<BlockSize>4096</BlockSize>"
		"<BlocksCount>2251799813685248</BlocksCount>"
		"<BlockMap><Range>2251799813685247</Range></BlockMap>"
		"<MappedBlocksCount>1</MappedBlocksCount></bmap>";
	/* One byte more than that, consistent otherwise: refused. */
	static const char too_big[] =
		"<bmap version=\"1.2\">"
		"<ImageSize>9223372036854775808</ImageSize>"
		"<BlockSize>4096</BlockSize>"
		"<BlocksCount>2251799813685248</BlocksCount>"
		"<BlockMap><Range>2251799813685247</Range></BlockMap>"
		"<MappedBlocksCount>1</MappedBlocksCount></bmap>";
	struct bmap map;

	read_fails(too_big, strlen(too_big), "<ImageSize> 9223372036854775808 "
		   "is too large (at most 9223372036854775807 bytes)", -EFBIG);

	read_ok(&map, small);
	ck_assert_uint_eq(map.image_size, 0);
	ck_assert_uint_eq(map.blocks_count, 0);
	ck_assert_uint_eq(map.nranges, 0);
	bmap_free(&map);

	read_ok(&map, big);
	ck_assert_uint_eq(map.image_size, INT64_MAX);
	ck_assert_uint_eq(map.blocks_count, INT64_MAX);
	ck_assert_uint_eq(map.nranges, 1);
	ck_assert_uint_eq(map.ranges[0].first, INT64_MAX - 1);
	ck_assert(!map.ranges[0].has_digest);
	bmap_free(&map);

	read_ok(&map, big4k);
	ck_assert_uint_eq(map.blocks_count, 1ull << 51);
	ck_assert_uint_eq(bmap_range_offset(&map, &map.ranges[0]),
			  (1ull << 63) - 4096);
	ck_assert_uint_eq(bmap_range_length(&map, &map.ranges[0]), 4095);
	bmap_free(&map);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Hostile and broken XML                                              */

START_TEST(test_billion_laughs)
{
	char doc[4096];
	size_t n = 0;
	int i, j;

	n += (size_t)snprintf(doc + n, sizeof(doc) - n,
			      "<?xml version=\"1.0\"?>\n<!DOCTYPE bmap [\n"
			      " <!ENTITY lol \"lol\">\n");
	for (i = 1; i <= 9; i++) {
		n += (size_t)snprintf(doc + n, sizeof(doc) - n,
				      " <!ENTITY lol%d \"", i);
		for (j = 0; j < 10; j++) {
			if (i == 1)
				n += (size_t)snprintf(doc + n, sizeof(doc) - n,
						      "&lol;");
			else
				n += (size_t)snprintf(doc + n, sizeof(doc) - n,
						      "&lol%d;", i - 1);
		}
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "\">\n");
	}
	n += (size_t)snprintf(doc + n, sizeof(doc) - n,
			      "]>\n<bmap version=\"1.2\"><ImageSize>&lol9;"
			      "</ImageSize><BlockSize>4096</BlockSize>"
			      "<BlocksCount>0</BlocksCount><BlockMap/>"
			      "<MappedBlocksCount>0</MappedBlocksCount>"
			      "</bmap>\n");
	ck_assert_uint_lt(n, sizeof(doc));
	read_fails(doc, n, "DOCTYPE", -EINVAL);
}
END_TEST

START_TEST(test_external_entity)
{
	static const char doc[] =
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE bmap [ <!ENTITY xxe SYSTEM \"file:///etc/passwd\"> ]>\n"
		"<bmap version=\"1.2\"><ImageSize>&xxe;</ImageSize>"
		"<BlockSize>4096</BlockSize><BlocksCount>0</BlocksCount>"
		"<BlockMap/><MappedBlocksCount>0</MappedBlocksCount></bmap>\n";
	static const char dtd[] =
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE bmap SYSTEM \"http://example.invalid/bmap.dtd\">\n"
		"<bmap version=\"1.2\"><ImageSize>0</ImageSize>"
		"<BlockSize>4096</BlockSize><BlocksCount>0</BlocksCount>"
		"<BlockMap/><MappedBlocksCount>0</MappedBlocksCount></bmap>\n";

	read_fails(doc, strlen(doc), "DOCTYPE", -EINVAL);
	read_fails(dtd, strlen(dtd), "DOCTYPE", -EINVAL);
}
END_TEST

/* The raw-byte DOCTYPE check cannot see it in UTF-16; the parsed
 * document must still be refused. */
START_TEST(test_doctype_utf16)
{
	static const char text[] =
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE bmap [ <!ENTITY bs \"4096\"> ]>\n"
		"<bmap version=\"1.2\"><ImageSize>0</ImageSize>"
		"<BlockSize>&bs;</BlockSize><BlocksCount>0</BlocksCount>"
		"<BlockMap/><MappedBlocksCount>0</MappedBlocksCount></bmap>\n";
	char doc[2 * sizeof(text) + 2];
	size_t i, n = 0;

	doc[n++] = (char)0xff;
	doc[n++] = (char)0xfe;
	for (i = 0; i < sizeof(text) - 1; i++) {
		doc[n++] = text[i];
		doc[n++] = '\0';
	}
	read_fails(doc, n, "DOCTYPE", -EINVAL);
}
END_TEST

START_TEST(test_malformed)
{
	size_t len;
	char *doc = cu_read_data(V12, &len);
	static const char garbage[] = "this is not XML";
	static const char two_roots[] = "<bmap version=\"1.2\"/><bmap/>";

	read_fails(doc, len / 2, "malformed XML", -EINVAL);
	read_fails(doc, len - 3, "malformed XML", -EINVAL);
	read_fails(garbage, strlen(garbage), "malformed XML", -EINVAL);
	read_fails(two_roots, strlen(two_roots), "malformed XML", -EINVAL);
	read_fails("", 0, "malformed XML", -EINVAL);
	free(doc);
	doc = mutate(V12, "</BlockSize>", "</Blocksize>", NULL);
	read_fails(doc, strlen(doc), "malformed XML (line 29)", -EINVAL);
	free(doc);
}
END_TEST

/* Read doc with stderr going to a scratch file: it must fail with a
 * message of one line holding msg, and libxml2 must have printed
 * nothing. */
static void read_fails_quietly(const char *doc, size_t len, const char *msg)
{
	char path[256], *text;
	size_t textlen;
	int fd, saved;

	cu_scratch_path(path, sizeof(path), "stderr");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	close(fd);
	{
		struct bmap_err err = { "" };
		struct bmap map;
		int ret = bmap_read_memory(&map, doc, len, &err);

		fflush(stderr);
		dup2(saved, STDERR_FILENO);
		close(saved);
		ck_assert_msg(ret == -EINVAL, "returned %d: %s", ret, err.msg);
		ck_assert_msg(strstr(err.msg, msg), "message '%s' lacks '%s'",
			      err.msg, msg);
		ck_assert_msg(!strchr(err.msg, '\n'), "message '%s' is more "
			      "than one line", err.msg);
	}
	text = cu_read_file(path, &textlen);
	ck_assert_msg(textlen == 0, "libxml2 printed '%s'", text);
	free(text);
	unlink(path);
}

/* Bytes that are not in the declared encoding: libxml2 reports those
 * through its generic error channel, and some of its messages hold a
 * newline. */
START_TEST(test_bad_encoding_quiet)
{
	static const char jis[] =
		"<?xml version=\"1.0\" encoding=\"ISO-2022-JP\"?>\n"
		"<bmap version=\"1.2\"><ImageSize>\x1b$B\xff\xff</ImageSize>"
		"</bmap>\n";
	static const char utf8[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<bmap version=\"1.2\"><ImageSize>\xff\xfe</ImageSize>"
		"</bmap>\n";
	static const char latin[] =
		"<?xml version=\"1.0\"?>\n<bmap version=\"1.2\">"
		"<ImageSize>1\xe9</ImageSize></bmap>\n";
	static const char unknown[] =
		"<?xml version=\"1.0\" encoding=\"no-such-encoding\"?>\n"
		"<bmap version=\"1.2\"/>\n";
	/* Found by tests/fuzz/fuzz-bmap: bytes that do not convert. */
	static const char utf32[] =
		"<?xml version=\"1.0\" encoding=\"UTF-32\"?><bmap/>";

	read_fails_quietly(jis, strlen(jis), "malformed XML");
	read_fails_quietly(utf8, strlen(utf8), "malformed XML (line 2)");
	read_fails_quietly(latin, strlen(latin), "malformed XML (line 2)");
	read_fails_quietly(unknown, strlen(unknown), "malformed XML");
	read_fails_quietly(utf32, strlen(utf32), "malformed XML");
}
END_TEST

START_TEST(test_wrong_root)
{
	char *doc = mutate(V12, "<bmap version", "<map version", NULL);
	char *doc2 = cu_replace(doc, NULL, "</bmap>", "</map>");

	read_fails(doc2, strlen(doc2), "not a bmap file: the root element "
		   "is <map>", -EINVAL);
	free(doc2);
	free(doc);
	read_fails("<Bmap version=\"1.2\"/>", strlen("<Bmap version=\"1.2\"/>"),
		   "not a bmap file", -EINVAL);
}
END_TEST

/* ------------------------------------------------------------------ */
/* bmap_read_file                                                      */

START_TEST(test_read_file)
{
	char path[4096];
	struct bmap_err err = { "" };
	struct bmap map;

	snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, V13);
	ck_assert_int_eq(bmap_read_file(&map, path, &err), 0);
	ck_assert_uint_eq(map.nranges, 48);
	ck_assert_uint_eq(map.version_minor, 3);
	bmap_free(&map);

	snprintf(path, sizeof(path), "%s/no-such-file", TEST_DATA_DIR);
	ck_assert_int_eq(bmap_read_file(&map, path, &err), -ENOENT);
	ck_assert_str_eq(err.msg, "cannot open: No such file or directory");
	ck_assert_ptr_null(strstr(err.msg, "no-such-file"));
	ck_assert_ptr_null(map.ranges);

	ck_assert_int_eq(bmap_read_file(&map, TEST_DATA_DIR, &err), -EISDIR);
	ck_assert_str_eq(err.msg, "is a directory");

	/* "-" is a file name like any other. */
	ck_assert_int_eq(bmap_read_file(&map, "-", &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot open"));
}
END_TEST

START_TEST(test_read_file_empty)
{
	char path[256];
	struct bmap_err err = { "" };
	struct bmap map;
	int fd;

	fd = cu_make_sparse("empty.bmap", 0, NULL, 0, NULL);
	close(fd);
	cu_scratch_path(path, sizeof(path), "empty.bmap");
	ck_assert_int_eq(bmap_read_file(&map, path, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "malformed XML"));
	unlink(path);
}
END_TEST

/* A pipe has no size to go by: the reader must grow its buffer. */
START_TEST(test_read_file_fifo)
{
	char path[256];
	struct bmap_err err = { "" };
	struct bmap gold, map;
	size_t len, padlen = 300000;
	char *doc = cu_read_data(V12, &len);
	char *pad = malloc(padlen);
	pid_t pid;
	int status, ret;

	ck_assert_ptr_nonnull(pad);
	memset(pad, 'x', padlen);
	memcpy(pad, "<!-- ", 5);
	memcpy(pad + padlen - 5, " -->\n", 5);
	cu_scratch_path(path, sizeof(path), "bmap.fifo");
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(path, O_WRONLY);

		_exit(fd < 0 || write(fd, doc, len) != (ssize_t)len ||
		      write(fd, pad, padlen) != (ssize_t)padlen);
	}
	ret = bmap_read_file(&map, path, &err);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	unlink(path);
	ck_assert_msg(ret == 0, "%s", err.msg);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cu_load_golden(&gold, V12);
	cu_assert_same_ranges(&gold, &map);
	bmap_free(&gold);
	bmap_free(&map);
	free(pad);
	free(doc);
}
END_TEST

/* ------------------------------------------------------------------ */
/* xml.h helpers                                                       */

START_TEST(test_xml_space)
{
	ck_assert(bmap_xml_space(' '));
	ck_assert(bmap_xml_space('\t'));
	ck_assert(bmap_xml_space('\r'));
	ck_assert(bmap_xml_space('\n'));
	ck_assert(!bmap_xml_space('\v'));
	ck_assert(!bmap_xml_space('\f'));
	ck_assert(!bmap_xml_space('\0'));
	ck_assert(!bmap_xml_space('0'));
	ck_assert(!bmap_xml_space((char)0xa0));
}
END_TEST

START_TEST(test_parse_u64)
{
	static const struct {
		const char *text;
		int ret;
		uint64_t value;
	} cases[] = {
		{ "0", 0, 0 },
		{ "42", 0, 42 },
		{ " \t\r\n42\n ", 0, 42 },
		{ "007", 0, 7 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ " 18446744073709551615 ", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "18446744073709551620", -ERANGE, 0 },
		{ "99999999999999999999", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ "   ", -EINVAL, 0 },
		{ " -5 ", -EINVAL, 0 },
		{ "+5", -EINVAL, 0 },
		{ "0x10", -EINVAL, 0 },
		{ "1e3", -EINVAL, 0 },
		{ "12 34", -EINVAL, 0 },
		{ "1.0", -EINVAL, 0 },
		{ "\v5", -EINVAL, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;
		int ret = bmap_parse_u64(cases[i].text, &v);

		ck_assert_msg(ret == cases[i].ret, "'%s': %d", cases[i].text,
			      ret);
		if (!ret)
			ck_assert_uint_eq(v, cases[i].value);
		else
			ck_assert_uint_eq(v, 12345);
	}
}
END_TEST

START_TEST(test_parse_range)
{
	static const struct {
		const char *text;
		int ret;
		uint64_t first, last;
	} cases[] = {
		{ "7", 0, 7, 7 },
		{ " 7 ", 0, 7, 7 },
		{ "3-9", 0, 3, 9 },
		{ " 3 - 9 ", 0, 3, 9 },
		{ "\n3\t-\r9\n", 0, 3, 9 },
		{ "9-3", 0, 9, 3 },
		{ "0-18446744073709551615", 0, 0, UINT64_MAX },
		{ "0-18446744073709551616", -ERANGE, 0, 0 },
		{ "18446744073709551616", -ERANGE, 0, 0 },
		{ "", -EINVAL, 0, 0 },
		{ "a", -EINVAL, 0, 0 },
		{ "1-", -EINVAL, 0, 0 },
		{ "-1", -EINVAL, 0, 0 },
		{ "-", -EINVAL, 0, 0 },
		{ "1-2-3", -EINVAL, 0, 0 },
		{ "1..2", -EINVAL, 0, 0 },
		{ "1 2", -EINVAL, 0, 0 },
		{ "1--2", -EINVAL, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t a = 0, b = 0;
		int ret = bmap_parse_range(cases[i].text, &a, &b);

		ck_assert_msg(ret == cases[i].ret, "'%s': %d", cases[i].text,
			      ret);
		if (!ret) {
			ck_assert_uint_eq(a, cases[i].first);
			ck_assert_uint_eq(b, cases[i].last);
		}
	}
}
END_TEST

START_TEST(test_find_element_value)
{
	static const char buf[] =
		"<SumX>abc</SumX><Sum>abd</Sum>"
		"<Sum \n>\n abc</Sum><Sum>abcdef</Sum>";
	size_t len = strlen(buf);
	long pos;

	/* The first element whose text starts with the value. */
	pos = bmap_find_element_value(buf, len, "Sum", "abc", 3);
	ck_assert_int_eq(pos, strstr(buf, "\n abc") + 2 - buf);
	pos = bmap_find_element_value(buf, len, "Sum", "abcdef", 6);
	ck_assert_int_eq(pos, strstr(buf, "abcdef") - buf);
	pos = bmap_find_element_value(buf, len, "Sum", "abd", 3);
	ck_assert_int_eq(pos, strstr(buf, "abd") - buf);
	ck_assert_int_eq(bmap_find_element_value(buf, len, "Sum", "abx", 3),
			 -ENOENT);
	ck_assert_int_eq(bmap_find_element_value(buf, len, "Other", "abc", 3),
			 -ENOENT);
	/* The value must lie inside the buffer. */
	ck_assert_int_eq(bmap_find_element_value(buf, len - 7, "Sum",
						 "abcdef", 6), -ENOENT);
	ck_assert_int_eq(bmap_find_element_value("<Sum>ab", 7, "Sum", "abc",
						 3), -ENOENT);
	ck_assert_int_eq(bmap_find_element_value("<Sum", 4, "Sum", "", 0),
			 -ENOENT);
	ck_assert_int_eq(bmap_find_element_value("", 0, "Sum", "a", 1),
			 -ENOENT);
}
END_TEST

Suite *xmlread_suite(void)
{
	Suite *s = suite_create("xmlread");
	TCase *golden = tcase_create("golden");
	TCase *bad = tcase_create("refused");
	TCase *ok = tcase_create("accepted");
	TCase *hostile = tcase_create("hostile");
	TCase *file = tcase_create("file");
	TCase *helpers = tcase_create("helpers");

	tcase_add_loop_test(golden, test_golden, 0,
			    sizeof(goldens) / sizeof(goldens[0]));
	tcase_add_test(golden, test_golden_agree);
	suite_add_tcase(s, golden);

	tcase_add_loop_test(bad, test_refused, 0,
			    sizeof(bads) / sizeof(bads[0]));
	tcase_add_test(bad, test_seal_comment);
	tcase_add_test(bad, test_v12_unsealed);
	suite_add_tcase(s, bad);

	tcase_add_test(ok, test_range_without_checksum);
	tcase_add_test(ok, test_upper_case_hex);
	tcase_add_test(ok, test_range_spaces);
	tcase_add_test(ok, test_versions_accepted);
	tcase_add_test(ok, test_checksum_type_case);
	tcase_add_test(ok, test_unknown_elements);
	tcase_add_test(ok, test_minimal_and_limits);
	suite_add_tcase(s, ok);

	tcase_add_test(hostile, test_billion_laughs);
	tcase_add_test(hostile, test_external_entity);
	tcase_add_test(hostile, test_doctype_utf16);
	tcase_add_test(hostile, test_malformed);
	tcase_add_test(hostile, test_wrong_root);
	tcase_add_test(hostile, test_bad_encoding_quiet);
	suite_add_tcase(s, hostile);

	tcase_add_test(file, test_read_file);
	tcase_add_test(file, test_read_file_empty);
	tcase_add_test(file, test_read_file_fifo);
	suite_add_tcase(s, file);

	tcase_add_test(helpers, test_xml_space);
	tcase_add_test(helpers, test_parse_u64);
	tcase_add_test(helpers, test_parse_range);
	tcase_add_test(helpers, test_find_element_value);
	suite_add_tcase(s, helpers);
	return s;
}

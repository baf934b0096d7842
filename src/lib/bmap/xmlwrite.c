/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xmlwrite.c - lay a block map out as bmap format 1.2 or 2.0, byte for
 * byte as the reference tool does: 1.2 as it was first written (mapped
 * count after the block map), 2.0 as bmaptool 3.x writes it (mapped count,
 * checksum type and file checksum before the block map; the mapped-size
 * comment and the mapped count padded to the width reserved for them).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bmap.h"
#include "base/error.h"
#include "base/strbuf.h"

static const char header_comment[] =
"<?xml version=\"1.0\" ?>\n"
"<!-- This file contains the block map for an image file, which is basically\n"
"     a list of useful (mapped) block numbers in the image file. In other words,\n"
"     it lists only those blocks which contain data (boot sector, partition\n"
"     table, file-system metadata, files, directories, extents, etc). These\n"
"     blocks have to be copied to the target device. The other blocks do not\n"
"     contain any useful data and do not have to be copied to the target\n"
"     device.\n"
"\n"
"     The block map an optimization which allows to copy or flash the image to\n"
"     the image quicker than copying of flashing the entire image. This is\n"
"     because with bmap less data is copied: <MappedBlocksCount> blocks instead\n"
"     of <BlocksCount> blocks.\n"
"\n"
"     Besides the machine-readable data, this file contains useful commentaries\n"
"     which contain human-readable information like image size, percentage of\n"
"     mapped data, etc.\n"
"\n"
"     The 'version' attribute is the block map file format version in the\n"
"     'major.minor' format. The version major number is increased whenever an\n"
"     incompatible block map format change is made. The minor number changes\n"
"     in case of minor backward-compatible changes. -->\n"
"\n";

struct sizes {
	char image[BMAP_HUMAN_MAX];
	char mapped[BMAP_HUMAN_MAX];
	double percent;
};

static void describe(const struct bmap *map, struct sizes *sz)
{
	bmap_human_size(map->image_size, sz->image);
	bmap_human_size(map->mapped_count * map->block_size, sz->mapped);
	sz->percent = map->blocks_count ?
		      (double)map->mapped_count * 100.0 /
		      (double)map->blocks_count : 0.0;
}

static void put_geometry(struct strbuf *sb, const struct bmap *map)
{
	strbuf_addf(sb, "    <ImageSize> %" PRIu64 " </ImageSize>\n\n",
		    map->image_size);
	strbuf_add(sb, "    <!-- Size of a block in bytes -->\n");
	strbuf_addf(sb, "    <BlockSize> %" PRIu64 " </BlockSize>\n\n",
		    map->block_size);
	strbuf_add(sb, "    <!-- Count of blocks in the image file -->\n");
	strbuf_addf(sb, "    <BlocksCount> %" PRIu64 " </BlocksCount>\n\n",
		    map->blocks_count);
}

static void put_ranges(struct strbuf *sb, const struct bmap *map,
		       const char *attr)
{
	char hex[2 * BMAP_DIGEST_MAX + 1];
	size_t i;

	for (i = 0; i < map->nranges; i++) {
		const struct bmap_range *r = &map->ranges[i];

		strbuf_add(sb, "        <Range");
		if (r->has_digest) {
			bmap_hex_encode(r->digest, map->digest_len, hex);
			strbuf_addf(sb, " %s=\"%s\"", attr, hex);
		}
		if (r->first == r->last)
			strbuf_addf(sb, "> %" PRIu64 " </Range>\n", r->first);
		else
			strbuf_addf(sb, "> %" PRIu64 "-%" PRIu64 " </Range>\n",
				    r->first, r->last);
	}
}

static void write_v1_2(struct strbuf *sb, const struct bmap *map)
{
	struct sizes sz;

	describe(map, &sz);
	strbuf_add(sb, header_comment);
	strbuf_add(sb, "<bmap version=\"1.2\">\n");
	strbuf_addf(sb, "    <!-- Image size in bytes (%s) -->\n", sz.image);
	put_geometry(sb, map);
	strbuf_add(sb,
"    <!-- The block map which consists of elements which may either be a\n"
"         range of blocks or a single block. The 'sha1' attribute (if present)\n"
"         is the SHA1 checksum of this blocks range. -->\n"
"    <BlockMap>\n");
	put_ranges(sb, map, "sha1");
	strbuf_add(sb, "    </BlockMap>\n\n");
	strbuf_addf(sb, "    <!-- Count of mapped blocks (%s or %.1f%% mapped)"
		    " -->\n", sz.mapped, sz.percent);
	strbuf_addf(sb, "    <MappedBlocksCount> %" PRIu64
		    " </MappedBlocksCount>\n", map->mapped_count);
	strbuf_add(sb, "</bmap>\n");
}

/*
 * The reference tool writes a line's template first (blanks where values
 * go) and the values over it afterwards, so a value longer than its blanks
 * overwrites what follows them. Lay `text` over `tmpl` the same way.
 */
static void overlay(struct strbuf *sb, const char *text, const char *tmpl)
{
	size_t tlen = strlen(text), mlen = strlen(tmpl);

	strbuf_add(sb, text);
	if (tlen < mlen)
		strbuf_add(sb, tmpl + tlen);
}

/* Blanks of `width` followed by `tail`, as a template for overlay(). */
static void blanks_then(char *out, size_t size, size_t width,
			const char *tail)
{
	snprintf(out, size, "%*s%s", (int)width, "", tail);
}

/* Returns the offset of the file checksum's placeholder, or 0. */
static size_t write_v2_0(struct strbuf *sb, const struct bmap *map)
{
	char count[24], text[2 * BMAP_HUMAN_MAX], tmpl[2 * BMAP_HUMAN_MAX + 32];
	struct sizes sz;
	size_t sum_at;

	describe(map, &sz);
	strbuf_add(sb, header_comment);
	strbuf_add(sb, "<bmap version=\"2.0\">\n");
	strbuf_addf(sb, "    <!-- Image size in bytes: %s -->\n", sz.image);
	put_geometry(sb, map);
	strbuf_add(sb, "    <!-- Count of mapped blocks: ");
	snprintf(text, sizeof(text), "%s or %.1f%%", sz.mapped, sz.percent);
	blanks_then(tmpl, sizeof(tmpl), strlen(sz.image) + strlen(" or ") +
		    strlen("100.0%"), "   -->");
	overlay(sb, text, tmpl);
	strbuf_add(sb, "\n    <MappedBlocksCount> ");
	snprintf(text, sizeof(text), "%" PRIu64, map->mapped_count);
	snprintf(count, sizeof(count), "%" PRIu64, map->blocks_count);
	blanks_then(tmpl, sizeof(tmpl), strlen(count),
		    " </MappedBlocksCount>");
	overlay(sb, text, tmpl);
	strbuf_add(sb, "\n\n");
	strbuf_add(sb, "    <!-- Type of checksum used in this file -->\n");
	strbuf_addf(sb, "    <ChecksumType> %s </ChecksumType>\n\n",
		    map->checksum_type);
	strbuf_add(sb,
"    <!-- The checksum of this bmap file. When it is calculated, the value of\n"
"         the checksum has be zero (all ASCII \"0\" symbols).  -->\n"
"    <BmapFileChecksum> ");
	sum_at = sb->len;
	strbuf_addch(sb, '0', 2 * map->digest_len);
	strbuf_add(sb, " </BmapFileChecksum>\n\n");
	strbuf_add(sb,
"    <!-- The block map which consists of elements which may either be a\n"
"         range of blocks or a single block. The 'chksum' attribute\n"
"         (if present) is the checksum of this blocks range. -->\n"
"    <BlockMap>\n");
	put_ranges(sb, map, "chksum");
	strbuf_add(sb, "    </BlockMap>\n");
	strbuf_add(sb, "</bmap>\n");
	return sum_at;
}

static int seal(struct strbuf *sb, const struct bmap *map, size_t sum_at,
		struct bmap_err *err)
{
	unsigned char digest[BMAP_DIGEST_MAX];
	char hex[2 * BMAP_DIGEST_MAX + 1];
	struct bmap_digest *d;
	int ret;

	ret = bmap_digest_new(&d, map->checksum_type, err);
	if (ret)
		return ret;
	ret = bmap_digest_update(d, sb->buf, sb->len);
	if (!ret)
		ret = bmap_digest_final(d, digest);
	bmap_digest_free(d);
	if (ret)
		return bmap_seterr(err, EIO, "cannot hash the bmap file");
	bmap_hex_encode(digest, map->digest_len, hex);
	memcpy(sb->buf + sum_at, hex, 2 * map->digest_len);
	return 0;
}

int bmap_write_memory(const struct bmap *map, enum bmap_format format,
		      char **out, size_t *outlen, struct bmap_err *err)
{
	struct strbuf sb;
	size_t sum_at;
	int ret;

	strbuf_init(&sb);
	if (format == BMAP_FORMAT_1_2) {
		if (map->digest_len && strcmp(map->checksum_type, "sha1"))
			return bmap_seterr(err, EINVAL, "format 1.2 holds "
					   "only SHA-1 checksums, not %s",
					   map->checksum_type);
		write_v1_2(&sb, map);
	} else if (format == BMAP_FORMAT_2_0) {
		if (!map->digest_len)
			return bmap_seterr(err, EINVAL, "format 2.0 needs a "
					   "checksum type");
		sum_at = write_v2_0(&sb, map);
		if (!sb.error) {
			ret = seal(&sb, map, sum_at, err);
			if (ret) {
				strbuf_free(&sb);
				return ret;
			}
		}
	} else {
		return bmap_seterr(err, EINVAL, "unknown bmap format");
	}
	ret = strbuf_detach(&sb, out, outlen);
	if (ret)
		return bmap_seterr(err, -ret, "out of memory");
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xmlparse.c - the bmap file before the model: its bytes read in (to a
 * bound), parsed into a libxml2 document, safely and silently, and its
 * own checksum checked over the bytes as they are in the file.
 * xmlread.c builds the model from the document.
 *
 * libxml2 runs with network access off, no DTD loading and no entity
 * substitution; a document with a DOCTYPE is refused before parsing, so no
 * entity can be declared at all. libxml2 never prints: its messages are
 * caught while it parses (see quiet_parse) and the first that matters
 * becomes the one-line error.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "bmap.h"
#include "base/error.h"
#include "bmap/xml.h"
#include "bmap/xmlparse.h"

/* A bmap this large would describe hundreds of millions of ranges. */
#define BMAP_FILE_MAX (512L * 1024 * 1024)

/* ------------------------------------------------------------------ */
/* The bmap file's own checksum                                        */

long bmap_find_element_value(const char *buf, size_t len, const char *tag,
			     const char *hex, size_t hexlen)
{
	size_t taglen = strlen(tag);
	const char *p = buf, *end = buf + len;

	while ((p = memmem(p, (size_t)(end - p), "<", 1)) != NULL) {
		const char *q = p + 1;

		p++;
		if ((size_t)(end - q) < taglen || memcmp(q, tag, taglen))
			continue;
		q += taglen;
		while (q < end && bmap_xml_space(*q))
			q++;
		if (q >= end || *q != '>')
			continue;
		q++;
		while (q < end && bmap_xml_space(*q))
			q++;
		if ((size_t)(end - q) >= hexlen &&
		    !strncasecmp(q, hex, hexlen))
			return (long)(q - buf);
	}
	return -ENOENT;
}

int bmap_check_file_checksum(const struct bmap *map, const char *buf,
			     size_t len, const char *tag,
			     const unsigned char *stored,
			     struct bmap_err *err)
{
	unsigned char computed[BMAP_DIGEST_MAX];
	char hex_stored[2 * BMAP_DIGEST_MAX + 1];
	char hex_computed[2 * BMAP_DIGEST_MAX + 1];
	char zeros[2 * BMAP_DIGEST_MAX];
	size_t hexlen = 2 * map->digest_len;
	struct bmap_digest *d = NULL;
	long pos;
	int ret;

	bmap_hex_encode(stored, map->digest_len, hex_stored);
	pos = bmap_find_element_value(buf, len, tag, hex_stored, hexlen);
	if (pos < 0)
		return bmap_seterr(err, EINVAL, "cannot locate the value of "
				   "<%s> in the file", tag);
	ret = bmap_digest_new(&d, map->checksum_type, err);
	if (ret)
		return ret;
	memset(zeros, '0', sizeof(zeros));
	if (bmap_digest_update(d, buf, (size_t)pos) ||
	    bmap_digest_update(d, zeros, hexlen) ||
	    bmap_digest_update(d, buf + pos + hexlen,
			       len - (size_t)pos - hexlen) ||
	    bmap_digest_final(d, computed)) {
		bmap_digest_free(d);
		return bmap_seterr(err, EIO, "cannot hash the bmap file");
	}
	bmap_digest_free(d);
	if (memcmp(stored, computed, map->digest_len)) {
		bmap_hex_encode(computed, map->digest_len, hex_computed);
		return bmap_seterr(err, EBADMSG, "bmap file checksum "
				   "mismatch: <%s> says %s, the file's %s is "
				   "%s", tag, hex_stored, map->checksum_type,
				   hex_computed);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Parsing, with libxml2 silent                                        */

/* What the error handlers keep while libxml2 parses. */
struct parse_state {
	/* The first input decoding (character set) or I/O error libxml2
	 * reported while parsing, or "": it names the cause better than
	 * the parse error that follows it. */
	char input_error[200];
};

/* A libxml2 message as one line: white space runs (newlines among them)
 * become one space, none at either end. */
static void one_line(char *out, size_t size, const char *msg)
{
	size_t n = 0;
	bool space = false;

	for (; *msg && n + 1 < size; msg++) {
		if (bmap_xml_space(*msg)) {
			space = n > 0;
			continue;
		}
		if (space && n + 2 < size)
			out[n++] = ' ';
		space = false;
		out[n++] = *msg;
	}
	out[n] = '\0';
}

/*
 * Where libxml2's messages go while it parses. Errors found by the parser
 * are kept in its context as well (xmlCtxtGetLastError); errors of the
 * input's character conversion and I/O are raised without a context, so
 * only here can they be caught, and kept from being printed.
 */
static void on_xml_error(void *ctx, xmlErrorPtr e)
{
	struct parse_state *ps = ctx;

	if (!e || !e->message || ps->input_error[0])
		return;
	if (e->domain == XML_FROM_I18N || e->domain == XML_FROM_IO)
		one_line(ps->input_error, sizeof(ps->input_error), e->message);
}

/* libxml2's unstructured messages: none is printed. */
static void on_xml_generic(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	(void)fmt;
}

/*
 * Parse buf with libxml2 silent. libxml2 2.9 (Debian 12) has no error
 * handler of a parser context for the errors raised without one (the
 * character conversion's "encoding error", "I/O error"), only its
 * per-thread handlers: they are set for this call alone and put back
 * after it, so neither another thread nor whoever called us sees a
 * change.
 */
static xmlDocPtr quiet_parse(struct parse_state *ps, xmlParserCtxtPtr ctxt,
			     const char *buf, size_t len)
{
	xmlStructuredErrorFunc old_structured = xmlStructuredError;
	void *old_structured_ctx = xmlStructuredErrorContext;
	xmlGenericErrorFunc old_generic = xmlGenericError;
	void *old_generic_ctx = xmlGenericErrorContext;
	xmlDocPtr doc;

	xmlSetStructuredErrorFunc(ps, on_xml_error);
	xmlSetGenericErrorFunc(ps, on_xml_generic);
	doc = xmlCtxtReadMemory(ctxt, buf, (int)len, "bmap", NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR |
				XML_PARSE_NOWARNING);
	xmlSetGenericErrorFunc(old_generic_ctx, old_generic);
	xmlSetStructuredErrorFunc(old_structured_ctx, old_structured);
	return doc;
}

static int parse_error(struct parse_state *ps, xmlParserCtxtPtr ctxt,
		       struct bmap_err *err)
{
	const xmlError *e = xmlCtxtGetLastError(ctxt);
	char msg[256] = "unknown error";

	if (ps->input_error[0])
		snprintf(msg, sizeof(msg), "%s", ps->input_error);
	else if (e && e->message)
		one_line(msg, sizeof(msg), e->message);
	return bmap_seterr(err, EINVAL, "malformed XML (line %d): %s",
			   e ? e->line : 0, msg);
}

int bmap_xml_parse(const char *buf, size_t len, xmlDocPtr *doc,
		   struct bmap_err *err)
{
	struct parse_state ps = { "" };
	xmlParserCtxtPtr ctxt;
	int ret = 0;

	*doc = NULL;
	if (len > (size_t)INT_MAX)
		return bmap_seterr(err, EFBIG, "bmap file is too large");
	if (memmem(buf, len, "<!DOCTYPE", 9))
		return bmap_seterr(err, EINVAL, "bmap file has a DOCTYPE "
				   "declaration: refused (entities are not "
				   "allowed)");
	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		return bmap_seterr(err, ENOMEM, "out of memory");
	*doc = quiet_parse(&ps, ctxt, buf, len);
	if (!*doc)
		ret = parse_error(&ps, ctxt, err);
	else if ((*doc)->intSubset || (*doc)->extSubset) {
		ret = bmap_seterr(err, EINVAL, "bmap file has a DOCTYPE "
				  "declaration: refused (entities are not "
				  "allowed)");
		xmlFreeDoc(*doc);
		*doc = NULL;
	}
	xmlFreeParserCtxt(ctxt);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Reading the file                                                    */

int bmap_read_file(struct bmap *map, const char *path, struct bmap_err *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap;
	ssize_t n;
	int fd, ret;

	bmap_init(map);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bmap_seterr(err, errno, "cannot open: %s",
				   strerror(errno));
	if (fstat(fd, &st) < 0) {
		ret = bmap_seterr(err, errno, "cannot stat: %s",
				  strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = bmap_seterr(err, EISDIR, "is a directory");
		goto out;
	}
	cap = S_ISREG(st.st_mode) && st.st_size > 0 ?
	      (size_t)st.st_size + 1 : 65536;
	if (st.st_size > BMAP_FILE_MAX) {
		ret = bmap_seterr(err, EFBIG, "bmap file is larger than %ld "
				  "MiB", BMAP_FILE_MAX >> 20);
		goto out;
	}
	for (;;) {
		if (len == cap || !buf) {
			char *p;

			if (buf)
				cap *= 2;
			if (cap > (size_t)BMAP_FILE_MAX + 1) {
				ret = bmap_seterr(err, EFBIG, "bmap file is "
						  "larger than %ld MiB",
						  BMAP_FILE_MAX >> 20);
				goto out;
			}
			p = realloc(buf, cap);
			if (!p) {
				ret = bmap_seterr(err, ENOMEM,
						  "out of memory");
				goto out;
			}
			buf = p;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = bmap_seterr(err, errno, "cannot read: %s",
					  strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	ret = bmap_read_memory(map, buf, len, err);
out:
	free(buf);
	close(fd);
	return ret;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* digest.c - checksums through OpenSSL EVP, by algorithm name. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>

#include "bmap.h"
#include "bmap/digest.h"
#include "base/error.h"

struct bmap_digest {
	EVP_MD_CTX *ctx;
	const EVP_MD *md;
	size_t len;
};

static const EVP_MD *lookup(const char *name, struct bmap_err *err)
{
	const EVP_MD *md = EVP_get_digestbyname(name);

	if (!md) {
		bmap_seterr(err, EINVAL, "unknown checksum type '%.40s'", name);
		return NULL;
	}
	if (EVP_MD_flags(md) & EVP_MD_FLAG_XOF) {
		bmap_seterr(err, EINVAL, "checksum type '%.40s' has no fixed "
			    "size", name);
		return NULL;
	}
	return md;
}

int bmap_digest_size(const char *name, struct bmap_err *err)
{
	const EVP_MD *md = lookup(name, err);

	return md ? EVP_MD_size(md) : -EINVAL;
}

int bmap_digest_canonical(const char *name, char *out, size_t size,
			  struct bmap_err *err)
{
	const EVP_MD *md = lookup(name, err);
	const char *sn;
	size_t i, n;

	if (!md)
		return -EINVAL;
	sn = OBJ_nid2sn(EVP_MD_type(md));
	if (!sn || sn[0] == '\0' || (n = strlen(sn)) >= size)
		return bmap_seterr(err, EINVAL, "unknown checksum type "
				   "'%.40s'", name);
	for (i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)sn[i]);
	return EVP_MD_size(md);
}

int bmap_digest_new(struct bmap_digest **out, const char *name,
		    struct bmap_err *err)
{
	struct bmap_digest *d;
	const EVP_MD *md = lookup(name, err);

	if (!md)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return bmap_seterr(err, ENOMEM, "out of memory");
	d->ctx = EVP_MD_CTX_new();
	if (!d->ctx || !EVP_DigestInit_ex(d->ctx, md, NULL)) {
		bmap_digest_free(d);
		return bmap_seterr(err, ENOMEM, "cannot set up %s hashing",
				   name);
	}
	d->md = md;
	d->len = (size_t)EVP_MD_size(md);
	*out = d;
	return 0;
}

int bmap_digest_update(struct bmap_digest *d, const void *buf, size_t len)
{
	return EVP_DigestUpdate(d->ctx, buf, len) ? 0 : -EIO;
}

int bmap_digest_final(struct bmap_digest *d, unsigned char *out)
{
	if (!EVP_DigestFinal_ex(d->ctx, out, NULL))
		return -EIO;
	return EVP_DigestInit_ex(d->ctx, d->md, NULL) ? 0 : -EIO;
}

size_t bmap_digest_len(const struct bmap_digest *d)
{
	return d->len;
}

void bmap_digest_free(struct bmap_digest *d)
{
	if (!d)
		return;
	EVP_MD_CTX_free(d->ctx);
	free(d);
}

void bmap_hex_encode(const unsigned char *bin, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int bmap_hex_decode(const char *hex, size_t hexlen, unsigned char *bin,
		    size_t len)
{
	size_t i;

	if (hexlen != 2 * len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		bin[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

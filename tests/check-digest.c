/* SPDX-License-Identifier: GPL-2.0-or-later */
/* check-digest.c - checksums and hex (digest.c). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <check.h>

#include "bmap.h"
#include "check-suites.h"

/* The hex digest of text, through one update per piece of `step` bytes. */
static void hash_hex(const char *type, const char *text, size_t step,
		     char *hex)
{
	unsigned char out[BMAP_DIGEST_MAX];
	struct bmap_digest *d = NULL;
	struct bmap_err err = { "" };
	size_t len = strlen(text), off;

	ck_assert_msg(bmap_digest_new(&d, type, &err) == 0, "%s", err.msg);
	ck_assert_ptr_nonnull(d);
	for (off = 0; off < len; off += step)
		ck_assert_int_eq(bmap_digest_update(d, text + off,
						    len - off < step ?
						    len - off : step), 0);
	ck_assert_int_eq(bmap_digest_final(d, out), 0);
	bmap_hex_encode(out, bmap_digest_len(d), hex);
	bmap_digest_free(d);
}

static const struct {
	const char *type, *text, *hex;
} vectors[] = {
	{ "sha1", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d" },
	{ "sha1", "", "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
	{ "sha1", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
	{ "sha256", "abc", "ba7816bf8f01cfea414140de5dae2223"
			   "b00361a396177a9cb410ff61f20015ad" },
	{ "sha256", "", "e3b0c44298fc1c149afbf4c8996fb924"
			"27ae41e4649b934ca495991b7852b855" },
	{ "SHA256", "abc", "ba7816bf8f01cfea414140de5dae2223"
			   "b00361a396177a9cb410ff61f20015ad" },
};

START_TEST(test_vectors)
{
	char hex[2 * BMAP_DIGEST_MAX + 1];

	hash_hex(vectors[_i].type, vectors[_i].text, 1000, hex);
	ck_assert_str_eq(hex, vectors[_i].hex);
	/* Byte by byte gives the same. */
	hash_hex(vectors[_i].type, vectors[_i].text, 1, hex);
	ck_assert_str_eq(hex, vectors[_i].hex);
}
END_TEST

START_TEST(test_sizes)
{
	struct bmap_err err = { "" };
	struct bmap_digest *d;

	ck_assert_int_eq(bmap_digest_size("sha1", &err), 20);
	ck_assert_int_eq(bmap_digest_size("sha256", &err), 32);
	ck_assert_int_eq(bmap_digest_size("sha512", &err), 64);
	ck_assert_int_eq(bmap_digest_size("md5", &err), 16);
	ck_assert_int_eq(bmap_digest_new(&d, "sha512", &err), 0);
	ck_assert_uint_eq(bmap_digest_len(d), 64);
	ck_assert_uint_le(bmap_digest_len(d), BMAP_DIGEST_MAX);
	bmap_digest_free(d);
	bmap_digest_free(NULL);
}
END_TEST

START_TEST(test_final_restarts)
{
	unsigned char a[BMAP_DIGEST_MAX], b[BMAP_DIGEST_MAX];
	struct bmap_digest *d;
	char hex[2 * BMAP_DIGEST_MAX + 1];

	ck_assert_int_eq(bmap_digest_new(&d, "sha256", NULL), 0);
	ck_assert_int_eq(bmap_digest_update(d, "abc", 3), 0);
	ck_assert_int_eq(bmap_digest_final(d, a), 0);
	ck_assert_int_eq(bmap_digest_update(d, "abc", 3), 0);
	ck_assert_int_eq(bmap_digest_final(d, b), 0);
	ck_assert_mem_eq(a, b, 32);
	/* Nothing hashed since the last final: the empty input's digest. */
	ck_assert_int_eq(bmap_digest_final(d, b), 0);
	bmap_hex_encode(b, 32, hex);
	ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb924"
			 "27ae41e4649b934ca495991b7852b855");
	bmap_digest_free(d);
}
END_TEST

START_TEST(test_unknown)
{
	struct bmap_err err = { "" };
	struct bmap_digest *d = NULL;

	ck_assert_int_eq(bmap_digest_size("nope", &err), -EINVAL);
	ck_assert_str_eq(err.msg, "unknown checksum type 'nope'");
	err.msg[0] = '\0';
	ck_assert_int_eq(bmap_digest_new(&d, "nope", &err), -EINVAL);
	ck_assert_ptr_null(d);
	ck_assert_str_eq(err.msg, "unknown checksum type 'nope'");
	ck_assert_int_lt(bmap_digest_size("", &err), 0);
	ck_assert_int_eq(bmap_digest_size("nope", NULL), -EINVAL);
}
END_TEST

START_TEST(test_xof_refused)
{
	struct bmap_err err = { "" };
	struct bmap_digest *d = NULL;

	ck_assert_int_eq(bmap_digest_size("shake128", &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "shake128"));
	ck_assert_ptr_nonnull(strstr(err.msg, "no fixed size"));
	ck_assert_int_eq(bmap_digest_new(&d, "shake256", &err), -EINVAL);
	ck_assert_ptr_null(d);
	ck_assert_ptr_nonnull(strstr(err.msg, "no fixed size"));
}
END_TEST

START_TEST(test_hex_round_trip)
{
	unsigned char bin[256], back[256];
	char hex[2 * 256 + 1];
	size_t i;

	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)i;
	bmap_hex_encode(bin, sizeof(bin), hex);
	ck_assert_uint_eq(strlen(hex), 512);
	ck_assert(!strncmp(hex, "000102030405060708090a0b0c0d0e0f10", 34));
	ck_assert_str_eq(hex + 500, "fafbfcfdfeff");
	memset(back, 0, sizeof(back));
	ck_assert_int_eq(bmap_hex_decode(hex, strlen(hex), back, sizeof(back)),
			 0);
	ck_assert_mem_eq(bin, back, sizeof(bin));

	/* Nothing at all. */
	bmap_hex_encode(bin, 0, hex);
	ck_assert_str_eq(hex, "");
	ck_assert_int_eq(bmap_hex_decode("", 0, back, 0), 0);
}
END_TEST

START_TEST(test_hex_decode)
{
	unsigned char bin[4];
	static const unsigned char want[4] = { 0xde, 0xad, 0xbe, 0xef };

	ck_assert_int_eq(bmap_hex_decode("DEADBEEF", 8, bin, 4), 0);
	ck_assert_mem_eq(bin, want, 4);
	ck_assert_int_eq(bmap_hex_decode("dEaDbEeF", 8, bin, 4), 0);
	ck_assert_mem_eq(bin, want, 4);
	/* Wrong length, odd length, too long. */
	ck_assert_int_eq(bmap_hex_decode("deadbe", 6, bin, 4), -EINVAL);
	ck_assert_int_eq(bmap_hex_decode("deadbeef0", 9, bin, 4), -EINVAL);
	ck_assert_int_eq(bmap_hex_decode("deadbeef00", 10, bin, 4), -EINVAL);
	/* Not hex, in either digit of a pair. */
	ck_assert_int_eq(bmap_hex_decode("deadbeeg", 8, bin, 4), -EINVAL);
	ck_assert_int_eq(bmap_hex_decode("gdadbeef", 8, bin, 4), -EINVAL);
	ck_assert_int_eq(bmap_hex_decode("dead bee", 8, bin, 4), -EINVAL);
	ck_assert_int_eq(bmap_hex_decode("0x000000", 8, bin, 4), -EINVAL);
	ck_assert_int_eq(bmap_hex_decode("dead\0eef", 8, bin, 4), -EINVAL);
	/* Only hexlen bytes are looked at. */
	ck_assert_int_eq(bmap_hex_decode("deadbeefXYZ", 8, bin, 4), 0);
	ck_assert_mem_eq(bin, want, 4);
}
END_TEST

Suite *digest_suite(void)
{
	Suite *s = suite_create("digest");
	TCase *tc = tcase_create("digest");

	tcase_add_loop_test(tc, test_vectors, 0,
			    sizeof(vectors) / sizeof(vectors[0]));
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_final_restarts);
	tcase_add_test(tc, test_unknown);
	tcase_add_test(tc, test_xof_refused);
	tcase_add_test(tc, test_hex_round_trip);
	tcase_add_test(tc, test_hex_decode);
	suite_add_tcase(s, tc);
	return s;
}

/* SHA-256 and SHA-512 through OpenSSL's EVP interface and through the low-level SHA256_Update /
 * SHA512_Update that Berth's hasher uses (its state can be exported, an EVP context's cannot): the
 * same bytes, 512 KiB at a time (an upload block), best of three runs each. Prints one JSON line.
 * Usage: sha_api_speed [MiB] */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

enum { block = 512 * 1024 };

static double evp(const EVP_MD* md, const unsigned char* buf, size_t total) {
  EVP_MD_CTX* c = EVP_MD_CTX_new();
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  double t0 = now();
  EVP_DigestInit_ex(c, md, NULL);
  for (size_t off = 0; off < total; off += block) EVP_DigestUpdate(c, buf + off % (64u << 20), block);
  EVP_DigestFinal_ex(c, out, &len);
  double t = now() - t0;
  EVP_MD_CTX_free(c);
  return total / t / 1e6;
}

static double low256(const unsigned char* buf, size_t total) {
  SHA256_CTX c;
  unsigned char out[32];
  double t0 = now();
  SHA256_Init(&c);
  for (size_t off = 0; off < total; off += block) SHA256_Update(&c, buf + off % (64u << 20), block);
  SHA256_Final(out, &c);
  return total / (now() - t0) / 1e6;
}

static double low512(const unsigned char* buf, size_t total) {
  SHA512_CTX c;
  unsigned char out[64];
  double t0 = now();
  SHA512_Init(&c);
  for (size_t off = 0; off < total; off += block) SHA512_Update(&c, buf + off % (64u << 20), block);
  SHA512_Final(out, &c);
  return total / (now() - t0) / 1e6;
}

static double best(double a, double b) { return a > b ? a : b; }

int main(int argc, char** argv) {
  size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 1024;
  size_t total = mib << 20;
  size_t pool = (64u << 20) + block;
  unsigned char* buf = malloc(pool);
  if (!buf) return 1;
  unsigned int x = 12345;
  for (size_t i = 0; i < pool; ++i) buf[i] = (unsigned char)((x = x * 1103515245u + 12345u) >> 24);
  double e256 = 0, l256 = 0, e512 = 0, l512 = 0;
  for (int round = 0; round < 3; ++round) {
    e256 = best(e256, evp(EVP_sha256(), buf, total));
    l256 = best(l256, low256(buf, total));
    e512 = best(e512, evp(EVP_sha512(), buf, total));
    l512 = best(l512, low512(buf, total));
  }
  printf("{\"bytes\": %zu, \"sha256_evp_MBps\": %.1f, \"sha256_low_level_MBps\": %.1f, "
         "\"sha512_evp_MBps\": %.1f, \"sha512_low_level_MBps\": %.1f}\n",
         total, e256, l256, e512, l512);
  free(buf);
  return 0;
}

/* loopback_ceiling: how fast this machine moves one file over one loopback TCP stream, with no
 * HTTP and no registry, when the sender uses sendfile(2) (zero-copy, as Berth serves blobs) and when
 * it uses pread + write of 256 KiB (a userspace copy, as distribution's Go io.Copy does). The
 * receiver reads into a 1 MiB buffer and discards. The benchmark prints both next to the blob GET
 * figures. `write32k` writes 32 KiB at a time, like the Go runtime's io.Copy: on a VM whose two
 * vCPUs share a cache, the receiver then copies bytes still hot in it, which can beat zero-copy
 * for one stream (the receiver must read page-cache pages from memory).
 *
 * usage: loopback_ceiling FILE sendfile|write|write32k [ROUNDS]  -> "MB/s" (median of ROUNDS, default 3)
 * Built by bench/run.sh with `cc -O2`; loopback only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* One transfer; returns MB/s measured by the receiver, or -1. */
static double one_round(const char *path, int use_sendfile, size_t chunk) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1) ||
      getsockname(ls, (struct sockaddr *)&a, &alen)) {
    perror("listen");
    return -1;
  }
  int res[2];
  if (pipe(res)) return -1;
  pid_t pid = fork();
  if (pid == 0) { /* receiver */
    close(ls);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a)) _exit(1);
    static char buf[1 << 20];
    double t0 = now();
    long long total = 0;
    ssize_t n;
    while ((n = read(s, buf, sizeof buf)) > 0) total += n;
    double mbps = (double)total / (now() - t0) / 1e6;
    if (write(res[1], &mbps, sizeof mbps) != sizeof mbps) _exit(1);
    _exit(0);
  }
  close(res[1]);
  int c = accept(ls, NULL, NULL);
  close(ls);
  int f = open(path, O_RDONLY);
  struct stat st;
  if (c < 0 || f < 0 || fstat(f, &st)) {
    perror("open");
    return -1;
  }
  off_t off = 0;
  if (use_sendfile) {
    while (off < st.st_size) {
      ssize_t n = sendfile(c, f, &off, (size_t)(st.st_size - off));
      if (n <= 0) break;
    }
  } else {
    static char buf[256 * 1024];
    while (off < st.st_size) {
      ssize_t n = pread(f, buf, chunk, off);
      if (n <= 0) break;
      off += n;
      for (char *p = buf; n > 0;) {
        ssize_t w = write(c, p, (size_t)n);
        if (w <= 0) return -1;
        p += w;
        n -= w;
      }
    }
  }
  close(f);
  close(c);
  double mbps = -1;
  if (read(res[0], &mbps, sizeof mbps) != sizeof mbps) mbps = -1;
  close(res[0]);
  waitpid(pid, NULL, 0);
  return mbps;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s FILE sendfile|write|write32k [ROUNDS]\n", argv[0]);
    return 2;
  }
  int rounds = argc > 3 ? atoi(argv[3]) : 3;
  if (rounds < 1 || rounds > 50) rounds = 3;
  double r[50];
  for (int i = 0; i < rounds; i++) {
    r[i] = one_round(argv[1], strcmp(argv[2], "sendfile") == 0,
                     strcmp(argv[2], "write32k") == 0 ? 32 * 1024 : 256 * 1024);
    if (r[i] < 0) return 1;
  }
  qsort(r, (size_t)rounds, sizeof r[0], cmp);
  printf("%.1f\n", r[rounds / 2]);
  return 0;
}

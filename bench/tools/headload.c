/* headload: a minimal closed-loop HTTP/1.1 load generator for HEAD requests.
 *
 * Why: wrk 4.1 (Debian 12) waits for a body after a HEAD response that carries Content-Length, so
 * it cannot measure HEAD; ab hangs the same way with keep-alive. This tool keeps N keep-alive
 * connections, each sending one request and waiting for the end of the response headers (a HEAD
 * response has no body), and prints the same "BENCHJSON {...}" line as bench/wrk/request.lua.
 *
 * usage: headload -c CONNS -t THREADS -d SECONDS [-H "Name: value"]... [-p PATHS_FILE] HOST PORT [PATH]
 * Built by bench/run.sh with `cc -O2 -pthread`; loopback use only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_US 10000000 /* histogram range: 10 s */
#define BUCKET_US 1     /* 1 µs buckets below 10 ms, 100 µs above */

static char **reqs;
static size_t *req_lens;
static size_t nreqs;
static struct sockaddr_in addr;
static double duration_s;
static volatile int stop_flag;

typedef struct {
  int fd;
  size_t req, sent;
  size_t got;
  char buf[16384];
  uint64_t t0;
} conn_t;

typedef struct {
  int nconns, id;
  uint64_t requests, bytes, err_connect, err_read, err_write, err_status, err_timeout;
  uint32_t *fine;   /* 0..9999 µs */
  uint32_t *coarse; /* 10 ms .. 10 s in 100 µs steps */
  uint64_t over, max_us;
  double sum_us;
} thread_t;

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + ts.tv_nsec / 1000;
}

static int open_conn(int ep, conn_t *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  c->sent = 0;
  c->got = 0;
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  c->t0 = now_us();
  return 0;
}

static void record(thread_t *t, uint64_t us) {
  t->requests++;
  t->sum_us += (double)us;
  if (us > t->max_us) t->max_us = us;
  if (us < 10000) t->fine[us]++;
  else if (us < MAX_US) t->coarse[(us - 10000) / 100]++;
  else t->over++;
}

static void *run(void *arg) {
  thread_t *t = arg;
  int ep = epoll_create1(0);
  conn_t *cs = calloc((size_t)t->nconns, sizeof(conn_t));
  for (int i = 0; i < t->nconns; i++) {
    cs[i].req = ((size_t)t->id * 7919u + (size_t)i * 104729u) % nreqs;
    if (open_conn(ep, &cs[i]) < 0) t->err_connect++;
  }
  struct epoll_event evs[256];
  while (!stop_flag) {
    int n = epoll_wait(ep, evs, 256, 100);
    for (int k = 0; k < n; k++) {
      conn_t *c = evs[k].data.ptr;
      int broken = 0;
      if (c->sent < req_lens[c->req] && (evs[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        ssize_t w = send(c->fd, reqs[c->req] + c->sent, req_lens[c->req] - c->sent, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN) { t->err_write++; broken = 1; }
        else if (w > 0) {
          c->sent += (size_t)w;
          if (c->sent == req_lens[c->req]) {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
          }
        }
      }
      if (!broken && (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && c->sent == req_lens[c->req]) {
        ssize_t r = recv(c->fd, c->buf + c->got, sizeof c->buf - 1 - c->got, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN)) { t->err_read++; broken = 1; }
        else if (r > 0) {
          t->bytes += (uint64_t)r;
          c->got += (size_t)r;
          c->buf[c->got] = 0;
          char *end = strstr(c->buf, "\r\n\r\n");
          if (end) {
            uint64_t now = now_us();
            record(t, now - c->t0);
            int status = (c->got > 12) ? atoi(c->buf + 9) : 0;
            if (status < 200 || status > 399) t->err_status++;
            int close_it = strcasestr(c->buf, "\r\nconnection: close") != NULL;
            c->req = (c->req + 1) % nreqs;
            c->sent = 0;
            c->got = 0;
            c->t0 = now;
            if (close_it) broken = 1;
            else {
              struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
              epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
          } else if (c->got >= sizeof c->buf - 1) { t->err_read++; broken = 1; }
        }
      }
      if (broken) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        if (!stop_flag && open_conn(ep, c) < 0) t->err_connect++;
      }
    }
  }
  for (int i = 0; i < t->nconns; i++)
    if (cs[i].fd >= 0) close(cs[i].fd);
  free(cs);
  close(ep);
  return NULL;
}

static uint64_t percentile(thread_t *all, double p, uint64_t total) {
  uint64_t want = (uint64_t)(p / 100.0 * (double)total + 0.5), seen = 0;
  if (want == 0) want = 1;
  for (uint64_t us = 0; us < 10000; us++) {
    seen += all->fine[us];
    if (seen >= want) return us;
  }
  for (uint64_t b = 0; b < (MAX_US - 10000) / 100; b++) {
    seen += all->coarse[b];
    if (seen >= want) return 10000 + b * 100;
  }
  return all->max_us;
}

int main(int argc, char **argv) {
  int conns = 1, threads = 1;
  duration_s = 5;
  const char *paths_file = NULL;
  char headers[8192] = "";
  int opt;
  while ((opt = getopt(argc, argv, "c:t:d:H:p:")) != -1) {
    switch (opt) {
      case 'c': conns = atoi(optarg); break;
      case 't': threads = atoi(optarg); break;
      case 'd': duration_s = atof(optarg); break;
      case 'H':
        if (strlen(headers) + strlen(optarg) + 3 < sizeof headers) {
          strcat(headers, optarg);
          strcat(headers, "\r\n");
        }
        break;
      case 'p': paths_file = optarg; break;
      default: fprintf(stderr, "usage: headload -c N -t N -d SECS [-H h]... [-p file] HOST PORT [PATH]\n"); return 2;
    }
  }
  if (argc - optind < 2 || conns < 1 || threads < 1 || duration_s <= 0 || duration_s > 600) {
    fprintf(stderr, "usage: headload -c N -t N -d SECS [-H h]... [-p file] HOST PORT [PATH]\n");
    return 2;
  }
  if (threads > conns) threads = conns;
  const char *host = argv[optind];
  int port = atoi(argv[optind + 1]);
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) { fprintf(stderr, "headload: IPv4 address expected\n"); return 2; }

  size_t cap = 16;
  char **paths = malloc(cap * sizeof(char *));
  size_t npaths = 0;
  if (paths_file) {
    FILE *f = fopen(paths_file, "r");
    if (!f) { perror(paths_file); return 2; }
    char line[4096];
    while (fgets(line, sizeof line, f)) {
      line[strcspn(line, "\r\n")] = 0;
      if (!line[0]) continue;
      if (npaths == cap) paths = realloc(paths, (cap *= 2) * sizeof(char *));
      paths[npaths++] = strdup(line);
    }
    fclose(f);
  }
  if (npaths == 0) paths[npaths++] = strdup(argc - optind >= 3 ? argv[optind + 2] : "/");
  nreqs = npaths;
  reqs = malloc(nreqs * sizeof(char *));
  req_lens = malloc(nreqs * sizeof(size_t));
  for (size_t i = 0; i < nreqs; i++) {
    size_t len = strlen(paths[i]) + strlen(headers) + 128;
    reqs[i] = malloc(len);
    req_lens[i] = (size_t)snprintf(reqs[i], len, "HEAD %s HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n", paths[i], host, port, headers);
  }

  thread_t *ts = calloc((size_t)threads, sizeof(thread_t));
  pthread_t *tids = calloc((size_t)threads, sizeof(pthread_t));
  for (int i = 0; i < threads; i++) {
    ts[i].id = i;
    ts[i].nconns = conns / threads + (i < conns % threads);
    ts[i].fine = calloc(10000, sizeof(uint32_t));
    ts[i].coarse = calloc((MAX_US - 10000) / 100, sizeof(uint32_t));
  }
  uint64_t start = now_us();
  for (int i = 0; i < threads; i++) pthread_create(&tids[i], NULL, run, &ts[i]);
  struct timespec sl = {.tv_sec = (time_t)duration_s, .tv_nsec = (long)((duration_s - (double)(time_t)duration_s) * 1e9)};
  nanosleep(&sl, NULL);
  stop_flag = 1;
  for (int i = 0; i < threads; i++) pthread_join(tids[i], NULL);
  uint64_t elapsed = now_us() - start;

  thread_t *all = &ts[0];
  for (int i = 1; i < threads; i++) {
    thread_t *t = &ts[i];
    all->requests += t->requests; all->bytes += t->bytes; all->sum_us += t->sum_us; all->over += t->over;
    all->err_connect += t->err_connect; all->err_read += t->err_read; all->err_write += t->err_write;
    all->err_status += t->err_status; all->err_timeout += t->err_timeout;
    if (t->max_us > all->max_us) all->max_us = t->max_us;
    for (int k = 0; k < 10000; k++) all->fine[k] += t->fine[k];
    for (int k = 0; k < (MAX_US - 10000) / 100; k++) all->coarse[k] += t->coarse[k];
  }
  uint64_t n = all->requests;
  printf("BENCHJSON {\"requests\":%llu,\"duration_us\":%llu,\"bytes\":%llu,\"err_connect\":%llu,\"err_read\":%llu,"
         "\"err_write\":%llu,\"err_status\":%llu,\"err_timeout\":%llu,\"lat_mean_us\":%.1f,\"lat_p50_us\":%llu,"
         "\"lat_p90_us\":%llu,\"lat_p99_us\":%llu,\"lat_max_us\":%llu}\n",
         (unsigned long long)n, (unsigned long long)elapsed, (unsigned long long)all->bytes,
         (unsigned long long)all->err_connect, (unsigned long long)all->err_read, (unsigned long long)all->err_write,
         (unsigned long long)all->err_status, (unsigned long long)all->err_timeout, n ? all->sum_us / (double)n : 0.0,
         (unsigned long long)(n ? percentile(all, 50, n) : 0), (unsigned long long)(n ? percentile(all, 90, n) : 0),
         (unsigned long long)(n ? percentile(all, 99, n) : 0), (unsigned long long)all->max_us);
  return 0;
}

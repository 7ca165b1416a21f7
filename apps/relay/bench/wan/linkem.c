/*
 * linkem: a wide-area link between two network namespaces, emulated in user space (this kernel has no
 * sch_netem). It makes a TUN device named `dev` in each namespace and forwards every IP packet from one to the
 * other through a queue that adds what a real path adds:
 *   - serialisation at `rate` Mbit/s (a packet leaves the queue no sooner than the link is free),
 *   - `delay` ms of one-way propagation delay after that (the round trip is twice it),
 *   - random loss: each packet is dropped with probability `loss` (a fixed seed, so runs compare),
 *   - a tail-drop queue of `queue` packets per direction, as a router's buffer.
 * Order within a direction is kept. The devices exist while this process does: when it ends (SIGTERM, or its
 * parent dies), they go with it. The caller addresses them and brings them up (`ip netns exec … ip addr …`),
 * after this prints "ready".
 *
 *   linkem <netns-a> <netns-b> <dev> <delay-ms> <loss 0..1> <rate-mbit> <queue-packets>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_PACKET 2048

struct slot {
  uint64_t release_ns;
  uint16_t len;
  unsigned char data[MAX_PACKET];
};

/* One direction of the link: packets read from `from`, written to `to` once released. */
struct direction {
  int from, to;
  struct slot *ring;
  size_t head, count, capacity;
  uint64_t link_free_ns;
  unsigned long forwarded, lost, overflowed;
};

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: the loss draws, the same sequence every run. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double draw(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ull) >> 11) / (double)(1ull << 53);
}

static void die(const char *what) {
  fprintf(stderr, "linkem: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Enters the named network namespace (as `ip netns` keeps them) and opens a TUN device `dev` there. */
static int tun_in(const char *netns, const char *dev) {
  char path[256];
  snprintf(path, sizeof path, "/var/run/netns/%s", netns);
  int ns = open(path, O_RDONLY | O_CLOEXEC);
  if (ns < 0) die(path);
  if (setns(ns, CLONE_NEWNET) < 0) die("setns");
  close(ns);
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) die("/dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  strncpy(ifr.ifr_name, dev, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
  return fd;
}

/* Reads every packet waiting on `d->from` into the queue: dropped by loss or a full queue, else scheduled. */
static void take(struct direction *d, double delay_ns, double loss, double ns_per_byte) {
  for (;;) {
    struct slot *s = &d->ring[(d->head + d->count) % d->capacity];
    unsigned char scratch[MAX_PACKET];
    int full = d->count == d->capacity;
    ssize_t n = read(d->from, full ? scratch : s->data, MAX_PACKET);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      die("read");
    }
    if (full) {
      d->overflowed++;
      continue;
    }
    if (loss > 0 && draw() < loss) {
      d->lost++;
      continue;
    }
    uint64_t t = now_ns();
    uint64_t start = d->link_free_ns > t ? d->link_free_ns : t;
    d->link_free_ns = start + (uint64_t)(ns_per_byte * (double)n);
    s->release_ns = d->link_free_ns + (uint64_t)delay_ns;
    s->len = (uint16_t)n;
    d->count++;
  }
}

/* Writes every packet whose time has come; returns the ns until the next one is due (or -1: none queued). */
static int64_t release(struct direction *d, uint64_t t) {
  while (d->count > 0) {
    struct slot *s = &d->ring[d->head];
    if (s->release_ns > t) return (int64_t)(s->release_ns - t);
    /* EIO: the other side's device is not up yet (or no longer); the packet is lost, as on a link that is down. */
    if (write(d->to, s->data, s->len) < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != EIO) die("write");
      d->lost++;
    } else {
      d->forwarded++;
    }
    d->head = (d->head + 1) % d->capacity;
    d->count--;
  }
  return -1;
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr,
            "usage: linkem <netns-a> <netns-b> <dev> <one-way delay ms> <loss 0..1> <rate Mbit/s> <queue packets>\n");
    return 2;
  }
  double delay_ns = atof(argv[4]) * 1e6;
  double loss = atof(argv[5]);
  double rate_mbit = atof(argv[6]);
  size_t queue = (size_t)atol(argv[7]);
  if (delay_ns < 0 || loss < 0 || loss >= 1 || rate_mbit <= 0 || queue < 16) {
    fprintf(stderr, "linkem: delay ≥ 0, 0 ≤ loss < 1, rate > 0 and queue ≥ 16, please\n");
    return 2;
  }
  double ns_per_byte = 8e3 / rate_mbit;
  /* Gone with the process that started it. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);

  int a = tun_in(argv[1], argv[3]);
  int b = tun_in(argv[2], argv[3]);
  struct direction dirs[2] = {
      {.from = a, .to = b, .capacity = queue},
      {.from = b, .to = a, .capacity = queue},
  };
  for (int i = 0; i < 2; i++) {
    dirs[i].ring = calloc(queue, sizeof(struct slot));
    if (!dirs[i].ring) die("calloc");
  }
  printf("ready\n");
  fflush(stdout);

  struct pollfd fds[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
  while (!stopping) {
    uint64_t t = now_ns();
    int64_t next = -1;
    for (int i = 0; i < 2; i++) {
      int64_t due = release(&dirs[i], t);
      if (due >= 0 && (next < 0 || due < next)) next = due;
    }
    /* Wait for a packet, or until the next one is due (nanoseconds: no spinning, no rounding to a millisecond). */
    if (next < 0) next = 200000000;
    struct timespec timeout = {.tv_sec = next / 1000000000, .tv_nsec = next % 1000000000};
    if (ppoll(fds, 2, &timeout, NULL) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    for (int i = 0; i < 2; i++)
      if (fds[i].revents & POLLIN) take(&dirs[i], delay_ns, loss, ns_per_byte);
  }
  for (int i = 0; i < 2; i++)
    fprintf(stderr, "linkem: %s→%s forwarded %lu, lost %lu, queue full %lu\n", i ? argv[2] : argv[1],
            i ? argv[1] : argv[2], dirs[i].forwarded, dirs[i].lost, dirs[i].overflowed);
  return 0;
}

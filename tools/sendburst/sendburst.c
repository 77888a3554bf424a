// sendburst measures what one relayed packet's send costs the sender on
// loopback, the way a poller round sends: bursts of K packets, one to each
// of K receiving sockets, every GAP microseconds, while a receiver thread
// sleeps in epoll_wait (so sends wake it, as the load generator is woken).
// It compares K sendto calls, one io_uring_enter submitting K SENDMSGs,
// and (all from one socket, as the shared WebRTC socket sends) sendmmsg.
// The figure is the sending thread's CPU time per packet, kernel included.
//
//   gcc -O2 -pthread -o /tmp/sendburst tools/sendburst/sendburst.c
//   /tmp/sendburst MODE K GAP_US BURSTS [shared]
//     MODE: sendto | uring | sendmmsg (sendmmsg implies shared)
//     shared: all K packets leave by one socket (else one socket each)
//
// docs/benchmarks.md has the figures and what they mean for the relay.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAXK 64

static int rx[MAXK], tx[MAXK], K;
static struct sockaddr_in dst[MAXK];
static atomic_int stop;
static long received;

static void *receiver(void *arg) {
	(void)arg;
	int ep = epoll_create1(0);
	for (int i = 0; i < K; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
		epoll_ctl(ep, EPOLL_CTL_ADD, rx[i], &ev);
	}
	struct epoll_event evs[MAXK];
	char buf[2048];
	while (!atomic_load(&stop)) {
		int n = epoll_wait(ep, evs, MAXK, 100);
		for (int j = 0; j < n; j++)
			while (recv(rx[evs[j].data.u32], buf, sizeof buf, MSG_DONTWAIT) > 0)
				received++;
	}
	return NULL;
}

static double thread_cpu(void) {
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

// ring is a submission and completion queue mapped from an io_uring.
struct ring {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int ring_open(struct ring *r) {
	struct io_uring_params p = {0};
	r->fd = syscall(__NR_io_uring_setup, 256, &p);
	if (r->fd < 0)
		return -1;
	char *sq = mmap(0, p.sq_off.array + p.sq_entries * 4, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
			IORING_OFF_SQ_RING);
	char *cq = mmap(0, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
	r->sqes = mmap(0, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       r->fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED)
		return -1;
	r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(sq + p.sq_off.array);
	r->cq_head = (unsigned *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

// ring_send submits one SENDMSG per message and reaps their completions;
// MSG_DONTWAIT makes a full socket buffer fail the send at once (as the
// relay drops), so every send has completed when io_uring_enter returns.
static long ring_send(struct ring *r, struct msghdr *msgs, int n) {
	long errs = 0;
	unsigned tail = *r->sq_tail;
	for (int i = 0; i < n; i++) {
		unsigned idx = tail & *r->sq_mask;
		struct io_uring_sqe *s = &r->sqes[idx];
		memset(s, 0, sizeof *s);
		s->opcode = IORING_OP_SENDMSG;
		s->fd = tx[i];
		s->addr = (unsigned long)&msgs[i];
		s->len = 1;
		s->msg_flags = MSG_DONTWAIT;
		r->sq_array[idx] = idx;
		tail++;
	}
	atomic_store_explicit((_Atomic unsigned *)r->sq_tail, tail, memory_order_release);
	if (syscall(__NR_io_uring_enter, r->fd, n, 0, 0, NULL, 0) != n)
		errs++;
	unsigned h = *r->cq_head, t = atomic_load_explicit((_Atomic unsigned *)r->cq_tail, memory_order_acquire);
	for (; h != t; h++)
		if (r->cqes[h & *r->cq_mask].res < 0)
			errs++;
	atomic_store_explicit((_Atomic unsigned *)r->cq_head, h, memory_order_release);
	return errs;
}

int main(int argc, char **argv) {
	if (argc < 5) {
		fprintf(stderr, "usage: %s sendto|uring|sendmmsg K GAP_US BURSTS [shared]\n", argv[0]);
		return 2;
	}
	const char *mode = argv[1];
	K = atoi(argv[2]);
	int gap = atoi(argv[3]), bursts = atoi(argv[4]);
	int shared = (argc > 5 && !strcmp(argv[5], "shared")) || !strcmp(mode, "sendmmsg");
	if (K < 1 || K > MAXK || bursts < 1) {
		fprintf(stderr, "K must be 1-%d, BURSTS at least 1\n", MAXK);
		return 2;
	}
	for (int i = 0; i < K; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		rx[i] = socket(AF_INET, SOCK_DGRAM, 0);
		bind(rx[i], (void *)&a, sizeof a);
		socklen_t l = sizeof dst[i];
		getsockname(rx[i], (void *)&dst[i], &l);
		if (shared && i > 0) {
			tx[i] = tx[0];
			continue;
		}
		tx[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		bind(tx[i], (void *)&a, sizeof a);
	}
	struct ring r = {0};
	if (!strcmp(mode, "uring") && ring_open(&r) < 0) {
		perror("io_uring");
		return 1;
	}
	pthread_t th;
	pthread_create(&th, NULL, receiver, NULL);

	char pkt[172]; // an SRTP packet of 20 ms of PCMU
	memset(pkt, 0x55, sizeof pkt);
	struct msghdr msgs[MAXK];
	struct iovec iovs[MAXK];
	struct mmsghdr mm[MAXK];
	for (int i = 0; i < K; i++) {
		iovs[i] = (struct iovec){pkt, sizeof pkt};
		msgs[i] = (struct msghdr){.msg_name = &dst[i], .msg_namelen = sizeof dst[i], .msg_iov = &iovs[i], .msg_iovlen = 1};
		mm[i].msg_hdr = msgs[i];
	}
	struct timespec nap = {0, gap * 1000L};
	double cpu = 0;
	long errs = 0;
	for (int b = 0; b < bursts; b++) {
		nanosleep(&nap, NULL);
		double t0 = thread_cpu();
		if (!strcmp(mode, "sendto")) {
			for (int i = 0; i < K; i++)
				if (sendto(tx[i], pkt, sizeof pkt, MSG_DONTWAIT, (void *)&dst[i], sizeof dst[i]) < 0)
					errs++;
		} else if (!strcmp(mode, "sendmmsg")) {
			if (sendmmsg(tx[0], mm, K, MSG_DONTWAIT) != K)
				errs++;
		} else {
			errs += ring_send(&r, msgs, K);
		}
		cpu += thread_cpu() - t0;
	}
	usleep(200000);
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	printf("%-8s K=%-2d gap=%dus %-11s %.2f us CPU per packet (send errors %ld, received %ld of %ld)\n", mode, K, gap,
	       shared ? "one socket" : "own sockets", cpu / ((double)bursts * K) * 1e6, errs, received, (long)bursts * K);
	return 0;
}

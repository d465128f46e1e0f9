/* SPDX-License-Identifier: MIT */
/*
 * A real guest, live: a small guest runs on /dev/kvm with dirty logging in
 * two memslots, rewriting a pattern over its pages (private and shared)
 * and asking now and then, through an I/O port, for a page to flip between
 * private and shared. It is migrated to a second VM in another process over
 * a socket pair: a first pass and pre-copy rounds while it runs, until the
 * downtime estimate falls under a target (and at least three rounds); then
 * its vCPU stops, the last round and its registers (VMM records) go, and
 * it resumes on the target, where it checks its own memory as it carries
 * on. Exit 77 where /dev/kvm is absent or unusable.
 *
 * There is no SEV here: both ends use the software firmware, which
 * encrypts private pages in the stream as the AMD firmware would. Page
 * flips come by an I/O port because on some hosts (nested, paravirtual) a
 * guest's VMCALL does not exit to user space.
 *
 * Build: cc live_kvm.c $(pkg-config --cflags --libs sevmig) -lpthread
 */
#if !defined(__x86_64__)
#include <stdio.h>
int main(void)
{
	puts("skipped: this example runs an x86-64 KVM guest");
	return 77;
}
#else
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <sevmig/sevmig.h>

#define SLOT_PAGES 256 /* two memslots of 1 MiB: gpa 0 and 1 MiB */
#define PAGES	   (2 * SLOT_PAGES)
#define CODE	   0x1000
#define TARGET_NS  2000000 /* the downtime we accept: 2 ms */

/*
 * The guest, 32-bit flat protected mode at CODE. Pass n rewrites 16 pages,
 * positions q = 16 n + i of the cycle of pages 3..511 (page 3 + q % 509),
 * writing n + 1 into each page's first word. Before it writes, it checks
 * that the page holds what the pass that last wrote it left: (q - 509) / 16
 * + 1 (0 for a page never written): a page that arrived stale or damaged
 * from the source is reported on port 0x12. After each pass: a delay,
 * every 8th pass a flip request (port 0x10, the low byte of n), and the
 * pass number (port 0x11). The pass number lives in ebx, and in memory at
 * 0x2000 where a fresh boot reads it.
 *
 *	mov ebx, [0x2000]
 * pass:	xor ecx, ecx
 * inner:	mov eax, ebx ; shl eax, 4 ; add eax, ecx ; mov ebp, eax	; q
 *	xor edx, edx ; mov esi, 509 ; div esi ; add edx, 3		; page
 *	mov edi, edx ; shl edi, 12
 *	xor eax, eax ; sub ebp, 509 ; jb check ; shr ebp, 4 ; lea eax, [ebp + 1]
 * check:	cmp [edi], eax ; jne bad
 *	lea eax, [ebx + 1] ; mov [edi], eax
 *	inc ecx ; cmp ecx, 16 ; jb inner
 *	inc ebx ; mov [0x2000], ebx
 *	mov eax, 2000
 * delay:	dec eax ; jnz delay
 *	test ebx, 7 ; jnz noflip ; mov eax, ebx ; out 0x10, al
 * noflip:	mov eax, ebx ; out 0x11, eax ; jmp pass
 * bad:	mov eax, edi ; out 0x12, eax ; hlt
 */
static const uint8_t guest_code[] = {
	0x8b, 0x1d, 0x00, 0x20, 0x00, 0x00, 0x31, 0xc9, 0x89, 0xd8, 0xc1, 0xe0, 0x04, 0x01, 0xc8,
	0x89, 0xc5, 0x31, 0xd2, 0xbe, 0xfd, 0x01, 0x00, 0x00, 0xf7, 0xf6, 0x83, 0xc2, 0x03, 0x89,
	0xd7, 0xc1, 0xe7, 0x0c, 0x31, 0xc0, 0x81, 0xed, 0xfd, 0x01, 0x00, 0x00, 0x72, 0x06, 0xc1,
	0xed, 0x04, 0x8d, 0x45, 0x01, 0x39, 0x07, 0x75, 0x2c, 0x8d, 0x43, 0x01, 0x89, 0x07, 0x41,
	0x83, 0xf9, 0x10, 0x72, 0xc7, 0x43, 0x89, 0x1d, 0x00, 0x20, 0x00, 0x00, 0xb8, 0xd0, 0x07,
	0x00, 0x00, 0x48, 0x75, 0xfd, 0xf7, 0xc3, 0x07, 0x00, 0x00, 0x00, 0x75, 0x04, 0x89, 0xd8,
	0xe6, 0x10, 0x89, 0xd8, 0xe7, 0x11, 0xeb, 0xa4, 0x89, 0xf8, 0xe7, 0x12, 0xf4,
};

/* This example's own VMM records: a private-use vendor (top bit set). */
#define VENDOR	   SEVMIG_VMM_VENDOR('E', 'X', 'M', 0xd0)
#define TYPE_REGS  1
#define TYPE_SREGS 2

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct vm {
	int kvm, fd, vcpu;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *mem;
};

/* A VM over mem (PAGES pages) in two memslots, dirty-logged, one vCPU in
 * flat 32-bit protected mode. -1 with a message when KVM cannot. */
static int vm_new(struct vm *v, uint8_t *mem)
{
	v->mem = mem;
	v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v->kvm < 0)
		return -1;
	do
		v->fd = ioctl(v->kvm, KVM_CREATE_VM, 0);
	while (v->fd < 0 && errno == EINTR);
	if (v->fd < 0)
		return -1;
	for (int s = 0; s < 2; s++) {
		struct kvm_userspace_memory_region r = {
			.slot = (uint32_t)s,
			.flags = KVM_MEM_LOG_DIRTY_PAGES,
			.guest_phys_addr = (uint64_t)s * SLOT_PAGES * 4096,
			.memory_size = SLOT_PAGES * 4096,
			.userspace_addr = (uintptr_t)(mem + (size_t)s * SLOT_PAGES * 4096),
		};
		if (ioctl(v->fd, KVM_SET_USER_MEMORY_REGION, &r))
			return -1;
	}
	v->vcpu = ioctl(v->fd, KVM_CREATE_VCPU, 0);
	int sz = ioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (v->vcpu < 0 || sz <= 0)
		return -1;
	v->run_size = (size_t)sz;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
	return v->run == MAP_FAILED ? -1 : 0;
}

static int vm_boot(struct vm *v)
{
	struct kvm_sregs s;
	if (ioctl(v->vcpu, KVM_GET_SREGS, &s))
		return -1;
	struct kvm_segment *segs[] = { &s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss };
	for (int i = 0; i < 6; i++)
		*segs[i] = (struct kvm_segment){ .limit = 0xffffffff,
						 .selector = i ? 16 : 8,
						 .type = i ? 3 : 11,
						 .present = 1,
						 .db = 1,
						 .s = 1,
						 .g = 1 };
	s.cr0 |= 1;
	struct kvm_regs r = { .rip = CODE, .rflags = 2 };
	return ioctl(v->vcpu, KVM_SET_SREGS, &s) || ioctl(v->vcpu, KVM_SET_REGS, &r) ? -1 : 0;
}

/* The dirty log of both memslots (KVM_GET_DIRTY_LOG clears it); its pages. */
static uint64_t vm_dirty(struct vm *v, uint64_t log[2][SLOT_PAGES / 64])
{
	uint64_t n = 0;
	for (int s = 0; s < 2; s++) {
		memset(log[s], 0, sizeof(log[s]));
		struct kvm_dirty_log d = { .slot = (uint32_t)s, .dirty_bitmap = log[s] };
		if (ioctl(v->fd, KVM_GET_DIRTY_LOG, &d))
			return UINT64_MAX;
		for (int w = 0; w < SLOT_PAGES / 64; w++)
			n += (uint64_t)__builtin_popcountll(log[s][w]);
	}
	return n;
}

/* ---- the source's vCPU thread -------------------------------------------- */

struct source {
	struct vm vm;
	pthread_t thread;
	atomic_int stop, error;
	atomic_uint passes;
	pthread_mutex_t lock; /* flips requested, not yet in the page state */
	uint32_t flips[64];
	unsigned nflips;
};

static void on_kick(int sig)
{
	(void)sig; /* only to make KVM_RUN return */
}

static void *vcpu_main(void *arg)
{
	struct source *s = arg;
	while (!atomic_load(&s->stop)) {
		if (ioctl(s->vm.vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			atomic_store(&s->error, errno);
			return NULL;
		}
		struct kvm_run *run = s->vm.run;
		if (run->exit_reason != KVM_EXIT_IO) {
			atomic_store(&s->error, 1000 + (int)run->exit_reason);
			return NULL;
		}
		const uint8_t *data = (const uint8_t *)run + run->io.data_offset;
		uint32_t val = 0;
		memcpy(&val, data, run->io.size);
		if (run->io.port == 0x10) {
			/* The guest asks for a page to change state, as its
			 * MAP_GPA_RANGE hypercall would: a page of slot 1. */
			pthread_mutex_lock(&s->lock);
			if (s->nflips < 64)
				s->flips[s->nflips++] = SLOT_PAGES + 64 + (val & 0x7f);
			pthread_mutex_unlock(&s->lock);
		} else if (run->io.port == 0x11) {
			atomic_store(&s->passes, val);
		} else {
			atomic_store(&s->error, 2000 + (int)(val >> 12));
			return NULL;
		}
	}
	return NULL;
}

/* The flips the guest asked for since the last look, into the page state. */
static int apply_flips(struct source *s, struct sevmig_pstate *ps)
{
	pthread_mutex_lock(&s->lock);
	int rc = 0;
	for (unsigned i = 0; i < s->nflips && rc == 0; i++) {
		uint64_t g = s->flips[i];
		rc = sevmig_pstate_set_range(ps, g, 1,
					     sevmig_pstate_get(ps, g) == SEVMIG_PAGE_SHARED
						 ? SEVMIG_PAGE_PRIVATE
						 : SEVMIG_PAGE_SHARED);
	}
	s->nflips = 0;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* ---- the target, in its own process --------------------------------------- */

struct target {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	int have;
};

static int on_vmm(void *arg, const struct sevmig_vmm_object *o)
{
	struct target *t = arg;
	if (o->vendor != VENDOR)
		return -EPROTO;
	if (o->type == TYPE_REGS && o->len == sizeof(t->regs))
		memcpy(&t->regs, o->data, o->len);
	else if (o->type == TYPE_SREGS && o->len == sizeof(t->sregs))
		memcpy(&t->sregs, o->data, o->len);
	else
		return -EPROTO;
	t->have++;
	return 0;
}

static int target_main(int fd, struct sevmig_fw *fw, const uint8_t *key)
{
	uint8_t *mem = mmap(NULL, (size_t)PAGES * 4096, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct vm vm;
	if (mem == MAP_FAILED || vm_new(&vm, mem)) {
		fprintf(stderr, "target: cannot make a VM: %s\n", strerror(errno));
		return 1;
	}
	struct sevmig_mem_region reg = { 0, (uint64_t)PAGES * 4096, mem };
	struct target t = { .have = 0 };
	SEVMIG_OPTS(sevmig_receiver_opts, o, .key_source = SEVMIG_KEY_PSK, .key = key,
		    .back_write = sevmig_write_fd, .back_arg = SEVMIG_FD_ARG(fd),
		    .vmm_object = on_vmm, .vmm_arg = &t);
	struct sevmig_receiver *r;
	struct sevmig_error err;
	int rc = sevmig_receiver_new(fw, &reg, 1, sevmig_read_fd, SEVMIG_FD_ARG(fd), &o, &r, &err);
	if (rc == 0)
		rc = sevmig_receiver_run(r, &err);
	if (rc) {
		fprintf(stderr, "target: %s\n", err.message);
		return 1;
	}
	sevmig_receiver_free(r);
	if (t.have != 2 || ioctl(vm.vcpu, KVM_SET_SREGS, &t.sregs) ||
	    ioctl(vm.vcpu, KVM_SET_REGS, &t.regs)) {
		fprintf(stderr, "target: no vCPU state to resume from\n");
		return 1;
	}
	/* Resume: the guest checks every page it rewrites against its table. */
	uint32_t first = 0, last = 0;
	uint64_t t0 = now_ns();
	while (now_ns() - t0 < 10000000000ull) {
		if (ioctl(vm.vcpu, KVM_RUN, 0) < 0 && errno != EINTR)
			return 1;
		struct kvm_run *run = vm.run;
		if (run->exit_reason != KVM_EXIT_IO)
			return fprintf(stderr, "target: exit %u\n", run->exit_reason), 1;
		uint32_t val = 0;
		memcpy(&val, (const uint8_t *)run + run->io.data_offset, run->io.size);
		if (run->io.port == 0x12)
			return fprintf(stderr, "target: the guest found page 0x%x wrong\n",
				       val >> 12),
			       1;
		if (run->io.port == 0x11) {
			first = first ? first : val;
			last = val;
			if (last - first >= 200)
				break;
		}
	}
	printf("target: the guest resumed at pass %u and ran %u more passes, every page it "
	       "rewrote as it had left it\n",
	       first, last - first);
	return last - first >= 200 ? 0 : 1;
}

/* ---- the source ---------------------------------------------------------------- */

static int fail(const char *what, int rc, const struct sevmig_error *err)
{
	fprintf(stderr, "%s: %s%s%s\n", what, sevmig_strerror(rc), err ? ": " : "",
		err ? err->message : "");
	return 1;
}

int main(void)
{
	static const uint8_t key[SEVMIG_KEY_SIZE] = "live_kvm example: a shared key.";
	setvbuf(stdout, NULL, _IOLBF, 0); /* the two processes' lines in order */
	struct source src = { .nflips = 0 };
	pthread_mutex_init(&src.lock, NULL);
	uint8_t *mem = mmap(NULL, (size_t)PAGES * 4096, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return fail("memory", -errno, NULL);
	memcpy(mem + CODE, guest_code, sizeof(guest_code));
	if (vm_new(&src.vm, mem) || vm_boot(&src.vm)) {
		printf("skipped: no usable /dev/kvm here (%s)\n", strerror(errno));
		return 77;
	}
	struct sevmig_pstate *ps;
	int rc = sevmig_pstate_new(&ps, NULL);
	if (rc == 0)
		rc = sevmig_pstate_add_slot(ps, 0, PAGES);
	if (rc == 0) /* a shared buffer the guest announced at boot */
		rc = sevmig_pstate_set_range(ps, 300, 64, SEVMIG_PAGE_SHARED);
	struct sevmig_fw *sfw, *tfw;
	SEVMIG_OPTS(sevmig_fw_soft_opts, so, .launch = true, .policy = SEVMIG_POLICY_NOKS);
	if (rc || (rc = sevmig_fw_soft_new(&so, &sfw, NULL)) ||
	    (rc = sevmig_fw_soft_new(NULL, &tfw, NULL)))
		return fail("set-up", rc, NULL);
	uint8_t pdh[SEVMIG_CERT_SIZE], chain[SEVMIG_CERT_CHAIN_SIZE];
	uint32_t pl = sizeof(pdh), cl = sizeof(chain);
	if ((rc = sevmig_fw_pdh_cert_export(tfw, pdh, &pl, chain, &cl, NULL)))
		return fail("PDH_CERT_EXPORT", rc, NULL);

	int fds[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds))
		return fail("socketpair", -errno, NULL);
	fflush(stdout);
	pid_t child = fork();
	if (child < 0)
		return fail("fork", -errno, NULL);
	if (child == 0) {
		close(fds[0]);
		int status = target_main(fds[1], tfw, key);
		fflush(stdout);
		_exit(status);
	}
	close(fds[1]);
	sevmig_fw_free(tfw);

	struct sigaction sa = { .sa_handler = on_kick };
	sigaction(SIGUSR1, &sa, NULL);
	pthread_create(&src.thread, NULL, vcpu_main, &src);
	while (atomic_load(&src.passes) < 3 && !atomic_load(&src.error))
		usleep(1000);

	SEVMIG_OPTS(sevmig_sender_opts, o, .target_pdh = pdh, .target_pdh_len = pl,
		    .key_source = SEVMIG_KEY_PSK, .key = key, .back_read = sevmig_read_fd,
		    .back_arg = SEVMIG_FD_ARG(fds[0]));
	struct sevmig_sender *s;
	struct sevmig_error err;
	if ((rc = sevmig_sender_new(sfw,
				    &(struct sevmig_mem_region){ 0, (uint64_t)PAGES * 4096, mem },
				    1, sevmig_write_fd, SEVMIG_FD_ARG(fds[0]), &o, &s, &err)))
		return fail("sender", rc, &err);
	/* Dirty logging first (this clears it), then the page state. */
	uint64_t log[2][SLOT_PAGES / 64];
	const uint64_t *dirty[1];
	uint64_t *flat = calloc(PAGES / 64, sizeof(uint64_t));
	vm_dirty(&src.vm, log);
	rc = apply_flips(&src, ps);
	if (rc == 0)
		rc = sevmig_sender_send_all(s, ps, &err);
	struct sevmig_round_stats st = { .sz = sizeof(st) };
	if (rc == 0 && sevmig_sender_round_stats(s, &st) == 0)
		printf("round 0 (while running): %" PRIu64 " pages in %.2f ms\n", st.pages,
		       st.duration_ns / 1e6);
	int round = 1;
	for (; rc == 0; round++) {
		uint64_t n = vm_dirty(&src.vm, log);
		int verdict = sevmig_sender_converge(s, n, TARGET_NS, 12);
		if (round > 3 && verdict != SEVMIG_CONVERGE_GO_ON)
			break; /* stop the guest: the last round goes with it stopped */
		memcpy(flat, log[0], sizeof(log[0]));
		memcpy(flat + SLOT_PAGES / 64, log[1], sizeof(log[1]));
		dirty[0] = flat;
		rc = apply_flips(&src, ps);
		if (rc == 0)
			rc = sevmig_sender_send_dirty(s, ps, dirty, &err);
		if (rc == 0 && sevmig_sender_round_stats(s, &st) == 0)
			printf("round %d (while running): %" PRIu64
			       " pages in %.2f ms, guest at pass "
			       "%u\n",
			       round, st.pages, st.duration_ns / 1e6, atomic_load(&src.passes));
		usleep(2000);
	}
	/* Stop the vCPU: the downtime starts. */
	uint64_t t_stop = now_ns();
	atomic_store(&src.stop, 1);
	src.vm.run->immediate_exit = 1;
	pthread_kill(src.thread, SIGUSR1);
	pthread_join(src.thread, NULL);
	if (atomic_load(&src.error))
		return fail("source vCPU", -EIO, NULL);
	/* The last round: what the log held when we decided to stop (taking
	 * it cleared KVM's copy), and what the guest wrote until it stopped. */
	uint64_t more[2][SLOT_PAGES / 64], n = 0;
	vm_dirty(&src.vm, more);
	for (int k = 0; k < 2; k++)
		for (int w = 0; w < SLOT_PAGES / 64; w++) {
			log[k][w] |= more[k][w];
			n += (uint64_t)__builtin_popcountll(log[k][w]);
		}
	memcpy(flat, log[0], sizeof(log[0]));
	memcpy(flat + SLOT_PAGES / 64, log[1], sizeof(log[1]));
	dirty[0] = flat;
	struct sevmig_downtime_estimate est = { .sz = sizeof(est) };
	if (rc == 0)
		rc = sevmig_sender_estimate_downtime(s, n, &est);
	if (rc == 0)
		rc = apply_flips(&src, ps);
	if (rc == 0)
		rc = sevmig_sender_send_dirty(s, ps, dirty, &err);
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	if (rc == 0 &&
	    (ioctl(src.vm.vcpu, KVM_GET_REGS, &regs) || ioctl(src.vm.vcpu, KVM_GET_SREGS, &sregs)))
		rc = -errno;
	if (rc == 0)
		rc = sevmig_sender_send_vmm(s, VENDOR, TYPE_REGS, &regs, sizeof(regs), &err);
	if (rc == 0)
		rc = sevmig_sender_send_vmm(s, VENDOR, TYPE_SREGS, &sregs, sizeof(sregs), &err);
	if (rc == 0)
		rc = sevmig_sender_finish(s, &err); /* the target's COMMIT */
	uint64_t downtime = now_ns() - t_stop;
	if (rc)
		return fail("migration", rc, &err);
	printf("final round (stopped): %" PRIu64 " pages; estimated %.2f ms, measured downtime "
	       "%.2f ms (stop to COMMIT); %d rounds; the target committed\n",
	       n, est.total_ns / 1e6, downtime / 1e6, round);
	sevmig_sender_free(s);
	close(fds[0]);
	int status = 0;
	waitpid(child, &status, 0);
	free(flat);
	sevmig_pstate_free(ps);
	sevmig_fw_free(sfw);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
#endif

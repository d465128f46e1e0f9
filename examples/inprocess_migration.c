/* SPDX-License-Identifier: MIT */
/*
 * A live migration in one process, with libsevmig's software firmware on
 * both ends: a source guest with two memory regions and some shared pages
 * is sent with one pre-copy round (the guest keeps writing and converts a
 * page meanwhile) and the VMM's own state for the stopped vCPU (its MSRs,
 * MSR_KVM_MIGRATION_CONTROL among them) and a device, received through a
 * socket pair by a thread, and compared.
 *
 * Build: cc inprocess_migration.c $(pkg-config --cflags --libs sevmig) -lpthread
 * Run:   ./inprocess_migration      (exit status 0 when the copies match)
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <sevmig/sevmig.h>

#define NREG 2
static const uint64_t reg_gpa[NREG] = { 0x0, 0x100000000ull }; /* below and above 4 GiB */
static const uint64_t reg_pages[NREG] = { 512, 256 };

/* The VMM state this example carries, in the library's SVMG forms
 * (docs/stream-format.md 4.10): vCPU 0's MSRs, and a device's opaque state. */
struct msr_entry {
	uint32_t index, reserved;
	uint64_t value;
};
struct msrs {
	uint32_t count, vcpu;
	struct msr_entry e[3];
};
static const struct msrs src_msrs = {
	3,
	0,
	{ { 0xc0000080, 0, 0xd01 },		      /* EFER */
	  { 0x4b564d08, 0, 1 },			      /* MSR_KVM_MIGRATION_CONTROL: ready */
	  { 0xc0000102, 0, 0xffff888000000000ull } }, /* KERNEL_GS_BASE */
};
static const char uart_state[] = "\x05\x00\x00\x00serial0 lcr=03 ier=01 scr=5a";

struct target {
	struct sevmig_fw *fw;
	struct msrs msrs; /* what arrived */
	char device[64];
	int vmm_objects;
	struct sevmig_mem_region mem[NREG];
	int fd; /* the target's end of the socket pair */
	const uint8_t *key;
	int rc;
	struct sevmig_error err;
	struct sevmig_stream_counts counts;
	struct sevmig_pstate *ps;
};

/* Each VMM object, whole and verified, after the pages sent before it. */
static int on_vmm(void *arg, const struct sevmig_vmm_object *obj)
{
	struct target *t = arg;
	if (obj->vendor != SEVMIG_VMM_VENDOR_SEVMIG)
		return -EPROTO;
	if (obj->type == SEVMIG_VMM_TYPE_MSRS && obj->len == sizeof(t->msrs))
		memcpy(&t->msrs, obj->data, obj->len);
	else if (obj->type == SEVMIG_VMM_TYPE_DEVICE_STATE && obj->len < sizeof(t->device))
		memcpy(t->device, obj->data, obj->len);
	else
		return -EPROTO; /* refused: the source gets a NAK */
	t->vmm_objects++;
	return 0;
}

static void *receive(void *arg)
{
	struct target *t = arg;
	/* Keyed by the shared PSK; the same socket carries the back-channel:
	 * HELLO, an ACK per round, and COMMIT once everything verified. */
	SEVMIG_OPTS(sevmig_receiver_opts, o, .workers = 2, .key_source = SEVMIG_KEY_PSK,
		    .key = t->key, .back_write = sevmig_write_fd, .back_arg = SEVMIG_FD_ARG(t->fd),
		    .vmm_object = on_vmm, .vmm_arg = t);
	struct sevmig_receiver *r;
	t->rc = sevmig_receiver_new(t->fw, t->mem, NREG, sevmig_read_fd, SEVMIG_FD_ARG(t->fd), &o,
				    &r, &t->err);
	if (t->rc == 0) {
		t->rc = sevmig_receiver_run(r, &t->err);
		t->counts.sz = sizeof(t->counts);
		sevmig_receiver_counts(r, &t->counts);
		if (t->rc == 0)
			t->rc = sevmig_pstate_clone(sevmig_receiver_pstate(r), &t->ps, NULL);
		sevmig_receiver_free(r);
	}
	return NULL;
}

static int fail(const char *what, int rc, const struct sevmig_error *err)
{
	fprintf(stderr, "%s: %s: %s\n", what, sevmig_strerror(rc), err ? err->message : "");
	return 1;
}

int main(void)
{
	struct sevmig_mem_region src_mem[NREG];
	struct target t = { .rc = -1 };
	struct sevmig_pstate *ps = NULL;
	struct sevmig_error err;
	sevmig_error_clear(&err);

	/* The source guest: memory, then its page state (private unless the
	 * guest said shared). */
	int rc = sevmig_pstate_new(&ps, NULL);
	for (int i = 0; i < NREG && rc == 0; i++) {
		size_t size = reg_pages[i] * SEVMIG_PAGE_SIZE;
		/* Host memory is page-aligned, as a memslot's is. */
		src_mem[i] =
		    (struct sevmig_mem_region){ reg_gpa[i], size, aligned_alloc(4096, size) };
		t.mem[i] =
		    (struct sevmig_mem_region){ reg_gpa[i], size, aligned_alloc(4096, size) };
		if (!src_mem[i].host || !t.mem[i].host)
			return fail("allocating guest memory", -12, NULL);
		memset(src_mem[i].host, 0, size);
		for (size_t b = 0; b < size; b += 64)
			((uint8_t *)src_mem[i].host)[b] = (uint8_t)(b / 4096 * 31 + i);
		memset(t.mem[i].host, 0xee, size);
		rc = sevmig_pstate_add_slot(ps, reg_gpa[i] >> SEVMIG_PAGE_SHIFT, reg_pages[i]);
	}
	/* A shared buffer (for instance swiotlb) of 64 pages, as the guest's
	 * KVM_HC_MAP_GPA_RANGE hypercall would have announced it. */
	if (rc == 0)
		rc = sevmig_pstate_apply_hypercall(ps, 0x40000, 64, false);
	if (rc)
		return fail("page state", rc, NULL);

	/* Two platforms of the software firmware: a source running the guest
	 * and a target; the target's PDH certificate goes to the source. */
	struct sevmig_fw *src_fw;
	SEVMIG_OPTS(sevmig_fw_soft_opts, so, .launch = true, .policy = SEVMIG_POLICY_NOKS);
	if ((rc = sevmig_fw_soft_new(&so, &src_fw, NULL)) ||
	    (rc = sevmig_fw_soft_new(NULL, &t.fw, NULL)))
		return fail("software firmware", rc, NULL);
	uint8_t pdh[SEVMIG_CERT_SIZE], chain[SEVMIG_CERT_CHAIN_SIZE];
	uint32_t pdh_len = sizeof(pdh), chain_len = sizeof(chain);
	if ((rc = sevmig_fw_pdh_cert_export(t.fw, pdh, &pdh_len, chain, &chain_len, NULL)))
		return fail("PDH_CERT_EXPORT", rc, NULL);

	/* A key both hosts share: made once, copied to both (0600). */
	char dir[] = "/tmp/sevmig-example-XXXXXX", path[64];
	uint8_t key[SEVMIG_KEY_SIZE];
	if (!mkdtemp(dir))
		return fail("mkdtemp", -1, NULL);
	snprintf(path, sizeof(path), "%s/psk", dir);
	rc = sevmig_psk_generate(path, &err);
	if (rc == 0)
		rc = sevmig_psk_load(path, key, &err);
	unlink(path);
	rmdir(dir);
	if (rc)
		return fail("psk", rc, &err);
	t.key = key;
	int fds[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds))
		return fail("socketpair", -1, NULL);
	t.fd = fds[0];
	pthread_t th;
	if (pthread_create(&th, NULL, receive, &t))
		return fail("thread", -1, NULL);

	/* Send: a full pass, one round, finish. */
	SEVMIG_OPTS(sevmig_sender_opts, o, .target_pdh = pdh, .target_pdh_len = pdh_len,
		    .zstd_level = 3, .workers = 2, .key_source = SEVMIG_KEY_PSK, .key = key,
		    .back_read = sevmig_read_fd, .back_arg = SEVMIG_FD_ARG(fds[1]));
	struct sevmig_sender *s;
	rc = sevmig_sender_new(src_fw, src_mem, NREG, sevmig_write_fd, SEVMIG_FD_ARG(fds[1]), &o,
			       &s, &err);
	if (rc == 0)
		rc = sevmig_sender_send_all(s, ps, &err);
	if (rc == 0) {
		/* Meanwhile the guest wrote page 3 of region 0 and made page 7
		 * shared; the dirty log (KVM_GET_DIRTY_LOG layout) shows the
		 * write, the page state the conversion. */
		uint64_t log0[8] = { 0 }, log1[4] = { 0 };
		memset((uint8_t *)src_mem[0].host + 3 * SEVMIG_PAGE_SIZE, 0x5a, SEVMIG_PAGE_SIZE);
		log0[0] |= 1u << 3;
		rc = sevmig_pstate_set_range(ps, 7, 1, SEVMIG_PAGE_SHARED);
		const uint64_t *dirty[NREG] = { log0, log1 };
		if (rc == 0)
			rc = sevmig_sender_send_dirty(s, ps, dirty, &err);
	}
	/* The vCPU is stopped now: its MSRs and the device state go after
	 * the last round's pages, under the stream's integrity. */
	if (rc == 0)
		rc = sevmig_sender_send_vmm(s, SEVMIG_VMM_VENDOR_SEVMIG, SEVMIG_VMM_TYPE_MSRS,
					    &src_msrs, sizeof(src_msrs), &err);
	if (rc == 0)
		rc = sevmig_sender_send_vmm(s, SEVMIG_VMM_VENDOR_SEVMIG,
					    SEVMIG_VMM_TYPE_DEVICE_STATE, uart_state,
					    sizeof(uart_state), &err);
	/* END, then the target's COMMIT: only then is the guest SENT. */
	if (rc == 0)
		rc = sevmig_sender_finish(s, &err);
	bool acked = sevmig_sender_acknowledged(s);
	struct sevmig_stream_counts sc = { .sz = sizeof(sc) };
	sevmig_sender_counts(s, &sc);
	sevmig_sender_free(s);
	close(fds[1]);
	pthread_join(th, NULL);
	close(fds[0]);
	if (rc)
		return fail("send", rc, &err);
	if (t.rc)
		return fail("receive", t.rc, &t.err);

	int same = sevmig_pstate_equal(ps, t.ps);
	for (int i = 0; i < NREG; i++)
		same = same && !memcmp(src_mem[i].host, t.mem[i].host, src_mem[i].size);
	same = same && t.vmm_objects == 2 && !memcmp(&t.msrs, &src_msrs, sizeof(src_msrs)) &&
	       !memcmp(t.device, uart_state, sizeof(uart_state));
	printf("sent %llu bytes in %llu records: %llu encrypted, %llu plain, %llu zero pages, "
	       "%llu rounds\n",
	       (unsigned long long)sc.bytes, (unsigned long long)sc.records,
	       (unsigned long long)sc.enc_pages, (unsigned long long)sc.plain_pages,
	       (unsigned long long)sc.zero_pages, (unsigned long long)sc.rounds);
	printf("received %llu bytes; target memory, page state and VMM state %s the source's; "
	       "%s\n",
	       (unsigned long long)t.counts.bytes, same ? "equal" : "DIFFER FROM",
	       acked ? "the target committed" : "NOT acknowledged");
	printf("vCPU 0: MSR_KVM_MIGRATION_CONTROL = %llu on the target\n",
	       (unsigned long long)t.msrs.e[1].value);

	for (int i = 0; i < NREG; i++) {
		free(src_mem[i].host);
		free(t.mem[i].host);
	}
	sevmig_pstate_free(ps);
	sevmig_pstate_free(t.ps);
	sevmig_fw_free(src_fw);
	sevmig_fw_free(t.fw);
	return same && acked ? 0 : 1;
}

/* SPDX-License-Identifier: MIT */
/*
 * The KVM backend of <sevmig/fw.h>: the real SEV firmware, reached through
 * the VMM's VM fd (KVM_MEMORY_ENCRYPT_OP) and /dev/sev (SEV_ISSUE_CMD), plus
 * what a VMM needs around it: the guest's page-state hypercalls and its
 * migration-control MSR (mainline), the out-of-tree page-state ioctls (opt
 * in), memory pinning and the intra-host move of an encryption context.
 * docs/kvm-interface.md says which kernel interface each function uses.
 *
 * KVM only accepts VM ioctls from the process that created the VM, so this
 * backend runs inside the VMM. The fds stay the caller's: the handle never
 * closes them (except /dev/sev when sevmig_fw_kvm_open_path() opened it) and
 * they must stay open while the handle lives.
 *
 * Every kernel call goes through one function, ioctl(2) by default or the
 * caller's `ioctl` option (a VMM's own wrapper, or a test double). A call
 * interrupted by a signal (EINTR) is repeated.
 *
 * Threads: firmware commands (fw.h) and the sevmig_fw_kvm_* calls that issue
 * ioctls need exclusive use of the handle; sevmig_fw_max_threads() is 1,
 * because the kernel runs one SEV command per VM at a time anyway (under
 * kvm->lock). The exit-handling calls (sevmig_fw_kvm_handle_exit(),
 * sevmig_fw_kvm_exit_stats(), sevmig_fw_kvm_migration_ready(),
 * sevmig_fw_kvm_pstate_lock()/unlock(), sevmig_fw_kvm_set_migration_control(),
 * sevmig_fw_kvm_memory_fault()) are the exception: any number of vCPU
 * threads may call them at once, also while another thread runs firmware
 * commands; they serialise on a lock of their own. A replaced `ioctl`
 * function must then be thread-safe too.
 *
 * What the kernel adds to the rules of fw.h (refused before any ioctl, with
 * a message naming the rule): SEND_START needs all three certificate blobs
 * (KVM copies each), every blob is at most 16 KiB; an UPDATE_DATA call
 * covers one 4 KiB page of guest memory at a 16-byte aligned address, with
 * guest_len a multiple of 16 and, on receive, trans_len == guest_len;
 * RECEIVE_START needs /dev/sev. SEND/RECEIVE_UPDATE_VMSA are -EOPNOTSUPP:
 * mainline KVM has no path for them.
 *
 * This header does not include <linux/kvm.h>: a struct kvm_run is passed as
 * `void *`, and the few KVM numbers a VMM needs are repeated below (the unit
 * tests check them against the kernel's headers).
 */
#ifndef SEVMIG_FW_KVM_H
#define SEVMIG_FW_KVM_H

#include <sevmig/common.h>
#include <sevmig/fw.h>
#include <sevmig/pstate.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- KVM numbers a VMM needs (values of the kernel's UAPI headers) ------- */

/* KVM_HC_MAP_GPA_RANGE, and the series' KVM_HC_PAGE_ENC_STATUS before it */
#define SEVMIG_KVM_HC_MAP_GPA_RANGE	   12
#define SEVMIG_KVM_MAP_GPA_RANGE_ENCRYPTED 0x10u       /* attrs bit 4: 1 encrypted, 0 decrypted */
#define SEVMIG_KVM_MSR_MIGRATION_CONTROL   0x4b564d08u /* MSR_KVM_MIGRATION_CONTROL */
#define SEVMIG_KVM_MIGRATION_READY	   0x1u	       /* its one defined bit */
/* CPUID 0x40000001 EAX bits the VMM sets so that the guest uses them. */
#define SEVMIG_KVM_FEATURE_HC_MAP_GPA_RANGE  16
#define SEVMIG_KVM_FEATURE_MIGRATION_CONTROL 17
/* What the guest sees in RAX after a refused hypercall: -KVM_EINVAL (-22),
 * -KVM_EFAULT (-14), as 64-bit two's complement. */
#define SEVMIG_KVM_EINVAL 22
#define SEVMIG_KVM_EFAULT 14

/* ---- opening --------------------------------------------------------------- */

/*
 * The out-of-tree SEV live-migration series (never merged) and the numbers
 * of its page-state ioctls. Their numbers changed between postings and
 * collide with ioctls mainline later assigned, so they are issued only when
 * the caller names the series its kernel carries.
 */
enum sevmig_kvm_series {
	SEVMIG_KVM_SERIES_NONE = 0, /* a mainline kernel: never issue them */
	/* Brijesh Singh, 2019: KVM_GET/SET_PAGE_ENC_BITMAP = 0x4018aec2/0x4018aec3 */
	SEVMIG_KVM_SERIES_ENC_BITMAP_2019 = 1,
	/* Ashish Kalra v6, 2020: KVM_GET/SET_PAGE_ENC_BITMAP = 0x4018aec5/0x4018aec6 */
	SEVMIG_KVM_SERIES_ENC_BITMAP_V6 = 2,
	/* Ashish Kalra v10, 2021: KVM_GET/SET_SHARED_PAGES_LIST = 0x4018aec8/0x4018aec9 */
	SEVMIG_KVM_SERIES_SHARED_LIST_V10 = 3,
};

/*
 * How the guest encodes hypercall 12. Both use a0 = gpa, a1 = 4 KiB pages;
 * they differ in a2, and a2 = 1 means "encrypted" in one and "decrypted, 2M
 * page size hint" in the other, so the VMM must say which its guest uses.
 * (Both guests look for CPUID bit 16 of 0x40000001: the series named it
 * KVM_FEATURE_SEV_LIVE_MIGRATION, mainline KVM_FEATURE_HC_MAP_GPA_RANGE.)
 */
enum sevmig_kvm_hypercall_abi {
	/* mainline KVM_HC_MAP_GPA_RANGE: a2 = attrs, bit 4 encrypted, bits 3:0 a
	 * page-size hint (0 4K, 1 2M, 2 1G), other bits reserved */
	SEVMIG_KVM_HC_ABI_MAP_GPA_RANGE = 0,
	/* the series' KVM_HC_PAGE_ENC_STATUS: a2 = 1 encrypted, 0 decrypted */
	SEVMIG_KVM_HC_ABI_PAGE_ENC_STATUS = 1,
};

/* Replaces ioctl(2): returns >= 0, or a negative errno (never -1/errno). */
typedef int (*sevmig_ioctl_fn)(void *arg, int fd, unsigned long request, void *data);

struct sevmig_fw_kvm_opts {
	size_t sz;
	sevmig_ioctl_fn ioctl; /* NULL: ioctl(2) */
	void *ioctl_arg;
	enum sevmig_kvm_series series; /* default NONE */
	/* Other numbers for the series' GET and SET ioctls (a kernel carrying
	 * another posting); 0: the documented numbers of `series`. */
	unsigned long series_get_request;
	unsigned long series_set_request;
	enum sevmig_kvm_hypercall_abi hypercall_abi; /* default MAP_GPA_RANGE */
};

/*
 * A firmware handle on the VM `vm_fd` and the /dev/sev fd `sev_fd`.
 * vm_fd -1: platform commands only. sev_fd -1: no /dev/sev, so the platform
 * commands and RECEIVE_START (which KVM runs through that fd) fail with
 * -EOPNOTSUPP; other guest commands use the fd KVM_SEV_INIT was given.
 * -EINVAL for bad options (err says which); -ENOMEM.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_kvm_open(int vm_fd, int sev_fd,
						   const struct sevmig_fw_kvm_opts *opts,
						   struct sevmig_fw **out,
						   struct sevmig_error *err);
/*
 * As sevmig_fw_kvm_open(), opening sev_path (NULL: "/dev/sev") read-write,
 * or read-only when write access is refused (PLATFORM_STATUS still works).
 * A path that does not exist gives -EOPNOTSUPP ("SEV is not available on
 * this host"); other open errors their errno. The handle closes that fd.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_kvm_open_path(int vm_fd, const char *sev_path,
							const struct sevmig_fw_kvm_opts *opts,
							struct sevmig_fw **out,
							struct sevmig_error *err);
/* True when fw is a KVM backend handle. */
SEVMIG_API bool sevmig_fw_is_kvm(const struct sevmig_fw *fw);

/* ---- memory: pinning and moving the encryption context ------------------- */

/*
 * KVM_MEMORY_ENCRYPT_REG_REGION: pin [addr, addr + size) of guest memory
 * for the life of the SEV guest (the kernel charges it to RLIMIT_MEMLOCK
 * unless the process has CAP_IPC_LOCK: -ENOMEM with a message saying so).
 * Any address is passed on, 0 included, as the kernel has no rule against
 * it; an empty range or one that wraps is -EINVAL. The memslot calls below
 * register and unregister for the VMM and keep the map in step.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_kvm_register_region(struct sevmig_fw *fw, void *addr,
							      uint64_t size);
/* KVM_MEMORY_ENCRYPT_UNREG_REGION: the range must be exactly one that was
 * registered (-EINVAL otherwise). */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_kvm_unregister_region(struct sevmig_fw *fw, void *addr,
								uint64_t size);
/*
 * KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM: move the whole SEV context (ASID, firmware
 * handle, pinned regions, SEV-ES vCPU state) of the VM `src_vm_fd` into this
 * handle's VM, on the same host, without SEND/RECEIVE. The source VM is dead
 * afterwards. -EOPNOTSUPP when the kernel cannot; -EINVAL, -EBADF, -EBUSY as
 * the kernel refuses, with the reason in sevmig_fw_last_error().
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_kvm_move_enc_context_from(struct sevmig_fw *fw,
								    int src_vm_fd);

/* ---- mainline page-state tracking: hypercall and MSR exits --------------- */

#define SEVMIG_KVM_EXIT_HYPERCALL (1u << 0) /* KVM_CAP_EXIT_HYPERCALL for hypercall 12 */
/* KVM_CAP_X86_USER_SPACE_MSR (reason FILTER) and an MSR filter that sends
 * the guest's accesses to MSR_KVM_MIGRATION_CONTROL to user space. The
 * filter REPLACES the VM's filter: a VMM with a filter of its own adds that
 * MSR to it and leaves this flag out. */
#define SEVMIG_KVM_EXIT_MSR (1u << 1)

/*
 * Ask KVM to send the exits sevmig_fw_kvm_handle_exit() handles to user
 * space. -EOPNOTSUPP when the kernel lacks the capability (nothing enabled
 * then); call before the vCPUs run. The VMM also sets the CPUID bits above.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_kvm_enable_exits(struct sevmig_fw *fw, unsigned flags);

/*
 * Handle a vCPU exit: `run` is the vCPU's mmap'ed struct kvm_run after
 * KVM_RUN returned. Returns 1 when the exit was one of these (the VMM then
 * re-enters the vCPU), 0 when it is not (the VMM handles it), or a negative
 * errno (the VMM should stop the guest):
 *
 *  - KVM_EXIT_HYPERCALL, nr 12: the range [a0, a0 + a1 pages) becomes shared
 *    or private in `ps` by the rules of sevmig_pstate_map_gpa_range() (the
 *    one place they are written), and hypercall.ret is what the guest gets
 *    in RAX:
 *        0                 applied;
 *        -SEVMIG_KVM_EINVAL  gpa not page-aligned, no pages, a range that
 *                          wraps or passes the 52-bit limit, attribute
 *                          bits the ABI does not define, or a 2 MiB or
 *                          1 GiB page size the range is not aligned to;
 *        -SEVMIG_KVM_EFAULT  the range leaves the map's coverage (the memory
 *                          the VMM registered), or the library could not
 *                          record it (then the call returns -ENOMEM).
 *    A refused call changes nothing and is counted (exit stats), so that
 *    the VMM knows the map may not match what the guest believes.
 *  - KVM_EXIT_X86_WRMSR / RDMSR of MSR_KVM_MIGRATION_CONTROL: a write of
 *    0 or KVM_MIGRATION_READY is recorded; other bits get the guest a #GP
 *    (msr.error = 1), as for any reserved MSR bit. A read returns the
 *    value last written.
 *
 * `ps` must cover the guest's memory; it is modified under the handle's
 * exit lock (see sevmig_fw_kvm_pstate_lock()). It may be NULL when the VMM
 * routes only MSR exits here.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_kvm_handle_exit(struct sevmig_fw *fw, void *run,
							  struct sevmig_pstate *ps);

/*
 * The lock sevmig_fw_kvm_handle_exit() holds while it changes a map: take it
 * to read that map from another thread (e.g. to clone it for a migration
 * round) while vCPUs run.
 */
SEVMIG_API void sevmig_fw_kvm_pstate_lock(struct sevmig_fw *fw);
SEVMIG_API void sevmig_fw_kvm_pstate_unlock(struct sevmig_fw *fw);

struct sevmig_kvm_exit_stats {
	uint64_t hypercalls; /* page-state hypercalls seen */
	uint64_t applied;
	uint64_t rejected;   /* refused; the guest got an error */
	uint64_t msr_writes; /* writes of MSR_KVM_MIGRATION_CONTROL */
	uint64_t msr_rejected;
	uint64_t migration_control; /* the MSR's value */
	/* The last refused hypercall, as the guest issued it. */
	uint64_t last_rejected_gpa;
	uint64_t last_rejected_npages;
	uint64_t last_rejected_attrs;
	int64_t last_rejected_ret; /* what the guest got */
};
SEVMIG_API void sevmig_fw_kvm_exit_stats(struct sevmig_fw *fw, struct sevmig_kvm_exit_stats *out);

/*
 * May this guest be migrated? True once the guest has set
 * KVM_MIGRATION_READY in MSR_KVM_MIGRATION_CONTROL (mainline), the bit the
 * v10 series called KVM_SEV_LIVE_MIGRATION_ENABLED in the same MSR. Until
 * then the guest has not promised to report its shared pages, and
 * migrating it would send shared pages as private ones.
 */
SEVMIG_API bool sevmig_fw_kvm_migration_ready(struct sevmig_fw *fw);
/* Set the MSR's value as the VMM restores it (a migrated guest does not
 * write it again on the target). -EINVAL for bits other than READY. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_kvm_set_migration_control(struct sevmig_fw *fw,
								    uint64_t value);

/* ---- the series' page-state ioctls (opt in: opts.series) ----------------- */

/*
 * Is the named series' GET ioctl present? 0 yes; -EOPNOTSUPP when no series
 * was named (nothing issued) or the kernel does not know the ioctl (it
 * answered ENOTTY to a harmless 64-page GET). The answer is kept.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_kvm_probe_pstate_ioctls(struct sevmig_fw *fw);
/*
 * Read the kernel's page state for every page `ps` covers
 * (KVM_GET_PAGE_ENC_BITMAP per slot, or KVM_GET_SHARED_PAGES_LIST once;
 * parts of the kernel's list outside the coverage are dropped: they name no
 * memory of the map, e.g. MMIO the guest marked shared). All or nothing:
 * `ps` changes only on success. Memory used: a bounded window per call.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_kvm_get_pstate(struct sevmig_fw *fw,
							 struct sevmig_pstate *ps);
/* Hand `ps` to the kernel (KVM_SET_PAGE_ENC_BITMAP per slot, or
 * KVM_SET_SHARED_PAGES_LIST), as a VMM does on the target. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_kvm_set_pstate(struct sevmig_fw *fw,
							 const struct sevmig_pstate *ps);

/* ---- memory attributes: guest_memfd VMs (SEV-SNP, TDX, ...) --------------- */

/*
 * KVM_CAP_MEMORY_ATTRIBUTES on the VM fd: the attribute bits this VM
 * accepts in KVM_SET_MEMORY_ATTRIBUTES (SEVMIG_MEMORY_ATTRIBUTE_PRIVATE for
 * a VM type with private memory; 0 for a VM type without, or a kernel
 * older than 6.8). Asked once per handle, then kept. 0, or the kernel's
 * error.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_kvm_memory_attributes(struct sevmig_fw *fw,
								uint64_t *supported);
/*
 * KVM_SET_MEMORY_ATTRIBUTES for r[0..n), in order. Every range is checked
 * before the first ioctl, and nothing is issued when one fails: address
 * and size page-aligned, size non-zero, no wrap (-EINVAL), flags 0
 * (-EINVAL), attributes within the supported bits (-EOPNOTSUPP, also when
 * the VM supports none). When the kernel refuses range i, ranges 0..i-1
 * have taken effect and *done (may be NULL) says i; it is n on success.
 * The message names the range.
 */
SEVMIG_API SEVMIG_NODISCARD int
sevmig_fw_kvm_set_memory_attributes(struct sevmig_fw *fw, const struct sevmig_memory_attributes *r,
				    size_t n, size_t *done);
/*
 * Make the VM's attributes follow `next`, changing only what differs from
 * `prev` (the map they followed so far; NULL: set everything next covers):
 * the ranges of sevmig_pstate_walk_memory_attributes(), checked as above
 * before the first is issued. On a kernel error part may be applied (*done
 * ranges); calling again with the same maps is safe and finishes the job.
 * Holds no copy of either map: O(runs) time, no allocation.
 */
SEVMIG_API SEVMIG_NODISCARD int
sevmig_fw_kvm_apply_memory_attributes(struct sevmig_fw *fw, const struct sevmig_pstate *prev,
				      const struct sevmig_pstate *next, size_t *done);
/*
 * Handle a KVM_EXIT_MEMORY_FAULT: `run` is the vCPU's struct kvm_run. When
 * it is one, the conversion it asks for (sevmig_pstate_memory_fault()) is
 * made in `ps` and in the kernel's attributes together: the attributes are
 * set first and the map changes only when that succeeded, so a failure
 * leaves both as they were. Returns 1 (converted; *out, if not NULL, says
 * what, so that the VMM can also discard the backing of the side the pages
 * left), 0 when the exit is not a memory fault, or a negative errno: the
 * map's errors (-EINVAL, -ERANGE for memory outside the map: the VMM
 * should stop the guest), -EOPNOTSUPP when the VM has no PRIVATE
 * attribute, or the kernel's. Runs under the exit lock, like
 * sevmig_fw_kvm_handle_exit(), so vCPU threads may call it at once.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_kvm_memory_fault(struct sevmig_fw *fw, void *run,
							   struct sevmig_pstate *ps,
							   struct sevmig_memory_fault *out);

/* ---- memslots: pinning and page state in step ------------------------------ */

/*
 * An SEV guest's memory must stay pinned while it may hold encrypted
 * pages, until it is deallocated or the guest is destroyed. These calls
 * keep the pinning (KVM_MEMORY_ENCRYPT_REG_REGION / UNREG_REGION) and a
 * page-state map in step over a memslot's life. Each is all-or-nothing:
 * when it fails, the kernel's registered regions, the map and the
 * handle's records are as they were (the message says what failed). The
 * map is changed under the exit lock, so vCPU threads may handle exits
 * meanwhile; the calls themselves need exclusive use of the handle. The
 * VMM creates and deletes the KVM memslot itself.
 */

/*
 * Register [hva, hva + size) with KVM_MEMORY_ENCRYPT_REG_REGION and add
 * [gpa, gpa + size) to `ps` as a slot (private). gpa and size page-aligned,
 * size non-zero (-EINVAL); -EEXIST when the range overlaps a slot of ps or
 * of the handle. If the map cannot take the slot, the region is
 * unregistered again.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_kvm_add_memslot(struct sevmig_fw *fw,
							  struct sevmig_pstate *ps, uint64_t gpa,
							  uint64_t size, void *hva);
/*
 * Remove the memslot added as exactly [gpa, gpa + size) (-ENOENT if none):
 * unregister every region of it exactly as registered, then remove the
 * slot from `ps`, its pages forgetting their state. Call it before the
 * memory goes (munmap) and before KVM deletes the memslot.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_kvm_remove_memslot(struct sevmig_fw *fw,
							     struct sevmig_pstate *ps, uint64_t gpa,
							     uint64_t size);
/*
 * Discard [gpa, gpa + size) of one memslot (a balloon's pages, a range the
 * VMM unmaps): the regions that hold it are unregistered exactly as
 * registered, after the parts of them outside the range were registered
 * as regions of their own (so that no page that stays is ever unpinned;
 * for a moment those count twice against RLIMIT_MEMLOCK), then the pages
 * forget their state (private). The range stays in the map: the memslot
 * still exists. -EINVAL for a range not page-aligned or empty, -ENOENT
 * when no memslot holds it whole; a range that is not registered (already
 * discarded) unregisters nothing.
 */
SEVMIG_API SEVMIG_NODISCARD int
sevmig_fw_kvm_discard(struct sevmig_fw *fw, struct sevmig_pstate *ps, uint64_t gpa, uint64_t size);

/* A registered region: filled up to `sz` bytes. */
struct sevmig_kvm_region {
	size_t sz;
	uint64_t gpa;  /* the guest memory it pins */
	uint64_t size; /* bytes */
	void *hva;     /* what KVM_MEMORY_ENCRYPT_REG_REGION was given */
};
/* The regions registered through the memslot calls, in gpa order. */
SEVMIG_API size_t sevmig_fw_kvm_region_count(struct sevmig_fw *fw);
/* Region i: 0, -ERANGE past the end, -EINVAL for a bad handle or out. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_kvm_region(struct sevmig_fw *fw, size_t i,
						     struct sevmig_kvm_region *out);

/* ---- what this host offers ------------------------------------------------ */

struct sevmig_kvm_probe_opts {
	size_t sz;
	sevmig_ioctl_fn ioctl; /* NULL: ioctl(2) */
	void *ioctl_arg;
	const char *kvm_path;	/* NULL: "/dev/kvm" */
	const char *sev_path;	/* NULL: "/dev/sev" */
	const char *module_dir; /* NULL: "/sys/module/kvm_amd/parameters" */
};

struct sevmig_kvm_host_info {
	/* /dev/kvm: 0 usable, else the negative errno of opening it or of
	 * KVM_CREATE_VM (the capabilities below are then unknown, all 0). */
	int kvm;
	int kvm_api_version;
	/* SEV in KVM: 1 KVM_MEMORY_ENCRYPT_OP is accepted on a new VM, 0 it is
	 * not (ENOTTY: no SEV), negative errno: could not tell. */
	int kvm_sev;
	uint32_t hypercall_exits; /* KVM_CAP_EXIT_HYPERCALL: hypercalls that can exit (bit 12) */
	bool move_enc_context;	  /* KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM */
	bool copy_enc_context;	  /* KVM_CAP_VM_COPY_ENC_CONTEXT_FROM */
	bool user_space_msr;	  /* KVM_CAP_X86_USER_SPACE_MSR */
	bool msr_filter;	  /* KVM_CAP_X86_MSR_FILTER */
	/* kvm_amd module parameters "sev" and "sev_es" as the file says them
	 * ("Y", "N", "1", "0"), or "" when absent (module not loaded). */
	char kvm_amd_sev[8];
	char kvm_amd_sev_es[8];
	/* /dev/sev: 0 opened, else the negative errno of opening it. */
	int sev;
	/* PLATFORM_STATUS through /dev/sev: 0 with `platform` filled, else its
	 * error (platform_fw_status set when the firmware answered). */
	int platform_rc;
	uint32_t platform_fw_status;
	struct sevmig_fw_platform_status platform;
	char platform_message[256]; /* why PLATFORM_STATUS failed ("" if it did not) */
};
/*
 * Look at what this host offers for SEV migration, touching nothing: opens
 * /dev/kvm and creates (and closes) a VM to ask for its capabilities, reads
 * the kvm_amd parameters, and runs PLATFORM_STATUS on /dev/sev. Returns 0
 * whatever it finds (absence is reported in `out`), -EINVAL for bad options.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_kvm_probe_host(const struct sevmig_kvm_probe_opts *opts,
						      struct sevmig_kvm_host_info *out);

#ifdef __cplusplus
}
#endif
#endif

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The KVM numbers and layouts lib/fw/kvm/kvm_uapi.h defines for itself (the
# installed headers may be older than the interfaces: Debian 12 ships 6.1)
# compared with a newer <linux/kvm.h>: every value and every field offset
# must agree. Which headers: $SEVMIG_KVM_UAPI_INCLUDE, an include directory
# holding linux/kvm.h and asm/kvm.h (`make headers_install` writes one),
# else the first of /usr/src/linux-headers-*/ and the running kernel's
# /lib/modules/*/build that has them. Skipped (77) when none is newer than
# the interfaces, that is when none defines KVM_CAP_MEMORY_ATTRIBUTES.
#
# usage: check_kvm_uapi.sh SOURCE_DIR [CC]
set -u
src=${1:?source dir}
cc=${2:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Include flags for one candidate tree: an installed header directory, or a
# kernel source / headers tree (uapi directories inside).
flags_for() {
	local d=$1
	if [ -f "$d/linux/kvm.h" ]; then
		echo "-I$d"
	elif [ -f "$d/include/uapi/linux/kvm.h" ]; then
		local f="-I$d/include/uapi -I$d/arch/x86/include/uapi"
		[ -d "$d/include/generated/uapi" ] && f="$f -I$d/include/generated/uapi"
		[ -d "$d/arch/x86/include/generated/uapi" ] && f="$f -I$d/arch/x86/include/generated/uapi"
		echo "$f"
	fi
}

newer() { # does this tree have the 6.8 interfaces?
	printf '#include <linux/kvm.h>\n#ifndef KVM_CAP_MEMORY_ATTRIBUTES\n#error old\n#endif\n' |
		$cc -E $1 -x c - -o /dev/null 2>/dev/null
}

candidates=()
if [ -n "${SEVMIG_KVM_UAPI_INCLUDE:-}" ]; then
	candidates=("$SEVMIG_KVM_UAPI_INCLUDE")
else
	for d in /usr/src/linux-headers-* /lib/modules/*/build; do
		[ -d "$d" ] && candidates+=("$d")
	done
fi
flags=
where=
for d in "${candidates[@]}"; do
	f=$(flags_for "$d")
	if [ -n "$f" ] && newer "$f"; then
		flags=$f
		where=$d
		break
	fi
done
if [ -z "$flags" ]; then
	if [ -n "${SEVMIG_KVM_UAPI_INCLUDE:-}" ]; then
		echo "FAIL: $SEVMIG_KVM_UAPI_INCLUDE has no linux/kvm.h with KVM_CAP_MEMORY_ATTRIBUTES"
		exit 1
	fi
	echo "skipped: no <linux/kvm.h> newer than 6.8 is installed (looked in" \
		"/usr/src/linux-headers-*, /lib/modules/*/build; set SEVMIG_KVM_UAPI_INCLUDE" \
		"to an include directory to name one)"
	exit 77
fi

cat >"$tmp/compare.c" <<'C'
#include <stddef.h>
#include <linux/kvm.h>
#include <sevmig/pstate.h>
#include "fw/kvm/kvm_uapi.h"

#define SAME(ours, theirs) _Static_assert((ours) == (theirs), #ours " != " #theirs)
#define AT(ours, theirs, field)                                                       \
	_Static_assert(offsetof(struct ours, field) == offsetof(struct theirs, field) && \
			   sizeof(((struct ours *)0)->field) ==                          \
			       sizeof(((struct theirs *)0)->field),                      \
		       #ours "." #field " differs from " #theirs)

SAME(SEVMIG__KVMIO, KVMIO);
SAME(SEVMIG__KVM_CAP_USER_MEMORY2, KVM_CAP_USER_MEMORY2);
SAME(SEVMIG__KVM_CAP_MEMORY_FAULT_INFO, KVM_CAP_MEMORY_FAULT_INFO);
SAME(SEVMIG__KVM_CAP_MEMORY_ATTRIBUTES, KVM_CAP_MEMORY_ATTRIBUTES);
SAME(SEVMIG__KVM_CAP_GUEST_MEMFD, KVM_CAP_GUEST_MEMFD);
SAME(SEVMIG__KVM_CAP_VM_TYPES, KVM_CAP_VM_TYPES);
SAME(SEVMIG__KVM_SET_MEMORY_ATTRIBUTES, KVM_SET_MEMORY_ATTRIBUTES);
SAME(SEVMIG__KVM_MEMORY_ATTRIBUTE_PRIVATE, KVM_MEMORY_ATTRIBUTE_PRIVATE);
SAME(SEVMIG__KVM_CREATE_GUEST_MEMFD, KVM_CREATE_GUEST_MEMFD);
SAME(SEVMIG__KVM_SET_USER_MEMORY_REGION2, KVM_SET_USER_MEMORY_REGION2);
SAME(SEVMIG__KVM_MEM_GUEST_MEMFD, KVM_MEM_GUEST_MEMFD);
SAME(SEVMIG__KVM_EXIT_MEMORY_FAULT, KVM_EXIT_MEMORY_FAULT);
SAME(SEVMIG__KVM_MEMORY_EXIT_FLAG_PRIVATE, KVM_MEMORY_EXIT_FLAG_PRIVATE);
SAME(SEVMIG__KVM_RUN_EXIT_UNION, offsetof(struct kvm_run, memory_fault));
SAME(sizeof(struct sevmig__kvm_memory_fault), sizeof(((struct kvm_run *)0)->memory_fault));
SAME(offsetof(struct sevmig__kvm_memory_fault, gpa),
     offsetof(struct kvm_run, memory_fault.gpa) - offsetof(struct kvm_run, memory_fault));
SAME(offsetof(struct sevmig__kvm_memory_fault, size),
     offsetof(struct kvm_run, memory_fault.size) - offsetof(struct kvm_run, memory_fault));
SAME(sizeof(struct sevmig__kvm_memory_attributes), sizeof(struct kvm_memory_attributes));
AT(sevmig__kvm_memory_attributes, kvm_memory_attributes, address);
AT(sevmig__kvm_memory_attributes, kvm_memory_attributes, size);
AT(sevmig__kvm_memory_attributes, kvm_memory_attributes, attributes);
AT(sevmig__kvm_memory_attributes, kvm_memory_attributes, flags);
/* the public mirror (pstate.h includes no kernel header) */
SAME(sizeof(struct sevmig_memory_attributes), sizeof(struct kvm_memory_attributes));
AT(sevmig_memory_attributes, kvm_memory_attributes, address);
AT(sevmig_memory_attributes, kvm_memory_attributes, size);
AT(sevmig_memory_attributes, kvm_memory_attributes, attributes);
AT(sevmig_memory_attributes, kvm_memory_attributes, flags);
SAME(SEVMIG_MEMORY_ATTRIBUTE_PRIVATE, KVM_MEMORY_ATTRIBUTE_PRIVATE);
SAME(SEVMIG_MEMORY_EXIT_FLAG_PRIVATE, KVM_MEMORY_EXIT_FLAG_PRIVATE);
SAME(sizeof(struct sevmig__kvm_create_guest_memfd), sizeof(struct kvm_create_guest_memfd));
AT(sevmig__kvm_create_guest_memfd, kvm_create_guest_memfd, size);
AT(sevmig__kvm_create_guest_memfd, kvm_create_guest_memfd, flags);
SAME(sizeof(struct sevmig__kvm_userspace_memory_region2),
     sizeof(struct kvm_userspace_memory_region2));
AT(sevmig__kvm_userspace_memory_region2, kvm_userspace_memory_region2, slot);
AT(sevmig__kvm_userspace_memory_region2, kvm_userspace_memory_region2, flags);
AT(sevmig__kvm_userspace_memory_region2, kvm_userspace_memory_region2, guest_phys_addr);
AT(sevmig__kvm_userspace_memory_region2, kvm_userspace_memory_region2, memory_size);
AT(sevmig__kvm_userspace_memory_region2, kvm_userspace_memory_region2, userspace_addr);
AT(sevmig__kvm_userspace_memory_region2, kvm_userspace_memory_region2, guest_memfd_offset);
AT(sevmig__kvm_userspace_memory_region2, kvm_userspace_memory_region2, guest_memfd);
#ifdef KVM_X86_DEFAULT_VM
SAME(SEVMIG__KVM_X86_DEFAULT_VM, KVM_X86_DEFAULT_VM);
SAME(SEVMIG__KVM_X86_SW_PROTECTED_VM, KVM_X86_SW_PROTECTED_VM);
#endif
#ifdef KVM_X86_SEV_VM
SAME(SEVMIG__KVM_X86_SEV_VM, KVM_X86_SEV_VM);
SAME(SEVMIG__KVM_X86_SEV_ES_VM, KVM_X86_SEV_ES_VM);
SAME(SEVMIG__KVM_X86_SNP_VM, KVM_X86_SNP_VM);
#endif
#ifdef KVM_X86_TDX_VM
SAME(SEVMIG__KVM_X86_TDX_VM, KVM_X86_TDX_VM);
#endif
int main(void)
{
	return 0;
}
C
# The newer tree first, so that its linux/ and asm/ headers are the ones
# found; the library's own headers after it.
if $cc -std=gnu11 -fsyntax-only $flags -I"$src/include" -I"$src/lib" "$tmp/compare.c" \
	2>"$tmp/err"; then
	echo "ok: lib/fw/kvm/kvm_uapi.h agrees with $where"
	exit 0
fi
echo "FAIL: lib/fw/kvm/kvm_uapi.h differs from the <linux/kvm.h> of $where:"
grep -E "error" "$tmp/err" | sed 's/^/  /'
exit 1

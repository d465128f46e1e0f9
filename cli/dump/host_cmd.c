/* SPDX-License-Identifier: MIT */
/*
 * sevmig-dump host: what this host offers for SEV migration: /dev/kvm and
 * the KVM capabilities that matter (hypercall exits, user-space MSR exits,
 * encryption-context move), SEV in KVM, /dev/sev and PLATFORM_STATUS. Every
 * item says "not available" and why where it is absent. Exit 0 whatever is
 * found; 2 only for bad arguments.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dump/dump.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: sevmig-dump host [--json] [--kvm PATH] [--sev PATH]\n"
		   "\n"
		   "Report what this host offers for SEV live migration: /dev/kvm, SEV in KVM,\n"
		   "the KVM capabilities a VMM needs (hypercall exits for page-state tracking,\n"
		   "user-space MSR exits, moving an encryption context between VMs), /dev/sev\n"
		   "and the firmware's PLATFORM_STATUS. Changes nothing (a VM is created and\n"
		   "closed to ask for per-VM capabilities).\n"
		   "\n"
		   "  --json       one JSON object on standard output\n"
		   "  --kvm PATH   the KVM device (default /dev/kvm)\n"
		   "  --sev PATH   the SEV device (default /dev/sev)\n"
		   "\n"
		   "Exit status: 0 whatever the host offers, 2 on bad arguments.\n");
}

static const char *platform_state(unsigned s)
{
	static const char *const names[] = { "UNINIT", "INIT", "WORKING" };
	return s < 3 ? names[s] : "UNKNOWN";
}

/* "available", or "not available (why)". */
static void avail(bool yes, const char *why_not)
{
	if (yes)
		printf("available\n");
	else
		printf("not available (%s)\n", why_not);
}

static void print_text(const struct sevmig_kvm_host_info *h, const char *kvm_path,
		       const char *sev_path)
{
	bool kvm = h->kvm == 0;
	if (kvm)
		printf("%s: available (KVM API %d)\n", kvm_path, h->kvm_api_version);
	else
		printf("%s: not available (%s)\n", kvm_path, strerror(-h->kvm));
	const char *nokvm = "no KVM";
	printf("  SEV in KVM:                        ");
	if (!kvm)
		avail(false, nokvm);
	else if (h->kvm_sev < 0)
		printf("unknown (%s)\n", strerror(-h->kvm_sev));
	else
		avail(h->kvm_sev == 1, "KVM_MEMORY_ENCRYPT_OP answers ENOTTY");
	printf("  kvm_amd parameters sev / sev_es:   ");
	if (h->kvm_amd_sev[0])
		printf("%s / %s\n", h->kvm_amd_sev, h->kvm_amd_sev_es[0] ? h->kvm_amd_sev_es : "-");
	else
		printf("not available (kvm_amd is not loaded)\n");
	printf("  hypercall exits (MAP_GPA_RANGE):   ");
	avail(h->hypercall_exits & (1u << SEVMIG_KVM_HC_MAP_GPA_RANGE),
	      kvm ? "KVM_CAP_EXIT_HYPERCALL is absent" : nokvm);
	printf("  user-space MSR exits:              ");
	avail(h->user_space_msr, kvm ? "KVM_CAP_X86_USER_SPACE_MSR is absent" : nokvm);
	printf("  MSR filter:                        ");
	avail(h->msr_filter, kvm ? "KVM_CAP_X86_MSR_FILTER is absent" : nokvm);
	printf("  encryption-context move:           ");
	avail(h->move_enc_context, kvm ? "KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM is absent" : nokvm);
	printf("  encryption-context copy (mirror):  ");
	avail(h->copy_enc_context, kvm ? "KVM_CAP_VM_COPY_ENC_CONTEXT_FROM is absent" : nokvm);

	if (h->sev == 0)
		printf("%s: available\n", sev_path);
	else
		printf("%s: not available (%s)\n", sev_path, strerror(-h->sev));
	printf("  PLATFORM_STATUS:                   ");
	if (h->platform_rc == 0) {
		const struct sevmig_fw_platform_status *p = &h->platform;
		printf("API %u.%u build %u, state %s, owner %s, SEV-ES %s, %u guests\n",
		       p->api_major, p->api_minor, p->build, platform_state(p->state),
		       p->flags & SEVMIG_PLATFORM_FLAG_OWNER ? "external" : "self",
		       p->flags & SEVMIG_PLATFORM_FLAG_ES ? "initialised" : "not initialised",
		       p->guest_count);
	} else {
		avail(false, h->platform_message[0] ? h->platform_message
						    : sevmig_strerror(h->platform_rc));
	}

	bool fw = kvm && h->kvm_sev == 1 && h->platform_rc == 0;
	bool track = h->hypercall_exits & (1u << SEVMIG_KVM_HC_MAP_GPA_RANGE);
	printf("summary:\n");
	printf("  migration through the firmware:    %s\n", fw ? "possible" : "not possible");
	printf("  page-state tracking (mainline):    %s\n", track ? "possible" : "not possible");
	printf("  moving a guest within this host:   %s\n",
	       kvm && h->kvm_sev == 1 && h->move_enc_context ? "possible" : "not possible");
}

static void json_bool(const char *key, bool v, bool comma)
{
	printf("\"%s\": %s%s", key, v ? "true" : "false", comma ? ", " : "");
}

/* A JSON string, or null for "". */
static void json_str_or_null(const char *s)
{
	if (s && s[0])
		cli_json_string(stdout, s);
	else
		printf("null");
}

static void print_json(const struct sevmig_kvm_host_info *h, const char *kvm_path,
		       const char *sev_path)
{
	bool kvm = h->kvm == 0;
	printf("{\"kvm\": {\"path\": ");
	cli_json_string(stdout, kvm_path);
	printf(", ");
	json_bool("available", kvm, true);
	printf("\"error\": ");
	json_str_or_null(kvm ? NULL : strerror(-h->kvm));
	printf(", \"api_version\": %d, \"sev\": %s, ", h->kvm_api_version,
	       !kvm || h->kvm_sev < 0 ? "null"
	       : h->kvm_sev	      ? "true"
				      : "false");
	printf("\"kvm_amd\": {\"sev\": ");
	json_str_or_null(h->kvm_amd_sev);
	printf(", \"sev_es\": ");
	json_str_or_null(h->kvm_amd_sev_es);
	printf("}, \"capabilities\": {");
	json_bool("exit_hypercall_map_gpa_range",
		  h->hypercall_exits & (1u << SEVMIG_KVM_HC_MAP_GPA_RANGE), true);
	printf("\"hypercall_exit_mask\": %" PRIu32 ", ", h->hypercall_exits);
	json_bool("user_space_msr", h->user_space_msr, true);
	json_bool("msr_filter", h->msr_filter, true);
	json_bool("move_enc_context", h->move_enc_context, true);
	json_bool("copy_enc_context", h->copy_enc_context, false);
	printf("}}, \"sev\": {\"path\": ");
	cli_json_string(stdout, sev_path);
	printf(", ");
	json_bool("available", h->sev == 0, true);
	printf("\"error\": ");
	json_str_or_null(h->sev == 0 ? NULL : strerror(-h->sev));
	printf(", \"platform_status\": ");
	if (h->platform_rc == 0) {
		const struct sevmig_fw_platform_status *p = &h->platform;
		printf("{\"api_major\": %u, \"api_minor\": %u, \"build\": %u, \"state\": ",
		       p->api_major, p->api_minor, p->build);
		cli_json_string(stdout, platform_state(p->state));
		printf(", \"flags\": %" PRIu32 ", ", p->flags);
		json_bool("owner_external", p->flags & SEVMIG_PLATFORM_FLAG_OWNER, true);
		json_bool("es_initialised", p->flags & SEVMIG_PLATFORM_FLAG_ES, true);
		printf("\"guest_count\": %" PRIu32 "}", p->guest_count);
	} else {
		printf("null");
	}
	printf(", \"platform_error\": ");
	json_str_or_null(h->platform_rc ? (h->platform_message[0] ? h->platform_message
								  : sevmig_strerror(h->platform_rc))
					: NULL);
	if (h->platform_rc && h->platform_fw_status != SEVMIG_FW_STATUS_NONE) {
		printf(", \"platform_fw_status\": ");
		cli_json_string(stdout, sevmig_fw_status_name(h->platform_fw_status));
	}
	printf("}, \"summary\": {");
	json_bool("firmware_migration", kvm && h->kvm_sev == 1 && h->platform_rc == 0, true);
	json_bool("page_state_tracking", h->hypercall_exits & (1u << SEVMIG_KVM_HC_MAP_GPA_RANGE),
		  true);
	json_bool("intra_host_move", kvm && h->kvm_sev == 1 && h->move_enc_context, false);
	printf("}}\n");
}

int dump_host(int argc, char **argv)
{
	bool json = false;
	const char *kvm_path = "/dev/kvm", *sev_path = "/dev/sev";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return CLI_OK;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--kvm") || !strcmp(argv[i], "--sev")) {
			if (i + 1 >= argc)
				return cli_error("host: %s needs a path", argv[i]);
			if (!strcmp(argv[i], "--kvm"))
				kvm_path = argv[++i];
			else
				sev_path = argv[++i];
		} else {
			cli_error("host: unknown argument '%s'", argv[i]);
			usage(stderr);
			return CLI_ERR;
		}
	}
	SEVMIG_OPTS(sevmig_kvm_probe_opts, o, .kvm_path = kvm_path, .sev_path = sev_path);
	struct sevmig_kvm_host_info h;
	int rc = sevmig_kvm_probe_host(&o, &h);
	if (rc)
		return cli_error("host: cannot probe: %s", sevmig_strerror(rc));
	if (json)
		print_json(&h, kvm_path, sev_path);
	else
		print_text(&h, kvm_path, sev_path);
	if (fflush(stdout) || ferror(stdout))
		return cli_error("standard output: %s", strerror(errno));
	return CLI_OK;
}

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

#include "common/schema.h"
#include "dump/dump.h"

void dump_host_usage(FILE *f)
{
	fprintf(f, "usage: sevmig-dump host [--json[=pretty]] [--kvm PATH] [--sev PATH]\n"
		   "\n"
		   "Report what this host offers for SEV live migration: /dev/kvm, SEV in KVM,\n"
		   "the KVM capabilities a VMM needs (hypercall exits for page-state tracking,\n"
		   "user-space MSR exits, moving an encryption context between VMs), /dev/sev\n"
		   "and the firmware's PLATFORM_STATUS. Changes nothing (a VM is created and\n"
		   "closed to ask for per-VM capabilities).\n"
		   "\n"
		   "  --json       one JSON document on standard output, sevmig.host/1 of\n"
		   "               docs/json.md (--json=pretty: indented)\n"
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

static void print_json(const struct sevmig_kvm_host_info *h, const char *kvm_path,
		       const char *sev_path, struct cli_json *j)
{
	bool kvm = h->kvm == 0;
	bool map_gpa = h->hypercall_exits & (1u << SEVMIG_KVM_HC_MAP_GPA_RANGE);
	cli_json_doc(j, CLI_SCHEMA_HOST);
	cli_json_kobject(j, "kvm");
	cli_json_kstr(j, "path", kvm_path);
	cli_json_kbool(j, "available", kvm);
	cli_json_kstr(j, "error", kvm ? NULL : strerror(-h->kvm));
	cli_json_ki64(j, "api_version", h->kvm_api_version);
	if (!kvm || h->kvm_sev < 0)
		cli_json_knull(j, "sev");
	else
		cli_json_kbool(j, "sev", h->kvm_sev);
	cli_json_kobject(j, "kvm_amd");
	cli_json_kstr(j, "sev", h->kvm_amd_sev[0] ? h->kvm_amd_sev : NULL);
	cli_json_kstr(j, "sev_es", h->kvm_amd_sev_es[0] ? h->kvm_amd_sev_es : NULL);
	cli_json_end(j);
	cli_json_kobject(j, "capabilities");
	cli_json_kbool(j, "exit_hypercall_map_gpa_range", map_gpa);
	cli_json_ku64(j, "hypercall_exit_mask", h->hypercall_exits);
	cli_json_kbool(j, "user_space_msr", h->user_space_msr);
	cli_json_kbool(j, "msr_filter", h->msr_filter);
	cli_json_kbool(j, "move_enc_context", h->move_enc_context);
	cli_json_kbool(j, "copy_enc_context", h->copy_enc_context);
	cli_json_end(j);
	cli_json_end(j);

	cli_json_kobject(j, "sev");
	cli_json_kstr(j, "path", sev_path);
	cli_json_kbool(j, "available", h->sev == 0);
	cli_json_kstr(j, "error", h->sev == 0 ? NULL : strerror(-h->sev));
	if (h->platform_rc == 0) {
		const struct sevmig_fw_platform_status *p = &h->platform;
		cli_json_kobject(j, "platform_status");
		cli_json_ku64(j, "api_major", p->api_major);
		cli_json_ku64(j, "api_minor", p->api_minor);
		cli_json_ku64(j, "build", p->build);
		cli_json_kstr(j, "state", platform_state(p->state));
		cli_json_ku64(j, "flags", p->flags);
		cli_json_kbool(j, "owner_external", p->flags & SEVMIG_PLATFORM_FLAG_OWNER);
		cli_json_kbool(j, "es_initialised", p->flags & SEVMIG_PLATFORM_FLAG_ES);
		cli_json_ku64(j, "guest_count", p->guest_count);
		cli_json_end(j);
		cli_json_knull(j, "platform_error");
	} else {
		cli_json_knull(j, "platform_status");
		cli_json_kstr(j, "platform_error",
			      h->platform_message[0] ? h->platform_message
						     : sevmig_strerror(h->platform_rc));
		if (h->platform_fw_status != SEVMIG_FW_STATUS_NONE)
			cli_json_kstr(j, "platform_fw_status",
				      sevmig_fw_status_name(h->platform_fw_status));
	}
	cli_json_end(j);

	cli_json_kobject(j, "summary");
	cli_json_kbool(j, "firmware_migration", kvm && h->kvm_sev == 1 && h->platform_rc == 0);
	cli_json_kbool(j, "page_state_tracking", map_gpa);
	cli_json_kbool(j, "intra_host_move", kvm && h->kvm_sev == 1 && h->move_enc_context);
	cli_json_end(j);
}

int dump_host(int argc, char **argv)
{
	enum cli_json_mode json = CLI_JSON_OFF;
	const char *kvm_path = "/dev/kvm", *sev_path = "/dev/sev";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			dump_host_usage(stdout);
			return CLI_OK;
		} else if (!strcmp(argv[i], "--json") || !strncmp(argv[i], "--json=", 7)) {
			if (cli_json_parse_mode("--json", argv[i][6] ? argv[i] + 7 : NULL, &json))
				return CLI_ERR;
		} else if (!strcmp(argv[i], "--kvm") || !strcmp(argv[i], "--sev")) {
			if (i + 1 >= argc)
				return cli_error("host: %s needs a path", argv[i]);
			if (!strcmp(argv[i], "--kvm"))
				kvm_path = argv[++i];
			else
				sev_path = argv[++i];
		} else {
			cli_error("host: unknown argument '%s'", argv[i]);
			dump_host_usage(stderr);
			return CLI_ERR;
		}
	}
	SEVMIG_OPTS(sevmig_kvm_probe_opts, o, .kvm_path = kvm_path, .sev_path = sev_path);
	struct sevmig_kvm_host_info h;
	int rc = sevmig_kvm_probe_host(&o, &h);
	if (rc)
		return cli_error("host: cannot probe: %s", sevmig_strerror(rc));
	if (json) {
		struct cli_json j;
		cli_json_init(&j, stdout, json == CLI_JSON_PRETTY);
		print_json(&h, kvm_path, sev_path, &j);
		return cli_json_doc_end(&j);
	}
	print_text(&h, kvm_path, sev_path);
	if (fflush(stdout) || ferror(stdout))
		return cli_error("standard output: %s", strerror(errno));
	return CLI_OK;
}

/* SPDX-License-Identifier: MIT */
/* Names and meanings of the SEV firmware's status codes and guest states
 * (SEV API; values as in linux/psp-sev.h and AMD's sev-tool). */
#include <sevmig/fw.h>

#include <stddef.h>

struct status_text {
	const char *name;
	const char *description;
};

static const struct status_text status_texts[] = {
	[0x00] = { "SUCCESS", "the command succeeded" },
	[0x01] = { "INVALID_PLATFORM_STATE",
		   "the platform is not in a state that allows the command" },
	[0x02] = { "INVALID_GUEST_STATE", "the guest is not in a state that allows the command" },
	[0x03] = { "INVALID_CONFIG", "the platform configuration is invalid" },
	[0x04] = { "INVALID_LENGTH", "a buffer is too small or a length is not allowed" },
	[0x05] = { "ALREADY_OWNED", "the platform is already owned" },
	[0x06] = { "INVALID_CERTIFICATE", "a certificate is malformed" },
	[0x07] = { "POLICY_FAILURE", "the guest policy does not allow the command" },
	[0x08] = { "INACTIVE", "the guest is not active (no ASID bound)" },
	[0x09] = { "INVALID_ADDRESS", "an address is invalid or misaligned" },
	[0x0A] = { "BAD_SIGNATURE", "a signature did not verify" },
	[0x0B] = { "BAD_MEASUREMENT", "a measurement or MAC did not verify" },
	[0x0C] = { "ASID_OWNED", "the ASID is already owned" },
	[0x0D] = { "INVALID_ASID", "the ASID is invalid" },
	[0x0E] = { "WBINVD_REQUIRED", "a WBINVD must be done first" },
	[0x0F] = { "DF_FLUSH_REQUIRED", "a DF_FLUSH must be done first" },
	[0x10] = { "INVALID_GUEST", "the guest handle is invalid" },
	[0x11] = { "INVALID_COMMAND", "the command is not recognised" },
	[0x12] = { "ACTIVE", "the guest is active" },
	[0x13] = { "HWERROR_PLATFORM", "a hardware error occurred; the platform state is unknown" },
	[0x14] = { "HWERROR_UNSAFE", "a hardware error occurred; the platform is unsafe" },
	[0x15] = { "UNSUPPORTED", "the feature is not supported" },
	[0x16] = { "INVALID_PARAM", "a parameter is invalid" },
	[0x17] = { "RESOURCE_LIMIT", "the firmware ran out of a resource" },
	[0x18] = { "SECURE_DATA_INVALID", "the firmware's secure data failed its integrity check" },
	[0x19] = { "INVALID_PAGE_SIZE", "the page size is invalid (SNP)" },
	[0x1A] = { "INVALID_PAGE_STATE", "the page is not in the required RMP state (SNP)" },
	[0x1B] = { "INVALID_MDATA_ENTRY", "the metadata entry is invalid (SNP)" },
	[0x1C] = { "INVALID_PAGE_OWNER", "the page is owned by another guest (SNP)" },
	[0x1D] = { "AEAD_OFLOW", "the AEAD nonce would overflow (SNP)" },
	[0x1F] = { "RING_BUFFER_EXIT", "the ring-buffer command loop exited" },
	[0x20] = { "RMP_INIT_REQUIRED", "the RMP must be initialised first (SNP)" },
	[0x21] = { "BAD_SVN", "the security version number is not acceptable" },
	[0x22] = { "BAD_VERSION", "the version is not acceptable" },
	[0x23] = { "SHUTDOWN_REQUIRED", "the platform must be shut down first" },
	[0x24] = { "UPDATE_FAILED", "the firmware update failed" },
	[0x25] = { "RESTORE_REQUIRED", "a restore is required" },
	[0x26] = { "RMP_INITIALIZATION_FAILED", "the RMP initialisation failed" },
	[0x27] = { "INVALID_KEY", "the key is invalid" },
};

static const struct status_text *status_text(uint32_t status)
{
	if (status >= sizeof(status_texts) / sizeof(status_texts[0]) || !status_texts[status].name)
		return NULL;
	return &status_texts[status];
}

const char *sevmig_fw_status_name(uint32_t status)
{
	if (status == SEVMIG_FW_STATUS_NONE)
		return "NONE";
	const struct status_text *t = status_text(status);
	return t ? t->name : "UNKNOWN";
}

const char *sevmig_fw_status_description(uint32_t status)
{
	if (status == SEVMIG_FW_STATUS_NONE)
		return "the firmware was not called";
	const struct status_text *t = status_text(status);
	return t ? t->description : "a status code the SEV API does not define";
}

const char *sevmig_guest_state_name(uint32_t state)
{
	static const char *const names[] = { "UNINIT",	"LUPDATE", "LSECRET", "RUNNING",
					     "SUPDATE", "RUPDATE", "SENT" };
	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "UNKNOWN";
}

/* SPDX-License-Identifier: MIT */
/* The public firmware commands: backend-neutral checks, then the backend. */
#include "fw/fw_backend.h"
#include "fw/fw_caps.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sevmig__fw_new(const struct sevmig_fw_ops *ops, void *priv, unsigned max_threads,
		   struct sevmig_fw **out)
{
	struct sevmig_fw *fw = calloc(1, sizeof(*fw));
	if (!fw)
		return -ENOMEM;
	if (pthread_mutex_init(&fw->msg_lock, NULL)) {
		free(fw);
		return -ENOMEM;
	}
	fw->ops = ops;
	fw->priv = priv;
	fw->max_threads = max_threads ? max_threads : 1;
	*out = fw;
	return 0;
}

int sevmig__fw_fail(struct sevmig_fw *fw, int code, uint32_t status, const char *fmt, ...)
{
	char msg[sizeof(fw->last_error)], suffix[64] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The firmware's answer is the part a reader needs most: the message
	 * gives way to it when both do not fit. */
	if (status != SEVMIG_FW_STATUS_NONE)
		snprintf(suffix, sizeof(suffix), " (firmware status 0x%x %s)", status,
			 sevmig_fw_status_name(status));
	int room = (int)(sizeof(fw->last_error) - strlen(suffix) - 1);
	pthread_mutex_lock(&fw->msg_lock);
	snprintf(fw->last_error, sizeof(fw->last_error), "%.*s%s", room, msg, suffix);
	pthread_mutex_unlock(&fw->msg_lock);
	return code;
}

void sevmig_fw_free(struct sevmig_fw *fw)
{
	if (!fw)
		return;
	if (fw->ops && fw->ops->destroy)
		fw->ops->destroy(fw);
	pthread_mutex_destroy(&fw->msg_lock);
	free(fw);
}

const char *sevmig_fw_backend_name(const struct sevmig_fw *fw)
{
	return fw->ops->name;
}

bool sevmig__fw_in_place(const struct sevmig_fw *fw)
{
	return fw->ops->in_place;
}

unsigned sevmig_fw_max_threads(const struct sevmig_fw *fw)
{
	return fw->max_threads;
}

const char *sevmig_fw_last_error(const struct sevmig_fw *fw)
{
	return fw->last_error;
}

/* Every command starts the same way: no status yet; an unset op means the
 * backend does not have the command. */
#define FW_BEGIN(fw, st, op, what)                                       \
	uint32_t st_local_;                                              \
	if (!(st))                                                       \
		(st) = &st_local_;                                       \
	*(st) = SEVMIG_FW_STATUS_NONE;                                   \
	if (!(fw))                                                       \
		return -EINVAL;                                          \
	if (!(fw)->ops->op)                                              \
	return sevmig__fw_fail((fw), -EOPNOTSUPP, SEVMIG_FW_STATUS_NONE, \
			       "%s is not available with the %s backend", what, (fw)->ops->name)

int sevmig_fw_send_start(struct sevmig_fw *fw, struct sevmig_fw_send_start *p, uint32_t *st)
{
	FW_BEGIN(fw, st, send_start, "SEND_START");
	if (!p)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "SEND_START: no parameters");
	if (p->session && (!p->pdh_cert || !p->pdh_cert_len))
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "SEND_START: the target's PDH certificate is missing");
	return fw->ops->send_start(fw, p, st);
}

static int check_send_update(struct sevmig_fw *fw, const char *what,
			     const struct sevmig_fw_send_update *p, bool need_guest)
{
	if (!p)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE, "%s: no parameters",
				       what);
	if (!p->hdr || !p->trans)
		return 0; /* a size query */
	if (need_guest && !p->guest)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE, "%s: no guest buffer",
				       what);
	return 0;
}

int sevmig_fw_send_update_data(struct sevmig_fw *fw, struct sevmig_fw_send_update *p, uint32_t *st)
{
	FW_BEGIN(fw, st, send_update_data, "SEND_UPDATE_DATA");
	SEVMIG__TRY(check_send_update(fw, "SEND_UPDATE_DATA", p, true));
	return fw->ops->send_update_data(fw, p, st);
}

int sevmig_fw_send_update_vmsa(struct sevmig_fw *fw, uint32_t vcpu, struct sevmig_fw_send_update *p,
			       uint32_t *st)
{
	FW_BEGIN(fw, st, send_update_vmsa, "SEND_UPDATE_VMSA");
	SEVMIG__TRY(check_send_update(fw, "SEND_UPDATE_VMSA", p, false));
	return fw->ops->send_update_vmsa(fw, vcpu, p, st);
}

int sevmig_fw_send_finish(struct sevmig_fw *fw, uint32_t *st)
{
	FW_BEGIN(fw, st, send_finish, "SEND_FINISH");
	return fw->ops->send_finish(fw, st);
}

int sevmig_fw_send_cancel(struct sevmig_fw *fw, uint32_t *st)
{
	FW_BEGIN(fw, st, send_cancel, "SEND_CANCEL");
	return fw->ops->send_cancel(fw, st);
}

int sevmig_fw_receive_start(struct sevmig_fw *fw, struct sevmig_fw_receive_start *p, uint32_t *st)
{
	FW_BEGIN(fw, st, receive_start, "RECEIVE_START");
	if (!p || !p->pdh_cert || !p->pdh_cert_len || !p->session || !p->session_len)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "RECEIVE_START: the source's PDH certificate and the "
				       "session blob are both required");
	return fw->ops->receive_start(fw, p, st);
}

static int check_receive_update(struct sevmig_fw *fw, const char *what,
				const struct sevmig_fw_receive_update *p, bool need_guest)
{
	if (!p || !p->hdr || !p->hdr_len || !p->trans || !p->trans_len || !p->guest_len ||
	    (need_guest && !p->guest))
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "%s: header, ciphertext and guest buffer are all required",
				       what);
	return 0;
}

int sevmig_fw_receive_update_data(struct sevmig_fw *fw, const struct sevmig_fw_receive_update *p,
				  uint32_t *st)
{
	FW_BEGIN(fw, st, receive_update_data, "RECEIVE_UPDATE_DATA");
	SEVMIG__TRY(check_receive_update(fw, "RECEIVE_UPDATE_DATA", p, true));
	return fw->ops->receive_update_data(fw, p, st);
}

int sevmig_fw_receive_update_vmsa(struct sevmig_fw *fw, uint32_t vcpu,
				  const struct sevmig_fw_receive_update *p, uint32_t *st)
{
	FW_BEGIN(fw, st, receive_update_vmsa, "RECEIVE_UPDATE_VMSA");
	SEVMIG__TRY(check_receive_update(fw, "RECEIVE_UPDATE_VMSA", p, false));
	return fw->ops->receive_update_vmsa(fw, vcpu, p, st);
}

int sevmig_fw_receive_finish(struct sevmig_fw *fw, uint32_t *st)
{
	FW_BEGIN(fw, st, receive_finish, "RECEIVE_FINISH");
	return fw->ops->receive_finish(fw, st);
}

int sevmig_fw_guest_status(struct sevmig_fw *fw, struct sevmig_fw_guest_status *out, uint32_t *st)
{
	FW_BEGIN(fw, st, guest_status, "GUEST_STATUS");
	if (!out)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "GUEST_STATUS: no place for the result");
	return fw->ops->guest_status(fw, out, st);
}

int sevmig_fw_dbg_decrypt(struct sevmig_fw *fw, const void *guest, void *dst, uint32_t len,
			  uint32_t *st)
{
	FW_BEGIN(fw, st, dbg_decrypt, "DBG_DECRYPT");
	if (!guest || !dst || !len)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "DBG_DECRYPT: empty or missing buffer");
	return fw->ops->dbg_decrypt(fw, guest, dst, len, st);
}

int sevmig_fw_dbg_encrypt(struct sevmig_fw *fw, const void *src, void *guest, uint32_t len,
			  uint32_t *st)
{
	FW_BEGIN(fw, st, dbg_encrypt, "DBG_ENCRYPT");
	if (!guest || !src || !len)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "DBG_ENCRYPT: empty or missing buffer");
	return fw->ops->dbg_encrypt(fw, src, guest, len, st);
}

int sevmig_fw_platform_status(struct sevmig_fw *fw, struct sevmig_fw_platform_status *out,
			      uint32_t *st)
{
	FW_BEGIN(fw, st, platform_status, "PLATFORM_STATUS");
	if (!out)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "PLATFORM_STATUS: no place for the result");
	memset(out, 0, sizeof(*out));
	return fw->ops->platform_status(fw, out, st);
}

int sevmig_fw_pdh_cert_export(struct sevmig_fw *fw, void *pdh, uint32_t *pdh_len, void *chain,
			      uint32_t *chain_len, uint32_t *st)
{
	FW_BEGIN(fw, st, pdh_cert_export, "PDH_CERT_EXPORT");
	if (!pdh_len || !chain_len)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "PDH_CERT_EXPORT: the length pointers are required");
	return fw->ops->pdh_cert_export(fw, pdh, pdh_len, chain, chain_len, st);
}

int sevmig_fw_get_id(struct sevmig_fw *fw, void *id, uint32_t *id_len, uint32_t *st)
{
	FW_BEGIN(fw, st, get_id, "GET_ID");
	if (!id_len)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "GET_ID: the length pointer is required");
	return fw->ops->get_id(fw, id, id_len, st);
}

/* SPDX-License-Identifier: MIT */
/*
 * The seam between <sevmig/fw.h> and a firmware backend (kvm, soft). The
 * public wrappers in fw.c check what is backend-neutral (NULL pointers,
 * lengths the SEV API fixes), reset the status and the message, and call
 * the backend; a backend checks its own rules and fills the message with
 * sevmig__fw_fail().
 *
 * Every op returns 0 or a negative errno and writes *fw_status (never NULL
 * here: fw.c passes its own) only when the firmware answered.
 */
#ifndef SEVMIG_FW_BACKEND_H
#define SEVMIG_FW_BACKEND_H

#include <pthread.h>

#include <sevmig/fw.h>

#include "util/error.h"

struct sevmig_fw_ops {
	const char *name;
	/* RECEIVE_UPDATE_DATA writes the guest's own pages (hardware): its
	 * output cannot be a buffer copied elsewhere afterwards. */
	bool in_place;
	int (*send_start)(struct sevmig_fw *fw, struct sevmig_fw_send_start *p, uint32_t *st);
	int (*send_update_data)(struct sevmig_fw *fw, struct sevmig_fw_send_update *p,
				uint32_t *st);
	int (*send_update_vmsa)(struct sevmig_fw *fw, uint32_t vcpu,
				struct sevmig_fw_send_update *p, uint32_t *st);
	int (*send_finish)(struct sevmig_fw *fw, uint32_t *st);
	int (*send_cancel)(struct sevmig_fw *fw, uint32_t *st);
	int (*receive_start)(struct sevmig_fw *fw, struct sevmig_fw_receive_start *p, uint32_t *st);
	int (*receive_update_data)(struct sevmig_fw *fw, const struct sevmig_fw_receive_update *p,
				   uint32_t *st);
	int (*receive_update_vmsa)(struct sevmig_fw *fw, uint32_t vcpu,
				   const struct sevmig_fw_receive_update *p, uint32_t *st);
	int (*receive_finish)(struct sevmig_fw *fw, uint32_t *st);
	int (*guest_status)(struct sevmig_fw *fw, struct sevmig_fw_guest_status *out, uint32_t *st);
	int (*dbg_decrypt)(struct sevmig_fw *fw, const void *guest, void *dst, uint32_t len,
			   uint32_t *st);
	int (*dbg_encrypt)(struct sevmig_fw *fw, const void *src, void *guest, uint32_t len,
			   uint32_t *st);
	int (*platform_status)(struct sevmig_fw *fw, struct sevmig_fw_platform_status *out,
			       uint32_t *st);
	int (*pdh_cert_export)(struct sevmig_fw *fw, void *pdh, uint32_t *pdh_len, void *chain,
			       uint32_t *chain_len, uint32_t *st);
	int (*get_id)(struct sevmig_fw *fw, void *id, uint32_t *id_len, uint32_t *st);
	/* Release the backend's state (wiping any secret); fw itself is freed
	 * by fw.c. */
	void (*destroy)(struct sevmig_fw *fw);
};

struct sevmig_fw {
	const struct sevmig_fw_ops *ops;
	void *priv;	      /* the backend's state */
	unsigned max_threads; /* see sevmig_fw_max_threads() */
	/* Written by the command that failed, under msg_lock because the
	 * UPDATE_DATA commands may run on several threads at once. */
	pthread_mutex_t msg_lock;
	char last_error[256];
};

/* A new handle around a backend: -ENOMEM, or 0 with *out set. */
int sevmig__fw_new(const struct sevmig_fw_ops *ops, void *priv, unsigned max_threads,
		   struct sevmig_fw **out);

/*
 * Record the handle's message and return `code`. When the firmware answered,
 * `status` is its code and the message gets its name appended.
 */
int sevmig__fw_fail(struct sevmig_fw *fw, int code, uint32_t status, const char *fmt, ...)
    SEVMIG__PRINTF(4, 5);

#endif

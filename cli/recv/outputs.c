/* SPDX-License-Identifier: MIT */
/* sevmig-recv's outputs (outputs.h). */
#include "recv/outputs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/guestmem.h"
#include "common/transport.h"
#include "common/xfer.h"

/* Bytes written between two background flushes: measured on a virtual
 * disk, 64 MiB left the commit's fsync 0.07 s of 0.6 (128 MiB: 0.16 s). */
#define FLUSH_EVERY ((uint64_t)64 << 20)

static int write_now(void *arg, size_t file, uint64_t at, const uint8_t *data, size_t len);

static int add_file(struct outputs *out, const char *path, size_t *idx)
{
	char *key = cli_path_key(path);
	if (!key)
		return cli_error("%s: %s", path, strerror(errno));
	for (size_t i = 0; i < out->nfiles; i++) {
		if (!strcmp(out->keys[i], key)) {
			free(key);
			*idx = i;
			return 0;
		}
	}
	struct cli_outfile *f = realloc(out->files, (out->nfiles + 1) * sizeof(*f));
	char **k = f ? realloc(out->keys, (out->nfiles + 1) * sizeof(*k)) : NULL;
	if (f)
		out->files = f;
	if (!k) {
		free(key);
		return cli_error("out of memory");
	}
	out->keys = k;
	out->files[out->nfiles] = (struct cli_outfile){ .fd = -1 };
	out->keys[out->nfiles] = key;
	*idx = out->nfiles++;
	return 0;
}

/* Slots of file f cover all of its current st_size bytes: nothing to keep. */
static bool slots_cover(const struct outputs *out, size_t f, uint64_t fsize)
{
	uint64_t covered = 0;
	/* Few slots per file: repeated scans find the slot starting where the
	 * covered prefix ends. */
	for (bool grew = true; grew && covered < fsize;) {
		grew = false;
		for (size_t i = 0; i < out->nslots; i++) {
			const struct slot_out *s = &out->slots[i];
			if (s->file == f && s->offset <= covered && s->offset + s->size > covered) {
				covered = s->offset + s->size;
				grew = true;
			}
		}
	}
	return covered >= fsize;
}

/* Memslot layout: the --memory options must be the stream's memslots. */
static int match_layout(const struct opts *o, const struct sevmig_stream_header *h,
			struct outputs *out)
{
	bool ok = o->x.nmem == h->nslots;
	for (size_t i = 0; ok && i < h->nslots; i++) {
		bool found = false;
		for (size_t j = 0; j < o->x.nmem && !found; j++)
			found = o->x.mem[j].gpa >> SEVMIG_PAGE_SHIFT == h->slots[i].gfn &&
				o->x.mem[j].size >> SEVMIG_PAGE_SHIFT == h->slots[i].npages;
		ok = found;
	}
	if (!ok) {
		char lay[400];
		size_t off = 0;
		for (uint32_t i = 0; i < h->nslots && off < sizeof(lay) - 40; i++)
			off += (size_t)snprintf(lay + off, sizeof(lay) - off,
						"%s0x%" PRIx64 ":0x%" PRIx64, i ? ", " : "",
						h->slots[i].gfn << SEVMIG_PAGE_SHIFT,
						h->slots[i].npages << SEVMIG_PAGE_SHIFT);
		return cli_error("the --memory options do not match the stream's memory layout "
				 "(GPA:SIZE of its %u memslot%s: %s%s)",
				 h->nslots, h->nslots == 1 ? "" : "s", lay,
				 off >= sizeof(lay) - 40 ? ", ..." : "");
	}
	for (size_t i = 0; i < o->x.nmem; i++) {
		out->slots[i] = (struct slot_out){ .gpa = o->x.mem[i].gpa,
						   .size = o->x.mem[i].size,
						   .offset = o->x.mem[i].offset };
		if (add_file(out, o->x.mem[i].file, &out->slots[i].file))
			return CLI_ERR;
	}
	return 0;
}

static int dir_layout(const struct opts *o, const struct sevmig_stream_header *h,
		      struct outputs *out)
{
	if (mkdir(o->memory_dir, 0777) == 0) {
		out->made_dir = strdup(o->memory_dir);
	} else if (errno != EEXIST) {
		return cli_error("%s: cannot make the directory: %s", o->memory_dir,
				 strerror(errno));
	}
	for (uint32_t i = 0; i < h->nslots; i++) {
		char *path;
		uint64_t gpa = h->slots[i].gfn << SEVMIG_PAGE_SHIFT;
		if (asprintf(&path, "%s/slot%u-0x%" PRIx64 ".mem", o->memory_dir, i, gpa) < 0)
			return cli_error("out of memory");
		out->slots[i] =
		    (struct slot_out){ .gpa = gpa,
				       .size = h->slots[i].npages << SEVMIG_PAGE_SHIFT };
		int rc = add_file(out, path, &out->slots[i].file);
		free(path);
		if (rc)
			return rc;
	}
	return 0;
}

/* Temporary files sized and mapped, one region per memslot. */
/*
 * The receiver is told its memory reads as zeros (it then leaves the first
 * pass's zero pages unwritten, and the file sparse there): true of a new
 * file; in a file kept for what lies outside the memslots, the memslots'
 * ranges are made so. Punched holes come back as unwritten blocks from the
 * fallocate that follows, so the disk space stays reserved.
 */
static int zero_slots(struct outputs *out, size_t f)
{
	struct cli_outfile *of = &out->files[f];
	for (size_t i = 0; i < out->nslots; i++) {
		const struct slot_out *s = &out->slots[i];
		if (s->file != f || !s->size)
			continue;
		if (!fallocate(of->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)s->offset,
			       (off_t)s->size) &&
		    !fallocate(of->fd, 0, (off_t)s->offset, (off_t)s->size))
			continue;
		/* No hole punching here: write the zeros. */
		static const uint8_t zeros[1 << 16];
		for (uint64_t at = 0; at < s->size;) {
			size_t n =
			    s->size - at < sizeof(zeros) ? (size_t)(s->size - at) : sizeof(zeros);
			ssize_t k = pwrite(of->fd, zeros, n, (off_t)(s->offset + at));
			if (k <= 0)
				return cli_error("%s: cannot clear bytes %" PRIu64 "-%" PRIu64
						 ": %s",
						 out->keys[f], s->offset, s->offset + s->size,
						 k < 0 ? strerror(errno) : "short write");
			at += (uint64_t)k;
		}
	}
	return 0;
}

int recv_outputs_prepare(const struct opts *o, const struct sevmig_stream_header *h,
			 struct outputs *out, struct sevmig_mem_region *reg)
{
	out->slots = calloc(h->nslots, sizeof(*out->slots));
	if (!out->slots)
		return cli_error("out of memory");
	out->nslots = h->nslots;
	if (o->x.nmem ? match_layout(o, h, out) : dir_layout(o, h, out))
		return CLI_ERR;
	for (size_t f = 0; f < out->nfiles; f++) {
		const char *path = out->keys[f];
		uint64_t need = 0, have = 0;
		for (size_t i = 0; i < out->nslots; i++)
			if (out->slots[i].file == f &&
			    out->slots[i].offset + out->slots[i].size > need)
				need = out->slots[i].offset + out->slots[i].size;
		struct stat st;
		bool exists = stat(path, &st) == 0;
		if (exists)
			have = (uint64_t)st.st_size;
		bool keep = exists && !slots_cover(out, f, have);
		if (cli_outfile_open(&out->files[f], path, 0600, keep))
			return CLI_ERR;
		uint64_t size = keep && have > need ? have : need;
		if (ftruncate(out->files[f].fd, (off_t)size))
			return cli_error("%s: cannot make it %" PRIu64 " bytes: %s", path, size,
					 strerror(errno));
		/* Every block allocated before the file is mapped: a full disk
		 * or a quota is an error here, never a SIGBUS in the middle of
		 * the migration. (glibc writes zeros where the file system has
		 * no fallocate.) */
		int e = size ? posix_fallocate(out->files[f].fd, 0, (off_t)size) : 0;
		if (e)
			return cli_error("%s: cannot allocate %" PRIu64 " bytes: %s", path, size,
					 strerror(e));
		if (keep && zero_slots(out, f))
			return CLI_ERR;
	}
	out->wfd = malloc((out->nfiles ? out->nfiles : 1) * sizeof(*out->wfd));
	if (!out->wfd)
		return cli_error("out of memory");
	for (size_t f = 0; f < out->nfiles; f++)
		out->wfd[f] = -1;
	for (size_t f = 0; f < out->nfiles; f++) {
		/* Straight to the disk, past the page cache: a second open file
		 * description of the same inode (through /proc/self/fd, not the
		 * temporary's name, which someone else in its directory could
		 * replace meanwhile). Where there is no /proc or the file system
		 * refuses O_DIRECT, the buffered descriptor does the writing. */
		char self[64];
		snprintf(self, sizeof(self), "/proc/self/fd/%d", out->files[f].fd);
		out->wfd[f] = open(self, O_WRONLY | O_DIRECT | O_CLOEXEC);
	}
	/* Through the O_DIRECT descriptors where there are some: the commit's
	 * fsync, on the other one, then still sees any write-back error
	 * itself. Without the flusher the commit only takes longer. */
	out->flush_fds = malloc((out->nfiles ? out->nfiles : 1) * sizeof(*out->flush_fds));
	for (size_t f = 0; out->flush_fds && f < out->nfiles; f++)
		out->flush_fds[f] = out->wfd[f] >= 0 ? out->wfd[f] : out->files[f].fd;
	if (out->flush_fds && out->nfiles)
		flusher_start(&out->flusher, out->flush_fds, out->nfiles, FLUSH_EVERY);
	/* Writer threads for the direct writes: twice the CPUs, so that the
	 * disk has several writes at once. Without them the receiver's
	 * workers write, and wait. */
	writer_start(&out->writer, 2 * cli_default_threads(), write_now, out);
	for (size_t i = 0; i < out->nslots; i++)
		reg[i] = (struct sevmig_mem_region){ .gpa = out->slots[i].gpa,
						     .size = out->slots[i].size };
	return 0;
}

/* Zeros for runs the file system cannot zero itself; aligned for O_DIRECT. */
static _Alignas(4096) const uint8_t zeros_1m[1 << 20];

static int write_range(int fd, uint64_t at, const uint8_t *data, size_t len)
{
	/* Zeros: the file system marks the range (its blocks stay allocated),
	 * else they are written. */
	if (!data &&
	    !fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)at, (off_t)len))
		return 0;
	for (size_t done = 0; done < len;) {
		size_t n = len - done;
		if (!data && n > sizeof(zeros_1m))
			n = sizeof(zeros_1m);
		ssize_t k = pwrite(fd, data ? data + done : zeros_1m, n, (off_t)(at + done));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		done += (size_t)k;
	}
	return 0;
}

/* One write (data NULL: zeros) to output file `file`, as the writer
 * threads make it; the first failure is printed, naming the file and the
 * bytes. */
static int write_now(void *arg, size_t file, uint64_t at, const uint8_t *data, size_t len)
{
	struct outputs *out = arg;
	int direct = out->wfd[file], fd = direct >= 0 ? direct : out->files[file].fd;
	int rc = write_range(fd, at, data, len);
	/* A device whose blocks are larger than a page refuses page-sized
	 * direct writes: those go through the page cache. */
	if (rc == -EINVAL && direct >= 0)
		rc = write_range(out->files[file].fd, at, data, len);
	if (rc == 0 && data)
		flusher_written(&out->flusher, len);
	if (rc < 0 && !atomic_exchange(&out->write_failed, true))
		cli_error("%s: cannot write bytes %" PRIu64 "-%" PRIu64 ": %s", out->keys[file], at,
			  at + len, strerror(-rc));
	return rc;
}

int recv_outputs_write(void *arg, size_t region, uint64_t offset, const void *data, size_t len)
{
	struct outputs *out = arg;
	if (region >= out->nslots || offset > out->slots[region].size ||
	    len > out->slots[region].size - offset)
		return -EINVAL; /* the receiver checked the layout: never */
	const struct slot_out *s = &out->slots[region];
	/* Buffered writes return as soon as the page cache has the bytes:
	 * only the direct ones are worth a copy and a thread. */
	if (out->wfd[s->file] < 0)
		return write_now(out, s->file, s->offset + offset, data, len);
	return writer_write(&out->writer, s->file, s->offset + offset, data, len);
}

void recv_outputs_close_writers(struct outputs *out)
{
	size_t bad;
	(void)writer_stop(&out->writer);   /* the commit asks again */
	flusher_stop(&out->flusher, &bad); /* before its descriptors close */
	for (size_t f = 0; out->wfd && f < out->nfiles; f++) {
		if (out->wfd[f] >= 0)
			close(out->wfd[f]);
		out->wfd[f] = -1;
	}
}

int recv_outputs_vmsa_dest(void *arg, uint32_t vcpu, void **guest)
{
	struct outputs *out = arg;
	if (!out->vmsa_dir) {
		out->vmsa_refused = true;
		return -ENOENT;
	}
	for (size_t i = 0; i < out->nvmsa; i++)
		if (out->vmsa[i].vcpu == vcpu)
			return -EEXIST; /* the reader refuses repeats first */
	struct vmsa_buf *v = realloc(out->vmsa, (out->nvmsa + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	out->vmsa = v;
	v[out->nvmsa].vcpu = vcpu;
	v[out->nvmsa].page = calloc(1, SEVMIG_VMSA_SIZE);
	if (!v[out->nvmsa].page)
		return -ENOMEM;
	*guest = v[out->nvmsa++].page;
	return 0;
}

static void discard_all(struct outputs *out, size_t nvmsa_files, struct cli_outfile *vf)
{
	recv_outputs_close_writers(out);
	for (size_t i = 0; i < out->nfiles; i++)
		cli_outfile_discard(&out->files[i]);
	for (size_t i = 0; i < nvmsa_files; i++)
		cli_outfile_discard(&vf[i]);
	cli_outfile_discard(&out->pstate);
	if (out->made_dir)
		rmdir(out->made_dir);
}

void recv_outputs_free(struct outputs *out)
{
	for (size_t i = 0; i < out->nfiles; i++)
		free(out->keys[i]);
	for (size_t i = 0; i < out->nvmsa; i++)
		free(out->vmsa[i].page);
	free(out->vmsa);
	free(out->keys);
	free(out->files);
	free(out->wfd);
	free(out->flush_fds);
	free(out->slots);
	free(out->made_dir);
}

static int write_all_fd(struct cli_outfile *f, const void *buf, size_t len)
{
	struct cli_chan ch;
	cli_chan_init(&ch, f->fd, f->path, -1);
	if (cli_chan_write(&ch, buf, len) == 0)
		return 0;
	char why[160];
	return cli_error("%s: %s", f->path, cli_chan_describe(&ch, why, sizeof(why)));
}

/* --pstate-out names a file (not "-", standard output). */
static bool pstate_file(const struct opts *o)
{
	return o->pstate_out && strcmp(o->pstate_out, "-");
}

/* The page state in the form asked for: 0 and a malloc'd buffer, or CLI_ERR. */
static int encode_pstate(const struct opts *o, const struct sevmig_pstate *ps, void **buf,
			 size_t *len)
{
	/* Binary files are compressed when that makes them smaller, as
	 * sevmig-dump writes them. */
	SEVMIG_OPTS(sevmig_pstate_save_opts, so, .zstd_level = 3);
	int rc = o->text_pstate ? sevmig_pstate_format_text(ps, (char **)buf, len)
				: sevmig_pstate_serialize(ps, &so, buf, len);
	if (rc)
		return cli_error("%s: encoding the page state failed: %s", o->pstate_out,
				 sevmig_strerror(rc));
	return 0;
}

static int write_pstate(const struct opts *o, const struct sevmig_pstate *ps, struct outputs *out)
{
	void *buf;
	size_t len;
	if (encode_pstate(o, ps, &buf, &len))
		return CLI_ERR;
	int rc = cli_outfile_open(&out->pstate, o->pstate_out, 0666, false);
	if (!rc)
		rc = write_all_fd(&out->pstate, buf, len);
	free(buf);
	return rc;
}

/* All or nothing up to the renames. */
int recv_outputs_commit(const struct opts *o, const struct sevmig_pstate *ps, struct outputs *out)
{
	recv_outputs_close_writers(out);
	struct cli_outfile *vf = calloc(out->nvmsa ? out->nvmsa : 1, sizeof(*vf));
	size_t nvf = 0, bad;
	int e = flusher_stop(&out->flusher, &bad), rc = vf ? 0 : cli_error("out of memory");
	if (!rc && writer_stop(&out->writer))
		rc = CLI_ERR; /* the failed write was printed */
	if (!rc && e)
		rc = cli_error("%s: writing it failed: %s (the file is unchanged)",
			       out->files[bad].path, strerror(e));
	if (!rc && pstate_file(o))
		rc = write_pstate(o, ps, out);
	for (size_t i = 0; i < out->nvmsa && !rc; i++) {
		char *path;
		if (asprintf(&path, "%s/vcpu%u.vmsa", out->vmsa_dir, out->vmsa[i].vcpu) < 0) {
			rc = cli_error("out of memory");
			break;
		}
		vf[nvf].fd = -1;
		rc = cli_outfile_open(&vf[nvf], path, 0600, false);
		free(path);
		if (!rc) {
			nvf++;
			rc = write_all_fd(&vf[nvf - 1], out->vmsa[i].page, SEVMIG_VMSA_SIZE);
		}
	}
	for (size_t i = 0; i < out->nfiles && !rc; i++)
		rc = cli_outfile_sync(&out->files[i]);
	for (size_t i = 0; i < nvf && !rc; i++)
		rc = cli_outfile_sync(&vf[i]);
	if (!rc && pstate_file(o))
		rc = cli_outfile_sync(&out->pstate);
	if (rc) {
		discard_all(out, nvf, vf);
		free(vf);
		return CLI_ERR;
	}
	for (size_t i = 0; i < out->nfiles && !rc; i++)
		rc = cli_outfile_commit(&out->files[i]);
	for (size_t i = 0; i < nvf && !rc; i++)
		rc = cli_outfile_commit(&vf[i]);
	if (!rc && pstate_file(o))
		rc = cli_outfile_commit(&out->pstate);
	if (!rc && o->pstate_out && !pstate_file(o)) {
		/* Standard output: written once everything else is in place. */
		void *buf;
		size_t len;
		rc = encode_pstate(o, ps, &buf, &len);
		if (!rc) {
			rc = cli_write_file("-", buf, len);
			free(buf);
		}
	}
	if (rc) {
		/* A rename failed after others worked: say so, it is not atomic. */
		discard_all(out, nvf, vf);
		cli_error("some outputs were replaced before the failure above");
	}
	free(vf);
	return rc;
}

void recv_outputs_discard(struct outputs *out)
{
	discard_all(out, 0, NULL);
}

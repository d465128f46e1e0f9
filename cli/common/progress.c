/* SPDX-License-Identifier: MIT */
/* The progress line and the end-of-run summary of sevmig-send and
 * sevmig-recv. */
#include "common/progress.h"

#include <inttypes.h>
#include <string.h>

#include "common/cli.h"
#include "common/signals.h"

/* ---- progress and summary ---------------------------------------------------- */

void cli_progress_init(struct cli_progress *p, bool show)
{
	memset(p, 0, sizeof(*p));
	p->show = show;
	p->start = cli_now();
}

double cli_progress_elapsed(const struct cli_progress *p)
{
	return cli_now() - p->start;
}

static uint64_t pages_done(const struct sevmig_stream_counts *c)
{
	return c->enc_pages + c->plain_pages + c->zero_pages;
}

int cli_progress_update(void *arg, const struct sevmig_stream_counts *c)
{
	struct cli_progress *p = arg;
	if (cli_interrupted())
		return 1;
	if (!p->show || !p->total_pages)
		return 0;
	double t = cli_now();
	if (t - p->last < 0.1)
		return 0;
	p->last = t;
	double el = t - p->start;
	uint64_t done = pages_done(c), total = p->total_pages;
	if (done > total)
		done = total;
	double mbs = el > 0 ? (double)done * SEVMIG_PAGE_SIZE / el / 1e6 : 0;
	fprintf(stderr, "\r%s: %" PRIu64 "/%" PRIu64 " pages (%u%%), %.1f MB/s", cli_prog(), done,
		total, (unsigned)(done * 100 / total), mbs);
	if (done && done < total) {
		double left = el * (double)(total - done) / (double)done;
		fprintf(stderr, ", %u:%02u left", (unsigned)left / 60, (unsigned)left % 60);
	}
	fputs("\033[K", stderr);
	p->drawn = true;
	return 0;
}

void cli_progress_clear(struct cli_progress *p)
{
	if (p->drawn)
		fputs("\r\033[K", stderr);
	p->drawn = false;
}

void cli_uuid_format(const uint8_t u[16], char out[37])
{
	char *o = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		o += sprintf(o, "%02x", u[i]);
	}
}

void cli_summary_print(FILE *f, const struct cli_summary *s, bool json)
{
	const struct sevmig_stream_counts *c = &s->counts;
	char uuid[37] = "";
	if (s->uuid)
		cli_uuid_format(s->uuid, uuid);
	double sec = s->seconds > 1e-9 ? s->seconds : 1e-9;
	double guest_mb = (double)pages_done(c) * SEVMIG_PAGE_SIZE / 1e6;
	double stream_mb = (double)c->bytes / 1e6;
	struct sevmig_pstate_stats st = { 0 };
	if (s->ps)
		sevmig_pstate_stats(s->ps, &st);
	if (json) {
		fprintf(f, "{\"tool\":");
		cli_json_string(f, s->tool);
		fprintf(f, ",\"stream\":");
		cli_json_string(f, s->stream);
		fprintf(f, ",\"uuid\":");
		cli_json_string(f, uuid);
		fprintf(f,
			",\"policy\":%" PRIu32 ",\"guest_pages\":%" PRIu64
			",\"guest_bytes\":%" PRIu64 ",\"pages\":{\"encrypted\":%" PRIu64
			",\"plain\":%" PRIu64 ",\"zero\":%" PRIu64 "},\"vmsa\":%" PRIu64
			",\"records\":%" PRIu64 ",\"rounds\":%" PRIu64 ",\"stream_bytes\":%" PRIu64
			",\"plain_wire_bytes\":%" PRIu64,
			s->policy, s->guest_pages, s->guest_pages * SEVMIG_PAGE_SIZE, c->enc_pages,
			c->plain_pages, c->zero_pages, c->vmsa, c->records, c->rounds, c->bytes,
			c->plain_wire_bytes);
		if (s->ps)
			fprintf(f,
				",\"page_state\":{\"shared_pages\":%" PRIu64
				",\"private_pages\":%" PRIu64 ",\"shared_runs\":%" PRIu64 "}",
				st.shared_pages, st.private_pages, st.shared_runs);
		if (s->integrity)
			fprintf(f, ",\"integrity\":\"%s\"", s->integrity);
		if (s->delivery)
			fprintf(f, ",\"delivery\":\"%s\"", s->delivery);
		fprintf(f, ",\"seconds\":%.3f,\"guest_mb_per_s\":%.1f,\"stream_mb_per_s\":%.1f}\n",
			s->seconds, guest_mb / sec, stream_mb / sec);
		return;
	}
	fprintf(f, "%s: %" PRIu64 " pages (%.1f MB) in %.2f s: %.1f MB/s of guest memory\n",
		s->tool, pages_done(c), guest_mb, s->seconds, guest_mb / sec);
	fprintf(f,
		"  encrypted %" PRIu64 ", plain %" PRIu64
		" (%.1f MB -> %.1f MB on the wire), zero %" PRIu64 "\n",
		c->enc_pages, c->plain_pages, (double)c->plain_pages * SEVMIG_PAGE_SIZE / 1e6,
		(double)c->plain_wire_bytes / 1e6, c->zero_pages);
	fprintf(f, "  stream %s: %.1f MB in %" PRIu64 " records + END, %.1f MB/s\n", s->stream,
		stream_mb, c->records, stream_mb / sec);
	if (s->integrity || s->delivery)
		fprintf(f, "  integrity %s; %s\n", s->integrity ? s->integrity : "-",
			!s->delivery ? "-"
			: !strcmp(s->delivery, "committed")
			    ? "committed: the target verified everything and took over"
			    : "written, not acknowledged (one-way output)");
	if (s->ps)
		fprintf(f,
			"  page state: %" PRIu64 " shared pages in %" PRIu64 " runs, %" PRIu64
			" private\n",
			st.shared_pages, st.shared_runs, st.private_pages);
	if (s->uuid)
		fprintf(f, "  migration %s, policy 0x%" PRIx32 "\n", uuid, s->policy);
}

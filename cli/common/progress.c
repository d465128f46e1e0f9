/* SPDX-License-Identifier: MIT */
/* Progress of sevmig-send and sevmig-recv (a terminal line or JSON Lines
 * events) and their end-of-run summary. */
#include "common/progress.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/schema.h"
#include "common/signals.h"

/* A bar redrawn ten times a second looks live; a program reading events
 * needs far fewer. */
#define BAR_INTERVAL_S	 0.1
#define EVENT_INTERVAL_S 1.0

static const char *const phase_names[] = {
	[CLI_PHASE_CONNECTING] = "connecting",
	[CLI_PHASE_MEMORY] = "memory",
	[CLI_PHASE_VCPUS] = "vcpus",
	[CLI_PHASE_COMMITTING] = "committing",
	[CLI_PHASE_DONE] = "done",
	[CLI_PHASE_FAILED] = "failed",
};

int cli_progress_parse(const char *val, enum cli_progress_mode *mode)
{
	static const char *const names[] = { "auto", "bar", "json", "none" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(val, names[i])) {
			*mode = (enum cli_progress_mode)i;
			return 0;
		}
	}
	return cli_error("--progress wants auto, bar, json or none, not '%s'", val);
}

void cli_progress_init(struct cli_progress *p, const char *tool, enum cli_progress_mode mode)
{
	memset(p, 0, sizeof(*p));
	p->tool = tool;
	if (mode == CLI_PROGRESS_AUTO)
		mode = isatty(STDERR_FILENO) ? CLI_PROGRESS_BAR : CLI_PROGRESS_NONE;
	p->mode = mode;
	p->phase = CLI_PHASE_CONNECTING;
	p->counts.sz = sizeof(p->counts);
	p->start = cli_now();
}

bool cli_progress_is_bar(const struct cli_progress *p)
{
	return p->mode == CLI_PROGRESS_BAR;
}

static double transfer_seconds(const struct cli_progress *p, double now)
{
	return p->transfer > 0 ? now - p->transfer : 0;
}

double cli_progress_elapsed(const struct cli_progress *p)
{
	return transfer_seconds(p, cli_now());
}

static uint64_t pages_done(const struct sevmig_stream_counts *c)
{
	return c->enc_pages + c->plain_pages + c->zero_pages;
}

/* What the bar and the events say: done and total, rate, time left. */
struct snapshot {
	uint64_t done, total; /* pages; done is at most total once total is known */
	double seconds, rate; /* guest bytes per second; 0 while unknown */
	double eta;	      /* seconds; < 0: unknown */
};

static void snapshot(const struct cli_progress *p, double now, struct snapshot *s)
{
	s->done = pages_done(&p->counts);
	s->total = p->total_pages;
	/* A later pre-copy round sends pages again: the bar is of one pass. */
	if (s->total && s->done > s->total)
		s->done = s->total;
	s->seconds = transfer_seconds(p, now);
	s->rate = s->seconds > 0 ? (double)s->done * SEVMIG_PAGE_SIZE / s->seconds : 0;
	s->eta = -1;
	if (p->phase >= CLI_PHASE_COMMITTING)
		s->eta = 0;
	else if (p->phase >= CLI_PHASE_MEMORY && s->total && s->done && s->rate > 0)
		s->eta = (double)(s->total - s->done) * SEVMIG_PAGE_SIZE / s->rate;
}

static void draw_bar(struct cli_progress *p, const struct snapshot *s)
{
	fprintf(stderr, "\r%s: %s", p->tool, phase_names[p->phase]);
	if (p->phase != CLI_PHASE_CONNECTING && s->total) {
		fprintf(stderr, " %u%% (%" PRIu64 "/%" PRIu64 " pages), %.1f MB/s",
			(unsigned)(s->done * 100 / s->total), s->done, s->total, s->rate / 1e6);
		if (s->eta > 0)
			fprintf(stderr, ", %u:%02u left", (unsigned)s->eta / 60,
				(unsigned)s->eta % 60);
		fprintf(stderr, ", round %" PRIu64, p->counts.rounds);
	}
	fputs("\033[K", stderr);
	fflush(stderr);
	p->drawn = true;
}

/* The members every event has, the summary or error of the last aside. */
static void event_members(struct cli_json *j, const struct cli_progress *p,
			  const struct snapshot *s)
{
	cli_json_kstr(j, "tool", p->tool);
	cli_json_kstr(j, "phase", phase_names[p->phase]);
	cli_json_ku64(j, "round", p->counts.rounds);
	cli_json_ku64(j, "done_pages", s->done);
	cli_json_ku64(j, "guest_pages", s->total);
	cli_json_ku64(j, "done_bytes", s->done * SEVMIG_PAGE_SIZE);
	cli_json_ku64(j, "guest_bytes", s->total * SEVMIG_PAGE_SIZE);
	cli_json_ku64(j, "stream_bytes", p->counts.bytes);
	cli_json_knum(j, "seconds", s->seconds, 3);
	cli_json_ku64(j, "guest_bytes_per_second", (uint64_t)s->rate);
	if (s->eta >= 0)
		cli_json_knum(j, "eta_seconds", s->eta, 1);
	else
		cli_json_knull(j, "eta_seconds");
}

static void summary_members(struct cli_json *j, const struct cli_summary *s);

static void emit(struct cli_progress *p, double now, const struct cli_summary *sum,
		 const char *error)
{
	p->last = now;
	struct snapshot s;
	snapshot(p, now, &s);
	if (p->mode == CLI_PROGRESS_BAR) {
		draw_bar(p, &s);
		return;
	}
	if (p->mode != CLI_PROGRESS_JSON)
		return;
	struct cli_json j;
	cli_json_init(&j, stderr, false);
	cli_json_doc(&j, CLI_SCHEMA_PROGRESS);
	event_members(&j, p, &s);
	if (sum) {
		cli_json_key(&j, "summary");
		cli_json_object(&j);
		summary_members(&j, sum);
		cli_json_end(&j);
	}
	if (error)
		cli_json_kstr(&j, "error", error);
	/* Standard error failing has nowhere to be reported. */
	int ignored = cli_json_doc_end(&j);
	(void)ignored;
}

void cli_progress_phase(struct cli_progress *p, enum cli_phase phase)
{
	if (phase == p->phase && p->started)
		return;
	p->started = true;
	double now = cli_now();
	if (phase == CLI_PHASE_MEMORY && !p->transfer)
		p->transfer = now;
	p->phase = phase;
	emit(p, now, NULL, NULL);
}

void cli_progress_restart(struct cli_progress *p)
{
	cli_progress_clear(p);
	memset(&p->counts, 0, sizeof(p->counts));
	p->counts.sz = sizeof(p->counts);
	p->total_pages = 0;
	p->transfer = 0;
	cli_progress_phase(p, CLI_PHASE_CONNECTING);
}

int cli_progress_update(void *arg, const struct sevmig_stream_counts *c)
{
	struct cli_progress *p = arg;
	if (cli_interrupted())
		return 1;
	memcpy(&p->counts, c, c->sz < sizeof(p->counts) ? c->sz : sizeof(p->counts));
	p->counts.sz = sizeof(p->counts);
	/* A receiver learns of the vCPU phase from its records. */
	if (p->phase == CLI_PHASE_MEMORY && c->vmsa) {
		cli_progress_phase(p, CLI_PHASE_VCPUS);
		return 0;
	}
	if (p->mode == CLI_PROGRESS_NONE || (p->mode == CLI_PROGRESS_BAR && !p->total_pages))
		return 0;
	double now = cli_now();
	if (now - p->last < (p->mode == CLI_PROGRESS_BAR ? BAR_INTERVAL_S : EVENT_INTERVAL_S))
		return 0;
	emit(p, now, NULL, NULL);
	return 0;
}

void cli_progress_clear(struct cli_progress *p)
{
	if (p->drawn)
		fputs("\r\033[K", stderr);
	p->drawn = false;
}

void cli_progress_end(struct cli_progress *p, const struct cli_summary *s, const char *error)
{
	if (p->ended)
		return;
	p->ended = true;
	cli_progress_clear(p);
	if (s)
		p->counts = s->counts;
	p->phase = s ? CLI_PHASE_DONE : CLI_PHASE_FAILED;
	if (p->mode == CLI_PROGRESS_JSON)
		emit(p, cli_now(), s, s ? NULL : error ? error : "failed");
}

/* ---- summary ----------------------------------------------------------------- */

void cli_uuid_format(const uint8_t u[16], char out[37])
{
	char *o = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		o += sprintf(o, "%02x", u[i]);
	}
}

static void summary_members(struct cli_json *j, const struct cli_summary *s)
{
	const struct sevmig_stream_counts *c = &s->counts;
	double sec = s->seconds > 1e-9 ? s->seconds : 1e-9;
	uint64_t done = pages_done(c);
	cli_json_kstr(j, "schema", CLI_SCHEMA_MIGRATION);
	cli_json_kstr(j, "tool", s->tool);
	cli_json_kstr(j, "stream", s->stream);
	if (s->uuid) {
		char uuid[37];
		cli_uuid_format(s->uuid, uuid);
		cli_json_kstr(j, "uuid", uuid);
	} else {
		cli_json_knull(j, "uuid");
	}
	cli_json_ku64(j, "policy", s->policy);
	cli_json_ku64(j, "guest_pages", s->guest_pages);
	cli_json_ku64(j, "guest_bytes", s->guest_pages * SEVMIG_PAGE_SIZE);
	cli_json_ku64(j, "done_pages", done);
	cli_json_ku64(j, "done_bytes", done * SEVMIG_PAGE_SIZE);
	cli_json_counts(j, "counts", c);
	if (s->ps) {
		struct sevmig_pstate_stats st;
		sevmig_pstate_stats(s->ps, &st);
		cli_json_pstate_stats(j, "page_state", &st);
	}
	cli_json_kstr(j, "integrity", s->integrity);
	cli_json_kstr(j, "delivery", s->delivery);
	cli_json_knum(j, "seconds", s->seconds, 3);
	cli_json_ku64(j, "guest_bytes_per_second",
		      (uint64_t)((double)done * SEVMIG_PAGE_SIZE / sec));
	cli_json_ku64(j, "stream_bytes_per_second", (uint64_t)((double)c->bytes / sec));
}

int cli_summary_json(FILE *f, const struct cli_summary *s, enum cli_json_mode mode)
{
	struct cli_json j;
	cli_json_init(&j, f, mode == CLI_JSON_PRETTY);
	cli_json_object(&j);
	summary_members(&j, s);
	return cli_json_doc_end(&j);
}

void cli_summary_text(FILE *f, const struct cli_summary *s)
{
	const struct sevmig_stream_counts *c = &s->counts;
	char uuid[37] = "";
	if (s->uuid)
		cli_uuid_format(s->uuid, uuid);
	double sec = s->seconds > 1e-9 ? s->seconds : 1e-9;
	double guest_mb = (double)pages_done(c) * SEVMIG_PAGE_SIZE / 1e6;
	double stream_mb = (double)c->bytes / 1e6;
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
	if (s->ps) {
		struct sevmig_pstate_stats st;
		sevmig_pstate_stats(s->ps, &st);
		fprintf(f,
			"  page state: %" PRIu64 " shared pages in %" PRIu64 " runs, %" PRIu64
			" private\n",
			st.shared_pages, st.shared_runs, st.private_pages);
	}
	if (s->uuid)
		fprintf(f, "  migration %s, policy 0x%" PRIx32 "\n", uuid, s->policy);
}

/*
 * bench_log - one run's log through the agent's own path, timed:
 * child process -> proc pipe -> run console -> spool file -> publisher
 * thread -> hex record -> one chunked POST (curl) -> URL.
 *
 * Usage: bench_log --url URL --job RUNS_JOB --dir DIR [--user U --token T]
 *                  [--secrets N] [--timefile FILE] -- CHILD ARGV...
 *
 * It does what the agent's executor thread does for a claimed item
 * (agent/scheduler.c, slot_thread), in the same order and with the same
 * functions: spool_open, spool_set_redactor (the agent always has one: it
 * holds at least the Jenkins token; --secrets N gives it N values of 32
 * characters, default 1, 0 for none), publish_start (the POST opens before the run),
 * a header line, run_execute of a one-step operation whose argv is
 * CHILD ARGV, publish_finish, spool_finish, publish_wait. What it leaves
 * out (the queue poll, the claim, the node message) is not on the log's
 * path, and leaving it out means the sink at URL only has to take the
 * record: it can be a byte counter (bench/sink.c) faster than the agent.
 *
 * The peak RSS is the process's VmHWM, reset just before the run
 * (/proc/self/clear_refs "5"), so it covers exactly the run; a sampler
 * also reads VmRSS every 10 ms as a cross-check.
 *
 * Prints one line of key=value pairs (see the printf at the end). The
 * child's own wall time is read from --timefile ("BYTES NANOSECONDS", as
 * bench/spew writes it).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "config.h"
#include "error.h"
#include "jenkins.h"
#include "mirror.h"
#include "publish.h"
#include "redact.h"
#include "run.h"
#include "spool.h"
#include "timeutil.h"
#include "xmalloc.h"

/* kB of a "Name:" line of /proc/self/status, or -1. */
static long status_kb(const char *name)
{
	char line[256];
	size_t n = strlen(name);
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			kb = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

struct sampler {
	pthread_t thread;
	volatile bool stop;
	long max_rss_kb;
};

static void *sampler_thread(void *arg)
{
	struct sampler *s = arg;

	while (!s->stop) {
		long kb = status_kb("VmRSS");

		if (kb > s->max_rss_kb)
			s->max_rss_kb = kb;
		nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
	}
	return NULL;
}

static void xml_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '&')
			fputs("&amp;", f);
		else if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else
			fputc(*s, f);
	}
}

static int write_files(const char *dir, const char *url, const char *user, char **child)
{
	char *path;
	FILE *f;

	path = xasprintf("%s/jobs", dir);
	mkdir(path, 0700);
	free(path);
	path = xasprintf("%s/state", dir);
	mkdir(path, 0700);
	free(path);

	path = xasprintf("%s/jobs/log.xml", dir);
	f = fopen(path, "w");
	free(path);
	if (!f)
		return -1;
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	      "<operation path=\"Bench/Log\">\n  <steps><step name=\"child\">", f);
	for (size_t i = 0; child[i]; i++) {
		fputs("<arg>", f);
		xml_escaped(f, child[i]);
		fputs("</arg>", f);
	}
	fputs("</step></steps>\n</operation>\n", f);
	if (fclose(f) != 0)
		return -1;

	path = xasprintf("%s/agent.conf", dir);
	f = fopen(path, "w");
	free(path);
	if (!f)
		return -1;
	fprintf(f, "[agent]\ncatalog = %s/jobs\nstate_dir = %s/state\n[jenkins]\nurl = %s\n"
		"user = %s\nnode = bench\n", dir, dir, url, user);
	return fclose(f);
}

int main(int argc, char **argv)
{
	const char *url = NULL, *job = NULL, *dir = NULL, *user = "bench", *token = "bench-token";
	const char *timefile = NULL;
	int secrets = 1;
	struct redactor *red = NULL;
	char **child = NULL;
	char *const no_env[] = { NULL };
	char *conf, *spool_path;
	struct config cfg = { 0 };
	struct catalog *cat = NULL;
	const struct catalog_operation *op;
	struct jenkins *jk = NULL;
	struct jenkins_opts jo = { 0 };
	struct publish *pub = NULL;
	struct publish_opts po = { 0 };
	struct spool *sp = NULL;
	struct run_opts ro = { 0 };
	struct run_outcome oc = { .result = RUN_FAILURE };
	struct sampler smp = { 0 };
	uint64_t t0, t1, t2, sent = 0, spooled;
	unsigned long long child_bytes = 0, child_ns = 0;
	long rss_before;
	int rc;
	FILE *f;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			child = argv + i + 1;
			break;
		}
		if (i + 1 >= argc)
			goto usage;
		if (strcmp(argv[i], "--url") == 0)
			url = argv[++i];
		else if (strcmp(argv[i], "--job") == 0)
			job = argv[++i];
		else if (strcmp(argv[i], "--dir") == 0)
			dir = argv[++i];
		else if (strcmp(argv[i], "--user") == 0)
			user = argv[++i];
		else if (strcmp(argv[i], "--token") == 0)
			token = argv[++i];
		else if (strcmp(argv[i], "--timefile") == 0)
			timefile = argv[++i];
		else if (strcmp(argv[i], "--secrets") == 0)
			secrets = atoi(argv[++i]);
		else
			goto usage;
	}
	if (!url || !job || !dir || !child || !child[0])
		goto usage;

	if (write_files(dir, url, user, child) != 0) {
		perror(dir);
		return 1;
	}
	conf = xasprintf("%s/agent.conf", dir);
	if (config_load(&cfg, conf, true, no_env) < 0 || catalog_load(&cat, cfg.agent.catalog) < 0) {
		fprintf(stderr, "bench_log: %s\n", error_last());
		return 1;
	}
	free(conf);
	op = catalog_find(cat, "Bench/Log");
	jo.url = url;
	jo.user = user;
	jo.token = token;
	if (!op || jenkins_new(&jk, &jo) != 0) {
		fprintf(stderr, "bench_log: %s\n", op ? error_last() : "no operation Bench/Log");
		return 1;
	}
	mirror_global_init();
	if (secrets > 0) {
		/* Values like a Jenkins API token: 32 characters that the log never holds. */
		redactor_new(&red);
		for (int i = 0; i < secrets; i++) {
			char v[40];

			snprintf(v, sizeof(v), "11%02d5e0c9f7a4b3d2e1f0a9b8c7d6e5f4", i % 100);
			redact_add_str(red, v);
		}
	}

	/* The peak from here on is the run's. */
	f = fopen("/proc/self/clear_refs", "w");
	if (f) {
		fputs("5", f);
		fclose(f);
	}
	rss_before = status_kb("VmRSS");
	smp.max_rss_kb = rss_before;
	pthread_create(&smp.thread, NULL, sampler_thread, &smp);

	/* As slot_thread: spool, record opened, header, run, end, wait. */
	t0 = time_mono_ms();
	spool_path = xasprintf("%s/state/run.log", dir);
	if (spool_open(&sp, spool_path) < 0 || (red && spool_set_redactor(sp, red) < 0)) {
		fprintf(stderr, "bench_log: %s\n", error_last());
		return 1;
	}
	po.jenkins = jk;
	po.runs_job = job;
	po.spool = sp;
	if (publish_start(&pub, &po) != 0) {
		fprintf(stderr, "bench_log: %s\n", error_last());
		return 1;
	}
	spool_printf(sp, "dataops-agent bench_log: queue item 1 of %s\n", job);
	ro.cfg = &cfg;
	ro.op = op;
	ro.job_name = "Bench/Log";
	ro.agent_envp = no_env;
	ro.console = sp;
	ro.cancel_fd = -1;
	if (run_execute(&oc, &ro) != 0)
		fprintf(stderr, "bench_log: the console failed: %s\n", error_last());
	t1 = time_mono_ms();
	publish_finish(pub, oc.result, t1 - t0, "#1 bench", "bench_log");
	spool_finish(sp);
	spooled = spool_size(sp);
	rc = publish_wait(pub, &sent);
	t2 = time_mono_ms();
	smp.stop = true;
	pthread_join(smp.thread, NULL);
	if (rc != 0)
		fprintf(stderr, "bench_log: the record failed: %s\n", error_last());
	if (oc.result != RUN_SUCCESS)
		fprintf(stderr, "bench_log: the run failed: %s\n", oc.summary);

	if (timefile) {
		f = fopen(timefile, "r");
		if (!f || fscanf(f, "%llu %llu", &child_bytes, &child_ns) != 2)
			fprintf(stderr, "bench_log: no child time in %s\n", timefile);
		if (f)
			fclose(f);
	}
	{
		double run_s = (double)(t1 - t0) / 1e3, pub_s = (double)(t2 - t0) / 1e3;
		double child_s = (double)child_ns / 1e9;

		printf("log: ok=%d child_bytes=%llu spool_bytes=%llu sent_log_bytes=%llu child_s=%.3f "
		       "child_mb_s=%.1f run_s=%.3f publish_s=%.3f lag_s=%.3f publish_mb_s=%.1f "
		       "rss_before_kb=%ld rss_max_kb=%ld hwm_kb=%ld secrets=%d\n",
		       rc == 0 && oc.result == RUN_SUCCESS, child_bytes,
		       (unsigned long long)spooled, (unsigned long long)sent, child_s,
		       child_s > 0 ? (double)child_bytes / child_s / 1e6 : 0.0, run_s, pub_s,
		       (double)(t2 - t1) / 1e3, pub_s > 0 ? (double)sent / pub_s / 1e6 : 0.0,
		       rss_before, smp.max_rss_kb, status_kb("VmHWM"), secrets);
	}
	spool_free(sp);
	redactor_free(red);
	free(spool_path);
	run_outcome_dispose(&oc);
	jenkins_free(jk);
	catalog_free(cat);
	config_dispose(&cfg);
	return rc == 0 && oc.result == RUN_SUCCESS ? 0 : 1;
usage:
	fprintf(stderr, "usage: bench_log --url URL --job RUNS_JOB --dir DIR [--user U --token T] "
		"[--secrets N] [--timefile FILE] -- CHILD ARGV...\n");
	return 2;
}

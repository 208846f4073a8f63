/*
 * sink - a postBuildResult endpoint that only counts bytes, for the log
 * throughput benchmark (bench/bench_log.sh).
 *
 * Usage: sink [--port-file FILE] [--rate BYTES_PER_S]
 *
 * Listens on 127.0.0.1 (a free port, written to FILE), serves one
 * connection at a time and speaks just enough HTTP/1.1 for the agent's
 * streamed record: request head, a chunked (or Content-Length) body,
 * then an answer only after the body has ended, as Jenkins does
 * (jenkins-api.md §7.2 step 8). The body is scanned as it streams in:
 * hex digits inside <log> are counted (log bytes = hex / 2), <!----> and
 * other comments skipped, anything else inside <log> counted as "bad"
 * (Jenkins' DecodingStream would turn it into garbage), and the body must
 * end with </run>. Answers 200 when all that holds, 500 otherwise.
 *
 * --rate makes it a slow Jenkins: it reads the socket no faster than
 * BYTES_PER_S on the wire, so TCP pushes back on the agent.
 *
 * One line per request on stdout:
 *   sink: POST /path status=200 wire=N body=N hex=N log_bytes=N bad=N
 *         chunks=N ends_run=1 secs=S body_mb_s=R
 * A Python Jenkins double decodes about 40 MB/s of hex (DESIGN.md §5);
 * this one should never be what a benchmark measures.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SINK_BUF (256 * 1024)
#define SINK_HEAD_MAX (64 * 1024)
#define SINK_TAG_MAX 256

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The body scanner: <run><log ...>HEX<!---->...</log>...</run>. */
enum scan_state { SCAN_HEAD, SCAN_LOG, SCAN_TAIL };

struct scan {
	enum scan_state state;
	int start_tags;          /* non-comment start tags seen before <log> content */
	bool in_tag;
	char tag[SINK_TAG_MAX];
	size_t tag_len;
	uint64_t hex, bad;
	char last[8];            /* the body's last bytes, for </run> */
	size_t last_len;
};

static void scan_tail_bytes(struct scan *s, const char *p, size_t n)
{
	if (n >= sizeof(s->last)) {
		memcpy(s->last, p + n - sizeof(s->last), sizeof(s->last));
		s->last_len = sizeof(s->last);
		return;
	}
	if (s->last_len + n > sizeof(s->last)) {
		size_t drop = s->last_len + n - sizeof(s->last);

		memmove(s->last, s->last + drop, s->last_len - drop);
		s->last_len -= drop;
	}
	memcpy(s->last + s->last_len, p, n);
	s->last_len += n;
}

static bool tag_is_comment(const struct scan *s)
{
	return s->tag_len >= 7 && memcmp(s->tag, "<!--", 4) == 0 &&
	       memcmp(s->tag + s->tag_len - 3, "-->", 3) == 0;
}

/* A whole tag (from '<' to '>') was read. */
static void scan_tag_done(struct scan *s)
{
	bool comment = tag_is_comment(s);

	if (s->state == SCAN_HEAD) {
		if (!comment && s->tag_len > 1 && s->tag[1] != '/' && s->tag[1] != '?' &&
		    ++s->start_tags == 2)
			s->state = SCAN_LOG;
	} else if (s->state == SCAN_LOG && !comment) {
		if (s->tag_len == 6 && memcmp(s->tag, "</log>", 6) == 0)
			s->state = SCAN_TAIL;
		else
			s->bad += s->tag_len;
	}
	s->in_tag = false;
	s->tag_len = 0;
}

static void scan_feed(struct scan *s, const char *p, size_t n)
{
	const char *end = p + n;

	scan_tail_bytes(s, p, n);
	while (p < end) {
		if (s->in_tag) {
			char c = *p++;

			if (s->tag_len < sizeof(s->tag))
				s->tag[s->tag_len++] = c;
			/* A comment ends at "-->", any other tag at '>'. */
			if (c == '>' && (s->tag_len < 4 || memcmp(s->tag, "<!--", 4) != 0 ||
					 tag_is_comment(s)))
				scan_tag_done(s);
			continue;
		}
		if (s->state == SCAN_TAIL)
			return;
		const char *lt = memchr(p, '<', (size_t)(end - p));
		const char *stop = lt ? lt : end;

		if (s->state == SCAN_LOG) {
			const unsigned char *q = (const unsigned char *)p;
			size_t len = (size_t)(stop - p);
			uint64_t good = 0;

			/* Range checks rather than a table, so that the compiler vectorizes it. */
			for (size_t i = 0; i < len; i++)
				good += (unsigned char)(q[i] - '0') < 10 ||
					(unsigned char)(q[i] - 'a') < 6 ||
					(unsigned char)(q[i] - 'A') < 6;
			s->hex += good;
			s->bad += (uint64_t)(stop - p) - good;
		}
		p = stop;
		if (lt) {
			s->in_tag = true;
			s->tag[0] = '<';
			s->tag_len = 1;
			p++;
		}
	}
}

static bool scan_ends_run(const struct scan *s)
{
	return s->last_len >= 6 && memcmp(s->last + s->last_len - 6, "</run>", 6) == 0;
}

/* One connection: buffered reads, optionally paced to rate bytes/s. */
struct conn {
	int fd;
	char *buf;
	size_t off, len;
	uint64_t wire;
	double rate, t0;
};

static ssize_t conn_fill(struct conn *c)
{
	size_t want = SINK_BUF;
	ssize_t n;

	if (c->rate > 0) {
		double due = c->t0 + (double)c->wire / c->rate;
		double now = now_s();

		if (due > now) {
			struct timespec ts = { (time_t)(due - now),
					       (long)(((due - now) - (double)(time_t)(due - now)) * 1e9) };
			nanosleep(&ts, NULL);
		}
		/* Small reads keep the pace smooth: a hundredth of a second's worth. */
		want = (size_t)(c->rate / 100) + 1;
		if (want > SINK_BUF)
			want = SINK_BUF;
	}
	do {
		n = recv(c->fd, c->buf, want, 0);
	} while (n < 0 && errno == EINTR);
	if (n > 0) {
		c->off = 0;
		c->len = (size_t)n;
		c->wire += (uint64_t)n;
	}
	return n;
}

/* Read one line (without CRLF) into line; false at EOF or when too long. */
static bool conn_line(struct conn *c, char *line, size_t max)
{
	size_t n = 0;

	for (;;) {
		if (c->off == c->len && conn_fill(c) <= 0)
			return false;
		char ch = c->buf[c->off++];

		if (ch == '\n') {
			if (n > 0 && line[n - 1] == '\r')
				n--;
			line[n] = '\0';
			return true;
		}
		if (n + 1 >= max)
			return false;
		line[n++] = ch;
	}
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Serve requests on one connection until it closes. */
static void serve(int fd, double rate)
{
	struct conn c = { .fd = fd, .buf = malloc(SINK_BUF), .rate = rate };
	char *line = malloc(SINK_HEAD_MAX);

	c.t0 = now_s();
	for (;;) {
		char method[16] = "", path[2048] = "";
		bool chunked = false, expect = false, ok = true;
		long long clen = -1;
		uint64_t body = 0, chunks = 0, wire0 = c.wire;
		struct scan s = { 0 };
		double t0;

		if (!conn_line(&c, line, SINK_HEAD_MAX))
			break;
		t0 = now_s();
		if (sscanf(line, "%15s %2047s", method, path) != 2)
			break;
		for (;;) {
			if (!conn_line(&c, line, SINK_HEAD_MAX))
				goto done;
			if (line[0] == '\0')
				break;
			if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 && strcasestr(line, "chunked"))
				chunked = true;
			else if (strncasecmp(line, "Content-Length:", 15) == 0)
				clen = atoll(line + 15);
			else if (strncasecmp(line, "Expect:", 7) == 0 && strcasestr(line, "100-continue"))
				expect = true;
		}
		if (expect)
			send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		if (chunked) {
			for (;;) {
				unsigned long long size;
				char *endp;

				if (!conn_line(&c, line, SINK_HEAD_MAX))
					goto done;
				size = strtoull(line, &endp, 16);
				if (endp == line)
					goto done;
				if (size == 0)
					break;
				chunks++;
				while (size > 0) {
					size_t n;

					if (c.off == c.len && conn_fill(&c) <= 0)
						goto done;
					n = c.len - c.off < size ? c.len - c.off : (size_t)size;
					scan_feed(&s, c.buf + c.off, n);
					c.off += n;
					body += n;
					size -= n;
				}
				if (!conn_line(&c, line, SINK_HEAD_MAX) || line[0] != '\0')
					goto done;
			}
			/* Trailers, up to the empty line. */
			do {
				if (!conn_line(&c, line, SINK_HEAD_MAX))
					goto done;
			} while (line[0] != '\0');
		} else {
			while (clen > 0) {
				size_t n;

				if (c.off == c.len && conn_fill(&c) <= 0)
					goto done;
				n = c.len - c.off < (unsigned long long)clen ? c.len - c.off : (size_t)clen;
				scan_feed(&s, c.buf + c.off, n);
				c.off += n;
				body += n;
				clen -= (long long)n;
			}
		}
		if (strcmp(method, "POST") != 0 || strstr(path, "postBuildResult") == NULL) {
			static const char nf[] = "HTTP/1.1 404 Not Found\r\nX-Jenkins: 2.426.3\r\n"
						 "Content-Length: 0\r\n\r\n";
			send_all(fd, nf, sizeof(nf) - 1);
			continue;
		}
		ok = s.state == SCAN_TAIL && scan_ends_run(&s) && s.bad == 0 && s.hex % 2 == 0;
		{
			double secs = now_s() - t0;

			printf("sink: POST %s status=%d wire=%llu body=%llu hex=%llu log_bytes=%llu "
			       "bad=%llu chunks=%llu ends_run=%d secs=%.3f body_mb_s=%.1f\n", path,
			       ok ? 200 : 500, (unsigned long long)(c.wire - wire0),
			       (unsigned long long)body, (unsigned long long)s.hex,
			       (unsigned long long)(s.hex / 2), (unsigned long long)s.bad,
			       (unsigned long long)chunks, scan_ends_run(&s), secs,
			       secs > 0 ? (double)body / secs / 1e6 : 0.0);
			fflush(stdout);
		}
		if (ok) {
			static const char r200[] = "HTTP/1.1 200 OK\r\nX-Jenkins: 2.426.3\r\n"
						   "Content-Length: 0\r\nConnection: close\r\n\r\n";
			send_all(fd, r200, sizeof(r200) - 1);
		} else {
			static const char r500[] = "HTTP/1.1 500 Server Error\r\nX-Jenkins: 2.426.3\r\n"
						   "Content-Type: text/plain\r\nContent-Length: 32\r\n"
						   "Connection: close\r\n\r\nsink: the record was malformed\r\n";
			send_all(fd, r500, sizeof(r500) - 1);
		}
		break;
	}
done:
	free(line);
	free(c.buf);
	close(fd);
}

int main(int argc, char **argv)
{
	const char *port_file = NULL;
	double rate = 0;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int one = 1, ls;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
			port_file = argv[++i];
		} else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc) {
			rate = strtod(argv[++i], NULL);
		} else {
			fprintf(stderr, "usage: sink [--port-file FILE] [--rate BYTES_PER_S]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);

	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0) {
		perror("socket");
		return 1;
	}
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 16) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) < 0) {
		perror("bind/listen");
		return 1;
	}
	if (port_file) {
		char tmp[4096];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", ntohs(a.sin_port)) < 0 || fclose(f) != 0 ||
		    rename(tmp, port_file) != 0) {
			perror(port_file);
			return 1;
		}
	} else {
		printf("sink: listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
		fflush(stdout);
	}
	for (;;) {
		int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			perror("accept");
			return 1;
		}
		serve(fd, rate);
	}
}

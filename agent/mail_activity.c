/*
 * mail_activity.c - the MTA's traffic and queue from its own log and spool;
 * see mail_activity.h.
 */
#define _GNU_SOURCE
#include "mail_activity.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "jsonutil.h"
#include "procfs.h"
#include "timeutil.h"

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* n digits at p as a number, or -1. */
static int digits(const char *p, const char *end, int n)
{
	int v = 0;

	if (end - p < n)
		return -1;
	for (int i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* A broken-down local time as UTC seconds, or 0 for an impossible one. */
static int64_t local_time(int year, int mon, int day, int h, int m, int s)
{
	struct tm tm = { 0 };
	time_t t;

	if (mon < 1 || mon > 12 || day < 1 || day > 31 || h > 23 || m > 59 ||
	    s > 60)
		return 0;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = s;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	return t == (time_t)-1 ? 0 : (int64_t)t;
}

static void note(struct mail_log *acc, int64_t t, int64_t now, int delivered,
		 int received)
{
	int recent = now - t < MAIL_ACTIVITY_WINDOW;

	if (!acc->since || t < acc->since)
		acc->since = t;
	if (delivered) {
		if (t > acc->last_delivered)
			acc->last_delivered = t;
		acc->delivered += recent;
	}
	if (received) {
		if (t > acc->last_received)
			acc->last_received = t;
		acc->received += recent;
	}
}

/* "2025-02-11 10:15:32" [".123"] [" +0100"]: the time, and *p moved past
 * it; 0 when the line does not start so. */
static int64_t exim_stamp(const char **p, const char *end)
{
	const char *s = *p;
	int y = digits(s, end, 4), mo, d, h, mi, se;
	char iso[40];
	int64_t t;

	if (y < 0 || end - s < 19 || s[4] != '-' || s[7] != '-' ||
	    s[10] != ' ' || s[13] != ':' || s[16] != ':')
		return 0;
	mo = digits(s + 5, end, 2);
	d = digits(s + 8, end, 2);
	h = digits(s + 11, end, 2);
	mi = digits(s + 14, end, 2);
	se = digits(s + 17, end, 2);
	if (mo < 0 || d < 0 || h < 0 || mi < 0 || se < 0)
		return 0;
	s += 19;
	if (s < end && *s == '.')	/* log_selector +millisec */
		for (s++; s < end && is_digit(*s); s++)
			;
	/* log_timezone: " +0100" */
	if (end - s >= 6 && s[0] == ' ' && (s[1] == '+' || s[1] == '-') &&
	    digits(s + 2, end, 4) >= 0) {
		snprintf(iso, sizeof(iso),
			 "%04d-%02d-%02dT%02d:%02d:%02d%c%.2s:%.2s", y, mo, d,
			 h, mi, se, s[1], s + 2, s + 4);
		if (time_parse(iso, &t) < 0)
			return 0;
		*p = s + 6;
		return t;
	}
	*p = s;
	return local_time(y, mo, d, h, mi, se);
}

int mail_activity_exim_log(const char *text, size_t len, int64_t now,
			   struct mail_log *acc)
{
	const char *end, *line, *nl;

	if (!text || !acc)
		return -EINVAL;
	end = text + len;
	for (line = text; line < end; line = nl + 1) {
		const char *p = line, *id;
		int64_t t;

		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		t = exim_stamp(&p, nl);
		if (!t)
			continue;
		/* log_selector +pid: " [1234]" */
		if (nl - p > 2 && p[0] == ' ' && p[1] == '[') {
			const char *c = memchr(p, ']', (size_t)(nl - p));

			if (!c)
				continue;
			p = c + 1;
		}
		if (p >= nl || *p != ' ')
			continue;
		/* A message id, "1tA8xY-000123-AB" (4.97 and later write
		 * longer ones), then the flag of what happened to it. */
		id = ++p;
		while (p < nl && *p != ' ')
			p++;
		if (p - id < 16 || p - id > 32 || !memchr(id, '-', 8) ||
		    nl - p < 4 || p[3] != ' ')
			continue;
		if (p[1] == '<' && p[2] == '=')
			note(acc, t, now, 0, 1);
		else if ((p[1] == '=' || p[1] == '-') && p[2] == '>')
			note(acc, t, now, 1, 0);
		else
			/* "Completed", "==" deferred, "**" failed: the log
			 * still covers that moment. */
			note(acc, t, now, 0, 0);
	}
	return 0;
}

static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

/* "Feb 11 10:15:33 " or "2025-02-11T10:15:33.123456+00:00 ": the time,
 * *p after it; 0 when the line does not start with a stamp. */
static int64_t syslog_stamp(const char **p, const char *end, int64_t now)
{
	const char *s = *p, *sp;
	char iso[64];
	int64_t t;

	if (end - s >= 16 && s[3] == ' ' && s[6] == ' ' && s[9] == ':' &&
	    s[12] == ':' && s[15] == ' ') {
		const char *m = memmem(months, sizeof(months) - 1, s, 3);
		int d = s[4] == ' ' ? digits(s + 5, end, 1) :
				      digits(s + 4, end, 2);
		int h = digits(s + 7, end, 2), mi = digits(s + 10, end, 2);
		int se = digits(s + 13, end, 2), y;
		time_t nt = (time_t)now;
		struct tm tm;

		if (!m || (m - months) % 3 || d < 0 || h < 0 || mi < 0 ||
		    se < 0 || !localtime_r(&nt, &tm))
			return 0;
		/* No year in the stamp: the latest that is not ahead of now
		 * (a day's slack for clocks and zones). */
		y = tm.tm_year + 1900;
		t = local_time(y, (int)(m - months) / 3 + 1, d, h, mi, se);
		if (t > now + 86400)
			t = local_time(y - 1, (int)(m - months) / 3 + 1, d, h,
				       mi, se);
		*p = s + 16;
		return t;
	}
	sp = memchr(s, ' ', (size_t)(end - s));
	if (!sp || sp - s < 20 || (size_t)(sp - s) >= sizeof(iso) ||
	    s[4] != '-' || s[10] != 'T')
		return 0;
	memcpy(iso, s, (size_t)(sp - s));
	iso[sp - s] = '\0';
	if (time_parse(iso, &t) < 0)
		return 0;
	*p = sp + 1;
	return t;
}

/* Whether the program "postfix/smtp[123]:" (or an instance's,
 * "postfix-out/smtp[123]:", or the journal's SYSLOG_IDENTIFIER
 * "postfix/smtp") is Postfix's one of the names. */
static int postfix_prog(const char *prog, const char *end,
			const char *const *names)
{
	const char *slash, *br;

	if (end - prog < 8 || strncmp(prog, "postfix", 7) != 0)
		return 0;
	slash = memchr(prog, '/', (size_t)(end - prog));
	if (!slash)
		return 0;
	for (br = slash + 1; br < end && *br != '[' && *br != ':'; br++)
		;
	for (; *names; names++)
		if ((size_t)(br - slash - 1) == strlen(*names) &&
		    strncmp(slash + 1, *names, (size_t)(br - slash - 1)) == 0)
			return 1;
	return 0;
}

/* One entry of Postfix's at time t, its program and its message: cleanup's
 * "message-id=" a message received, a delivery agent's "status=sent" a
 * delivery; other programs' entries are not Postfix's traffic. */
static void postfix_entry(int64_t t, const char *prog, const char *prog_end,
			  const char *msg, const char *end, int64_t now,
			  struct mail_log *acc)
{
	static const char *const delivery[] = {
		"smtp", "lmtp", "local", "virtual", "pipe", NULL,
	};
	static const char *const cleanup[] = { "cleanup", NULL };
	int in = postfix_prog(prog, prog_end, cleanup);
	int out = postfix_prog(prog, prog_end, delivery);

	if (!in && !out)
		return;
	in = in && memmem(msg, (size_t)(end - msg), "message-id=", 11);
	out = out && memmem(msg, (size_t)(end - msg), " status=sent ", 13);
	note(acc, t, now, out, in);
}

int mail_activity_postfix_log(const char *text, size_t len, int64_t now,
			      struct mail_log *acc)
{
	const char *end, *line, *nl;

	if (!text || !acc)
		return -EINVAL;
	end = text + len;
	for (line = text; line < end; line = nl + 1) {
		const char *p = line, *prog, *msg;
		int64_t t;

		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		t = syslog_stamp(&p, nl, now);
		if (!t)
			continue;
		/* the host name, then the program */
		prog = memchr(p, ' ', (size_t)(nl - p));
		if (!prog)
			continue;
		prog++;
		msg = memchr(prog, ' ', (size_t)(nl - prog));
		if (!msg)
			continue;
		postfix_entry(t, prog, msg, msg, nl, now, acc);
	}
	return 0;
}

int mail_activity_exim_frozen(const char *text, size_t len)
{
	const char *end = text + len, *line, *nl;

	for (line = text; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		if (nl - line >= 7 && strncmp(line, "-frozen", 7) == 0 &&
		    (nl - line == 7 || line[7] == ' '))
			return 1;
		/* The flags end where the recipients begin. */
		if (nl - line == 2 && strncmp(line, "XX", 2) == 0)
			return 0;
	}
	return 0;
}

/* ---- reading the files -------------------------------------------------- */

/* The last *budget bytes (at most) of a file, in *ret to free, starting
 * after the first line break when the read began inside the file;
 * *budget is lowered by what was read, *ret_cut set when the file held
 * more.  -ENOENT and the like when it cannot be read. */
static int read_tail(const char *path, size_t *budget, char **ret,
		     size_t *ret_len, int *ret_cut)
{
	struct stat stt;
	size_t want, got = 0;
	off_t off;
	char *buf, *nl;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &stt) < 0 || !S_ISREG(stt.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	want = (size_t)stt.st_size < *budget ? (size_t)stt.st_size : *budget;
	off = stt.st_size - (off_t)want;
	buf = malloc(want + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < want) {
		ssize_t n = pread(fd, buf + got, want - got, off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[got] = '\0';
	*budget -= got;
	*ret_cut = off > 0;
	if (off > 0 && (nl = memchr(buf, '\n', got))) {
		/* The first line is a part: what remains starts whole. */
		got -= (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, got + 1);
	} else if (off > 0) {
		got = 0;
	}
	*ret = buf;
	*ret_len = got;
	return 0;
}

typedef int (*log_parser)(const char *, size_t, int64_t, struct mail_log *);

/* The log and its rotated predecessor: 1 when the log was read, 0 when
 * it is absent, or -ENOMEM. */
static int read_log(const char *root, const char *const rel[2],
		    log_parser parse, int64_t now, struct mail_log *acc,
		    int *ret_cut)
{
	size_t budget = MAIL_MAX_LOG;
	int found = 0;

	*ret_cut = 0;
	for (int i = 0; i < 2 && !*ret_cut; i++) {
		char path[4096], *text = NULL;
		size_t len = 0;
		int cut = 0, r;

		if (procfs_path(path, sizeof(path), root, rel[i]) < 0)
			break;
		r = read_tail(path, &budget, &text, &len, &cut);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			/* No current log: what rotated away is no answer
			 * either. */
			if (i == 0)
				return 0;
			break;
		}
		found = 1;
		parse(text, len, now, acc);
		free(text);
		*ret_cut = cut || (!budget && i == 0);
	}
	return found;
}

/* A journal field's value ("SYSLOG_IDENTIFIER=postfix/smtp" read as
 * "postfix/smtp"), or NULL. */
static const char *journal_field(sd_journal *j, const char *name,
				 size_t *ret_len)
{
	size_t n = strlen(name), len;
	const void *d;

	if (sd_journal_get_data(j, name, &d, &len) < 0 || len <= n ||
	    ((const char *)d)[n] != '=')
		return NULL;
	*ret_len = len - n - 1;
	return (const char *)d + n + 1;
}

/* Postfix's entries of the mail facility in the journal under root (the
 * host's own for "/"), newest first, at most MAIL_MAX_JOURNAL of them and
 * none older than needed.  0, whatever was found; the journal being
 * absent or unreadable finds nothing. */
static int postfix_journal(const char *root, int64_t now, struct mail_log *acc,
			   int *ret_cut)
{
	sd_journal *j = NULL;
	size_t n = 0;
	int r;

	*ret_cut = 0;
	if (!root || !*root || strcmp(root, "/") == 0)
		r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY |
					       SD_JOURNAL_SYSTEM);
	else
		r = sd_journal_open_directory(&j, root, SD_JOURNAL_OS_ROOT);
	if (r < 0)
		return 0;
	if (sd_journal_add_match(j, "SYSLOG_FACILITY=2", 0) < 0 ||
	    sd_journal_seek_tail(j) < 0) {
		sd_journal_close(j);
		return 0;
	}
	while (sd_journal_previous(j) > 0) {
		const char *ident, *msg;
		size_t ilen, mlen;
		uint64_t usec;
		int64_t t;

		if (++n > MAIL_MAX_JOURNAL) {
			*ret_cut = 1;
			break;
		}
		if (sd_journal_get_realtime_usec(j, &usec) < 0)
			continue;
		t = (int64_t)(usec / 1000000);
		/* Past the window with both times known: nothing older
		 * changes the answer. */
		if (now - t >= MAIL_ACTIVITY_WINDOW && acc->last_delivered &&
		    acc->last_received)
			break;
		ident = journal_field(j, "SYSLOG_IDENTIFIER", &ilen);
		msg = ident ? journal_field(j, "MESSAGE", &mlen) : NULL;
		if (!msg)
			continue;
		postfix_entry(t, ident, ident + ilen, msg, msg + mlen, now,
			      acc);
	}
	sd_journal_close(j);
	return 0;
}

struct queue_count {
	int64_t files, frozen, entries, reads;
	int cut;
	int exim;	/* count *-H files and read their flags */
};

static int exim_header_frozen(int dirfd, const char *name,
			      struct queue_count *q)
{
	char buf[MAIL_MAX_HEADER_READ];
	ssize_t n;
	int fd;

	if (q->reads >= MAIL_MAX_QUEUE_READS) {
		q->cut = 1;
		return 0;
	}
	q->reads++;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n > 0 && mail_activity_exim_frozen(buf, (size_t)n);
}

/* Counts a queue directory's messages, down to depth more levels of
 * subdirectories (Exim's split spool, Postfix's hashed queues). */
static void count_dir(int dirfd, int depth, struct queue_count *q)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;

	if (!d) {
		close(dirfd);
		return;
	}
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		size_t len = strlen(n);
		int type = de->d_type;

		if (n[0] == '.')
			continue;
		if (++q->entries > MAIL_MAX_QUEUE_ENTRIES) {
			q->cut = 1;
			break;
		}
		if (type == DT_UNKNOWN) {
			struct stat st;

			if (fstatat(dirfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			type = S_ISDIR(st.st_mode) ? DT_DIR :
			       S_ISREG(st.st_mode) ? DT_REG :
						     DT_UNKNOWN;
		}
		if (type == DT_DIR && depth > 0) {
			int sub = openat(dirfd, n, O_RDONLY | O_DIRECTORY |
						   O_CLOEXEC | O_NOFOLLOW);

			if (sub >= 0)
				count_dir(sub, depth - 1, q);
			continue;
		}
		if (type != DT_REG)
			continue;
		if (!q->exim) {
			q->files++;
		} else if (len > 2 && strcmp(n + len - 2, "-H") == 0) {
			q->files++;
			q->frozen += exim_header_frozen(dirfd, n, q);
		}
	}
	closedir(d);
}

/* 0 counted, -ENOENT (and the like) when the directory is absent. */
static int count_queue(const char *root, const char *rel, int depth,
		       struct queue_count *q)
{
	char path[4096];
	int fd;

	if (procfs_path(path, sizeof(path), root, rel) < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	count_dir(fd, depth, q);
	return 0;
}

static int set_int(json_t *item, const char *key, int64_t v)
{
	return json_object_set_new(item, key, json_integer(v)) < 0 ? -ENOMEM :
								       0;
}

static int put_log(json_t *item, const struct mail_log *l, int cut)
{
	int r = 0;

	r |= json_set_time(item, "last_delivered_at", l->last_delivered);
	r |= json_set_time(item, "last_received_at", l->last_received);
	r |= set_int(item, "delivered_90d", l->delivered);
	r |= set_int(item, "received_90d", l->received);
	r |= json_set_time(item, "log_since", l->since);
	if (cut)
		r |= json_object_set_new(item, "log_truncated", json_true());
	return r ? -ENOMEM : 0;
}

static int exim(const char *root, int64_t now, json_t *item, int *found)
{
	static const char *const logs[2] = { "var/log/exim4/mainlog",
					     "var/log/exim4/mainlog.1" };
	struct mail_log l = { 0 };
	struct queue_count q = { .exim = 1 };
	int cut, r = read_log(root, logs, mail_activity_exim_log, now, &l,
			      &cut);

	if (r < 0)
		return r;
	if (r > 0) {
		if ((r = put_log(item, &l, cut)) < 0)
			return r;
		*found = 1;
	}
	/* input/ alone holds the messages; split_spool_directory puts them
	 * one level down. */
	if (count_queue(root, "var/spool/exim4/input", 1, &q) < 0)
		return 0;
	*found = 1;
	r = set_int(item, "queue", q.files) | set_int(item, "frozen", q.frozen);
	if (q.cut)
		r |= json_object_set_new(item, "queue_truncated", json_true());
	return r ? -ENOMEM : 0;
}

static int postfix(const char *root, int64_t now, json_t *item, int *found)
{
	static const char *const logs[2] = { "var/log/mail.log",
					     "var/log/mail.log.1" };
	static const char *const queues[] = { "active", "deferred",
					      "incoming", "hold" };
	struct mail_log l = { 0 };
	int64_t total = 0, deferred = 0, hold = 0;
	int cut, any = 0, qcut = 0;
	int r = read_log(root, logs, mail_activity_postfix_log, now, &l,
			 &cut);

	if (r < 0)
		return r;
	/* No mail.log (no syslog daemon): Postfix logs to the journal. */
	if (r == 0)
		postfix_journal(root, now, &l, &cut);
	/* mail.log is every mail program's: it speaks for Postfix only
	 * when Postfix wrote in it. */
	if (l.since) {
		if ((r = put_log(item, &l, cut)) < 0)
			return r;
		*found = 1;
	}
	for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
		struct queue_count q = { 0 };
		char rel[64];

		snprintf(rel, sizeof(rel), "var/spool/postfix/%s", queues[i]);
		/* hash_queue_depth is at most a few levels. */
		if (count_queue(root, rel, 3, &q) < 0)
			continue;
		any = 1;
		total += q.files;
		qcut |= q.cut;
		if (i == 1)
			deferred = q.files;
		else if (i == 3)
			hold = q.files;
	}
	if (!any)
		return 0;
	*found = 1;
	r = set_int(item, "queue", total) |
	    set_int(item, "deferred", deferred) | set_int(item, "hold", hold);
	if (qcut)
		r |= json_object_set_new(item, "queue_truncated", json_true());
	return r ? -ENOMEM : 0;
}

int mail_activity_collect(const char *root, const char *mta, int64_t now,
			  json_t *item, int *ret_found)
{
	int found = 0, r;

	if (!mta || !item)
		return -EINVAL;
	if (strcmp(mta, "exim") == 0)
		r = exim(root, now, item, &found);
	else if (strcmp(mta, "postfix") == 0)
		r = postfix(root, now, item, &found);
	else
		return -EINVAL;
	if (r == 0 && ret_found)
		*ret_found = found;
	return r;
}

/*
 * procfs.h - reading host files under a root directory: paths, small files,
 * /etc/passwd and the per-process files of /proc, shared by the collectors.
 */
#ifndef DERELICT_AGENT_PROCFS_H
#define DERELICT_AGENT_PROCFS_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Largest uid name we keep, and a numeric uid as text. */
#define USER_NAME_MAX 64

/* Writes root + "/" + rel into out.  0, or -ENAMETOOLONG. */
int procfs_path(char *out, size_t size, const char *root, const char *rel);

/* Opens rel under root for reading; NULL with errno set on failure. */
FILE *procfs_fopen(const char *root, const char *rel);

/* Reads at most size-1 bytes of path into buf, NUL-terminated.  The length
 * read, or negative errno. */
ssize_t procfs_read_small_file(const char *path, char *buf, size_t size);

/* uid -> user name, from the passwd file under a root, sorted by uid. */
struct uid_map {
	struct uid_entry {
		uid_t uid;
		char name[USER_NAME_MAX];
	} *v;
	size_t n;
};

/* Parses a passwd(5) stream into m (which the caller frees with
 * procfs_uid_map_free).  Malformed lines are skipped.  0 or -ENOMEM. */
int procfs_uid_map_parse(FILE *f, struct uid_map *m);
/* Loads <root>/etc/passwd; a missing file yields an empty map. */
int procfs_uid_map_load(const char *root, struct uid_map *m);
void procfs_uid_map_free(struct uid_map *m);
/* The user's name, or the uid in decimal written into buf. */
const char *procfs_uid_map_name(const struct uid_map *m, uid_t uid,
				char buf[USER_NAME_MAX]);

/* What collectors need from /proc/<pid>/stat and status. */
struct proc_info {
	pid_t pid;
	pid_t ppid;
	int tty_nr;
	unsigned long flags;	/* PF_* from stat */
	uid_t uid;		/* effective uid, as ps(1) shows it */
	char comm[64];
	char exe[4096];		/* "" when unreadable (kernel thread, EACCES) */
};

#define PF_KTHREAD_FLAG 0x00200000UL

/* Parses the text of /proc/<pid>/stat.  0 or -EINVAL. */
int procfs_parse_stat(const char *text, struct proc_info *p);
/* Finds the effective uid in the text of /proc/<pid>/status.  0 or
 * -EINVAL. */
int procfs_parse_status_uid(const char *text, uid_t *ret);

/* Fills p for pid from <root>/proc/<pid>/{stat,status,exe}; want_exe and
 * want_uid skip reads a caller does not need.  0 or negative errno (the
 * process may have gone away meanwhile: -ENOENT). */
int procfs_read_proc(const char *root, pid_t pid, int want_exe, int want_uid,
		     struct proc_info *p);

/* Calls fn for every numeric entry of <root>/proc, in readdir order; stops
 * and returns fn's negative value if it returns one.  0 or negative errno
 * (-ENOENT when there is no proc directory). */
int procfs_foreach_pid(const char *root, int (*fn)(pid_t pid, void *ud),
		       void *ud);

#endif

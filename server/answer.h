/*
 * answer.h - the signed links of the owners' mails ("keep until", "retire",
 * "not mine"): their tokens and the server key that signs them.
 *
 * A token is base64url(payload) "." base64url(HMAC-SHA256(key, payload)),
 * the payload "1|host|finding|action|until|expires|id|recipient".  It names
 * the host, the finding the mail listed first for it, the action, the
 * date "keep" keeps the host until, when it expires (30 days after the
 * mail) and the mail's recipient, who answers; id is a random nonce the
 * store records when the link is used, so it works once.
 */
#ifndef DERELICT_ANSWER_H
#define DERELICT_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#define ANSWER_KEY_LEN 32
#define ANSWER_TOKEN_MAX 1024	/* longer is refused unread */
#define ANSWER_LIFETIME (30 * 86400)
#define ANSWER_KEEP_DAYS 90	/* how far "keep until" reaches */
#define ANSWER_RECIPIENT_MAX 254
#define ANSWER_ID_LEN 33	/* 32 hex digits and NUL */

enum answer_action { ANSWER_KEEP, ANSWER_RETIRE, ANSWER_NOTMINE };

struct answer {
	int64_t host_id;
	int64_t finding_id;
	enum answer_action action;
	char until[11];		/* YYYY-MM-DD; "" but for ANSWER_KEEP */
	int64_t expires;
	char id[ANSWER_ID_LEN];
	char recipient[ANSWER_RECIPIENT_MAX + 1];
};

/* A key to offer the database (store_mail_link_key(), which keeps the
 * first one stored): the answer.key file that releases before 0.4 kept
 * in the directory of the database file, so that their links still work
 * (1), or 32 fresh random bytes when there is no such file (0); -EPERM
 * when others may read the file. */
int answer_key_candidate(const char *database,
			 unsigned char key[ANSWER_KEY_LEN]);

/* Writes a's token, NUL-terminated, into out (ANSWER_TOKEN_MAX bytes).
 * a->id must be set (answer_new_id()).  0 or -E2BIG. */
int answer_sign(const unsigned char key[ANSWER_KEY_LEN],
		const struct answer *a, char out[ANSWER_TOKEN_MAX]);
/* Fills a->id with a fresh random id.  0 or -EIO. */
int answer_new_id(struct answer *a);

/* Checks a token's signature and fields: 0 with *ret filled, -EBADMSG for
 * a malformed or altered token, -ETIME for one that expired at now (*ret
 * filled all the same). */
int answer_verify(const unsigned char key[ANSWER_KEY_LEN], const char *token,
		  int64_t now, struct answer *ret);

/* "keep", "retire", "notmine". */
const char *answer_action_name(enum answer_action a);

#endif

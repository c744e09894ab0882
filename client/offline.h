/* offline.h — answering from a signed extract when no server answers
 * (internal; SPEC 10, eligclient.h "Offline").
 *
 * A handle made with options.offline_extract owns one eligc__offline: the
 * paths, the public key's PEM text (read at eligc_open), and, once the
 * first offline answer needs them, the extract (opened with
 * elig_snap_open_signed as a private, verified copy: what was checked is
 * what answers, whatever happens to the file afterwards) with a reader on
 * it, and the journal. It also remembers when the servers last failed, so
 * that within options.offline_retry_ms the next check goes straight to the
 * extract instead of waiting on a dead network again.
 *
 * api.c decides when to answer offline (eligc_check only); this file does
 * the answering. Everything belongs to the handle's thread. */
#ifndef ELIGC_OFFLINE_H
#define ELIGC_OFFLINE_H

#include <stdbool.h>

#include "eligclient.h"

typedef struct eligc__offline eligc__offline;

/* From the options (after eligc_options_init defaults): NULL in *out when
 * no extract is configured. 0, or ELIGC_EBADARG (no public key given, or
 * its file unreadable) / ELIGC_ENOMEM with the handle's error set. */
int eligc__offline_new(eligc_conn *c, const eligc_options *o, eligc__offline **out);
void eligc__offline_free(eligc__offline *o);

/* The servers failed just now (rc, an ELIGC_E* code): is this a failure
 * the extract answers for (no server answered)? */
bool eligc__offline_covers(int rc);
/* True while the servers failed less than offline_retry_ms ago: answer
 * from the extract without asking them. */
bool eligc__offline_skip_network(const eligc__offline *o);
/* A server answered: the next failure starts the retry interval afresh. */
void eligc__offline_online(eligc__offline *o);
/* How many servers the handle has: a timeout is retried on each of them
 * before the extract answers. */
size_t eligc__offline_servers(const eligc__offline *o);

/* Answers q (already valid) from the extract into *a and journals it.
 * net_rc is the servers' failure, whose message (eligc_errmsg) is kept in
 * front of the extract's own if it fails. 0, or ELIGC_EOFFLINE. */
int eligc__offline_check(eligc_conn *c, eligc__offline *o, const eligc_query *q, eligc_answer *a, int net_rc);

/* eligc_offline_info's work. */
int eligc__offline_info(eligc_conn *c, eligc__offline *o, eligc_extract_info *out);

#endif /* ELIGC_OFFLINE_H */

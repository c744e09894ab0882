/* wire.h — libeligclient's codec (internal): requests out, answers in.
 *
 * Pure functions over byte buffers, no sockets, so every byte of the codec
 * can be tested without a server. Requests are packed with msgpack-c's
 * packer into an eligc__buf. Answers are framed (mpr_scan_next) and read
 * (mpr_cur) by the project's one bounded reader, lib/mpr.h, never by
 * msgpack-c's unpacker, which allocates whatever an array or map header
 * declares before the elements arrive (msgpack-c issue 1013). Reading
 * allocates nothing except a household's enrollment list, whose length is
 * bounded by the bytes present.
 */
#ifndef ELIGC_WIRE_H
#define ELIGC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "eligclient.h"
#include "mpr.h"

/* A growable byte buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} eligc__buf;

/* Makes room for n more bytes: 0 or ELIGC_ENOMEM. */
int eligc__buf_reserve(eligc__buf *b, size_t n);
/* Frees the bytes; b is left empty and reusable. */
void eligc__buf_free(eligc__buf *b);

/* ---- requests: each appends one complete request to b ------------------ */
/* 0 or ELIGC_ENOMEM (b then holds a partial request: the caller truncates
 * b->len back to what it was). Queries must already be valid. */

/* A method whose params are [] (ping, info, reload). */
int eligc__enc_noargs(eligc__buf *b, uint32_t msgid, elig_method m);
int eligc__enc_check(eligc__buf *b, uint32_t msgid, const eligc_query *q);
/* auth [channel, token] (SPEC 6). */
int eligc__enc_auth(eligc__buf *b, uint32_t msgid, const char *channel, const char *token);
int eligc__enc_check_batch(eligc__buf *b, uint32_t msgid, const eligc_query *q, size_t n);
int eligc__enc_household(eligc__buf *b, uint32_t msgid, elig_kind kind, const char *id);

/* Reads an error object. Returns 0 if it is nil (success), else 1 with
 * *code and the message copied (truncated, NUL-terminated) into msg[cap].
 * An error object not of the form [code, message] still counts as an
 * error: code 0 and a message saying so. */
int eligc__dec_error(const mpr_cur *err, int64_t *code, char *msg, size_t cap);

/* Result decoders: 0, or ELIGC_EPROTO with *why set to a constant string
 * saying what was wrong. */
int eligc__dec_pong(mpr_cur *r, const char **why);
int eligc__dec_answer(mpr_cur *r, eligc_answer *a, const char **why);
/* An array of exactly n answer maps. */
int eligc__dec_answers(mpr_cur *r, eligc_answer *out, size_t n, const char **why);
/* Allocates h->enrollments; on failure h holds nothing to free. May also
 * return ELIGC_ENOMEM. */
int eligc__dec_household(mpr_cur *r, eligc_household *h, const char **why);
int eligc__dec_info(mpr_cur *r, eligc_info *info, const char **why);
int eligc__dec_reload(mpr_cur *r, eligc_reload_result *out, const char **why);

#endif /* ELIGC_WIRE_H */

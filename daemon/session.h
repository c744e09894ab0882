/* session.h — who is on the other end of one connection.
 *
 * A connection's identity and what it may do live here, resolved once
 * (at accept, at `auth`, or from a TLS client certificate) and then read
 * by every step of the request path without another lookup. Without an
 * auth file every session may do everything (SPEC 6). */
#ifndef ELIGD_SESSION_H
#define ELIGD_SESSION_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    SESSION_TCP,
    SESSION_UNIX,
    SESSION_TLS,
} session_transport;

/* What the connection may do (auth.c decides; SPEC 6). */
typedef enum {
    SESSION_OPEN,    /* everything: no auth file, or the Unix socket without --unix-auth */
    SESSION_ANON,    /* ping and auth only, until `auth` succeeds */
    SESSION_GRANTED, /* what `grant` allows */
} session_access;

/* How a granted session proved itself, to re-check it after a reload. */
typedef enum { SESSION_BY_TOKEN, SESSION_BY_CERT } session_proof;

struct auth_channel;

typedef struct session {
    uint64_t conn_id;             /* unique for the daemon's life, for logs and audit */
    session_transport transport;
    char peer[64];                /* "ip:port", "[ipv6]:port" or "unix" */
    /* The channel name as audit records and logs carry it (SPEC 7): "-"
     * before `auth` or without an auth file, "unix" on the Unix socket,
     * else the channel's name. Points to static or channel-table storage
     * that outlives the connection. */
    const char *channel;
    session_access access;
    session_proof proof;
    /* SESSION_GRANTED: the channel, in the table its worker holds. */
    const struct auth_channel *grant;
    uint8_t auth_failures;  /* failed `auth` calls so far */
    bool close_after;       /* answer this request, then close (failed auth) */
    bool has_cert;          /* a verified TLS client certificate: */
    uint8_t cert_sha256[32]; /* its fingerprint */
} session;

#endif

/* tls.h — TLS as a transport under conn.c (SPEC 6, --tls-listen).
 *
 * OpenSSL 3 runs over memory BIOs: libuv reads ciphertext into the
 * worker's buffer, conn.c feeds it in with tls_conn_feed and takes the
 * plaintext out with tls_conn_read (one decrypt pass per socket read);
 * the answers of that read, all of them, go back through one
 * tls_conn_write (one encrypt per flush, not per message), so pipelined
 * requests keep their batching. OpenSSL never touches the socket, which
 * stays libuv's, and conn.c's serve() stays the one state-transition site.
 *
 * Objects and lifetimes
 *   tls_server  the SSL_CTX built from --tls-cert, --tls-key and --tls-ca.
 *               tls_server_reload builds a new one and swaps it in under
 *               a mutex (keeping the session-ticket keys, so tickets
 *               issued before a reload still resume); a connection keeps
 *               the context it started with (OpenSSL counts the
 *               reference). Created before the workers, freed after them.
 *   tls_conn    one connection's SSL and its two memory BIOs; owned by
 *               the conn, freed in its close callback.
 *
 * Threads: a tls_conn is used by its worker's thread only; tls_conn_new
 * and tls_server_reload may run on any thread at once.
 *
 * Defaults: TLS 1.2 and 1.3 only; for 1.2 only ECDHE key exchange with
 * AES-GCM or ChaCha20-Poly1305; no renegotiation; resumption by stateless
 * session tickets shared by every worker; idle connections give their
 * record buffers back (SSL_MODE_RELEASE_BUFFERS). */
#ifndef ELIGD_TLS_H
#define ELIGD_TLS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct tls_server tls_server;
typedef struct tls_conn tls_conn;

/* Builds the context from PEM files; ca may be NULL (no client
 * certificate asked). 0, or -1 with err saying which file and why. */
int tls_server_new(const char *cert, const char *key, const char *ca, tls_server **out, char *err,
                   size_t errlen);
/* Re-reads the files; on failure the old context stays and err says why.
 * 0 or -1. */
int tls_server_reload(tls_server *t, char *err, size_t errlen);
void tls_server_free(tls_server *t);
/* Handshakes completed since start: all, and those that resumed a session. */
void tls_server_counts(tls_server *t, uint64_t *handshakes, uint64_t *resumed);

/* A server-side connection on t's current context, or NULL (no memory). */
tls_conn *tls_conn_new(tls_server *t);
void tls_conn_free(tls_conn *c);

/* Results of tls_conn_read besides a byte count. */
#define TLS_EOF (-1)  /* the peer sent close_notify */
#define TLS_FAIL (-2) /* a TLS error: tls_conn_error says what */

/* Hands ciphertext read from the socket to the TLS engine. 0 or TLS_FAIL. */
int tls_conn_feed(tls_conn *c, const char *data, size_t len);
/* Decrypts into dst[0..cap): the number of bytes (> 0), 0 when it needs
 * more ciphertext (the handshake may have progressed: write next),
 * TLS_EOF or TLS_FAIL. */
long tls_conn_read(tls_conn *c, char *dst, size_t cap);
/* Encrypts plain[0..len) (len may be 0) and appends every byte the engine
 * has for the peer (handshake messages, alerts, records) to out. 0, or
 * TLS_FAIL (also when out cannot grow). */
int tls_conn_write(tls_conn *c, const char *plain, size_t len, buf *out);
/* The handshake is complete. The first time it returns true after a
 * handshake, *fresh is set (so that the caller looks at the certificate
 * once); otherwise false. */
bool tls_conn_established(tls_conn *c, bool *fresh);
/* The verified client certificate's SHA-256 (DER): true and fp filled, or
 * false when there is none. */
bool tls_conn_peer_sha256(tls_conn *c, uint8_t fp[32]);
/* The handshake has not completed yet (for the handshake deadline). */
bool tls_conn_handshaking(const tls_conn *c);
/* Why the connection failed (after TLS_FAIL), e.g. "wrong version number". */
const char *tls_conn_error(const tls_conn *c);

#endif

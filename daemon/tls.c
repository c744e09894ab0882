/* tls.c — see tls.h. */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "alloc.h"

/* For TLS 1.2: forward secrecy and AEAD only. TLS 1.3 suites are
 * OpenSSL's defaults (all AEAD). */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"

struct tls_server {
    uv_mutex_t mu; /* guards ctx */
    SSL_CTX *ctx;
    char *cert, *key, *ca;
    atomic_uint_fast64_t handshakes, resumed;
};

struct tls_conn {
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
    tls_server *srv;
    bool started;     /* the first ciphertext byte has been seen */
    bool established;
    bool silent;      /* the peer does not speak TLS: send it no alert */
    char error[120];
};

/* The first error on OpenSSL's queue, as text; clears the queue. */
static void openssl_error(char *out, size_t n) {
    unsigned long e = ERR_get_error();
    if (e) {
        const char *r = ERR_reason_error_string(e);
        snprintf(out, n, "%s", r ? r : "unknown OpenSSL error");
    } else {
        snprintf(out, n, "unknown TLS error");
    }
    ERR_clear_error();
}

static SSL_CTX *build_ctx(const tls_server *t, char *err, size_t errlen) {
    char why[120];
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        openssl_error(why, sizeof why);
        snprintf(err, errlen, "cannot create a TLS context: %s", why);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"eligd", 5);
    const char *bad = NULL;
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1)
        bad = "cipher list";
    else if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1)
        bad = t->cert;
    else if (SSL_CTX_use_PrivateKey_file(ctx, t->key, SSL_FILETYPE_PEM) != 1)
        bad = t->key;
    else if (SSL_CTX_check_private_key(ctx) != 1)
        bad = "--tls-key does not match --tls-cert:";
    else if (t->ca) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(t->ca);
        if (!names || SSL_CTX_load_verify_locations(ctx, t->ca, NULL) != 1) {
            bad = t->ca;
            if (names)
                sk_X509_NAME_pop_free(names, X509_NAME_free);
        } else {
            SSL_CTX_set_client_CA_list(ctx, names);
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
    }
    if (bad) {
        openssl_error(why, sizeof why);
        snprintf(err, errlen, "TLS: %s %s", bad, why);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int tls_server_new(const char *cert, const char *key, const char *ca, tls_server **out, char *err,
                   size_t errlen) {
    tls_server *t = elig_calloc(1, sizeof *t);
    if (!t || !(t->cert = elig_strdup(cert)) || !(t->key = elig_strdup(key)) || (ca && !(t->ca = elig_strdup(ca)))) {
        snprintf(err, errlen, "out of memory");
        tls_server_free(t);
        return -1;
    }
    if (!(t->ctx = build_ctx(t, err, errlen))) {
        tls_server_free(t);
        return -1;
    }
    uv_mutex_init(&t->mu);
    atomic_init(&t->handshakes, 0);
    atomic_init(&t->resumed, 0);
    *out = t;
    return 0;
}

int tls_server_reload(tls_server *t, char *err, size_t errlen) {
    SSL_CTX *fresh = build_ctx(t, err, errlen);
    if (!fresh)
        return -1;
    unsigned char keys[80]; /* name, HMAC and AES keys of the session tickets */
    uv_mutex_lock(&t->mu);
    if (SSL_CTX_get_tlsext_ticket_keys(t->ctx, keys, sizeof keys) == 1)
        SSL_CTX_set_tlsext_ticket_keys(fresh, keys, sizeof keys);
    SSL_CTX *old = t->ctx;
    t->ctx = fresh;
    uv_mutex_unlock(&t->mu);
    OPENSSL_cleanse(keys, sizeof keys);
    SSL_CTX_free(old); /* connections on it hold their own reference */
    return 0;
}

void tls_server_free(tls_server *t) {
    if (!t)
        return;
    if (t->ctx) {
        SSL_CTX_free(t->ctx);
        uv_mutex_destroy(&t->mu);
    }
    elig_free(t->cert);
    elig_free(t->key);
    elig_free(t->ca);
    elig_free(t);
}

void tls_server_counts(tls_server *t, uint64_t *handshakes, uint64_t *resumed) {
    *handshakes = atomic_load_explicit(&t->handshakes, memory_order_relaxed);
    *resumed = atomic_load_explicit(&t->resumed, memory_order_relaxed);
}

tls_conn *tls_conn_new(tls_server *t) {
    tls_conn *c = elig_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->srv = t;
    uv_mutex_lock(&t->mu);
    c->ssl = SSL_new(t->ctx);
    uv_mutex_unlock(&t->mu);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->rbio || !c->wbio) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        SSL_free(c->ssl);
        elig_free(c);
        ERR_clear_error();
        return NULL;
    }
    BIO_set_mem_eof_return(c->rbio, -1); /* empty means "more to come", not EOF */
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_accept_state(c->ssl);
    return c;
}

void tls_conn_free(tls_conn *c) {
    if (!c)
        return;
    SSL_free(c->ssl); /* frees the BIOs */
    elig_free(c);
}

static int failed(tls_conn *c) {
    if (!c->error[0])
        openssl_error(c->error, sizeof c->error);
    else
        ERR_clear_error();
    return TLS_FAIL;
}

int tls_conn_feed(tls_conn *c, const char *data, size_t len) {
    /* Every TLS 1.2+ client opens with a handshake record (content type
     * 22). Anything else is most likely a plaintext client: refuse at once
     * rather than wait for a record length read from its bytes. */
    if (!c->started && len > 0) {
        c->started = true;
        if ((unsigned char)data[0] != 0x16) {
            snprintf(c->error, sizeof c->error, "not TLS: the first byte is not a handshake record (a plaintext client?)");
            c->silent = true;
            return TLS_FAIL;
        }
    }
    if (len > INT32_MAX || BIO_write(c->rbio, data, (int)len) != (int)len) {
        snprintf(c->error, sizeof c->error, "out of memory for ciphertext");
        return TLS_FAIL;
    }
    return 0;
}

long tls_conn_read(tls_conn *c, char *dst, size_t cap) {
    if (cap > INT32_MAX)
        cap = INT32_MAX;
    int n = SSL_read(c->ssl, dst, (int)cap);
    if (n > 0)
        return n;
    switch (SSL_get_error(c->ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        return TLS_EOF;
    default:
        return failed(c);
    }
}

int tls_conn_write(tls_conn *c, const char *plain, size_t len, buf *out) {
    if (c->silent)
        return 0;
    while (len > 0) {
        int n = SSL_write(c->ssl, plain, len > INT32_MAX ? INT32_MAX : (int)len);
        if (n <= 0)
            return failed(c);
        plain += n;
        len -= (size_t)n;
    }
    size_t pending = BIO_ctrl_pending(c->wbio);
    if (pending == 0)
        return 0;
    if (buf_reserve(out, pending) != 0) {
        snprintf(c->error, sizeof c->error, "out of memory for ciphertext");
        return TLS_FAIL;
    }
    int got = BIO_read(c->wbio, out->data + out->len, (int)pending);
    if (got > 0)
        out->len += (size_t)got;
    return 0;
}

bool tls_conn_established(tls_conn *c, bool *fresh) {
    *fresh = false;
    if (c->established)
        return true;
    if (!SSL_is_init_finished(c->ssl))
        return false;
    c->established = *fresh = true;
    atomic_fetch_add_explicit(&c->srv->handshakes, 1, memory_order_relaxed);
    if (SSL_session_reused(c->ssl))
        atomic_fetch_add_explicit(&c->srv->resumed, 1, memory_order_relaxed);
    return true;
}

bool tls_conn_peer_sha256(tls_conn *c, uint8_t fp[32]) {
    X509 *cert = SSL_get0_peer_certificate(c->ssl);
    unsigned int n = 0;
    if (!cert || SSL_get_verify_result(c->ssl) != X509_V_OK)
        return false;
    return X509_digest(cert, EVP_sha256(), fp, &n) == 1 && n == 32;
}

bool tls_conn_handshaking(const tls_conn *c) { return !c->established; }

const char *tls_conn_error(const tls_conn *c) { return c->error[0] ? c->error : "unknown TLS error"; }

/* fake_server.h — a scripted msgpack-RPC server on a thread, for testing
 * libeligclient without eligd: it answers what a test tells it to, and
 * misbehaves on cue (silence, garbage, hostile sizes, dropped connections).
 *
 * Answers are derived from the query so a test can tell which request an
 * answer belongs to and which server gave it: a check on id I is answered
 * eligible, amount = the last 6 digits of I, kk = I, region 3171010001,
 * snapshot = the server's name. */
#ifndef FAKE_SERVER_H
#define FAKE_SERVER_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    FAKE_ANSWER,      /* answer everything */
    FAKE_SILENT,      /* read requests, never answer */
    FAKE_GARBAGE,     /* answer with bytes that are not msgpack */
    FAKE_HUGE,        /* answer with an array header declaring 4 G elements */
    FAKE_ERROR,       /* answer every request with error [1, "item 0: bad id"] */
    FAKE_WRONG_ID,    /* answer with msgid + 1 */
    FAKE_TRICKLE,     /* answer one byte per write */
    FAKE_NOTIFY,      /* send a notification before each answer */
    FAKE_UNAVAILABLE, /* answer every request with error [5, "snapshot read failed"] */
} fake_mode;

typedef struct fake_server fake_server;

typedef struct {
    const char *name;      /* the snapshot id its answers carry */
    fake_mode mode;
    /* After answering this many requests in total, close the connection
     * and the listening socket (later connects are refused); 0 = never.
     * With half_answer, half of the next answer is written first. */
    unsigned die_after;
    bool half_answer;
    /* After each this-many answers on one connection, close it (as an idle
     * timeout would) but keep listening; 0 = never. */
    unsigned close_every;
    const char *unix_path; /* listen here instead of 127.0.0.1:0 */
} fake_config;

/* Starts the server thread; NULL on failure. */
fake_server *fake_start(const fake_config *cfg);
/* "127.0.0.1:PORT" or "unix:PATH", valid while the server lives. */
const char *fake_addr(const fake_server *f);
/* Answers written so far (each check_batch counts once). */
unsigned fake_answered(fake_server *f);
/* Requests read so far. */
unsigned fake_received(fake_server *f);
/* Connections accepted so far. */
unsigned fake_accepted(fake_server *f);
/* Stops the thread and frees everything. */
void fake_stop(fake_server *f);

/* A TCP address on 127.0.0.1 where nothing listens ("127.0.0.1:PORT"),
 * written to buf[64]. */
void fake_refused_addr(char buf[64]);

#endif /* FAKE_SERVER_H */

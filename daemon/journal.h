/* journal.h — the `journal` method's memory (SPEC 10): which offline
 * answers of each terminal the audit trail already holds, so that an
 * upload sent twice records nothing twice.
 *
 * An offline terminal numbers its answers 1, 2, 3, ... in its journal
 * (client/journal.h) and uploads them with its terminal id. Per (channel
 * of the uploading session, terminal id) this table keeps two marks:
 *
 *   accepted  the highest sequence number queued for the trail: an upload
 *             records only the answers above it, and moves it up;
 *   durable   the highest sequence number whose record is written and
 *             synced (fdatasync) in a segment file: what the terminal may
 *             forget. An upload's answer says it; the terminal appends it
 *             to its journal as acknowledged.
 *
 * How `durable` is known without the writer decoding records: an upload's
 * records go into its worker's ring at byte positions; audit.c publishes,
 * per ring, the position up to which everything taken is written and
 * synced (audit_ring's durable mark). An upload leaves a pending entry
 * (ring, position after its last record, its last sequence number); an
 * entry whose position the ring's durable mark has passed moves the
 * terminal's `durable` up. A terminal's pending uploads are kept to one
 * ring (one connection at a time: an upload over a second connection while
 * the first's records are still being written is refused with
 * `unavailable`, to be retried), so its records reach the file in order and
 * `durable` is a prefix: every answer up to it is in the trail.
 *
 * Across restarts: the writer saves the durable marks in AUDIT_DIR/
 * .journal-marks when it closes a segment, if they changed since the last
 * save or JOURNAL_RESAVE_SEGMENTS segments have closed since ("through" that segment:
 * every offline record in the segments up to it is counted), written to a
 * temporary file, synced and renamed. At start-up the file is read and the
 * segments after it are scanned for offline records (their detail names
 * terminal and sequence number): a crash loses neither a record (what was
 * not durable is accepted again on the next upload) nor the fact that one
 * was written (its segment is read back). Without the file every segment
 * is scanned once.
 *
 * Threads: workers call journal_begin/journal_end (a mutex, held from
 * one to the other: uploads are rare and short); the writer calls
 * journal_checkpoint. journal_open runs before either starts.
 *
 * Limits: JOURNAL_TERMINALS_MAX (channel, terminal) pairs; past it an
 * upload from a new terminal is refused (unavailable) and counted with the
 * trail's refused requests (audit.c: info.audit.refused, the metrics). */
#ifndef ELIGD_JOURNAL_H
#define ELIGD_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOURNAL_TERMINALS_MAX (1u << 20)
#define JOURNAL_MARKS_NAME ".journal-marks"
#define JOURNAL_PENDING_MAX 8 /* uploads of one terminal waiting to be synced */
#define JOURNAL_RESAVE_SEGMENTS 8 /* unchanged marks are saved again this often (segments) */

typedef struct journal journal;

/* Where a ring's records are durable up to: the byte position of ring
 * `ring` below which every record is written and synced. */
typedef uint64_t (*journal_durable_fn)(void *ud, int ring);

/* Reads dir's .journal-marks and scans the segments past it (dirfd is the
 * open directory). 0 with *out, or a negative code (out of memory); a
 * damaged marks file or segment is logged and read around, never fatal. */
int journal_open(const char *dir, int dirfd, journal **out);
void journal_close(journal *j);

/* An upload in progress (between journal_begin and journal_end). */
typedef struct {
    void *mark;        /* the terminal's entry (opaque) */
    uint64_t accepted; /* its accepted mark before this upload */
} journal_claim;

/* Locks the table, finds (or makes) the entry of (channel, terminal),
 * moves its durable mark over whatever durable(ud, ring) now covers, and
 * says in cl->accepted which sequence numbers it holds already (those <=
 * it are duplicates). 0 (locked: call journal_end), or -1 with why (not
 * locked): the table is full, or this terminal's records from another ring
 * are still being written. */
int journal_begin(journal *j, const char *channel, size_t channel_len, const char *terminal, size_t terminal_len,
                  int ring, journal_durable_fn durable, void *ud, journal_claim *cl, const char **why);

/* Ends an upload and unlocks. queued: its new records (up to sequence
 * number last) were queued in `ring`, ending at byte position pos (then
 * last becomes the accepted mark and a pending entry); false: nothing was
 * queued. *durable gets the terminal's durable mark. */
void journal_end(journal *j, journal_claim *cl, bool queued, int ring, uint64_t pos, uint64_t last,
                 uint64_t *durable);

/* The writer closed segment `through` (synced): moves every terminal's
 * durable mark over what durable() covers and saves the marks file (dirfd:
 * the audit directory). Writer thread only. 0, or -1 with the reason
 * logged (the previous file stays: start-up then scans more). */
int journal_checkpoint(journal *j, int dirfd, uint64_t through, journal_durable_fn durable, void *ud);

/* The detail string of an offline record, "terminal=T seq=N", and back
 * (false if detail is not one). */
size_t journal_detail(char *out, size_t cap, const char *terminal, size_t terminal_len, uint64_t seq);
bool journal_detail_parse(const char *detail, size_t n, const char **terminal, size_t *terminal_len,
                          uint64_t *seq);

#endif

/* index.c — loading a snapshot's id index (index.h) and checking that
 * every byte a lookup can read lies inside the file. */
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "index.h"

static int why_(char *why, size_t whylen, int code, const char *msg) {
    if (why && whylen)
        snprintf(why, whylen, "%s", msg);
    return code;
}

int elig_index_load_(elig_index *ix, MDB_txn *txn, MDB_dbi dbi, const unsigned char *map, uint64_t maplen,
                     char *why, size_t whylen) {
    memset(ix, 0, sizeof *ix);
    uint64_t k0 = 0;
    MDB_val key = {sizeof k0, &k0}, v;
    if (mdb_get(txn, dbi, &key, &v) != 0 || v.mv_size < ELIG_IDX_HEAD)
        return why_(why, whylen, ELIG_ECORRUPT, "index header missing or malformed");
    elig_idx_head h;
    elig_idx_head_get(v.mv_data, &h);
    if (h.magic != ELIG_IDX_MAGIC || h.version != ELIG_IDX_VERSION)
        return why_(why, whylen, ELIG_ECORRUPT, "index header has an unknown magic or version");
    uint64_t per = h.chunk_shift < 40 ? UINT64_C(1) << h.chunk_shift : 0;
    /* nbuckets is bounded first, so that nothing below can wrap */
    if (h.nbuckets == 0 || per == 0 || h.nbuckets > (uint64_t)ELIG_IDX_MAX_CHUNKS * per || h.nchunks == 0 ||
        h.nchunks > ELIG_IDX_MAX_CHUNKS || (h.nbuckets + per - 1) / per != h.nchunks ||
        v.mv_size != ELIG_IDX_HEAD + 8 * (size_t)h.nchunks || h.max_probe == 0 || h.max_probe > h.nbuckets ||
        h.entries > h.nbuckets * ELIG_IDX_SLOTS || h.pad >= ELIG_IDX_BUCKET ||
        h.per_kind[0] > h.entries || h.per_kind[1] > h.entries || h.per_kind[2] > h.entries ||
        h.per_kind[0] + h.per_kind[1] + h.per_kind[2] != h.entries)
        return why_(why, whylen, ELIG_ECORRUPT, "index header is inconsistent");
    ix->chunk = elig_malloc(h.nchunks * sizeof *ix->chunk);
    if (!ix->chunk)
        return why_(why, whylen, ELIG_ENOMEM, "out of memory");
    const unsigned char *offs = (const unsigned char *)v.mv_data + ELIG_IDX_HEAD;
    for (uint32_t c = 0; c < h.nchunks; c++) {
        uint64_t nb = c + 1 < h.nchunks ? per : h.nbuckets - (uint64_t)c * per;
        uint64_t off, need = h.pad + nb * ELIG_IDX_BUCKET;
        memcpy(&off, offs + 8 * c, 8);
        if (off < 2 * 4096 || off > maplen || need > maplen - off) {
            elig_free(ix->chunk);
            ix->chunk = NULL;
            return why_(why, whylen, ELIG_ECORRUPT, "index chunk outside the file");
        }
        ix->chunk[c] = map + off + h.pad;
    }
    ix->nbuckets = h.nbuckets;
    ix->entries = h.entries;
    ix->seed = h.seed;
    memcpy(ix->per_kind, h.per_kind, sizeof ix->per_kind);
    ix->chunk_shift = h.chunk_shift;
    ix->nchunks = h.nchunks;
    ix->max_probe = h.max_probe;
    return 0;
}

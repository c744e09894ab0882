/* test_auth_file.c — the channels file of SPEC 6 (daemon/auth.c's parser)
 * and the pieces of the authorize step that need no socket: grants,
 * region ranges and the rate-limit bucket.
 *
 * Expected values are written by hand from SPEC 6: digests are computed
 * here with OpenSSL from the token text, region ranges from the prefix by
 * arithmetic on paper, line numbers by counting the lines of each input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "auth.h"

#define SHA_A "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8" /* sha256("password") */

static auth_table *parse_ok(const char *text) {
    auth_table *t = NULL;
    char err[300] = "";
    int rc = auth_table_parse(text, strlen(text), "chan.conf", &t, err, sizeof err);
    if (rc != 0)
        fail_msg("parse failed: %s\n--- input ---\n%s", err, text);
    return t;
}

/* Asserts the text is refused with a message that starts "chan.conf:LINE: "
 * and contains `what`. */
static void parse_bad(const char *text, int line, const char *what) {
    auth_table *t = NULL;
    char err[300] = "", want[32];
    int rc = auth_table_parse(text, strlen(text), "chan.conf", &t, err, sizeof err);
    if (rc == 0)
        fail_msg("accepted, want refused at line %d (%s)\n--- input ---\n%s", line, what, text);
    snprintf(want, sizeof want, "chan.conf:%d: ", line);
    if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, what))
        fail_msg("message '%s', want it to start '%s' and contain '%s'", err, want, what);
    assert_null(t);
}

static void test_spec_example(void **state) {
    (void)state;
    const char *text = "# comments start with '#'; blank lines are ignored\n"
                       "[channel bank-bri]\n"
                       "token_sha256 = " SHA_A "\n"
                       "methods      = check, check_batch\n"
                       "programs     = PKH, BPNT\n"
                       "regions      = *\n"
                       "rate         = 20000\n"
                       "burst        = 40000\n"
                       "\n"
                       "[channel ewarong-jabar]\n"
                       "token_sha256 = " SHA_A "\n"
                       "cert_sha256  = AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89\n"
                       "methods      = check, household\n"
                       "programs     = BPNT\n"
                       "regions      = 32, 3671\n"
                       "rate         = 200\n"
                       "burst        = 400\n";
    auth_table *t = parse_ok(text);
    assert_int_equal(t->n, 2);
    const auth_channel *b = auth_table_find(t, "bank-bri", 8);
    assert_non_null(b);
    assert_null(auth_table_find(t, "bank", 4));
    uint8_t want[32];
    SHA256((const unsigned char *)"password", 8, want);
    assert_true(b->has_token);
    assert_false(b->has_cert);
    assert_memory_equal(b->token_sha256, want, 32);
    assert_int_equal(b->methods, (1u << ELIG_METHOD_CHECK) | (1u << ELIG_METHOD_CHECK_BATCH));
    assert_int_equal(b->n_programs, 2);
    assert_memory_equal(b->programs[0].name, "PKH", 3);
    assert_int_equal(b->programs[1].len, 4);
    assert_true(b->all_regions);
    assert_false(b->all_programs);
    assert_int_equal(b->rate, 20000);
    assert_int_equal(b->burst, 40000);
    assert_int_equal(b->interval_ns, 50000);          /* 1e9 / 20000 */
    assert_int_equal(b->tolerance_ns, 2000000000ull); /* 40000 x 50 us */
    assert_int_equal(b->line, 2);

    const auth_channel *e = auth_table_find(t, "ewarong-jabar", 13);
    assert_non_null(e);
    assert_int_equal(e->line, 10);
    assert_true(e->has_cert);
    static const uint8_t fp[32] = {0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                   0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45,
                                   0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89};
    assert_memory_equal(e->cert_sha256, fp, 32);
    assert_ptr_equal(auth_table_find_cert(t, fp), e);
    assert_int_equal(e->n_regions, 2);
    /* 32: 3200000000 <= r < 3300000000; 3671: 3671000000 <= r < 3672000000 */
    assert_int_equal(e->regions[0].lo, 3200000000ull);
    assert_int_equal(e->regions[0].hi, 3300000000ull);
    assert_int_equal(e->regions[1].lo, 3671000000ull);
    assert_int_equal(e->regions[1].hi, 3672000000ull);
    auth_table_release(t);
}

static void test_defaults_and_crlf(void **state) {
    (void)state;
    auth_table *t = parse_ok("\xef\xbb\xbf"
                             "[channel a]\r\n"
                             "  token_sha256=" SHA_A "  \r\n"
                             "\tmethods = info\r\n"
                             "programs = *\r\n"
                             "regions = 3273010001\r\n"
                             "rate = 3\r\n");
    const auth_channel *a = &t->ch[0];
    assert_true(a->all_programs);
    assert_int_equal(a->burst, 3); /* no burst: a second's worth */
    assert_int_equal(a->interval_ns, 333333333);
    assert_int_equal(a->regions[0].lo, 3273010001ull);
    assert_int_equal(a->regions[0].hi, 3273010002ull);
    auth_table_release(t);

    t = parse_ok("[channel nolimit]\ncert_sha256 = " SHA_A "\nmethods = check\nprograms = PKH\nregions = 1\n");
    assert_int_equal(t->ch[0].rate, 0);
    assert_int_equal(t->ch[0].interval_ns, 0);
    assert_int_equal(t->ch[0].regions[0].lo, 1000000000ull);
    assert_int_equal(t->ch[0].regions[0].hi, 2000000000ull);
    auth_table_release(t);

    t = parse_ok("# nothing but a comment\n\n");
    assert_int_equal(t->n, 0);
    auth_table_release(t);
}

#define OK_BODY "token_sha256 = " SHA_A "\nmethods = check\nprograms = PKH\nregions = 32\n"

static void test_malformed(void **state) {
    (void)state;
    parse_bad("[channel a]\n" OK_BODY "colour = blue\n", 6, "unknown key 'colour'");
    parse_bad("[channel a]\n" OK_BODY "[channel a]\n" OK_BODY, 6, "duplicate [channel a] (first on line 1)");
    parse_bad("\n\n[channel a]\n" OK_BODY "just words\n", 8, "not a `key = value` line");
    parse_bad("token_sha256 = " SHA_A "\n", 1, "before the first [channel NAME]");
    parse_bad("[channel]\n", 1, "expected [channel NAME]");
    parse_bad("[chan a]\n", 1, "expected [channel NAME]");
    parse_bad("[channel a b]\n", 1, "channel name 'a b'");
    parse_bad("[channel a]\n" OK_BODY "methods = check\n", 6, "methods given twice");
    parse_bad("[channel a]\nmethods = check, fly\n", 2, "unknown method 'fly'");
    parse_bad("[channel a]\nmethods = Check\n", 2, "unknown method 'Check'"); /* names are case-sensitive */
    parse_bad("[channel a]\nmethods = check,,info\n", 2, "empty item");
    parse_bad("[channel a]\nprograms = pkh\n", 2, "programs: 'pkh'");
    parse_bad("[channel a]\nprograms = PKH, *\n", 2, "programs: '*'");
    parse_bad("[channel a]\nregions = 32a\n", 2, "regions: '32a'");
    parse_bad("[channel a]\nregions = 12345678901\n", 2, "regions: '12345678901'");
    parse_bad("[channel a]\nrate = 0\n", 2, "rate: '0'");
    parse_bad("[channel a]\nrate = -5\n", 2, "rate: '-5'");
    parse_bad("[channel a]\nburst = 10x\n", 2, "burst: '10x'");
    parse_bad("[channel a]\ntoken_sha256 = " SHA_A "0\n", 2, "token_sha256: not 64 lower-case hex");
    parse_bad("[channel a]\ntoken_sha256 = 5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8\n", 2,
              "token_sha256");
    parse_bad("[channel a]\ncert_sha256 = xyz\n", 2, "cert_sha256");
    parse_bad("[channel a]\n = 5\n", 2, "no key before '='");
    /* What a section lacks is reported at its header. */
    parse_bad("# x\n[channel a]\nmethods = check\nprograms = PKH\nregions = 32\n", 2,
              "neither token_sha256 nor cert_sha256");
    parse_bad("[channel a]\ntoken_sha256 = " SHA_A "\nprograms = PKH\nregions = 32\n[channel b]\n", 1,
              "no methods line");
    parse_bad("[channel a]\ntoken_sha256 = " SHA_A "\nmethods = check\nregions = 32\n", 1, "no programs line");
    parse_bad("[channel a]\ntoken_sha256 = " SHA_A "\nmethods = check\nprograms = PKH\n", 1, "no regions line");
    parse_bad("[channel a]\n" OK_BODY "burst = 5\n", 1, "burst but no rate");
    parse_bad("[channel a]\ncert_sha256 = " SHA_A "\nmethods=check\nprograms=*\nregions=*\n"
              "[channel b]\ncert_sha256 = " SHA_A "\nmethods=check\nprograms=*\nregions=*\n",
              6, "has the cert_sha256 of [channel a]");
}

/* A NUL inside the text (strlen would stop early): given its true length. */
static void test_nul_byte(void **state) {
    (void)state;
    const char text[] = "[channel a]\nmethods = ch\0eck\n";
    auth_table *t = NULL;
    char err[200];
    assert_int_not_equal(auth_table_parse(text, sizeof text - 1, "f", &t, err, sizeof err), 0);
    assert_string_equal(err, "f:2: a NUL byte");
}

/* ---- the authorize step, in-process ------------------------------------ */

static auth_table *table(void) {
    return parse_ok("[channel t]\ntoken_sha256 = " SHA_A "\nmethods = check, check_batch\n"
                    "programs = PKH, BPNT\nregions = 32, 7371\nrate = 10\nburst = 4\n");
}

static void test_authorize(void **state) {
    (void)state;
    auth_table *t = table();
    /* Bind the bucket by hand (auth_table_load does it from the registry). */
    static auth_stats st;
    t->ch[0].stats = &st;
    session s = {.transport = SESSION_TCP, .channel = "-"};
    auth_session_start(&s, t, false);
    assert_int_equal(s.access, SESSION_ANON);
    mpr_request m = {.type = ELIG_MSG_REQUEST};
    call c = {.msg = &m, .method = ELIG_METHOD_CHECK, .n = 1};
    c.queries = &c.one_query;
    c.answers = &c.one_answer;
    auth_authorize(&c, &s, t);
    assert_int_equal(c.err, ELIG_ERRCODE_UNAUTHORIZED);

    /* Granted (as a certificate would): methods, programmes, rate. */
    s.access = SESSION_GRANTED;
    s.grant = &t->ch[0];
    c = (call){.msg = &m, .method = ELIG_METHOD_HOUSEHOLD};
    auth_authorize(&c, &s, t);
    assert_int_equal(c.err, ELIG_ERRCODE_UNAUTHORIZED);
    assert_non_null(strstr(c.errmsg, "household"));

    elig_query q[2] = {{.program = "PKH", .program_len = 3}, {.program = "PBI", .program_len = 3}};
    elig_answer a[2];
    c = (call){.msg = &m, .method = ELIG_METHOD_CHECK_BATCH, .queries = q, .answers = a, .n = 2};
    auth_authorize(&c, &s, t);
    assert_int_equal(c.err, ELIG_ERRCODE_UNAUTHORIZED);
    assert_non_null(strstr(c.errmsg, "item 1: programme PBI"));

    /* burst 4: a batch of 4 passes at once, the next request is refused
     * with a retry time of one interval (100 ms) at most. */
    q[1] = q[0];
    elig_query q4[4] = {q[0], q[0], q[0], q[0]};
    elig_answer a4[4];
    c = (call){.msg = &m, .method = ELIG_METHOD_CHECK_BATCH, .queries = q4, .answers = a4, .n = 4};
    auth_authorize(&c, &s, t);
    assert_int_equal(c.err, 0);
    c = (call){.msg = &m, .method = ELIG_METHOD_CHECK, .queries = q, .answers = a, .n = 1};
    auth_authorize(&c, &s, t);
    assert_int_equal(c.err, ELIG_ERRCODE_RATE_LIMITED);
    unsigned ms = 0;
    assert_int_equal(sscanf(c.errmsg, "rate_limited: retry after %u ms", &ms), 1);
    assert_true(ms >= 1 && ms <= 100);
    assert_int_equal(atomic_load(&st.rate_limited), 1);
    /* A batch larger than the burst can never pass: said so. */
    elig_query q5[5] = {q[0], q[0], q[0], q[0], q[0]};
    elig_answer a5[5];
    c = (call){.msg = &m, .method = ELIG_METHOD_CHECK_BATCH, .queries = q5, .answers = a5, .n = 5};
    auth_authorize(&c, &s, t);
    assert_int_equal(c.err, ELIG_ERRCODE_RATE_LIMITED);
    assert_non_null(strstr(c.errmsg, "burst of 4"));

    /* Regions: 3201010001 is in 32, 7371020006 in 7371, 1101010007 in neither. */
    elig_answer in = {.reason = ELIG_REASON_ELIGIBLE, .found = true, .kk = 1, .region = 3201010001ull, .amount = 5};
    elig_answer other = {.reason = ELIG_REASON_MEMBER_DECEASED, .found = true, .kk = 2, .region = 1101010007ull};
    elig_answer edge = {.reason = ELIG_REASON_NOT_ENROLLED, .found = true, .kk = 3, .region = 7371999999ull};
    elig_answer ra[3] = {in, other, edge};
    c = (call){.msg = &m, .method = ELIG_METHOD_CHECK_BATCH, .answers = ra, .n = 3};
    auth_hide_regions(&c, &s);
    assert_memory_equal(&ra[0], &in, sizeof in);
    assert_int_equal(ra[1].reason, ELIG_REASON_NOT_FOUND);
    assert_false(ra[1].found);
    assert_int_equal(ra[1].kk, 0);
    assert_int_equal(ra[1].region, 0);
    assert_int_equal(ra[1].amount, 0);
    assert_memory_equal(&ra[2], &edge, sizeof edge);
    c = (call){.msg = &m, .method = ELIG_METHOD_HOUSEHOLD, .hh_found = 1};
    c.hh.region = 3300000000ull; /* just past province 32 */
    auth_hide_regions(&c, &s);
    assert_int_equal(c.hh_found, 0);
    auth_table_release(t);
}

/* An `auth [channel, token]` request as bytes (msgpack written by hand). */
static void auth_request(mpr_request *m, uint8_t *buf, const char *channel, const char *token) {
    size_t cn = strlen(channel), tn = strlen(token), k = 0;
    buf[k++] = 0x94; /* [0, 1, "auth", [channel, token]] */
    buf[k++] = 0x00;
    buf[k++] = 0x01;
    buf[k++] = 0xa4;
    memcpy(buf + k, "auth", 4), k += 4;
    buf[k++] = 0x92;
    buf[k++] = (uint8_t)(0xa0 | cn);
    memcpy(buf + k, channel, cn), k += cn;
    buf[k++] = (uint8_t)(0xa0 | tn);
    memcpy(buf + k, token, tn), k += tn;
    assert_true(mpr_rpc_request(buf, k, m));
}

typedef struct {
    const char *name;
    uint64_t failures;
} find_ctx;

static void find_counts(void *ud, const char *channel, uint64_t failures, uint64_t limited) {
    find_ctx *f = ud;
    (void)limited;
    if (strcmp(channel, f->name) == 0)
        f->failures = failures;
}

static void test_auth_method(void **state) {
    (void)state;
    char err[200];
    auth_table *t = NULL;
    char path[] = "/tmp/auth-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "[channel t]\ntoken_sha256 = " SHA_A "\nmethods = check\nprograms = *\nregions = *\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    /* auth_table_load binds the counters from the process-wide registry. */
    assert_int_equal(auth_table_load(path, &t, err, sizeof err), 0);
    unlink(path);
    find_ctx unknown = {"-", 0}, mine = {"t", 0};
    auth_counters_each(find_counts, &unknown);
    uint64_t unknown_before = unknown.failures;

    session s = {.transport = SESSION_TCP, .channel = "-", .peer = "test"};
    auth_session_start(&s, t, false);
    uint8_t buf[128];
    mpr_request m;
    call c;
    const char *tries[][2] = {{"t", "Password"}, {"nobody", "password"}, {"t", "password "}};
    for (int i = 0; i < 3; i++) {
        auth_request(&m, buf, tries[i][0], tries[i][1]);
        c = (call){.msg = &m, .method = ELIG_METHOD_AUTH};
        auth_authorize(&c, &s, t);
        assert_int_equal(c.err, ELIG_ERRCODE_UNAUTHORIZED);
        assert_false(c.auth_ok);
        assert_int_equal(s.auth_failures, i + 1);
        assert_int_equal(s.close_after, i == 2);
        assert_int_equal(s.access, SESSION_ANON);
    }
    auth_counters_each(find_counts, &mine);
    auth_counters_each(find_counts, &unknown);
    assert_int_equal(mine.failures, 2);
    assert_int_equal(unknown.failures, unknown_before + 1);

    session s2 = {.transport = SESSION_TCP, .channel = "-"};
    auth_session_start(&s2, t, false);
    auth_request(&m, buf, "t", "password");
    c = (call){.msg = &m, .method = ELIG_METHOD_AUTH};
    auth_authorize(&c, &s2, t);
    assert_int_equal(c.err, 0);
    assert_true(c.auth_ok);
    assert_int_equal(s2.access, SESSION_GRANTED);
    assert_string_equal(s2.channel, "t");

    /* A reload with the same token keeps the session (now pointing into the
     * new table); one with another token revokes it. */
    auth_table *same = parse_ok(text), *rotated = parse_ok("[channel t]\ntoken_sha256 = "
                                                           "0000000000000000000000000000000000000000000000000000000000000000"
                                                           "\nmethods = check\nprograms = *\nregions = *\n");
    auth_session_rebind(&s2, same);
    assert_int_equal(s2.access, SESSION_GRANTED);
    assert_ptr_equal(s2.grant, &same->ch[0]);
    auth_session_rebind(&s2, rotated);
    assert_int_equal(s2.access, SESSION_ANON);
    assert_null(s2.grant);
    assert_string_equal(s2.channel, "-");
    /* The Unix socket is open unless --unix-auth; without a table, all is. */
    session u = {.transport = SESSION_UNIX};
    auth_session_start(&u, t, false);
    assert_int_equal(u.access, SESSION_OPEN);
    auth_session_start(&u, t, true);
    assert_int_equal(u.access, SESSION_ANON);
    session open = {.transport = SESSION_TCP};
    auth_session_start(&open, NULL, false);
    assert_int_equal(open.access, SESSION_OPEN);
    auth_table_release(same);
    auth_table_release(rotated);
    auth_table_release(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example), cmocka_unit_test(test_defaults_and_crlf),
        cmocka_unit_test(test_malformed),    cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_authorize),    cmocka_unit_test(test_auth_method),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

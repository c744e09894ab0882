/* elig-token — issues channel credentials for eligd's channels file.
 *
 *   elig-token new CHANNEL
 *
 * prints a fresh random token (256 bits from OpenSSL's CSPRNG, as 64 hex
 * digits) on the first line, then a `# [channel CHANNEL]` comment and the
 * `token_sha256 = ...` line for the [channel CHANNEL] section of eligd's --auth-file. The token
 * itself is never stored by eligd: hand it to the client as a file of its
 * own (mode 0600), which libeligclient and elig read through
 * ELIG_TOKEN_FILE or --token-file. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#define TOKEN_BYTES 32 /* 256 bits; SPEC 6 asks for at least 128 */

static void usage(FILE *out) {
    fputs("usage: elig-token new CHANNEL\n"
          "\n"
          "Prints a fresh random channel token (256 bits from OpenSSL's RAND_bytes, 64 hex\n"
          "digits) on line 1, then the lines for eligd's --auth-file: a comment naming the\n"
          "section, and the line to paste into [channel CHANNEL]:\n"
          "\n"
          "  # [channel CHANNEL]\n"
          "  token_sha256 = <SHA-256 of the token>\n"
          "\n"
          "eligd keeps only that digest. Give the token to the client as a file of its own\n"
          "with mode 0600 (e.g. `elig-token new bank-bri | head -1 > bank-bri.token;\n"
          "chmod 600 bank-bri.token` under umask 077); the client names it with\n"
          "ELIG_TOKEN_FILE or --token-file, never on a command line. To rotate, issue a\n"
          "new token, replace the line and send eligd SIGHUP; the old token stops working\n"
          "at once, on open connections too.\n"
          "\n"
          "Options:\n"
          "  --help   this text\n"
          "\n"
          "Exit status: 0, 1 if no random bytes could be had, 2 on bad usage.\n",
          out);
}

static int valid_channel(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static void hex(const unsigned char *b, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

int main(int argc, char **argv) {
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc != 3 || strcmp(argv[1], "new") != 0) {
        fprintf(stderr, "elig-token: expected `new CHANNEL`\nTry 'elig-token --help'.\n");
        return 2;
    }
    if (!valid_channel(argv[2])) {
        fprintf(stderr, "elig-token: channel name '%s' is not 1-64 characters of A-Z a-z 0-9 . _ -\n", argv[2]);
        return 2;
    }
    unsigned char raw[TOKEN_BYTES], digest[SHA256_DIGEST_LENGTH];
    char token[2 * TOKEN_BYTES + 1], line[2 * SHA256_DIGEST_LENGTH + 1];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        fprintf(stderr, "elig-token: OpenSSL could not supply random bytes\n");
        return 1;
    }
    hex(raw, sizeof raw, token);
    SHA256((const unsigned char *)token, strlen(token), digest);
    hex(digest, sizeof digest, line);
    printf("%s\n# [channel %s]\ntoken_sha256 = %s\n", token, argv[2], line);
    OPENSSL_cleanse(raw, sizeof raw);
    OPENSSL_cleanse(token, sizeof token);
    return fflush(stdout) == 0 ? 0 : 1;
}

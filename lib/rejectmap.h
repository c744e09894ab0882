/* rejectmap.h — SPEC 1's reject reasons: what the snapshot builder writes
 * to its rejects file and what the generator's oracle predicts. Not part of
 * libelig's public header: only the builder and the generator need it. */
#ifndef ELIG_REJECTMAP_H
#define ELIG_REJECTMAP_H

/* Reject reasons of SPEC 1, in precedence order (a row takes the first that
 * applies): one list for the builder's rejects file and the generator's
 * oracle of what the builder must reject. X(enum suffix, code). */
#define ELIG_REJECT_MAP(X)                                                     \
    X(MALFORMED_ROW, "malformed_row")                                          \
    X(BAD_KK, "bad_kk")                                                        \
    X(BAD_REGION, "bad_region")                                                \
    X(BAD_STATUS, "bad_status")                                                \
    X(BAD_KKS, "bad_kks")                                                      \
    X(BAD_NAME, "bad_name")                                                    \
    X(BAD_NIK, "bad_nik")                                                      \
    X(BAD_BIRTH_DATE, "bad_birth_date")                                        \
    X(BAD_PROGRAM, "bad_program")                                              \
    X(BAD_PERIOD, "bad_period")                                                \
    X(BAD_AMOUNT, "bad_amount")                                                \
    X(DUPLICATE_KK, "duplicate_kk")                                            \
    X(DUPLICATE_KKS, "duplicate_kks")                                          \
    X(DUPLICATE_NIK, "duplicate_nik")                                          \
    X(UNKNOWN_KK, "unknown_kk")                                                \
    X(OVERLAPPING_ENROLLMENT, "overlapping_enrollment")

#endif

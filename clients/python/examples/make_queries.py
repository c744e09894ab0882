"""Writes N query rows (kind,id,program,period, no header) from an elig-gen
registry, the mix of docs/BENCHMARKS.md: 60 % a NIK of members.csv, 30 % a
KK of households.csv, 10 % an unknown NIK; PKH, BPNT or PBI; a month of
2019-2025. Deterministic (random.Random(1)).

    python3 make_queries.py DATA_DIR OUT.csv N
"""
import csv
import random
import sys


def main():
    src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rnd = random.Random(1)
    with open(src + "/members.csv", newline="") as f:
        niks = [r[0] for r in csv.reader(f) if r[0] != "nik"]
    with open(src + "/households.csv", newline="") as f:
        kks = [r[0] for r in csv.reader(f) if r[0] != "kk"]
    progs = ["PKH", "BPNT", "PBI"]
    with open(out, "w") as f:
        for _ in range(n):
            x = rnd.random()
            if x < 0.6:
                kind, ident = "nik", rnd.choice(niks)
            elif x < 0.9:
                kind, ident = "kk", rnd.choice(kks)
            else:
                kind, ident = "nik", "3171%012d" % rnd.randrange(10 ** 12)
            f.write("%s,%s,%s,%04d-%02d\n" % (kind, ident, rnd.choice(progs),
                                             rnd.randint(2019, 2025), rnd.randint(1, 12)))


if __name__ == "__main__":
    main()

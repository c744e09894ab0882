"""man_pages: every program has a man page, generated at build time, and
the flags its --help lists are exactly the flags its man page documents
(long --flags anywhere, short -x flags where a line starts with one).

usage: test_man.py MAN_DIR PROGRAM=PAGE...   (PAGE: e.g. man8/eligd.8)"""
import gzip
import os
import re
import subprocess
import sys

LONG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
SHORT = re.compile(r"^\s*(-[a-zA-Z])\b", re.M)


def flags(text):
    return set(LONG.findall(text)) | set(SHORT.findall(text))


def roff_text(roff):
    """The words of a roff page: font changes dropped, escaped hyphens
    plain, request lines (.TH, .P, .RS ...) removed."""
    t = re.sub(r"\\f[BIRP]", "", roff)
    t = t.replace("\\-", "-").replace("\\(en", "-").replace("\\(em", "-").replace("\\&", "")
    return "\n".join(ln for ln in t.splitlines() if not ln.startswith(("."))) + "\n" + "\n".join(
        ln.split(" ", 1)[1] for ln in t.splitlines() if ln.startswith(".") and " " in ln)


def main():
    man_dir, pairs = sys.argv[1], sys.argv[2:]
    failed = 0
    for pair in pairs:
        prog, page = pair.split("=", 1)
        name = os.path.basename(prog)
        path = os.path.join(man_dir, page)
        try:
            with open(path, encoding="utf-8") as f:
                roff = f.read()
            with gzip.open(path + ".gz", "rt", encoding="utf-8") as f:
                assert f.read() == roff, "%s.gz differs from %s" % (path, path)
            assert roff.startswith(".\\\"") or ".TH" in roff, "%s is not a roff page" % path
            assert re.search(r"^\.TH \"?%s\"?" % re.escape(name), roff, re.M | re.I), \
                "%s: .TH does not name %s" % (path, name)
            p = subprocess.run([prog, "--help"], capture_output=True, text=True, timeout=10)
            assert p.returncode == 0, "%s --help: exit %d" % (name, p.returncode)
            helped, documented = flags(p.stdout), flags(roff_text(roff))
            assert helped, "%s --help lists no flags" % name
            missing, extra = sorted(helped - documented), sorted(documented - helped)
            assert not missing, "%s: --help lists %s, the man page does not" % (name, missing)
            assert not extra, "%s: the man page documents %s, --help does not" % (name, extra)
            print("PASS %s: %d flags, --help and %s agree" % (name, len(helped), page))
        except AssertionError as e:
            failed += 1
            print("FAIL %s: %s" % (name, e))
    print("%d passed, %d failed" % (len(pairs) - failed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

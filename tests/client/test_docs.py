"""docs/CLIENT.md shows the example programs in full: each block between
<!-- begin PATH --> and <!-- end PATH --> must be byte for byte the file at
PATH, which the build compiles and client_examples runs.

usage: test_docs.py SOURCE_DIR"""
import os
import re
import sys

root = sys.argv[1]
doc = open(os.path.join(root, "docs", "CLIENT.md")).read()
blocks = re.findall(r"<!-- begin (\S+) -->\n```c\n(.*?)```\n<!-- end \1 -->", doc, re.S)
want = {"client/examples/terminal.c", "client/examples/bank_batch.c", "client/examples/offline_terminal.c"}
failed = 0
if {p for p, _ in blocks} != want:
    print("CLIENT.md: example blocks %s, expected %s" % (sorted(p for p, _ in blocks), sorted(want)))
    failed += 1
for path, text in blocks:
    if open(os.path.join(root, path)).read() != text:
        print("CLIENT.md: the block of %s differs from the file" % path)
        failed += 1
print("%d passed, %d failed" % (len(want) + 1 - failed, failed))
sys.exit(1 if failed else 0)

"""libelig as installed (SPEC 10: "libelig installs like libeligclient, with
the pkg-config name elig"): `cmake --install` of the components libelig0 and
libelig-dev (the Debian packages) into a temporary prefix, then

- what lands there: shared library with its SONAME and links, static
  library, elig.h and elig_wire.h, pkg-config file, CMake package; none of
  lib/'s internal headers;
- the shared library exports exactly the functions elig.h marks ELIG_API
  (the list is read from the installed header, not from the library), and
  depends on LMDB, libcrypto and libc only;
- the installed header holds none of the internals (the builder's reject
  map, the enrollment fields of old);
- consumer/consumer.c built against the installed copy through pkg-config
  (shared, and static with --static) and through find_package (elig::elig,
  elig::elig_static), and compiled as C++ (elig.h's extern "C"); each
  answers a query on a snapshot as SPEC 2 says (livetest's rows, worked out
  by hand).

usage: test_install.py BUILD_DIR LIBDIR SONAME_VERSION CC CXX [SANITIZER_FLAGS]
"""
import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "client"))
import livetest as lt  # noqa: E402

BUILD = LIBDIR = SOVERSION = CC = CXX = None
SAN = []

# livetest's rows: N1 is a member of KK_A, enrolled in PKH 2026-01..2026-12
# at 110000 (tests/client/livetest.py CASES).
QUERY = ["nik", lt.N1, "PKH", "2026-11"]
EXPECT = ["eligible 110000 " + lt.KK_A, "snapshot " + lt.SNAPSHOT_ID]


def run(cmd, env=None, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, **(env or {})), **kw)
    if r.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s%s" % (cmd, r.returncode, r.stdout, r.stderr))
    return r.stdout


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lt.tmpdir()
        cls.prefix = os.path.join(cls.tmp.name, "prefix")
        for comp in ("libelig0", "libelig-dev"):
            run(["cmake", "--install", BUILD, "--prefix", cls.prefix, "--component", comp])
        cls.libdir = os.path.join(cls.prefix, LIBDIR)
        cls.snap = lt.build_snapshot(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def expect_output(self, exe, env=None):
        out = run([exe, self.snap, *QUERY], env=env).splitlines()
        self.assertEqual(out[:2], EXPECT)
        self.assertRegex(out[2], r"^libelig \d+\.\d+\.\d+$")

    def test_layout_and_soname(self):
        p = self.prefix
        for f in ("include/elig.h", "include/elig_wire.h",
                  LIBDIR + "/libelig.a", LIBDIR + "/libelig.so",
                  LIBDIR + "/libelig.so." + SOVERSION,
                  LIBDIR + "/pkgconfig/elig.pc",
                  LIBDIR + "/cmake/elig/eligConfig.cmake",
                  LIBDIR + "/cmake/elig/eligConfigVersion.cmake",
                  LIBDIR + "/cmake/elig/eligTargets.cmake",
                  "share/doc/libelig-dev/SNAPSHOT.md"):
            self.assertTrue(os.path.exists(os.path.join(p, f)), f)
        self.assertEqual(sorted(os.listdir(os.path.join(p, "include"))), ["elig.h", "elig_wire.h"])
        self.assertTrue(os.path.islink(os.path.join(self.libdir, "libelig.so")))
        dump = run(["objdump", "-p", os.path.join(self.libdir, "libelig.so")])
        self.assertRegex(dump, r"SONAME\s+libelig\.so\.%s\n" % SOVERSION)
        needed = sorted(re.findall(r"NEEDED\s+(\S+)", dump))
        # (a sanitizer build also needs the sanitizers' runtimes)
        needed = [n for n in needed if n.split(".so")[0] not in ("libasan", "libubsan")]
        self.assertEqual([n.split(".so")[0] for n in needed], ["libc", "libcrypto", "liblmdb"], needed)

    def test_exports_exactly_the_header(self):
        with open(os.path.join(self.prefix, "include", "elig.h")) as f:
            header = f.read()
        # Every prototype marked ELIG_API, whatever its return type and
        # line breaks; the macro's own definition is not a prototype.
        declared = set(re.findall(r"\bELIG_API\s+[^;#{}]*?\b(elig_\w+)\s*\(", header))
        self.assertIn("elig_snap_open_signed", declared)
        self.assertIn("elig_household_next", declared)
        syms = run(["nm", "-D", "--defined-only", os.path.join(self.libdir, "libelig.so")])
        exported = {line.split()[-1] for line in syms.splitlines() if line.split()[-2] in ("T", "W")}
        other = [line for line in syms.splitlines() if line.split()[-2] not in ("T", "W")]
        self.assertEqual(exported, declared)
        self.assertEqual(other, [], "data symbols exported")
        # Every public function has its contract comment: the line before
        # each prototype ends a comment.
        lines = header.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("ELIG_API "):
                self.assertTrue(lines[i - 1].rstrip().endswith("*/"), line)
        for internal in (r"\benr_\b", r"\benr_len_\b", "REJECT_MAP", r"\belig_\w+_\(", "malformed_row"):
            m = re.search(internal, header)
            self.assertIsNone(m, "internal %r in the installed elig.h" % (m and m.group(0)))
        self.assertIn('extern "C"', header)

    def test_pkg_config_consumer(self):
        env = {"PKG_CONFIG_PATH": os.path.join(self.libdir, "pkgconfig")}
        self.assertEqual(run(["pkg-config", "--modversion", "elig"], env=env).strip(),
                         run([os.path.join(BUILD, "tools", "snapshot", "elig-snapshot"),
                              "--version"]).split()[1])
        flags = run(["pkg-config", "--cflags", "--libs", "elig"], env=env).split()
        includes = [os.path.normpath(f[2:]) for f in flags if f.startswith("-I")]
        self.assertIn(os.path.join(self.prefix, "include"), includes)
        exe = os.path.join(self.tmp.name, "consumer_pc")
        run([CC, *SAN, os.path.join(HERE, "consumer", "consumer.c"), "-o", exe, *flags])
        # Linked to the installed copy: without it on the search path it
        # cannot load.
        r = subprocess.run([exe, self.snap, *QUERY], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, LD_LIBRARY_PATH=""))
        self.assertNotEqual(r.returncode, 0)
        self.expect_output(exe, env={"LD_LIBRARY_PATH": self.libdir})
        exe_s = os.path.join(self.tmp.name, "consumer_pc_static")
        cflags = run(["pkg-config", "--cflags", "elig"], env=env).split()
        libs = run(["pkg-config", "--static", "--libs-only-L", "elig"], env=env).split()
        deps = [f for f in run(["pkg-config", "--static", "--libs-only-l", "elig"], env=env).split()
                if f != "-lelig"]
        self.assertIn("-llmdb", deps)
        self.assertIn("-lcrypto", deps)
        run([CC, *SAN, os.path.join(HERE, "consumer", "consumer.c"), "-o", exe_s, *cflags, *libs,
             "-Wl,-Bstatic", "-lelig", "-Wl,-Bdynamic", *deps])
        self.assertNotIn("libelig", run(["ldd", exe_s]))
        self.expect_output(exe_s)

    def test_cxx_consumer(self):
        env = {"PKG_CONFIG_PATH": os.path.join(self.libdir, "pkgconfig")}
        flags = run(["pkg-config", "--cflags", "--libs", "elig"], env=env).split()
        exe = os.path.join(self.tmp.name, "consumer_cxx")
        # C++: without extern "C" the calls would name mangled symbols that
        # the library does not have, and the link would fail.
        run([CXX, *SAN, "-x", "c++", os.path.join(HERE, "consumer", "consumer.c"), "-x", "none",
             "-o", exe, *flags])
        self.expect_output(exe, env={"LD_LIBRARY_PATH": self.libdir})

    def test_find_package_consumer(self):
        b = os.path.join(self.tmp.name, "consumer-build")
        run(["cmake", "-S", os.path.join(HERE, "consumer"), "-B", b,
             "-DCMAKE_PREFIX_PATH=" + self.prefix, "-DCMAKE_C_COMPILER=" + CC,
             "-DCMAKE_C_FLAGS=" + " ".join(SAN), "-DCMAKE_EXE_LINKER_FLAGS=" + " ".join(SAN)])
        run(["cmake", "--build", b])
        exe = os.path.join(b, "consumer")
        self.assertIn(os.path.join(self.libdir, "libelig.so." + SOVERSION), run(["ldd", exe]))
        self.expect_output(exe)
        exe_s = os.path.join(b, "consumer_static")
        self.assertNotIn("libelig", run(["ldd", exe_s]))
        self.expect_output(exe_s)


if __name__ == "__main__":
    BUILD, LIBDIR, SOVERSION, CC, CXX = sys.argv[1:6]
    if len(sys.argv) > 6:
        SAN = sys.argv[6].split()
        del sys.argv[6]
    del sys.argv[1:6]
    unittest.main(verbosity=2)

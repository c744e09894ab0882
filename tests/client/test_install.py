"""libeligclient as installed: `cmake --install` of the components
libeligclient0, libeligclient-dev and elig-tools, with libelig0 and
libelig-dev which they depend on (the Debian packages), into a temporary
prefix, check what lands there (shared library with its SONAME,
static library, headers, pkg-config file, CMake package config, elig), then
build consumer/consumer.c against the installed copy twice, through
pkg-config and through find_package (shared and static), and run each
against a live eligd.

usage: test_install.py BUILD_DIR LIBDIR SONAME_VERSION CC [SANITIZER_FLAGS]

In a sanitizer build the installed library is instrumented, so the
consumers are built with the same -fsanitize flags (SANITIZER_FLAGS)."""
import os
import re
import subprocess
import sys
import unittest

import livetest as lt

BUILD = LIBDIR = SOVERSION = CC = None
SAN = []
HERE = os.path.dirname(os.path.abspath(__file__))


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
        for comp in ("libeligclient0", "libeligclient-dev", "elig-tools", "libelig0", "libelig-dev"):
            run(["cmake", "--install", BUILD, "--prefix", cls.prefix, "--component", comp])
        cls.libdir = os.path.join(cls.prefix, LIBDIR)
        cls.d = lt.Daemon(lt.build_snapshot(cls.tmp.name), cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.tmp.cleanup()

    def expect_output(self, exe, env=None):
        out = run([exe, self.d.addr], env=env)
        self.assertEqual(out.splitlines()[:2], ["pong", "eligible 110000 " + lt.KK_A])

    def test_layout_and_soname(self):
        p = self.prefix
        for f in ("include/eligclient.h", "include/elig_wire.h", "bin/elig",
                  LIBDIR + "/libeligclient.a", LIBDIR + "/libeligclient.so",
                  LIBDIR + "/libeligclient.so." + SOVERSION,
                  LIBDIR + "/pkgconfig/eligclient.pc",
                  LIBDIR + "/cmake/eligclient/eligclientConfig.cmake",
                  LIBDIR + "/cmake/eligclient/eligclientConfigVersion.cmake",
                  LIBDIR + "/cmake/eligclient/eligclientTargets.cmake",
                  "share/doc/libeligclient-dev/PROTOCOL.md", "share/doc/libeligclient-dev/CLIENT.md"):
            self.assertTrue(os.path.exists(os.path.join(p, f)), f)
        # libeligclient.so -> .so.N (the SONAME) -> .so.N.M.P
        self.assertTrue(os.path.islink(os.path.join(self.libdir, "libeligclient.so")))
        dump = run(["objdump", "-p", os.path.join(self.libdir, "libeligclient.so")])
        self.assertRegex(dump, r"SONAME\s+libeligclient\.so\.%s\n" % SOVERSION)
        self.assertNotIn("msgpack", dump)  # no libmsgpackc: libelig, OpenSSL, libc
        needed = sorted(n.split(".so")[0] for n in re.findall(r"NEEDED\s+(\S+)", dump))
        # (a sanitizer build also needs the sanitizers' runtimes)
        needed = [n for n in needed if n not in ("libasan", "libubsan")]
        self.assertEqual(needed, ["libc", "libcrypto", "libelig", "libssl"])
        # Only the public API is exported.
        syms = run(["nm", "-D", "--defined-only", os.path.join(self.libdir, "libeligclient.so")])
        names = [line.split()[-1] for line in syms.splitlines()]
        self.assertIn("eligc_check", names)
        self.assertTrue(all(n.startswith("eligc_") and not n.startswith("eligc__")
                            for n in names), names)
        # The installed elig runs from there.
        out = run([os.path.join(p, "bin/elig"), "--server", self.d.addr, "ping"])
        self.assertEqual(out, "pong\n")

    def test_pkg_config_consumer(self):
        env = {"PKG_CONFIG_PATH": os.path.join(self.libdir, "pkgconfig")}
        flags = run(["pkg-config", "--cflags", "--libs", "eligclient"], env=env).split()
        includes = [os.path.normpath(f[2:]) for f in flags if f.startswith("-I")]
        self.assertIn(os.path.join(self.prefix, "include"), includes)
        self.assertEqual(run(["pkg-config", "--modversion", "eligclient"], env=env).strip(),
                         run([os.path.join(self.prefix, "bin/elig"), "--version"]).split()[1])
        exe = os.path.join(self.tmp.name, "consumer_pc")
        run([CC, *SAN, os.path.join(HERE, "consumer", "consumer.c"), "-o", exe, *flags])
        # Without the installed directory on the search path it cannot load:
        # the library it links is the installed one, not the build tree's.
        r = subprocess.run([exe, self.d.addr], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, LD_LIBRARY_PATH=""))
        self.assertNotEqual(r.returncode, 0)
        self.expect_output(exe, env={"LD_LIBRARY_PATH": self.libdir})
        # Static, through the same .pc file.
        exe_s = os.path.join(self.tmp.name, "consumer_pc_static")
        cflags = run(["pkg-config", "--cflags", "eligclient"], env=env).split()
        libs = run(["pkg-config", "--static", "--libs-only-L", "eligclient"], env=env).split()
        # libelig (the rule, for offline answers) statically too; OpenSSL
        # (TLS) and LMDB linked as the system has them.
        deps = [f for f in run(["pkg-config", "--static", "--libs-only-l", "eligclient"], env=env).split()
                if f not in ("-leligclient", "-lelig")]
        self.assertIn("-lssl", deps)
        self.assertIn("-llmdb", deps)
        run([CC, *SAN, os.path.join(HERE, "consumer", "consumer.c"), "-o", exe_s, *cflags, *libs,
             "-Wl,-Bstatic", "-leligclient", "-lelig", "-Wl,-Bdynamic", *deps])
        self.assertNotIn("libelig", run(["ldd", exe_s]))
        self.expect_output(exe_s)

    def test_find_package_consumer(self):
        b = os.path.join(self.tmp.name, "consumer-build")
        run(["cmake", "-S", os.path.join(HERE, "consumer"), "-B", b,
             "-DCMAKE_PREFIX_PATH=" + self.prefix, "-DCMAKE_C_COMPILER=" + CC,
             "-DCMAKE_C_FLAGS=" + " ".join(SAN), "-DCMAKE_EXE_LINKER_FLAGS=" + " ".join(SAN)])
        run(["cmake", "--build", b])
        exe = os.path.join(b, "consumer")
        ldd = run(["ldd", exe])
        self.assertIn(os.path.join(self.libdir, "libeligclient.so." + SOVERSION), ldd)
        self.expect_output(exe)
        exe_s = os.path.join(b, "consumer_static")
        self.assertNotIn("libelig", run(["ldd", exe_s]))  # neither libeligclient nor libelig
        self.expect_output(exe_s)


if __name__ == "__main__":
    BUILD, LIBDIR, SOVERSION, CC = sys.argv[1:5]
    if len(sys.argv) > 5:
        SAN = sys.argv[5].split()
        del sys.argv[5]
    del sys.argv[1:5]
    unittest.main(verbosity=2)

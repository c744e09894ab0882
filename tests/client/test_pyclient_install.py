"""clients/python installs with pip from the repository (pyproject.toml,
setuptools, offline: --no-index --no-build-isolation), and the installed
copy imports on its own and answers a live eligd.

usage: test_pyclient_install.py SOURCE_DIR"""
import os
import shutil
import subprocess
import sys
import unittest

import livetest as lt

SRC = None


class InstallTest(unittest.TestCase):
    def test_pip_install_and_use(self):
        with lt.tmpdir() as t:
            src = os.path.join(t, "src")  # a copy: pip builds in the tree it is given
            shutil.copytree(os.path.join(SRC, "clients", "python"), src,
                            ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
            target = os.path.join(t, "site")
            r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
                                "--no-build-isolation", "--disable-pip-version-check",
                                "--target", target, src],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertTrue(os.path.isfile(os.path.join(target, "eligclient", "__init__.py")))
            d = lt.Daemon(lt.build_snapshot(t), t)
            try:
                code = ("import eligclient, sys; assert eligclient.__file__.startswith(%r), "
                        "eligclient.__file__; c = eligclient.Client(sys.argv[1]); "
                        "a = c.check('nik', %r, 'PKH', '2026-11'); print(a['eligible'], a.amount)"
                        % (target, lt.N1))
                env = dict(os.environ, PYTHONPATH=target)
                r = subprocess.run([sys.executable, "-c", code, d.addr], capture_output=True,
                                   text=True, timeout=60, env=env, cwd=t)
            finally:
                d.stop()
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "True 110000\n")


if __name__ == "__main__":
    SRC = sys.argv.pop(1)
    unittest.main(verbosity=2)

"""scale_rollout: elig-rollout against three real eligd replicas (no load,
no balancer: test_haproxy.py does that).

Each test starts three replicas on the fixture's snapshot A (variant "A" of
tests/daemon/eligtest.py), each with its own TCP port (info) and Unix
socket (reload), replica 1 and 3 on a symlink, replica 2 on a plain file, and
moves them to snapshot B (variant "B": another amount, so another content
hash). What a replica serves is read back with raw msgpack-RPC `info` by the
harness, and the expected id and content hash come from `elig-snapshot info`
of the files the test built, not from elig-rollout's output.

Proves: a rollout moves every replica and leaves the paths pointing at the
new file; a replica down at position 2 stops it with exit 1 naming r2 and the
step, replica 1 left moved without --rollback and restored with it; a
replica whose path is not the one it serves is caught at its reload and,
with --rollback, both replicas are put back last first; --dry-run changes
nothing (files, links, generations) and exits 1 when a replica would fail; a
damaged snapshot stops the rollout before any replica; a malformed replicas
file is exit 2 naming the line; every log line carries a UTC timestamp.

usage: test_rollout.py   (ELIGD, ELIG_SNAPSHOT, ELIG, ELIG_ROLLOUT from ctest)
"""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
import eligtest as et  # noqa: E402

ROLLOUT = os.environ.get("ELIG_ROLLOUT", "")
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


class Replicas:
    """Three eligd on snapshot A: r1 and r3 through a symlink, r2 a file.
    With extra eligd arguments (an auth file) for every one."""

    def __init__(self, workdir, snap_a, extra=()):
        self.dir = workdir
        self.daemons = []
        self.paths = []
        self.socks = []
        for i in (1, 2, 3):
            d = os.path.join(workdir, "r%d" % i)
            os.makedirs(d)
            path = os.path.join(d, "snapshot.mdb")
            if i == 2:
                shutil.copyfile(snap_a, path)
            else:
                shutil.copyfile(snap_a, os.path.join(d, "A.mdb"))
                os.symlink("A.mdb", path)
            sock = os.path.join(d, "eligd.sock")
            self.paths.append(path)
            self.socks.append(sock)
            self.daemons.append(et.Daemon(path, "--threads", "1", *extra, workdir=workdir,
                                          unix=sock, name="eligd-r%d" % i).start())

    def write(self, lines=None, tcp_reload=False):
        path = os.path.join(self.dir, "replicas")
        if lines is None:
            lines = ["# name info path reload"] + [
                "r%d 127.0.0.1:%d %s %s" % (i + 1, d.port, self.paths[i],
                                            "127.0.0.1:%d" % d.port if tcp_reload
                                            else "unix:" + self.socks[i])
                for i, d in enumerate(self.daemons)]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def serving(self, which=(0, 1, 2)):
        """(snapshot, content_sha256, generation) of replicas `which`, by info."""
        out = []
        for d in (self.daemons[w] for w in which):
            i = d.info()
            out.append((i["snapshot"], i["content_sha256"], i["generation"]))
        return out

    def serving_unix(self):
        """serving(), asked on the Unix sockets (no auth needed there)."""
        out = []
        for d in self.daemons:
            with et.Conn(path=d.unix) as c:
                i = c.ok("info", [])
            out.append((i["snapshot"], i["content_sha256"], i["generation"]))
        return out

    def close(self):
        for d in self.daemons:
            d.kill()


def run_rollout(*args, timeout=120, env_extra=None):
    env = dict(os.environ, ELIG=et.ELIG, ELIG_SNAPSHOT=et.ELIG_SNAPSHOT, **(env_extra or {}))
    p = subprocess.run([ROLLOUT] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def tree(dirpath):
    """What is on disk under dirpath: {name: (link target or None, bytes)}."""
    out = {}
    for root, _, files in os.walk(dirpath):
        for f in files:
            p = os.path.join(root, f)
            if os.path.islink(p):
                out[p] = (os.readlink(p), None)
            elif f.endswith(".mdb") or ".rollout" in f:
                with open(p, "rb") as fh:
                    out[p] = (None, fh.read())
    return out


class RolloutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not ROLLOUT or not os.access(ROLLOUT, os.X_OK):
            raise AssertionError("ELIG_ROLLOUT is not an executable (%r): run through ctest" % ROLLOUT)
        cls.tmp = et.tempfile.TemporaryDirectory(prefix="rollout-")
        cls.snap_a = et.build_snapshot(cls.tmp.name, "snap-A", variant="A")
        cls.snap_b = et.build_snapshot(cls.tmp.name, "snap-B", variant="B")
        a, b = et.snapshot_info(cls.snap_a), et.snapshot_info(cls.snap_b)
        cls.A = ("snap-A", a["content_sha256"])
        cls.B = ("snap-B", b["content_sha256"])
        assert cls.A[1] != cls.B[1], "the two variants must differ in content"

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.work = et.tempfile.mkdtemp(dir=self.tmp.name)
        self.r = Replicas(self.work, self.snap_a)

    def tearDown(self):
        self.r.close()

    def assert_timestamped(self, out):
        lines = out.splitlines()
        self.assertTrue(lines, "elig-rollout logged nothing")
        for ln in lines:
            self.assertRegex(ln, TS, "log line without a UTC timestamp: %r" % ln)

    def assert_serve(self, which, want):
        got = dict(zip(which, self.r.serving(which)))
        for i in which:
            self.assertEqual(got[i][:2], want, "r%d serves %r, want %r" % (i + 1, got[i][:2], want))

    def test_success_moves_every_replica(self):
        rc, out, err = run_rollout(self.snap_b, self.r.write())
        self.assertEqual(rc, 0, out + err)
        self.assert_timestamped(out)
        got = self.r.serving()
        for i in range(3):
            self.assertEqual(got[i], self.B + (2,), "r%d after the rollout" % (i + 1))
        # r1, r3: the link flipped to a copy of B beside it; r2: the file replaced.
        for i in (0, 2):
            self.assertEqual(os.readlink(self.r.paths[i]), os.path.basename(self.snap_b))
        for p in self.r.paths:
            with open(p, "rb") as f, open(self.snap_b, "rb") as g:
                self.assertEqual(f.read(), g.read(), "%s is not B" % p)
        with open(self.r.paths[1] + ".rollout-prev", "rb") as f, open(self.snap_a, "rb") as g:
            self.assertEqual(f.read(), g.read(), "r2's previous file is not kept")
        # one replica after the other: r1 done before r2 is looked at
        order = [m.group(1) for m in re.finditer(r"(r\d): (?:serves|healthy)", out)]
        self.assertEqual(order, ["r1", "r1", "r2", "r2", "r3", "r3"], out)
        # again: nothing to place (r2's previous file is not overwritten by B),
        # every replica reloaded and confirmed
        rc, out, err = run_rollout(self.snap_b, self.r.write())
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(len(re.findall(r"r\d: placed: .* already", out)), 3, out)
        self.assertEqual(self.r.serving(), [self.B + (3,)] * 3)
        with open(self.r.paths[1] + ".rollout-prev", "rb") as f, open(self.snap_a, "rb") as g:
            self.assertEqual(f.read(), g.read(), "a second run overwrote r2's previous file")

    def test_replica_down_stops_at_it(self):
        self.r.daemons[1].kill()
        rc, out, err = run_rollout(self.snap_b, self.r.write())
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(err, r"^elig-rollout: stopped at replica r2 \(2 of 3\), step before: ")
        self.assertEqual(len(err.splitlines()), 1, "one line on stderr: %r" % err)
        self.assertIn("r1", err.split("step before")[1], "the message names what was moved")
        self.assert_timestamped(out)
        self.assert_serve([0], self.B)  # moved, and left so without --rollback
        self.assert_serve([2], self.A)  # never reached
        self.assertEqual(self.r.daemons[2].info()["generation"], 1)

    def test_replica_down_rollback_restores_replica_1(self):
        self.r.daemons[1].kill()
        rc, out, err = run_rollout("--rollback", self.snap_b, self.r.write())
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(err, r"stopped at replica r2 .*step before: .*rolled back: r1$")
        got = self.r.serving((0, 2))
        self.assertEqual(got[0], self.A + (3,), "r1: back on A after two reloads")
        self.assertEqual(got[1], self.A + (1,), "r3: never touched")
        self.assertEqual(os.readlink(self.r.paths[0]), "A.mdb")

    def test_wrong_path_caught_at_reload_and_rolled_back_last_first(self):
        # r2's line names a path r2 does not serve: its reload answers A.
        with open(self.r.write()) as f:
            lines = f.read().splitlines()
        other = os.path.join(self.work, "elsewhere.mdb")
        shutil.copyfile(self.snap_a, other)
        lines[2] = re.sub(r" /\S+ ", " %s " % other, lines[2])
        rc, out, err = run_rollout("--rollback", self.snap_b, self.r.write(lines))
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(err, r"stopped at replica r2 \(2 of 3\), step reload: reload answered "
                              r"snapshot 'snap-A'.*rolled back: r1 r2$")
        self.assertLess(out.index("r2: rollback: serves"), out.index("r1: rollback: serves"),
                        "rollback goes last first")
        self.assert_serve([0, 1, 2], self.A)
        with open(other, "rb") as f, open(self.snap_a, "rb") as g:
            self.assertEqual(f.read(), g.read(), "the wrong path got its file back")

    def test_dry_run_changes_nothing(self):
        replicas = self.r.write()
        before = tree(self.work)
        rc, out, err = run_rollout("--dry-run", self.snap_b, replicas)
        self.assertEqual(rc, 0, out + err)
        self.assert_timestamped(out)
        self.assertIn("nothing was changed", out)
        self.assertEqual(tree(self.work), before, "--dry-run changed files")
        self.assertEqual(self.r.serving(), [self.A + (1,)] * 3, "--dry-run reloaded a replica")
        # and it says when a replica would stop the rollout
        self.r.daemons[2].kill()
        rc, out, err = run_rollout("--dry-run", self.snap_b, replicas)
        self.assertEqual(self.r.serving((0, 1)), [self.A + (1,)] * 2)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("r3: would stop here", out)
        self.assertEqual(tree(self.work), before)

    def test_damaged_snapshot_stops_before_any_replica(self):
        bad = os.path.join(self.work, "damaged.mdb")
        with open(self.snap_b, "rb") as f:
            data = bytearray(f.read())
        data[len(data) // 2] ^= 0xFF  # one flipped byte: the checksum trailer sees it
        with open(bad, "wb") as f:
            f.write(data)
        before = tree(self.work)
        rc, out, err = run_rollout(bad, self.r.write())
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(err, r"^elig-rollout: snapshot: elig-snapshot (info|verify) .*damaged\.mdb")
        self.assertEqual(tree(self.work), before)
        self.assertEqual(self.r.serving(), [self.A + (1,)] * 3)

    def test_reload_over_tcp_with_a_channel_granted_reload(self):
        # every replica with an auth file: channel ops may reload (and ask
        # info), channel viewer may only ask info
        self.r.close()
        tok = {"ops": os.urandom(24).hex(), "viewer": os.urandom(24).hex()}
        auth = os.path.join(self.work, "channels.conf")
        with open(auth, "w") as f:
            for ch, methods in (("ops", "reload, info"), ("viewer", "info")):
                f.write("[channel %s]\ntoken_sha256 = %s\nmethods = %s\nprograms = *\nregions = *\n\n"
                        % (ch, hashlib.sha256(tok[ch].encode()).hexdigest(), methods))
        files = {}
        for ch in tok:
            files[ch] = os.path.join(self.work, ch + ".token")
            with open(files[ch], "w") as f:
                f.write(tok[ch] + "\n")
            os.chmod(files[ch], 0o600)
        work2 = et.tempfile.mkdtemp(dir=self.tmp.name)
        self.r = Replicas(work2, self.snap_a, extra=("--auth-file", auth))
        replicas = self.r.write(tcp_reload=True)
        # refused: stops at r1's reload, and --rollback puts its file back
        rc, out, err = run_rollout("--rollback", self.snap_b, replicas,
                                   env_extra={"ELIG_CHANNEL": "viewer", "ELIG_TOKEN_FILE": files["viewer"]})
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(err, r"stopped at replica r1 \(1 of 3\), step reload: reload via 127\.0\.0\.1:\d+: "
                              r".*code 4.*rolled back: r1$")
        self.assertEqual(os.readlink(self.r.paths[0]), "A.mdb")
        self.assertIn("r1: rollback: serves 'snap-A' still", out)  # no reload needed, none made
        self.assertEqual(self.r.serving_unix(), [self.A + (1,)] * 3)
        # granted: every replica moved over TCP
        rc, out, err = run_rollout(self.snap_b, replicas,
                                   env_extra={"ELIG_CHANNEL": "ops", "ELIG_TOKEN_FILE": files["ops"]})
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(len(re.findall(r"r\d: reloaded via 127\.0\.0\.1:\d+: 'snap-B'", out)), 3, out)
        self.assertEqual(self.r.serving_unix(), [self.B + (2,)] * 3)
        self.assertNotIn(tok["ops"], out + err)

    def test_usage_errors(self):
        bad = os.path.join(self.work, "bad-replicas")
        with open(bad, "w") as f:
            f.write("# ok\nr1 127.0.0.1:1 /x unix:/y\nr2 127.0.0.1:2 /x\n")
        rc, out, err = run_rollout(self.snap_b, bad)
        self.assertEqual(rc, 2)
        self.assertRegex(err, r"bad-replicas:3: expected 4 fields")
        with open(bad, "w") as f:
            f.write("r1 127.0.0.1:1 /x unix:/y\nr1 127.0.0.1:2 /z unix:/w\n")
        rc, out, err = run_rollout(self.snap_b, bad)
        self.assertEqual(rc, 2)
        self.assertRegex(err, r"bad-replicas:2: replica 'r1' listed twice")
        with open(bad, "w") as f:
            f.write("r1 127.0.0.1:99999 /x unix:/y\n")
        rc, out, err = run_rollout(self.snap_b, bad)
        self.assertEqual(rc, 2)
        self.assertIn("bad-replicas:1: r1: INFO '127.0.0.1:99999'", err)
        with open(bad, "w") as f:
            f.write("r1 127.0.0.1:0 /x unix:/y\nr2 127.0.0.1:08 /x unix:/y\n")
        rc, out, err = run_rollout(self.snap_b, bad)
        self.assertEqual(rc, 2)
        self.assertEqual(err.splitlines(), ["elig-rollout: %s:1: r1: INFO '127.0.0.1:0' is not HOST:PORT "
                                            "or unix:PATH (try elig-rollout --help)" % bad])
        rc, out, err = run_rollout("--health-timeout", "soon", self.snap_b, bad)
        self.assertEqual(rc, 2)
        self.assertIn("--health-timeout: 'soon'", err)
        rc, out, err = run_rollout(self.snap_b)
        self.assertEqual(rc, 2)
        rc, out, err = run_rollout("--help")
        self.assertEqual(rc, 0)
        self.assertIn("Usage: elig-rollout", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""daemon_config: --config PATH (SPEC 9): a value from the file takes
effect, the command line overrides it, every long option is accepted by
name (the new ones too), an unknown key or a bad value fails naming the
file and the line (exit 2), and --check-config exits 0 on a good
configuration and 1 when the snapshot it names cannot be opened."""

import os
import subprocess

import eligtest as et

TOO_LARGE = 3
GOOD = ["kk", et.KK1, "PKH", "2024-01"]


def setup():
    return et.Ctx(snap_id="config-snap")


def write(ctx, name, text):
    path = os.path.join(ctx.dir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def run(*args):
    return subprocess.run([et.ELIGD] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=20)


def batch_limit(d):
    """The largest check_batch the daemon accepts, probed around 5-9."""
    with d.conn() as c:
        for n in range(4, 12):
            err, _ = c.call("check_batch", [[GOOD] * n])
            if err is not None:
                assert err[0] == TOO_LARGE, err
                return n - 1
    return None


def t_file_then_flag(ctx):
    conf = write(ctx, "eligd.conf", "# eligd configuration\n\nmax-batch = 5\nthreads = 1\n"
                 "log-format = json\nmetrics-listen = 127.0.0.1:0\nwarm = true\n")
    with ctx.daemon("--config", conf, name="fromfile") as d:
        assert batch_limit(d) == 5, "max-batch from the file not in force"
        assert d.metrics_url().startswith("http://127.0.0.1:")  # metrics-listen from the file
        first = d.log().splitlines()[0]
        assert first.startswith("{"), "log-format = json from the file not in force: %r" % first
        d.stop()
    # The command line wins, wherever --config stands.
    with ctx.daemon("--max-batch", "7", "--config", conf, name="override") as d:
        assert batch_limit(d) == 7, "--max-batch on the command line did not override the file"
        d.stop()


def t_unknown_key_names_its_line(ctx):
    conf = write(ctx, "bad.conf", "threads = 1\n# a comment\nmax-bach = 5\n")
    p = run("--snapshot", ctx.snapshot, "--config", conf)
    assert p.returncode == 2, "unknown key: exit %d, want 2: %s" % (p.returncode, p.stderr)
    err = p.stderr.strip()
    assert "bad.conf:3" in err and "max-bach" in err, "stderr %r does not name line 3 and the key" % err
    conf = write(ctx, "badval.conf", "threads = many\n")
    p = run("--snapshot", ctx.snapshot, "--config", conf)
    assert p.returncode == 2 and "badval.conf:1" in p.stderr and "threads" in p.stderr, p.stderr
    p = run("--snapshot", ctx.snapshot, "--config", os.path.join(ctx.dir, "absent.conf"))
    assert p.returncode == 2 and "absent.conf" in p.stderr, p.stderr
    # Command-line-only options are refused in the file.
    conf = write(ctx, "cli.conf", "check-config = true\n")
    p = run("--snapshot", ctx.snapshot, "--config", conf)
    assert p.returncode == 2 and "cli.conf:1" in p.stderr, p.stderr


def t_check_config(ctx):
    conf = write(ctx, "ok.conf", "snapshot = %s\nmax-batch = 5\n" % ctx.snapshot)
    p = run("--config", conf, "--check-config")
    assert p.returncode == 0, "--check-config of a good file: exit %d: %s" % (p.returncode, p.stderr)
    conf = write(ctx, "nosnap.conf", "snapshot = %s\n" % os.path.join(ctx.dir, "missing.mdb"))
    p = run("--config", conf, "--check-config")
    assert p.returncode == 1, "--check-config with a missing snapshot: exit %d, want 1" % p.returncode
    assert "missing.mdb" in p.stderr, p.stderr
    # The command line's snapshot overrides the file's.
    p = run("--config", conf, "--snapshot", ctx.snapshot, "--check-config")
    assert p.returncode == 0, p.stderr


def t_metrics_listen_protected(ctx):
    p = run("--snapshot", ctx.snapshot, "--metrics-listen", "0.0.0.0:9420")
    assert p.returncode == 2, "metrics on 0.0.0.0 without auth: exit %d, want 2" % p.returncode
    assert "loopback" in p.stderr, p.stderr
    p = run("--snapshot", ctx.snapshot, "--metrics-listen", "nonsense:port")
    assert p.returncode == 2 and "--metrics-listen" in p.stderr, p.stderr
    p = run("--snapshot", ctx.snapshot, "--log-format", "xml")
    assert p.returncode == 2 and "--log-format" in p.stderr, p.stderr


if __name__ == "__main__":
    et.main([t_file_then_flag, t_unknown_key_names_its_line, t_check_config, t_metrics_listen_protected],
            setup, budget=90)

"""daemon_unix_owner: issue 13, defect 4 (the Unix socket is stolen by a
second eligd) and --unix-mode.

A second eligd given the --unix path of a running one used to unlink the
live socket and bind its own, and on exit unlinked that one too, leaving
the first daemon unreachable. Now it probes the path with a connect first
and refuses to start (exit 1, saying why); the first keeps its socket. A
socket left by a dead daemon is still replaced, and a daemon removes only
the socket file it bound itself. --unix-mode sets the socket's permissions
whatever the umask (default 0660)."""

import os
import socket
import stat
import subprocess

import eligtest as et


def setup():
    return et.Ctx(snap_id="unixown-snap")


def umask(mask):
    return lambda: os.umask(mask)


def run_eligd(ctx, *args, timeout=10, preexec=None):
    try:
        return subprocess.run([et.ELIGD, "--snapshot", ctx.snapshot] + list(args),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, preexec_fn=preexec)
    except subprocess.TimeoutExpired:
        raise AssertionError("eligd %s: still running %d s later, want it to refuse to start" % (
            " ".join(args), timeout))


def t_defect4_second_eligd_does_not_steal_the_socket(ctx):
    path = os.path.join(ctx.dir, "owned.sock")
    with ctx.daemon(unix=path, name="first") as first:
        ino = os.stat(path).st_ino
        with et.Conn(path=path) as c:
            assert c.ok("ping", []) == "pong"
        # The second instance: its own TCP port, the same Unix path.
        p = run_eligd(ctx, "--listen", "127.0.0.1:0", "--unix", path)
        err = p.stderr.decode(errors="replace")
        assert p.returncode == 1, "second eligd on a live --unix path: exit %d, want 1\n%s" % (
            p.returncode, err)
        assert path in err and "listening" in err, \
            "second eligd does not say the path is in use by a live daemon: %r" % err
        assert os.path.exists(path), "the first daemon's socket file is gone after the second exited"
        assert os.stat(path).st_ino == ino, "the socket file was replaced by the second eligd"
        with et.Conn(path=path) as c:
            assert c.ok("ping", []) == "pong", "the first daemon no longer answers on its socket"
        first.stop()
    assert not os.path.exists(path), "the first daemon left its socket file behind"


def t_only_own_socket_unlinked(ctx):
    # A daemon whose socket file was replaced under it (by hand, or by a
    # daemon that found ours dead) leaves the new file alone at exit.
    path = os.path.join(ctx.dir, "replaced.sock")
    with ctx.daemon(unix=path, name="replaced") as d:
        os.unlink(path)
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        other.bind(path)
        other.listen(1)
        try:
            d.stop()
            assert os.path.exists(path), "eligd unlinked a socket file that was not its own"
        finally:
            other.close()


def t_stuck_owner_neither_stolen_nor_waited_for(ctx):
    # A live process that does not accept (its backlog full) still owns its
    # socket: the probe must neither take it as dead nor wait on it.
    path = os.path.join(ctx.dir, "stuck.sock")
    owner = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    owner.bind(path)
    owner.listen(0)
    fill = []
    try:
        for _ in range(16):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            fill.append(c)
            try:
                c.connect(path)
            except BlockingIOError:
                break  # the backlog is full
        else:
            raise AssertionError("could not fill the backlog of a Unix socket")
        ino = os.stat(path).st_ino
        p = run_eligd(ctx, "--listen", "127.0.0.1:0", "--unix", path, timeout=10)
        assert p.returncode == 1, "eligd on a stuck owner's socket: exit %d, want 1\n%s" % (
            p.returncode, p.stderr.decode(errors="replace"))
        assert b"listening" in p.stderr, "message %r does not say the path is in use" % p.stderr
        assert os.stat(path).st_ino == ino, "the stuck owner's socket file was replaced"
    finally:
        for c in fill:
            c.close()
        owner.close()


def t_unix_mode(ctx):
    for args, want in ((("--unix-mode", "0600"), 0o600), ((), 0o660), (("--unix-mode", "0666"), 0o666),
                       (("--unix-mode", "0"), 0)):
        path = os.path.join(ctx.dir, "mode.sock")
        d = ctx.daemon(*args, unix=path, name="mode", preexec=umask(0))
        with d:
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            assert mode == want, "--unix-mode %s under umask 000: socket mode %o, want %o" % (
                args[1] if args else "(default)", mode, want)
            d.stop()
    for bad in ("0999", "1777", "-1", "rw", ""):
        p = run_eligd(ctx, "--unix", os.path.join(ctx.dir, "bad.sock"), "--unix-mode", bad)
        assert p.returncode == 2, "--unix-mode %r: exit %d, want 2" % (bad, p.returncode)
        assert b"--unix-mode" in p.stderr, "--unix-mode %r: message %r does not name it" % (bad, p.stderr)


if __name__ == "__main__":
    et.main([t_defect4_second_eligd_does_not_steal_the_socket, t_only_own_socket_unlinked,
             t_stuck_owner_neither_stolen_nor_waited_for, t_unix_mode],
            setup=setup, budget=60)

"""daemon_output_cap: issue 13, defect 10 (unsigned casts in the write path).

A connection's unsent answers are handed to libuv as one uv_buf_t, whose
length is an unsigned int: --max-output used to accept up to 2^32, so a
queue (--max-output plus one response) could pass what that length holds
and be written short. --max-output is now at most 1 GiB (1073741824); more
is a usage error, on the command line and in a --config file alike."""

import os
import subprocess

import eligtest as et

GiB = 1 << 30


def setup():
    return et.Ctx(snap_id="outcap-snap")


def run(ctx, *args):
    try:
        return subprocess.run([et.ELIGD, "--snapshot", ctx.snapshot, "--listen", "127.0.0.1:0"] + list(args),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError("eligd %s: still running after 10 s, want a usage error" % " ".join(args))


def t_defect10_max_output_over_1gib_is_a_usage_error(ctx):
    for value in (4 * GiB, 4 * GiB - 1, GiB + 1, 1 << 63):
        p = run(ctx, "--max-output", str(value))
        err = p.stderr.decode(errors="replace")
        assert p.returncode == 2, "--max-output %d: exit %d, want 2 (usage)\n%s" % (value, p.returncode, err)
        assert "--max-output" in err, "--max-output %d: message %r does not name the flag" % (value, err)
        assert len(err.strip().splitlines()) <= 2, "--max-output %d: message %r" % (value, err)


def t_max_output_cap_in_config_file(ctx):
    path = os.path.join(ctx.dir, "eligd.conf")
    with open(path, "w") as f:
        f.write("max-output = %d\n" % (4 * GiB))
    p = run(ctx, "--config", path)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 2, "max-output = 4 GiB in --config: exit %d, want 2\n%s" % (p.returncode, err)
    assert "max-output" in err and path in err, "config message %r names neither the key nor the file" % err


def t_max_output_of_exactly_1gib_serves(ctx):
    # The largest value allowed is allowed, and the daemon serves with it.
    with ctx.daemon("--max-output", str(GiB), name="outcap") as d, d.conn() as c:
        res = c.ok("check_batch", [[et.case_params(k) for k in et.CASES]])
        for i, (a, case) in enumerate(zip(res, et.CASES)):
            et.check_answer(a, case, ctx.snap_id, where="item %d with --max-output 1 GiB" % i)
        d.stop()


if __name__ == "__main__":
    et.main([t_defect10_max_output_over_1gib_is_a_usage_error, t_max_output_cap_in_config_file,
             t_max_output_of_exactly_1gib_serves], setup=setup, budget=60)

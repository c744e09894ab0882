#!/usr/bin/env bash
# deploy_systemd: deploy/eligd.service passes `systemd-analyze verify` (with
# eligd(8) from the build, so the Documentation= link is checked too) and
# scores 2.0 or lower in `systemd-analyze security` ("OK"). The unit's
# /usr/bin paths are pointed at the build's programs, which verify checks
# exist. Exit 77 (ctest: not run) when systemd-analyze is absent: the test
# says so rather than passing.
#   test_systemd.sh UNIT ELIGD ELIG MAN_DIR
set -u
unit=$1 eligd=$2 elig=$3 man=$4
if ! command -v systemd-analyze >/dev/null; then
  echo "NOT RUN: systemd-analyze is not installed (Debian package systemd; scripts/setup installs it)"
  exit 77
fi
tmp=$(mktemp -d /tmp/eligd-unit.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
sed -e "s|/usr/bin/eligd |$eligd |; s|/usr/bin/elig |$elig |" "$unit" > "$tmp/eligd.service"
grep -q "ExecStart=$eligd " "$tmp/eligd.service" || { echo "FAIL: cannot point ExecStart at the build"; exit 1; }
fails=0

man_opt=(--man=yes)
if ! command -v man >/dev/null; then
  echo "note: no man command here: Documentation=man:eligd(8) not checked (--man=no)"
  man_opt=(--man=no)
fi
if out=$(MANPATH="$man" systemd-analyze verify "${man_opt[@]}" "$tmp/eligd.service" 2>&1) && [ -z "$out" ]; then
  echo "PASS verify: systemd-analyze verify has nothing to say"
else
  echo "FAIL verify:"; echo "$out"; fails=$((fails + 1))
fi

out=$(systemd-analyze security --offline=yes "$tmp/eligd.service" 2>&1)
score=$(sed -n 's/.*Overall exposure level for eligd.service: \([0-9.]*\).*/\1/p' <<<"$out")
if [ -z "$score" ]; then
  echo "FAIL security: no overall exposure level in:"; echo "$out"; fails=$((fails + 1))
elif awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
  echo "PASS security: exposure $score <= 2.0"
else
  echo "FAIL security: exposure $score > 2.0:"; grep '✗' <<<"$out"; fails=$((fails + 1))
fi

# The things the brief asks of the unit, present as written.
unit_fails=0
for want in '^Type=notify$' '^ExecReload=.* reload$' '^User=eligd$' '^StateDirectory=eligd$' \
            '^ConfigurationDirectory=eligd$' '^ProtectSystem=strict$' '^NoNewPrivileges=yes$' \
            '^PrivateTmp=yes$' '^MemoryDenyWriteExecute=yes$' '^RestrictAddressFamilies=' \
            '^SystemCallFilter=@system-service$'; do
  grep -qE "$want" "$unit" || { echo "FAIL unit: no line matching $want"; unit_fails=1; }
done
[ "$unit_fails" -eq 0 ] && echo "PASS unit: Type=notify, ExecReload, its own user, directories, hardening"
fails=$((fails + unit_fails))
echo "$((3 - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]

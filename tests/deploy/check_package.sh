#!/usr/bin/env bash
# Builds the .deb in a build directory (`cpack -G DEB`, cmake/packaging.cmake) and checks what it
# ships: the files and their places, conffiles, maintainer scripts, dependencies resolved by
# dpkg-shlibdeps, the packaged settings (checkpoint and spool under /var/lib/smetsmon), the
# binary's --version, `systemd-analyze verify` on the unit as installed, and its exposure score
# in `systemd-analyze security` (at most 2.5). Then its life in a private root (`dpkg --root`,
# maintainer scripts run under DPKG_ROOT): install (the service user made), an upgrade to a newer
# version that keeps an operator's edited conffile and the checkpoint and takes the new default of
# an unedited one, remove (conffiles and state kept), purge (both gone).
# Usage: tests/deploy/check_package.sh BUILD_DIR. Exits non-zero on the first failure.
set -euo pipefail
build=$(cd "$1" && pwd)
fail() { echo "FAIL: $*"; exit 1; }
for tool in cpack dpkg dpkg-deb systemd-analyze systemd-sysusers; do
  command -v "$tool" >/dev/null || fail "$tool not found"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A package directory of its own, so a parallel test never sees a half-written .deb.
(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log"; fail "cpack -G DEB"; }
deb=$(ls "$work"/out/smetsmon_*_amd64.deb)
echo "== built $(basename "$deb")"

contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for path in ./usr/bin/smetsmon ./usr/bin/smetsmon-loadgen ./etc/smetsmon/smetsmon.yaml \
    ./etc/smetsmon/areas.yaml ./etc/smetsmon/alert_catalogue.yaml ./etc/smetsmon/rules.yaml \
    ./usr/lib/systemd/system/smetsmon.service ./usr/lib/sysusers.d/smetsmon.conf \
    ./usr/share/man/man8/smetsmon.8.gz ./usr/share/doc/smetsmon/operations.md \
    ./usr/share/doc/smetsmon/examples/prometheus/smetsmon.rules.yml; do
  grep -qx "$path" <<<"$contents" || fail "the package lacks $path"
done
echo "== files in place"

dpkg-deb -e "$deb" "$work/control"
conffiles=$(sort "$work/control/conffiles")
expected=$(printf '/etc/smetsmon/%s\n' alert_catalogue.yaml areas.yaml rules.yaml smetsmon.yaml)
[[ $conffiles == "$expected" ]] || fail "conffiles are: $conffiles"
for script in postinst prerm postrm; do
  [[ -x $work/control/$script ]] || fail "no executable $script"
done
grep -q 'systemd-sysusers smetsmon.conf' "$work/control/postinst" || fail "postinst makes no user"
grep -q 'try-restart smetsmon.service' "$work/control/postinst" || fail "no restart on upgrade"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in librdkafka1 libyaml-cpp systemd; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
echo "== control: conffiles, maintainer scripts, Depends: $depends"

root=$work/root
dpkg-deb -x "$deb" "$root"
grep -q '^  path: /var/lib/smetsmon/state.ckpt' "$root/etc/smetsmon/smetsmon.yaml" ||
  fail "the packaged settings do not checkpoint to /var/lib/smetsmon"
grep -q '^  spool_dir: /var/lib/smetsmon/webhooks' "$root/etc/smetsmon/smetsmon.yaml" ||
  fail "the packaged settings do not spool to /var/lib/smetsmon"
grep -q '^u smetsmon ' "$root/usr/lib/sysusers.d/smetsmon.conf" || fail "sysusers entry"
version=$("$root/usr/bin/smetsmon" --version)
[[ $version =~ ^smetsmon\ [0-9]+\.[0-9]+\.[0-9]+\ \(revision\ [0-9a-z.-]+\)$ ]] ||
  fail "--version printed '$version'"
echo "== $version"

unit=$root/usr/lib/systemd/system/smetsmon.service
for line in Type=notify WatchdogSec= RestartPreventExitStatus=2 User=smetsmon StateDirectory=smetsmon \
    'ExecStart=/usr/bin/smetsmon run --config /etc/smetsmon'; do
  grep -q "^$line" "$unit" || fail "the unit lacks $line"
done
# verify resolves ExecStart= and the unit's dependencies in the package's root, so the binary it
# names must be the shipped one; the host's units (the targets it orders against) and kill(1)
# (ExecReload) are copied in beside it. Any message (an unknown key is only a warning) fails.
cp -rn /usr/lib/systemd/system/. "$root/usr/lib/systemd/system/"
ln -s usr/bin "$root/bin"
cp /usr/bin/kill "$root/usr/bin/kill"
verify_out=$(systemd-analyze verify --man=no --root="$root" /usr/lib/systemd/system/smetsmon.service 2>&1) ||
  fail "systemd-analyze verify: $verify_out"
[[ -z $verify_out ]] || fail "systemd-analyze verify: $verify_out"
exposure=$(systemd-analyze security --offline=true --root="$root" \
  /usr/lib/systemd/system/smetsmon.service 2>/dev/null |
  sed -n 's/.*Overall exposure level for smetsmon.service: \([0-9.]*\).*/\1/p')
[[ -n $exposure ]] || fail "no exposure score"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.5) }' || fail "exposure $exposure > 2.5"
echo "== unit verified, exposure $exposure"

# The package's life in a private root. The upgrade is the same package under a newer version,
# with a changed default in two conffiles: smetsmon.yaml, which the operator edited, and
# areas.yaml, which they did not.
next=$work/next
dpkg-deb -R "$deb" "$next"
old_version=$(dpkg-deb -f "$deb" Version)
new_version="$old_version+upgrade1"
sed -i "s/^Version: .*/Version: $new_version/" "$next/DEBIAN/control"
echo "# a default changed in $new_version" >>"$next/etc/smetsmon/smetsmon.yaml"
echo "# a default changed in $new_version" >>"$next/etc/smetsmon/areas.yaml"
dpkg-deb --root-owner-group -b "$next" "$work/next.deb" >/dev/null
life=$work/life
mkdir -p "$life/var/lib/dpkg/info" "$life/var/lib/dpkg/updates"
touch "$life/var/lib/dpkg/status" "$life/var/lib/dpkg/available"
# The host's libraries and systemd are not in this root: their dependencies are not checked.
in_root() {
  dpkg --root="$life" --force-script-chrootless --force-depends --force-not-root "$@" \
    >>"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg $*"; }
}
status_of() { dpkg --root="$life" -s smetsmon 2>/dev/null | sed -n "s/^$1: //p"; }

in_root -i "$deb"
[[ $(status_of Status) == "install ok installed" && $(status_of Version) == "$old_version" ]] ||
  fail "not installed: $(status_of Status) $(status_of Version)"
grep -q '^smetsmon:' "$life/etc/passwd" || fail "install made no smetsmon user"
[[ -x $life/usr/bin/smetsmon ]] || fail "no binary after install"
echo "== installed $old_version in a private root, user smetsmon made"

# What a running daemon leaves: an operator's edit and a checkpoint (state survives an upgrade:
# the daemon restarted by postinst restores from it).
echo "# edited by the operator" >>"$life/etc/smetsmon/smetsmon.yaml"
edited=$(cat "$life/etc/smetsmon/smetsmon.yaml")
mkdir -p "$life/var/lib/smetsmon/webhooks"
head -c 4096 /dev/urandom >"$life/var/lib/smetsmon/state.ckpt"
checkpoint=$(sha256sum <"$life/var/lib/smetsmon/state.ckpt")
# --force-confold: what an unattended `apt-get -o Dpkg::Options::=--force-confold upgrade` does.
in_root --force-confold -i "$work/next.deb"
[[ $(status_of Version) == "$new_version" && $(status_of Status) == "install ok installed" ]] ||
  fail "upgrade: $(status_of Status) $(status_of Version)"
[[ $(cat "$life/etc/smetsmon/smetsmon.yaml") == "$edited" ]] || fail "upgrade lost the edit"
cmp -s "$life/etc/smetsmon/smetsmon.yaml.dpkg-dist" "$next/etc/smetsmon/smetsmon.yaml" ||
  fail "upgrade did not leave the new default beside the edited file"
cmp -s "$life/etc/smetsmon/areas.yaml" "$next/etc/smetsmon/areas.yaml" ||
  fail "upgrade did not take the new default of an unedited conffile"
[[ $(sha256sum <"$life/var/lib/smetsmon/state.ckpt") == "$checkpoint" ]] ||
  fail "upgrade touched the checkpoint"
[[ $(grep -c '^smetsmon:' "$life/etc/passwd") == 1 ]] || fail "upgrade made a second user"
echo "== upgraded to $new_version: edited conffile kept (new default as .dpkg-dist), unedited one updated, checkpoint unchanged"

in_root -r smetsmon
[[ ! -e $life/usr/bin/smetsmon ]] || fail "remove left the binary"
[[ -f $life/etc/smetsmon/smetsmon.yaml && -f $life/var/lib/smetsmon/state.ckpt ]] ||
  fail "remove deleted configuration or state"
in_root -P smetsmon
[[ ! -e $life/etc/smetsmon/smetsmon.yaml && ! -e $life/var/lib/smetsmon ]] ||
  fail "purge left configuration or state"
echo "== removed (configuration and state kept), purged (both gone)"
echo "PASS"

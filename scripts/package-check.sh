#!/usr/bin/env bash
# Checks the install rules and the Debian package (cmake/packaging.cmake) from
# an existing build directory (${BUILD_DIR:-build}, built by scripts/build.sh):
#   - cpack builds the .deb; its control fields name a maintainer, a
#     description and the shared libraries it needs;
#   - unpacked into a scratch root (dpkg-deb -x), its files are exactly the
#     expected ones: binaries, units, man pages, docs and every docs/examples file;
#   - the man pages render without warnings and list exactly the flags the
#     packaged binaries' --help lists;
#   - the packaged units pass scripts/check-units.sh with the packaged binaries
#     on the paths the units name;
#   - `cmake --install` into a DESTDIR points the units at its own prefix.
# Installs nothing on this machine; the scratch root is removed at exit.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
passed=0; failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

for tool in cpack dpkg-deb dpkg-shlibdeps man; do
  if ! command -v "$tool" >/dev/null; then echo "SKIP: $tool not installed"; exit 77; fi
done
if [[ ! -f "$build_dir/CPackConfig.cmake" || ! -x "$build_dir/tund/tund" ]]; then
  echo "FAIL: $build_dir is not a configured and built tree (run scripts/build.sh)"; exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# cpack first builds the `preinstall` target: nothing to do after scripts/build.sh.
if ! (cd "$build_dir" && cpack -G DEB -B "$tmp/out") >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log"; echo "FAIL: cpack -G DEB"; exit 1
fi
debs=("$tmp"/out/*.deb)
if [[ ${#debs[@]} -ne 1 || ! -f "${debs[0]}" ]]; then
  cat "$tmp/cpack.log"; echo "FAIL: cpack made no single .deb"; exit 1
fi
deb=${debs[0]}
pass "cpack built ${deb##*/} ($(du -k "$deb" | cut -f1) KiB)"

field() { dpkg-deb -f "$deb" "$1"; }
if [[ $(field Package) == dialout ]]; then pass "Package: dialout"
else fail "Package: '$(field Package)'"; fi
if [[ -n $(field Maintainer) ]]; then pass "Maintainer: $(field Maintainer)"
else fail "no Maintainer"; fi
if [[ $(field Description | wc -l) -ge 3 ]]; then pass "Description: $(field Description | head -n 1)"
else fail "Description lacks a long description"; fi
depends=$(field Depends)
for lib in libc6 libssl3 libmnl0 libstdc++6; do
  if [[ $depends == *"$lib"* ]]; then pass "Depends names $lib"
  else fail "Depends lacks $lib: $depends"; fi
done

# The file list, exactly (examples: whatever docs/examples holds).
expected=(
  ./usr/sbin/dialoutctl ./usr/sbin/intermediary ./usr/sbin/tund
  ./usr/lib/systemd/system/intermediary.service "./usr/lib/systemd/system/tund@.service"
  ./usr/share/man/man8/tund.8 ./usr/share/man/man8/intermediary.8 ./usr/share/man/man8/dialoutctl.8
  ./usr/share/man/man5/dialout-policy.5
  ./usr/share/doc/dialout/README.md ./usr/share/doc/dialout/configuration.md
)
for f in "$root"/docs/examples/*; do expected+=("./usr/share/doc/dialout/examples/${f##*/}"); done
printf '%s\n' "${expected[@]}" | sort > "$tmp/expected"
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | sort > "$tmp/actual"
if diff -u "$tmp/expected" "$tmp/actual" > "$tmp/diff"; then pass "file list: $(wc -l < "$tmp/actual") files as expected"
else fail "file list differs (- expected, + packaged):"; sed -n '3,$p' "$tmp/diff"; fi

dpkg-deb -x "$deb" "$tmp/root"
for daemon in tund intermediary; do
  b=$tmp/root/usr/sbin/$daemon
  if [[ -x "$b" ]] && "$b" --version >/dev/null 2>&1; then pass "$daemon from the package runs (--version)"
  else fail "$daemon from the package does not run"; fi
done

if "$tmp/root/usr/sbin/dialoutctl" --help >/dev/null 2>&1; then pass "dialoutctl from the package runs (--help)"
else fail "dialoutctl from the package does not run"; fi

# Man pages: no roff warnings, and the flags they describe are the binary's.
# Settings only: --help, --version and --config are prose in the man page.
help_flags() {
  "$1" --help 2>/dev/null | sed -nE 's/^  (--[a-z][a-z0-9-]+).*/\1/p' | grep -vxE -- '--(help|version|config)' | sort
}
# Each setting is a definition-list term ("--mtu VALUE (default: 1500)").
man_flags() { MANWIDTH=200 man -E UTF-8 -l "$1" 2>/dev/null | sed -nE 's/^ {7}(--[a-z][a-z0-9-]+) VALUE.*/\1/p' | sort; }
for page in man8/tund.8 man8/intermediary.8 man8/dialoutctl.8 man5/dialout-policy.5; do
  f=$tmp/root/usr/share/man/$page
  [[ -f "$f" ]] || continue  # already reported by the file list
  warnings=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$f" 2>&1 >/dev/null)
  if [[ -z "$warnings" ]]; then pass "$page renders without warnings"
  else fail "$page: $warnings"; fi
  daemon=${page#man8/}; daemon=${daemon%.8}
  [[ $page == man8/* && $daemon != dialoutctl ]] || continue
  if diff <(help_flags "$tmp/root/usr/sbin/$daemon") <(man_flags "$f") > "$tmp/flags"; then
    pass "$page names exactly the flags of $daemon --help"
  else fail "$page and $daemon --help differ (< --help only, > man page only): $(grep '^[<>]' "$tmp/flags" | tr '\n' ' ')"; fi
done

# The units as installed, with the package's binaries.
units=$tmp/root/usr/lib/systemd/system
for unit in intermediary.service tund@.service; do
  named=$(sed -nE 's|^ExecStart=([^ ]+).*|\1|p' "$units/$unit" 2>/dev/null)
  want=/usr/sbin/${unit%%[@.]*}
  if [[ "$named" == "$want" ]]; then pass "$unit: ExecStart names $want"
  else fail "$unit: ExecStart names '$named', not $want"; fi
done
if out=$(UNITS_DIR=$units BIN_ROOT=$tmp/root "$root/scripts/check-units.sh" 2>&1); then
  pass "packaged units: $(tail -n 1 <<< "$out")"
else
  fail "packaged units (scripts/check-units.sh):"; grep -v '^PASS' <<< "$out"
fi

# cmake --install with the configured prefix (not the package's /usr).
if DESTDIR=$tmp/destdir cmake --install "$build_dir" >"$tmp/install.log" 2>&1; then
  prefix=$(sed -nE 's/^CMAKE_INSTALL_PREFIX:PATH=(.*)/\1/p' "$build_dir/CMakeCache.txt")
  unit=$tmp/destdir$prefix/lib/systemd/system/intermediary.service
  named=$(sed -nE 's|^ExecStart=([^ ]+).*|\1|p' "$unit" 2>/dev/null)
  if [[ "$named" == "$prefix/sbin/intermediary" && -x "$tmp/destdir$named" ]]; then
    pass "cmake --install: units name $prefix/sbin, where the binaries are"
  else fail "cmake --install: intermediary.service names '$named' (prefix $prefix)"; fi
else
  cat "$tmp/install.log"; fail "cmake --install"
fi

echo "package: $passed passed, $failed failed"
((failed == 0))

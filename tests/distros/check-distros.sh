#!/bin/sh
# tests/distros/check-distros.sh: build cowguard and run its whole test suite
# on other Debian releases than the host's, each in a debootstrap root, so a
# change is known to work on an older and a newer glibc and Python.
#
#   make check-distros                      (from a configured build tree)
#   sh tests/distros/check-distros.sh [SRCDIR [OUTDIR]]
#
# For each release in $CG_DISTROS (default "bullseye trixie": Debian 11,
# glibc 2.31, Python 3.9; Debian 13, glibc 2.41, Python 3.13):
#  1. a minbase root is made with debootstrap from the mirror the host's apt
#     uses, and the packages below are installed into it; it is kept in
#     $CG_DISTRO_CACHE/RELEASE (default /var/cache/cowguard/distros),
#     outside the source tree, and reused while its stamp file lists the same
#     packages, so a warm run needs no network;
#  2. the source tree as it is on disk (uncommitted changes and new files
#     included, build products and git-ignored files left out) is copied into
#     the root, and autoreconf -fi, ./configure, make -j2, make check run there
#     in a chroot with /proc, /sys, /dev, /dev/pts and /dev/shm bind-mounted;
#     then make deb: the Debian package built from the release tarball with
#     that release's debhelper and checked by its lintian (tools/deb);
#  3. one line is printed: passed, failed and skipped tests, and the
#     package; on failure the test-suite.log (or the end of the package's
#     log) follows. OUTDIR/distros/RELEASE-test-suite.log keeps it, with
#     RELEASE-root.log (debootstrap, apt), RELEASE-build.log and
#     RELEASE-deb.log.
# Exits 1 if any release failed. Needs root (debootstrap, chroot, mount).
#
# Time on a 2-core machine: making a root (debootstrap and the packages,
# about 250 MB downloaded, 550-650 MB on disk) takes 40-70 s, building and
# running the suite in it 40-60 s, make deb about a minute more: a cold run
# of both releases about 5.5 minutes, a warm one about 3.5.
set -u

die() { echo "check-distros: $*" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot and bind mounts need it)"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (Debian: apt-get install debootstrap; tools/bootstrap installs it)"
command -v chroot >/dev/null 2>&1 || die "chroot is missing"

srcdir=$(cd "${1:-$(dirname "$0")/../..}" && pwd -P) || die "no source directory ${1:-}"
outdir=$(cd "${2:-.}" && pwd -P) || die "no output directory ${2:-}"
[ -f "$srcdir/src/interpose/init.c" ] || die "$srcdir is not cowguard's source tree"
releases=${CG_DISTROS:-bullseye trixie}
cache=${CG_DISTRO_CACHE:-/var/cache/cowguard/distros}
# A root inside the source tree would be copied into itself.
inside_src() { case "$1/" in "$srcdir/"*) die "CG_DISTRO_CACHE ($1) must be outside the source tree $srcdir";; esac; }
case "$cache" in /*) ;; *) cache=$PWD/$cache;; esac
inside_src "$cache"
mkdir -p "$cache" "$outdir/distros" || die "cannot create $cache or $outdir/distros"
cache=$(cd "$cache" && pwd -P)
inside_src "$cache"

# Packages: what building needs, then what the integration tests use (NumPy
# for pool_numpy.py, python3-venv for python_pip.sh, man-db and groff for
# man_pages.sh, file for libtool, procps, strace for realloc_growth.sh), then
# what make deb needs (debian/control's Build-Depends, build-essential,
# dpkg-dev, lintian). pkgconf, as Build-Depends names it, is pkg-config too.
# clang is left out on purpose: neither release has the libclang-rt-14-dev
# that the libFuzzer build wants, so configure finds no clang and fuzz.sh runs
# its plain driver only.
packages="gcc make autoconf automake libtool pkgconf libunwind-dev libcmocka-dev libdw-dev
python3 python3-numpy python3-venv libpython3-dev man-db groff-base file procps strace
build-essential dpkg-dev debhelper dh-python lintian"
# Installed when the release has them, else the tests that use them skip
# (exit 77): next_allocator.sh (jemalloc), real_redis.sh, real_nginx.sh (nginx
# and curl). "a|b" takes the first of the two the release has: nginx-light
# is only a transitional package for nginx in trixie, and may leave after it.
optional="libjemalloc2 redis-server nginx-light|nginx curl"

# The mirror the host's apt uses for the main archive (not security), since
# no other may be reachable.
host_mirror() {
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822: one stanza per blank-line-separated paragraph.
        awk 'function flush() {
                 if (types ~ /(^| )deb( |$)/ && enabled !~ /^no$/ && suites !~ /security/)
                     { n = split(uris, u, " "); for (i = 1; i <= n; i++) if (u[i] !~ /security/) { print u[i]; exit } }
                 types = uris = suites = enabled = ""
             }
             /^[ \t]*$/ { flush(); next }
             tolower($1) == "types:"   { sub(/^[^:]*:[ \t]*/, ""); types = $0 }
             tolower($1) == "uris:"    { sub(/^[^:]*:[ \t]*/, ""); uris = $0 }
             tolower($1) == "suites:"  { sub(/^[^:]*:[ \t]*/, ""); suites = $0 }
             tolower($1) == "enabled:" { sub(/^[^:]*:[ \t]*/, ""); enabled = tolower($0) }
             END { flush() }' "$f"
    done
    # One-line format: deb [options] URI SUITE COMPONENTS...
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        sed -n 's/^[ \t]*deb[ \t]\{1,\}\(\[[^]]*\][ \t]*\)\{0,1\}\([^ \t]*\)[ \t]\{1,\}\([^ \t]*\).*/\2 \3/p' |
        awk '$0 !~ /security/ { print $1 }'
}
mirror=$(host_mirror | sed 's|/*$||' | head -1)
mirror=${mirror:-http://deb.debian.org/debian}

# ---- mounts and the processes of a root, undone on every way out ------------------
mounted=""      # mount points, the last mounted first, one a line
chroot_root=""  # the root whose processes must not outlive the run
cleanup() {
    if [ -n "$chroot_root" ]; then
        # Servers a test left running (nginx, redis) would keep the mounts
        # busy: end the processes whose root is ours (all started by this run).
        for p in /proc/[0-9]*; do
            [ "$(readlink "$p/root" 2>/dev/null)" = "$chroot_root" ] && kill -KILL "${p#/proc/}" 2>/dev/null
        done
        chroot_root=""
    fi
    printf '%s\n' "$mounted" | while IFS= read -r m; do
        [ -n "$m" ] || continue
        umount "$m" 2>/dev/null || umount -l "$m" || echo "check-distros: could not unmount $m" >&2
    done
    mounted=""
}
# On a signal, exit, which runs cleanup. A signal arriving while a command
# runs in the foreground is handled when that command ends: on ^C the whole
# process group, the chroot's processes too, gets SIGINT and ends at once.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mount_root() { # ROOT
    chroot_root=$1
    for d in /proc /sys /dev /dev/pts /dev/shm; do
        mkdir -p "$1$d"
        mount --bind "$d" "$1$d" || return 1
        mounted="$1$d
$mounted"
    done
}
# has_mounts DIR: something is mounted at or under DIR (never delete it then).
has_mounts() { awk -v d="$1" '$2 == d || index($2, d "/") == 1 { f = 1 } END { exit !f }' /proc/self/mounts; }

# in_root ROOT COMMAND...: COMMAND in the chroot, with a clean environment
# (the host's, and make's MAKEFLAGS, must not reach the build), no standard
# input (as in CI) and without the lock's descriptor (tests count theirs).
in_root() {
    r=$1
    shift
    chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive ${http_proxy:+http_proxy=$http_proxy} "$@" </dev/null 9>&-
}

# ---- the root of one release: made, or reused when complete --------------------------
# The stamp is written only after every package installed, so an interrupted
# debootstrap or apt-get leaves a root that the next run completes or redoes.
make_root() { # RELEASE ROOT LOG
    release=$1 root=$2 log=$3
    if [ ! -f "$root/.cowguard-debootstrap" ]; then
        if [ -e "$root" ]; then
            has_mounts "$root" && { echo "$root has something mounted in it: unmount it first" >>"$log"; return 1; }
            rm -rf --one-file-system "$root"
        fi
        echo "debootstrap --variant=minbase $release $root $mirror" >>"$log"
        debootstrap --variant=minbase "$release" "$root" "$mirror" </dev/null >>"$log" 2>&1 9>&- || {
            [ -f "$root/debootstrap/debootstrap.log" ] && tail -20 "$root/debootstrap/debootstrap.log" >>"$log"
            return 1
        }
        # Servers installed for the tests must never start as services.
        printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d"
        # Do as the host's apt does when its mirror is a frozen snapshot
        # whose Release files have expired.
        eval "$(apt-config shell valid Acquire::Check-Valid-Until)"
        [ "${valid:-}" != false ] || echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/90cowguard"
        : >"$root/.cowguard-debootstrap"
    fi
    wanted=$(echo "$packages $optional" | tr -s " \n" "  " | sed "s/ $//")
    if [ -f "$root/.cowguard-packages" ] && [ "$(sed -n 1p "$root/.cowguard-packages")" = "$wanted" ]; then
        echo "reused $root" >>"$log"
        return 0
    fi
    rm -f "$root/.cowguard-packages"
    mount_root "$root" || return 1
    # A run interrupted while dpkg worked leaves it half done: finish that first.
    in_root "$root" dpkg --configure -a >>"$log" 2>&1 || return 1
    in_root "$root" apt-get update -q >>"$log" 2>&1 || return 1
    # Resolve the optional packages against this release's archive.
    extra="" absent=""
    for alts in $optional; do
        pick=""
        for p in $(echo "$alts" | tr '|' ' '); do
            in_root "$root" apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]' && { pick=$p; break; }
        done
        if [ -n "$pick" ]; then extra="$extra $pick"; else absent="$absent $alts"; fi
    done
    # shellcheck disable=SC2086 # one word per package
    in_root "$root" apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 $packages $extra \
        >>"$log" 2>&1 || return 1
    in_root "$root" apt-get clean >>"$log" 2>&1
    cleanup
    # Line 1: what was asked for (compared on reuse); then what was installed.
    # shellcheck disable=SC2016 # dpkg-query's format, not the shell's
    { echo "$wanted"; echo "installed:$extra"; echo "absent:$absent"
      in_root "$root" dpkg-query -W -f='${Package} ${Version}\n'; } >"$root/.cowguard-packages.tmp" &&
        mv "$root/.cowguard-packages.tmp" "$root/.cowguard-packages"
}

# ---- the source tree as it is on disk ---------------------------------------------------------
# With git: tracked files that still exist plus untracked files that are not
# ignored, so uncommitted work is tested and build products are not copied.
# Without git (a release tarball): everything; the build in the root starts
# with make distclean if the tree was configured.
copy_source() { # DEST
    if git -c safe.directory="$srcdir" -C "$srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git -c safe.directory="$srcdir" -C "$srcdir" ls-files --cached --others --exclude-standard |
            sort -u | while IFS= read -r f; do [ -e "$srcdir/$f" ] && printf '%s\n' "$f"; done |
            tar -C "$srcdir" -cf - --no-recursion -T - | tar -C "$1" -xf -
    else
        tar -C "$srcdir" -cf - . | tar -C "$1" -xf -
    fi
}

# count NAME LOG: the number after "# NAME:" in a test-suite.log.
count() { n=$(sed -n "s/^# $1: *//p" "$2"); echo "${n:-0}"; }

# ---- each release -------------------------------------------------------------------------
status=0
for release in $releases; do
    root=$cache/$release
    rootlog=$outdir/distros/$release-root.log
    buildlog=$outdir/distros/$release-build.log
    suitelog=$outdir/distros/$release-test-suite.log
    deblog=$outdir/distros/$release-deb.log
    rm -f "$rootlog" "$buildlog" "$suitelog" "$deblog"
    # One run at a time per root: a second would build in the same directory.
    exec 9>"$cache/$release.lock"
    flock -n 9 || { echo "check-distros: $release: $root is in use by another run" >&2; status=1; continue; }

    t0=$(date +%s)
    if ! make_root "$release" "$root" "$rootlog"; then
        cleanup
        echo "check-distros: $release: FAILED to make the root $root (log: $rootlog):"
        tail -20 "$rootlog"
        status=1
        exec 9>&-
        continue
    fi
    t1=$(date +%s)

    rm -rf --one-file-system "$root/build"
    mkdir -p "$root/build/cowguard"
    copy_source "$root/build/cowguard" || { echo "check-distros: $release: could not copy the source tree"; status=1; continue; }
    mount_root "$root" || { cleanup; echo "check-distros: $release: could not bind-mount into $root"; status=1; continue; }
    versions=$(in_root "$root" sh -c 'ldd --version | sed -n "1s/.* //p"; python3 -c "import platform; print(platform.python_version())"' | paste -sd' ' -)
    # shellcheck disable=SC2086 # two words: glibc's and Python's versions
    set -- $versions
    what="$release (glibc ${1:-?}, Python ${2:-?})"
    result=""
    deb=""
    in_root "$root" sh -ec 'cd /build/cowguard
        [ ! -f Makefile ] || make distclean >/dev/null 2>&1 || :
        autoreconf -fi && ./configure && make -j2' >"$buildlog" 2>&1 ||
        result="build failed"
    if [ -z "$result" ]; then
        in_root "$root" sh -c 'cd /build/cowguard && make check' >>"$buildlog" 2>&1 || result="failed"
    fi
    t2=$(date +%s)
    # The package is built whatever the suite said (it runs no test: nocheck).
    if [ "$result" != "build failed" ]; then
        if in_root "$root" sh -c 'cd /build/cowguard && DEB_BUILD_OPTIONS=parallel=2 make deb' >"$deblog" 2>&1; then
            deb="package built, lintian without errors"
        else
            deb="make deb FAILED"
            [ -n "$result" ] || result="make deb failed"
        fi
    fi
    cleanup
    t3=$(date +%s)
    [ -f "$root/build/cowguard/test-suite.log" ] && cp "$root/build/cowguard/test-suite.log" "$suitelog"
    times="root $((t1 - t0)) s, build and check $((t2 - t1)) s${deb:+, make deb $((t3 - t2)) s}"
    if [ -f "$suitelog" ]; then
        counts="$(count PASS "$suitelog") passed, $(( $(count FAIL "$suitelog") + $(count ERROR "$suitelog") )) failed, $(count SKIP "$suitelog") skipped"
    else
        counts="no test ran"
    fi
    if [ -z "$result" ]; then
        echo "check-distros: $what: $counts; $deb ($times)"
    else
        status=1
        echo "check-distros: $what: $result: $counts${deb:+; $deb} ($times; logs in $outdir/distros)"
        if [ -f "$suitelog" ] && [ "$result" = failed ]; then
            cat "$suitelog"
        elif [ "$result" = "make deb failed" ]; then
            tail -40 "$deblog"
        else
            tail -40 "$buildlog"
        fi
        [ "$deb" != "make deb FAILED" ] || [ "$result" = "make deb failed" ] || tail -40 "$deblog"
    fi
    exec 9>&-
done
exit "$status"

# shellcheck shell=sh
# python_rootfs.sh OUT: a tarball of this host's python3, its standard
# library, /bin/sh (the apps role's entry point reads an app's secrets with
# it) and the shared libraries they load: the root of an image made without
# any registry. Run with sh.
set -eu
out=$1
python=$(readlink -f /usr/bin/python3)
stdlib=/usr/lib/$(basename "$python")
shell=$(readlink -f /bin/sh)
libs=$(ldd "$python" "$shell" "$stdlib"/lib-dynload/*.so 2>/dev/null \
  | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && NF == 2 {print $1}' | sort -u)
# shellcheck disable=SC2046,SC2086  # one word per library path
tar -C / -chf "$out.tmp" --exclude=__pycache__ --exclude="${stdlib#/}/test" \
  --exclude="${stdlib#/}/idlelib" --exclude="${stdlib#/}/tkinter" \
  --transform="s|^${shell#/}\$|bin/sh|" \
  usr/bin/python3 "${shell#/}" "${stdlib#/}" $(printf '%s\n' $libs | sed 's|^/||')
mv "$out.tmp" "$out"

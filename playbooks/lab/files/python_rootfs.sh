# shellcheck shell=sh
# python_rootfs.sh OUT: a tarball of this host's python3, its standard
# library and the shared libraries they load: the root of an image made
# without any registry. Run with sh.
set -eu
out=$1
python=$(readlink -f /usr/bin/python3)
stdlib=/usr/lib/$(basename "$python")
libs=$(ldd "$python" "$stdlib"/lib-dynload/*.so 2>/dev/null \
  | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && NF == 2 {print $1}' | sort -u)
# shellcheck disable=SC2046,SC2086  # one word per library path
tar -C / -chf "$out.tmp" --exclude=__pycache__ --exclude="${stdlib#/}/test" \
  --exclude="${stdlib#/}/idlelib" --exclude="${stdlib#/}/tkinter" \
  usr/bin/python3 "${stdlib#/}" $(printf '%s\n' $libs | sed 's|^/||')
mv "$out.tmp" "$out"

#!/usr/bin/env bash
# Print the Debian mirror this machine's apt already uses (deb822 "URIs:" lines
# or one-line "deb URL suite" entries), skipping the security archive, so that
# the other scripts fetch from the same place and name no host themselves.
set -euo pipefail
m=$( { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
       grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
         sed 's/\[[^]]*\]//' | awk '{print $2}'; } |
     grep -v -e security -e '^$' | grep -m1 -i debian || true)
[ -n "$m" ] || { echo "debian-mirror: no Debian mirror in /etc/apt/sources.list*" >&2; exit 1; }
echo "${m%/}"

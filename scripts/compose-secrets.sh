#!/bin/sh
# The Compose stack's one-shot `secrets` service: makes, only when missing,
# the node secret and the first admin token on the `secrets` volume, so a
# fresh `docker compose up` protects writes with no set-up. The admin token
# is printed once, when it is made. A value given through the environment
# (ADMIN_TOKEN, NODE_SECRET) wins over the files, so none is made for it.
set -eu
umask 077
dir=/secrets

# 32 random bytes as 64 hex digits.
random_hex() { head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n'; }

# write NAME VALUE: whole or not at all (temporary file, then rename).
write() { printf '%s\n' "$2" > "$dir/.$1.tmp" && mv "$dir/.$1.tmp" "$dir/$1"; }

if [ -z "${NODE_SECRET:-}" ] && [ ! -s "$dir/node-secret" ]; then
    write node-secret "$(random_hex)"
    echo "secrets: made the node secret ($dir/node-secret)"
fi

if [ -z "${ADMIN_TOKEN:-}" ] && [ ! -s "$dir/admin-token" ]; then
    # The token format: cdn_ and 43 URL-safe base64 characters of 32 bytes.
    token="cdn_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    write admin-token "$token"
    echo "secrets: the admin token, shown this once (also kept in the secrets volume for the client):"
    echo "$token"
fi

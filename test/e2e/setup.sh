#!/usr/bin/env bash
# Installs the system tools the end-to-end tests drive: a real container registry, skopeo,
# htpasswd, unshare, ip (network namespaces) and openssl. Does nothing when they are all present, so it is cheap to run each time.
set -euo pipefail

required_commands=(docker-registry skopeo htpasswd unshare ip openssl)
packages=(docker-registry skopeo apache2-utils util-linux iproute2 openssl)

missing=()
for command_name in "${required_commands[@]}"; do
  command -v "$command_name" >/dev/null 2>&1 || missing+=("$command_name")
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "e2e setup: installing ${packages[*]} (missing: ${missing[*]})"

if [ "$(id -u)" -ne 0 ]; then
  echo "e2e setup: installing system packages needs root" >&2
  exit 1
fi

# The docker-registry package would start a system registry on :5000 from its maintainer
# script. The tests run their own registries, so service starts are refused during the install.
policy_file=/usr/sbin/policy-rc.d
added_policy=false
if [ ! -e "$policy_file" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy_file"
  chmod 0755 "$policy_file"
  added_policy=true
fi
remove_added_policy() {
  if [ "$added_policy" = true ]; then rm -f "$policy_file"; fi
}
trap remove_added_policy EXIT

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"

# Belt and braces for machines whose init ignores policy-rc.d.
if [ -x /etc/init.d/docker-registry ]; then
  /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
fi

for command_name in "${required_commands[@]}"; do
  if ! command -v "$command_name" >/dev/null 2>&1; then
    echo "e2e setup: $command_name is still missing after the install" >&2
    exit 1
  fi
done

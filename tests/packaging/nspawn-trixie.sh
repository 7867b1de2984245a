#!/bin/bash
# tests/packaging/nspawn-trixie.sh - nspawn.sh in a booted Debian 13
# (trixie) container with wtmpdb and libpam-wtmpdb: every step of the
# Debian 12 run, then a PAM login whose record the agent must report as
# "wtmpdb last" and "loginctl" show it.  The root is kept in
# /var/tmp/derelict-nspawn-trixie (NSPAWN_ROOT) between runs.
NSPAWN_RELEASE=trixie exec "$(dirname "$0")/nspawn.sh" "$@"

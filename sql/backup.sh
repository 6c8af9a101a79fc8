#!/bin/sh
# Dumps $PGDATABASE (pg_dump custom format) into $BACKUP_DIR, then deletes dumps older than
# $BACKUP_RETENTION_DAYS days. Waits up to $BACKUP_CONNECT_SECONDS (60) for the server first. Connection from the usual PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE
# (the backup role asky_backup: pg_read_all_data, read-only).
# With $BACKUP_RECIPIENT_FILE (an OpenPGP public key), the dump is encrypted to it as it is written
# (asky-<stamp>.dump.gpg): no plaintext byte reaches the disk, and only the holder of the private key,
# never the cluster, can read it back. The name of the finished file goes to $BACKUP_DIR/.last for
# the off-cluster copy.
# Runs in the postgres image (gpg is part of it) under a read-only root: it writes only to
# $BACKUP_DIR and /tmp.
set -eu

: "${PGDATABASE:?PGDATABASE must name the database to dump}"
: "${PGHOST:?PGHOST must name the database server}"
backup_dir="${BACKUP_DIR:-/backups}"
retention_days="${BACKUP_RETENTION_DAYS:-7}"
recipient="${BACKUP_RECIPIENT_FILE:-}"

connect_seconds="${BACKUP_CONNECT_SECONDS:-60}"

case "$retention_days" in
  '' | *[!0-9]*)
    echo "backup: BACKUP_RETENTION_DAYS must be a whole number of days, got '$retention_days'" >&2
    exit 2
    ;;
esac
case "$connect_seconds" in
  '' | *[!0-9]*)
    echo "backup: BACKUP_CONNECT_SECONDS must be a whole number of seconds, got '$connect_seconds'" >&2
    exit 2
    ;;
esac
if [ ! -d "$backup_dir" ] || [ ! -w "$backup_dir" ]; then
  echo "backup: $backup_dir is not a writable directory" >&2
  exit 2
fi
if [ -n "$recipient" ] && [ ! -r "$recipient" ]; then
  echo "backup: BACKUP_RECIPIENT_FILE $recipient is not a readable public key" >&2
  exit 2
fi

# The server may be restarting, and a new pod's address may not be in the database's NetworkPolicy
# yet (an enforcer programs it as the pod starts: every try of this Job is a new pod): wait until the
# server accepts connections (pg_isready, no credentials), at most BACKUP_CONNECT_SECONDS.
waited=0
until pg_isready --quiet --timeout=2; do
  if [ "$waited" -ge "$connect_seconds" ]; then
    echo "backup: $PGHOST:${PGPORT:-5432} did not accept connections within $connect_seconds s" >&2
    exit 1
  fi
  echo "backup: waiting for $PGHOST:${PGPORT:-5432} to accept connections"
  sleep 2
  waited=$((waited + 2))
done

# The database name becomes part of a file name and a find pattern: keep it to safe characters.
prefix="$(printf '%s' "$PGDATABASE" | tr -c 'A-Za-z0-9_.-' '_')"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
suffix=".dump"
[ -n "$recipient" ] && suffix=".dump.gpg"
final="$backup_dir/$prefix-$stamp$suffix"
partial="$backup_dir/.$prefix-$stamp$suffix.partial"
work="$(mktemp -d "${TMPDIR:-/tmp}/backup.XXXXXX")"

# A dump that failed half-way must never look like a backup: write aside, check, then rename.
trap 'rm -f "$partial"; rm -rf "$work"' EXIT
umask 077

if [ -n "$recipient" ]; then
  echo "backup: dumping database $PGDATABASE from $PGHOST as $PGUSER, encrypted to $(basename "$recipient"), to $final"
  # pg_dump writes into a pipe that gpg encrypts from; both exit statuses are checked (sh has no pipefail).
  mkfifo "$work/dump"
  gpg --batch --no-tty --quiet --homedir "$work" --trust-model always --recipient-file "$recipient" \
    --output "$partial" --encrypt "$work/dump" &
  gpg_pid=$!
  # --no-sync: a pipe cannot be fsynced; the encrypted file is synced below instead.
  if ! pg_dump --format=custom --no-password --no-sync --file="$work/dump" "$PGDATABASE"; then
    kill "$gpg_pid" 2>/dev/null || true
    wait "$gpg_pid" 2>/dev/null || true
    echo "backup: pg_dump failed" >&2
    exit 1
  fi
  wait "$gpg_pid" || { echo "backup: gpg failed to encrypt the dump" >&2; exit 1; }
  sync "$partial"
  # An OpenPGP message whose session key is sealed to the recipient (no key needed to check that).
  gpg --batch --no-tty --homedir "$work" --list-packets "$partial" 2>/dev/null | grep -q '^:pubkey enc packet:' \
    || { echo "backup: $partial is not an OpenPGP message for the recipient" >&2; exit 1; }
else
  echo "backup: dumping database $PGDATABASE from $PGHOST as $PGUSER to $final (not encrypted: no BACKUP_RECIPIENT_FILE)"
  pg_dump --format=custom --no-password --file="$partial" "$PGDATABASE"
  pg_restore --list "$partial" > /dev/null
fi
mv -f "$partial" "$final"
printf '%s\n' "$(basename "$final")" > "$backup_dir/.last"
echo "backup: wrote $final ($(wc -c < "$final" | tr -d ' ') bytes)"

# -mtime +N: modified more than N whole days ago.
echo "backup: deleting dumps in $backup_dir older than $retention_days days"
find "$backup_dir" -maxdepth 1 -type f \( -name "$prefix-*.dump" -o -name "$prefix-*.dump.gpg" -o -name ".$prefix-*.partial" \) \
  -mtime +"$retention_days" -print -exec rm -f -- {} +
echo "backup: done"

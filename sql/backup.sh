#!/bin/sh
# Dumps $PGDATABASE (pg_dump custom format) into $BACKUP_DIR, then deletes dumps older than
# $BACKUP_RETENTION_DAYS days. Connection from the usual PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE.
# Runs in the postgres image under a read-only root: it writes only to $BACKUP_DIR.
set -eu

: "${PGDATABASE:?PGDATABASE must name the database to dump}"
: "${PGHOST:?PGHOST must name the database server}"
backup_dir="${BACKUP_DIR:-/backups}"
retention_days="${BACKUP_RETENTION_DAYS:-7}"

case "$retention_days" in
  '' | *[!0-9]*)
    echo "backup: BACKUP_RETENTION_DAYS must be a whole number of days, got '$retention_days'" >&2
    exit 2
    ;;
esac
if [ ! -d "$backup_dir" ] || [ ! -w "$backup_dir" ]; then
  echo "backup: $backup_dir is not a writable directory" >&2
  exit 2
fi

# The database name becomes part of a file name and a find pattern: keep it to safe characters.
prefix="$(printf '%s' "$PGDATABASE" | tr -c 'A-Za-z0-9_.-' '_')"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
final="$backup_dir/$prefix-$stamp.dump"
partial="$backup_dir/.$prefix-$stamp.dump.partial"

# A dump that failed half-way must never look like a backup: write aside, check, then rename.
trap 'rm -f "$partial"' EXIT
umask 077

echo "backup: dumping database $PGDATABASE from $PGHOST to $final"
pg_dump --format=custom --no-password --file="$partial" "$PGDATABASE"
pg_restore --list "$partial" > /dev/null
mv -f "$partial" "$final"
echo "backup: wrote $final ($(wc -c < "$final" | tr -d ' ') bytes)"

# -mtime +N: modified more than N whole days ago.
echo "backup: deleting dumps in $backup_dir older than $retention_days days"
find "$backup_dir" -maxdepth 1 -type f \( -name "$prefix-*.dump" -o -name ".$prefix-*.dump.partial" \) \
  -mtime +"$retention_days" -print -exec rm -f -- {} +
echo "backup: done"

#!/bin/sh
# Copies the dump sql/backup.sh just wrote (its name in $BACKUP_DIR/.last) off the cluster, to an
# S3-compatible bucket, with rclone: the remote `offsite` comes from the RCLONE_CONFIG_OFFSITE_*
# environment (endpoint, region, and the keys from the organisation's Secret). An object that exists
# is never overwritten (--immutable); rclone checks the copy's checksum. Runs in the rclone image,
# read-only root, writing only to /tmp.
set -eu

backup_dir="${BACKUP_DIR:-/backups}"
: "${OFFSITE_BUCKET:?OFFSITE_BUCKET must name the bucket}"
prefix="${OFFSITE_PREFIX:-}"
if [ -z "${RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID:-}" ] || [ -z "${RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY:-}" ]; then
  echo "offsite: no S3 credentials: create the Secret named in asky:backup.offsite.credentialsSecret (keys accessKeyId, secretAccessKey)" >&2
  exit 2
fi
name="$(cat "$backup_dir/.last" 2>/dev/null || true)"
case "$name" in
  '' | */* | .*)
    echo "offsite: $backup_dir/.last names no dump to copy" >&2
    exit 2
    ;;
esac
[ -f "$backup_dir/$name" ] || { echo "offsite: $backup_dir/$name does not exist" >&2; exit 2; }

echo "offsite: copying $name to bucket $OFFSITE_BUCKET as $prefix$name"
rclone copyto --immutable --s3-no-check-bucket --retries 3 "$backup_dir/$name" "offsite:$OFFSITE_BUCKET/$prefix$name"
echo "offsite: done"

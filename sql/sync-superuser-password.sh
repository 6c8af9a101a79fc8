#!/bin/sh
# postStart hook of the postgres container: makes the superuser's password the one in its
# Secret. The image sets POSTGRES_PASSWORD only when it creates the data directory, so without
# this a rotated password, or a data directory older than the stack (dev's Retain hostPath PV
# after destroy/up), would lock the schema Job and the backups out.
# Connects over the pod's own socket (peer authentication, no password); the password travels
# through the environment and psql's \getenv, never a command line. Always exits 0: a hook
# failure would kill the container, and a database still recovering must be left to finish.
# ALTER ROLE ... PASSWORD carries the password in its text: before it, this session stops
# reporting its statements to pg_stat_activity (which pg_read_all_stats members such as the
# monitoring role read) and turns off every way the server could log a statement (log_statement ddl/all, durations, samples,
# errors, parse-tree dumps) and pg_stat_statements' utility tracking. psql sends each line as
# its own statement, so each SET is in force before the next one arrives.
set -u
host="${PGHOST:-/var/run/postgresql}"
user="${POSTGRES_USER:-postgres}"
tries="${SYNC_TRIES:-150}"
i=0
while [ "$i" -lt "$tries" ]; do
  if pg_isready -q -h "$host"; then
    if printf '%s\n' "\\getenv pw POSTGRES_PASSWORD" \
        "SET track_activities = off;" \
        "SET log_statement = 'none';" \
        "SET log_min_duration_statement = -1;" \
        "SET log_min_duration_sample = -1;" \
        "SET log_transaction_sample_rate = 0;" \
        "SET log_min_error_statement = 'panic';" \
        "SET debug_print_parse = off;" \
        "SET debug_print_rewritten = off;" \
        "SET debug_print_plan = off;" \
        "SET pg_stat_statements.track_utility = off;" \
        "SET password_encryption = 'scram-sha-256';" \
        "ALTER ROLE :\"role\" PASSWORD :'pw';" \
      | psql -X -q -v ON_ERROR_STOP=1 -h "$host" -U "$user" -d postgres -v role="$user" >/dev/null; then
      echo "superuser password synchronised with its Secret"
      exit 0
    fi
  fi
  i=$((i + 1))
  sleep 2
done
echo "could not synchronise the superuser password after $tries tries" >&2
exit 0

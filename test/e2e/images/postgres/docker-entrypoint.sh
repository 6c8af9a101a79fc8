#!/bin/bash
# The e2e's PostgreSQL image (Debian's postgresql-15): the start-up behaviour of the official image's
# docker-entrypoint.sh that the program relies on (https://hub.docker.com/_/postgres, "Environment
# Variables", "Initialization scripts", "Arbitrary --user Notes"):
# - a first argument starting with '-' means `postgres <args>`; any other command runs as given;
# - for `postgres`: PGDATA is created (mode 700); when it holds no cluster (no PG_VERSION),
#   initdb runs as the current user with --username=$POSTGRES_USER, the password of
#   POSTGRES_PASSWORD (from a file, never a command line) and $POSTGRES_INITDB_ARGS; pg_hba.conf
#   gains `host all all all $POSTGRES_HOST_AUTH_METHOD` (scram-sha-256 by default); a server on
#   the socket only creates $POSTGRES_DB (default $POSTGRES_USER) and runs
#   /docker-entrypoint-initdb.d/*.sh and *.sql, then stops; an existing cluster is left as it is;
# - started as root, it takes the directories and drops to the postgres user (999); started as
#   another UID (the program: runAsUser 999), it runs as that UID;
# - listen_addresses = '*' comes from the sample configuration (the image's build sets it).
set -Eeo pipefail

if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi
if [ "$1" != 'postgres' ]; then
    exec "$@"
fi

if [ "$(id -u)" = '0' ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 00700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi

mkdir -p "$PGDATA"
chmod 00700 "$PGDATA" 2>/dev/null || :

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_USER:=postgres}"
    : "${POSTGRES_DB:=$POSTGRES_USER}"
    : "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != 'trust' ]; then
        echo 'error: the database is uninitialized and POSTGRES_PASSWORD is not set' >&2
        exit 1
    fi
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of arguments, as in the official image
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" $POSTGRES_INITDB_ARGS
    rm -f "$pwfile"
    printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
    export PGUSER="$POSTGRES_USER" PGPASSWORD="${POSTGRES_PASSWORD:-}"
    if [ "$POSTGRES_DB" != 'postgres' ]; then
        psql -v ON_ERROR_STOP=1 --no-psqlrc --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh) echo "running $f"; . "$f" ;;
            *.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 --no-psqlrc --dbname "$POSTGRES_DB" -f "$f" ;;
        esac
    done
    unset PGPASSWORD
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo 'PostgreSQL init process complete; ready for start up.'
fi

exec "$@"

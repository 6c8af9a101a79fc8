#!/bin/sh
# The e2e's Redis image (Debian's redis-server): the start-up behaviour of the official image that
# the program relies on (https://hub.docker.com/_/redis and its docker-entrypoint.sh):
# - a first argument starting with '-' or ending in .conf means `redis-server <args>`;
# - started as root it drops to the redis user (999); as another UID it runs as that UID;
# - umask 0077 for what Redis writes;
# - protected mode is off by default: the official image builds Redis with that default changed
#   (its Dockerfile edits config.c), so clients of other pods are served without a password. Debian
#   builds the upstream default (on), so for `redis-server` this image passes `--protected-mode no`
#   first, where later arguments (the program's) still win.
set -e
case "$1" in
    -* | *.conf) set -- redis-server "$@" ;;
esac
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
    chown -R redis:redis .
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
if [ "$1" = 'redis-server' ]; then
    shift
    set -- redis-server --protected-mode no "$@"
    umask 0077
fi
exec "$@"

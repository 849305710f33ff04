#!/bin/bash
# Entry point of the look-alike Artemis image. Written for this repository; it follows the
# documented behaviour of the official image: create the broker instance in the working directory
# on the first start (ARTEMIS_USER, ARTEMIS_PASSWORD, ANONYMOUS_LOGIN, EXTRA_ARGS), copy
# etc-override/ over etc/ right after, then run `bin/artemis` with the container's arguments.
# Unlike the official image it has no default password, and the password never appears on a
# command line (which every local user can read, also from outside the container): `artemis
# create` reads it from a 0600 argument file.
set -e

if [ "${ANONYMOUS_LOGIN,,}" = true ]; then
  login=--allow-anonymous
else
  login=--require-login
fi

if [ -f ./etc/broker.xml ]; then
  echo "skipping broker instance creation; instance already exists"
else
  if [ -z "${ARTEMIS_PASSWORD:-}" ]; then
    echo >&2 "error: the broker instance does not exist yet and ARTEMIS_PASSWORD is not set; this image has no default password"
    exit 1
  fi
  case "$ARTEMIS_PASSWORD" in
    *$'\n'* | *$'\r'*)
      echo >&2 "error: ARTEMIS_PASSWORD must be a single line"
      exit 1
      ;;
  esac
  # The CLI (picocli) expands @file arguments; inside double quotes, \ and " are escaped.
  arguments="$(umask 077 && mktemp)"
  trap 'rm -f "$arguments"' EXIT
  escaped=${ARTEMIS_PASSWORD//\\/\\\\}
  escaped=${escaped//\"/\\\"}
  printf -- '--password "%s"\n' "$escaped" >"$arguments"
  # shellcheck disable=SC2086 # EXTRA_ARGS is a list of words
  /opt/artemis/bin/artemis create --user "$ARTEMIS_USER" --silent "$login" $EXTRA_ARGS "@$arguments" .
  rm -f "$arguments"
  trap - EXIT
  if [ -d ./etc-override ]; then
    for file in ./etc-override/*; do
      [ -e "$file" ] || continue
      echo "copying file to etc folder: ${file##*/}"
      cp "$file" ./etc/ || :
    done
  fi
fi

exec ./bin/artemis "$@"

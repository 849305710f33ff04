#!/bin/bash
# Entry point of the look-alike Artemis image. Written for this repository; it follows the
# documented behaviour of the official image: create the broker instance in the working directory
# on the first start (ARTEMIS_USER, ARTEMIS_PASSWORD, ANONYMOUS_LOGIN, EXTRA_ARGS), copy
# etc-override/ over etc/ right after, then run `bin/artemis` with the container's arguments.
set -e

if [ "${ANONYMOUS_LOGIN,,}" = true ]; then
  login=--allow-anonymous
else
  login=--require-login
fi

if [ -f ./etc/broker.xml ]; then
  echo "skipping broker instance creation; instance already exists"
else
  # shellcheck disable=SC2086 # EXTRA_ARGS is a list of words
  /opt/artemis/bin/artemis create --user "$ARTEMIS_USER" --password "$ARTEMIS_PASSWORD" --silent "$login" $EXTRA_ARGS .
  if [ -d ./etc-override ]; then
    for file in ./etc-override/*; do
      [ -e "$file" ] || continue
      echo "copying file to etc folder: ${file##*/}"
      cp "$file" ./etc/ || :
    done
  fi
fi

exec ./bin/artemis "$@"

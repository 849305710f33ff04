#!/usr/bin/env bash
# Entry point of the look-alike postgres image. Written for this repository; it follows the
# documented behaviour of the official image's entry point (variables, first-run initialisation,
# init scripts, log lines) so that the AppHost's container provider runs unchanged against either.
set -Eeo pipefail

# VAR or VAR_FILE (Docker secrets), never both.
read_setting() {
  local name="$1" default="${2:-}" file_name="${1}_FILE"
  if [ -n "${!name:-}" ] && [ -n "${!file_name:-}" ]; then
    echo >&2 "error: both $name and $file_name are set (but are exclusive)"
    exit 1
  fi
  local value="$default"
  if [ -n "${!name:-}" ]; then
    value="${!name}"
  elif [ -n "${!file_name:-}" ]; then
    value="$(<"${!file_name}")"
  fi
  export "$name"="$value"
  unset "$file_name"
}

run_sql() {
  PGHOST= PGHOSTADDR= psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"
}

initialise() {
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
    cat >&2 <<-'TEXT'
	Error: Database is uninitialized and superuser password is not specified.
	       Set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust, not recommended).
	TEXT
    exit 1
  fi
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words, as in the official image
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") $POSTGRES_INITDB_ARGS

  local method="${POSTGRES_HOST_AUTH_METHOD:-$(postgres -C password_encryption "$@")}"
  printf '\nhost all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"

  # A socket-only server for the set-up steps: nothing outside can connect half-way.
  export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
  NOTIFY_SOCKET= PGUSER="${PGUSER:-$POSTGRES_USER}" \
    pg_ctl -D "$PGDATA" -o "$(printf '%q ' "$@" -c listen_addresses='' -p "${PGPORT:-5432}")" -w start

  if [ -z "$(POSTGRES_DB= run_sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")" ]; then
    POSTGRES_DB= run_sql --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi

  local script
  for script in /docker-entrypoint-initdb.d/*; do
    case "$script" in
      *.sh) echo "$0: running $script"; if [ -x "$script" ]; then "$script"; else . "$script"; fi ;;
      *.sql) echo "$0: running $script"; run_sql --dbname "$POSTGRES_DB" -f "$script" ;;
      *.sql.gz) echo "$0: running $script"; gunzip -c "$script" | run_sql --dbname "$POSTGRES_DB" ;;
      *) [ -e "$script" ] && echo "$0: ignoring $script" ;;
    esac
  done

  PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
  unset PGPASSWORD
  printf '\nPostgreSQL init process complete; ready for start up.\n\n'
}

main() {
  # `docker run image -c foo=bar` means the server with extra settings.
  if [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi
  if [ "$1" != postgres ]; then exec "$@"; fi

  read_setting POSTGRES_PASSWORD
  read_setting POSTGRES_USER postgres
  read_setting POSTGRES_DB "$POSTGRES_USER"
  read_setting POSTGRES_INITDB_ARGS

  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA" || :
    chmod 3775 /var/run/postgresql || :
    find "$PGDATA" /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
    exec gosu postgres "$BASH_SOURCE" "$@"
  fi

  if [ -s "$PGDATA/PG_VERSION" ]; then
    printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
  else
    shift
    initialise "$@"
    set -- postgres "$@"
  fi
  exec "$@"
}

main "$@"

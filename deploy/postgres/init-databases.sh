#!/usr/bin/env bash
# Creates one database and one login role per service, each role owning only its own database.
# Run by the postgres image from /docker-entrypoint-initdb.d on the FIRST start of an empty data volume
# only; to change a password later see deploy/runbooks/rotating-secrets.md.
#
# Passwords come from the environment (docker-compose.yml passes them from .env), never from this file:
#   VOUCHER_DB_PASSWORD  TRAINING_DB_PASSWORD  CERTIFICATION_DB_PASSWORD  SUBSIDY_DB_PASSWORD
# psql variables (:"name", :'password') do the quoting, so no value is spliced into SQL text by the shell.
set -euo pipefail

create_service_database() {
  local name="$1" password="$2"
  if [[ -z "${password}" ]]; then
    echo "init-databases: no password for ${name} (set ${name^^}_DB_PASSWORD)" >&2
    exit 1
  fi
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
       -v name="${name}" -v password="${password}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING ''UTF8'' TEMPLATE template0', :'name', :'name')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'name') \gexec
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"name" TO :"name";
SQL
  echo "init-databases: database ${name} owned by role ${name}"
}

create_service_database voucher "${VOUCHER_DB_PASSWORD:-}"
create_service_database training "${TRAINING_DB_PASSWORD:-}"
create_service_database certification "${CERTIFICATION_DB_PASSWORD:-}"
create_service_database subsidy "${SUBSIDY_DB_PASSWORD:-}"

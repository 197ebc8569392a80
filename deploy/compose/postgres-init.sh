#!/bin/sh
# Run once by the postgres image on its first start (an empty data volume): a role and a
# database for Flowdesk, and a role for Temporal, which creates its own databases
# (temporal, temporal_visibility) through auto-setup.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v flowdesk_password="$FLOWDESK_DB_PASSWORD" \
  -v temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE flowdesk LOGIN PASSWORD :'flowdesk_password';
CREATE DATABASE flowdesk OWNER flowdesk;
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
SQL

-- Creates the platform's role and database `ot` (idempotent). Run by the postgres:15 image at first
-- start (/docker-entrypoint-initdb.d) as the superuser; works with any psql >= 15 (\getenv).
-- Password from the environment variable OT_DB_PASSWORD (docker-compose passes it; local default
-- ot-local). Each service creates its own schema with its migrations.
\set ON_ERROR_STOP on
\getenv ot_password OT_DB_PASSWORD
SELECT format('CREATE ROLE ot LOGIN CREATEDB PASSWORD %L', :'ot_password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ot') \gexec
SELECT format('ALTER ROLE ot WITH LOGIN CREATEDB PASSWORD %L', :'ot_password') \gexec
SELECT 'CREATE DATABASE ot OWNER ot'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'ot') \gexec

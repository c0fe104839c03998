-- docker-entrypoint-initdb.d script: the same steps, in the same order and
-- with the same size, as `padetl demo` (src/cmd/demo.rs). Keep them in step.
CREATE DATABASE padetl_legacy;
COMMENT ON DATABASE padetl_legacy IS 'created by padetl demo; padetl demo may drop it';
CREATE DATABASE padetl_dev;
COMMENT ON DATABASE padetl_dev IS 'created by padetl demo; padetl demo may drop it';

\connect padetl_legacy
\i /padetl/seed/reference.sql
CREATE SCHEMA pa_dealing; SET search_path TO pa_dealing;
\i /padetl/migrations/0001_v1_legacy_layout.sql
SET search_path TO DEFAULT;
\i /padetl/seed/legacy.sql
SELECT padetl_seed_source(2000);
\i /padetl/seed/monolith.sql
SELECT padetl_seed_monolith(2000);

\connect padetl_dev
\i /padetl/seed/reference.sql
SELECT padetl_seed_target(2000);

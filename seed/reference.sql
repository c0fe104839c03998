-- Reference tables (bo_airflow) and their generator, for the demo, docker
-- and the tests. Both environments get the same employees and securities
-- (same natural keys) with different surrogate ids; a few exist only on the
-- source side (leavers, delisted securities). Deterministic: hashes, no random().
CREATE SCHEMA IF NOT EXISTS bo_airflow;

CREATE TABLE IF NOT EXISTS bo_airflow.oracle_employee (
    id bigint PRIMARY KEY, mako_id text, email text, first_name text, last_name text,
    department text, manager_id bigint, is_active boolean
);
CREATE TABLE IF NOT EXISTS bo_airflow.oracle_bloomberg (
    id bigint PRIMARY KEY, ticker text, isin text, sedol text, bloomberg text,
    inst_symbol text, description text
);
CREATE TABLE IF NOT EXISTS bo_airflow.oracle_position (
    inst_symbol text, book text, portfolio text, quantity numeric(20,4), last_trade_date date
);
CREATE TABLE IF NOT EXISTS bo_airflow.oracle_portfolio_group (id bigint PRIMARY KEY, name text);
CREATE TABLE IF NOT EXISTS bo_airflow.oracle_map_inst_symbol (inst_symbol text, mapped_symbol text);
CREATE TABLE IF NOT EXISTS bo_airflow.oracle_product (id bigint PRIMARY KEY, name text);

-- Sizes derived from the number of legacy requests, identically on both sides.
CREATE OR REPLACE FUNCTION public.padetl_seed_sizes(n_requests int, OUT employees int, OUT securities int)
LANGUAGE sql IMMUTABLE AS $$ SELECT greatest(50, n_requests / 20), greatest(40, n_requests / 25) $$;

-- Surrogate ids per side: the same person has another id in each environment.
CREATE OR REPLACE FUNCTION public.padetl_employee_id(side text, i int) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE side WHEN 'source' THEN 1000 + i ELSE 900000 - 7 * i END::bigint $$;
CREATE OR REPLACE FUNCTION public.padetl_security_id(side text, j int) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE side WHEN 'source' THEN 2000 + j ELSE 700000 - 11 * j END::bigint $$;
-- Leavers and delisted securities exist in the source mirror only.
CREATE OR REPLACE FUNCTION public.padetl_is_leaver(i int) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT i % 37 = 5 $$;
CREATE OR REPLACE FUNCTION public.padetl_is_delisted(j int) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT j % 50 = 7 $$;

-- Fills bo_airflow for one side ('source' or 'target'); assumes empty tables.
CREATE OR REPLACE FUNCTION public.padetl_seed_reference(side text, n_requests int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    n_emp int := (padetl_seed_sizes(n_requests)).employees;
    n_sec int := (padetl_seed_sizes(n_requests)).securities;
    firsts text[] := ARRAY['Alice','Bob','Chloe','David','Emma','Farid','Grace','Hiro','Isla','Jonas','Kemi','Liam','Maya','Noor','Oscar','Priya'];
    lasts text[] := ARRAY['Smith','Jones','Patel','Brown','Khan','Taylor','Wilson','Evans','Chen','Murphy','Garcia','Okafor'];
    depts text[] := ARRAY['Equities','Fixed Income','Operations','Technology','Compliance','Risk'];
BEGIN
    INSERT INTO bo_airflow.oracle_employee
    SELECT padetl_employee_id(side, i),
           'MK' || lpad(i::text, 6, '0'),
           lower(f || '.' || l || i || '@mako.com'),
           f, l,
           depts[1 + abs(hashint4(i * 7)) % array_length(depts, 1)],
           CASE WHEN i % 10 = 1 THEN NULL ELSE padetl_employee_id(side, (i - 1) / 10 * 10 + 1) END,
           true
    FROM generate_series(1, n_emp) i,
         LATERAL (SELECT firsts[1 + abs(hashint4(i)) % array_length(firsts, 1)] AS f,
                         lasts[1 + abs(hashint4(i * 3)) % array_length(lasts, 1)] AS l) names
    WHERE side = 'source' OR NOT padetl_is_leaver(i);

    INSERT INTO bo_airflow.oracle_bloomberg
    SELECT padetl_security_id(side, j),
           'TK' || j,
           'GB' || lpad(j::text, 9, '0') || (j % 10),
           'S' || lpad(j::text, 6, '0'),
           'TK' || j || ' LN Equity',
           'INST' || j,
           'Security number ' || j
    FROM generate_series(1, n_sec) j
    WHERE side = 'source' OR NOT padetl_is_delisted(j);

    INSERT INTO bo_airflow.oracle_position
    SELECT 'INST' || j, 'BOOK' || k, 'PF' || (j % 5), (abs(hashint4(j * 31 + k)) % 100000)::numeric(20,4),
           DATE '2025-01-01' - (abs(hashint4(j + k)) % 365)
    FROM generate_series(1, n_sec) j, generate_series(1, 2) k;

    INSERT INTO bo_airflow.oracle_portfolio_group VALUES (1, 'Global Equities'), (2, 'Credit'), (3, 'Macro');
    INSERT INTO bo_airflow.oracle_map_inst_symbol SELECT 'INST' || j, 'SYM' || j FROM generate_series(1, n_sec) j;
    INSERT INTO bo_airflow.oracle_product VALUES (1, 'Equity'), (2, 'Bond'), (3, 'ETF');
END $$;

-- The target side of the demo: reference data only.
CREATE OR REPLACE FUNCTION public.padetl_seed_target(n_requests int) RETURNS void
LANGUAGE sql AS $$ SELECT padetl_seed_reference('target', n_requests) $$;

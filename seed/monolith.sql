-- The pre-app monolith (pa_dealing.personal_account_dealing), for the demo
-- and docker: one wide row per request, as the Django app before PA Dealing
-- kept it (see domain notes, "The oldest data is a monolith"). Loaded after
-- legacy.sql into the source database; pipelines/dev-monolith.toml reads it.
--
-- Its quirks: buysell 'B'/'S'; yes/no flags as '1'/'2' strings, with
-- inside_info_yn the other way round ('1' = the employee HAS inside
-- information); status, status_manager and status_compliance in any case;
-- approvals as columns (auth_manager, auth_manager_date, comments_manager and
-- the same for compliance); soft deletes as is_deleted_yn = 'Y' (NULL and
-- 'N' are live rows); employees and approvers by the local mirror's ids
-- (leavers among them), the security by its codes only (some without an
-- inst_symbol, some delisted); free-text fields with quotes and new lines
-- that v3 has no column for.
CREATE TABLE IF NOT EXISTS pa_dealing.personal_account_dealing (
    id                             serial PRIMARY KEY,
    employee                       integer NOT NULL,
    name                           varchar(200),
    relation                       varchar(50),
    requested_date                 timestamp NOT NULL,
    isin                           varchar(12),
    sedol                          varchar(7),
    bloomberg                      varchar(40),
    ticker                         varchar(32),
    inst_symbol                    varchar(40),
    security_description           varchar(200),
    buysell                        char(1) NOT NULL,
    trade_size                     integer NOT NULL,
    value                          numeric(20,2),
    currency                       varchar(3) NOT NULL,
    broker                         varchar(100),
    justification                  text,
    related_yn                     char(1),
    derivative_contract_yn         char(1),
    leveraged_yn                   char(1),
    existing_pos_yn                char(1),
    signed_yn                      char(1),
    restricted_yn                  char(1),
    holding_period_yn              char(1),
    conflicts_yn                   char(1),
    broker_reporting_yn            char(1),
    inside_info_yn                 char(1),
    conflict_comments              text,
    other_comments                 text,
    status                         varchar(20) NOT NULL,
    status_manager                 varchar(20),
    status_compliance              varchar(20),
    auth_manager                   integer,
    auth_manager_date              timestamp,
    comments_manager               text,
    auth_compliance                integer,
    auth_compliance_date           timestamp,
    comments_compliance            text,
    two_business_days_execution_yn char(1),
    contract_notes_received_yn     char(1),
    last_modified_by               varchar(200),
    last_modified_date             timestamp,
    is_deleted_yn                  char(1)
);

-- A yes/no flag as the monolith stores it: '1' for about one row in `one_in`.
CREATE OR REPLACE FUNCTION public.padetl_monolith_flag(i int, salt int, one_in int) RETURNS char(1)
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN abs(hashint4(i * 73 + salt)) % one_in = 0 THEN '1' ELSE '2' END $$;

-- Monolith rows for a demo of n legacy requests: n / 10 of them (at least
-- 40), deterministic (hashes of the row number), dated 2019–2022, before
-- the v1 app's first request. Assumes an empty table and the source's
-- reference mirror (padetl_seed_reference('source', n)).
CREATE OR REPLACE FUNCTION public.padetl_seed_monolith(n int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    n_emp int := (padetl_seed_sizes(n)).employees;
    n_sec int := (padetl_seed_sizes(n)).securities;
    m int := greatest(40, n / 10);
BEGIN
    INSERT INTO pa_dealing.personal_account_dealing (
        id, employee, name, relation, requested_date,
        isin, sedol, bloomberg, ticker, inst_symbol, security_description,
        buysell, trade_size, value, currency, broker, justification,
        related_yn, derivative_contract_yn, leveraged_yn, existing_pos_yn, signed_yn,
        restricted_yn, holding_period_yn, conflicts_yn, broker_reporting_yn, inside_info_yn,
        conflict_comments, other_comments,
        status, status_manager, status_compliance,
        auth_manager, auth_manager_date, comments_manager,
        auth_compliance, auth_compliance_date, comments_compliance,
        two_business_days_execution_yn, contract_notes_received_yn,
        last_modified_by, last_modified_date, is_deleted_yn)
    SELECT i, e.id, e.first_name || ' ' || e.last_name,
           CASE WHEN i % 9 = 0 THEN 'Spouse' ELSE 'Self' END,
           x.at,
           b.isin, b.sedol, b.bloomberg, b.ticker,
           CASE WHEN i % 31 = 0 THEN NULL ELSE b.inst_symbol END,          -- found by its ISIN then
           b.description,
           CASE WHEN h % 2 = 0 THEN 'B' ELSE 'S' END,
           x.size, x.size * (1 + abs(hashint4(i * 5)) % 50000) / 100.0,
           (ARRAY['GBP', 'gbp', 'USD', 'EUR', 'GBP', 'usd'])[1 + abs(h) % 6],
           (ARRAY['Hargreaves Lansdown', 'Interactive Brokers', 'AJ Bell', NULL])[1 + abs(h) % 4],
           (ARRAY['Long-term savings', 'ISA top-up', 'Selling to pay school fees', NULL])[1 + abs(hashint4(i * 29)) % 4],
           padetl_monolith_flag(i, 1, 7), padetl_monolith_flag(i, 2, 11), padetl_monolith_flag(i, 3, 13),
           padetl_monolith_flag(i, 4, 3), '1', padetl_monolith_flag(i, 5, 17), padetl_monolith_flag(i, 6, 5),
           padetl_monolith_flag(i, 7, 19), padetl_monolith_flag(i, 8, 2),
           CASE WHEN i % 13 = 0 THEN '1' ELSE '2' END,                       -- '1': HAS inside information
           CASE WHEN i % 19 = 0 THEN 'Brother-in-law works at the issuer ("Investor Relations")' || chr(10) || 'Declared to Compliance' END,
           CASE WHEN i % 11 = 0 THEN 'Paper form scanned; original kept by HR' END,
           CASE WHEN i % 17 = 0 THEN initcap(st.status) ELSE st.status END,   -- any case
           st.manager, st.compliance,
           mgr.id, CASE WHEN st.manager <> 'pending' THEN x.at + INTERVAL '4 hours' END,
           CASE WHEN st.manager = 'declined' THEN 'Holding period not met' WHEN st.manager = 'approved' THEN 'OK' END,
           cmp.id, CASE WHEN st.compliance <> 'pending' THEN x.at + INTERVAL '1 day 2 hours' END,
           CASE WHEN st.compliance = 'declined' THEN 'On the restricted list' WHEN st.compliance = 'approved' THEN 'Cleared' END,
           CASE WHEN st.compliance = 'approved' AND x.s % 3 <> 0 THEN '1' ELSE '2' END,
           CASE WHEN st.compliance = 'approved' AND x.s % 4 = 1 THEN '1' ELSE '2' END,
           coalesce(upper(cmp.email), mgr.email, e.email),
           x.at + CASE WHEN st.compliance <> 'pending' THEN INTERVAL '1 day 2 hours'
                       WHEN st.manager <> 'pending' THEN INTERVAL '4 hours' ELSE INTERVAL '0' END,
           CASE WHEN i % 23 IN (0, 7) THEN 'Y' WHEN i % 5 = 0 THEN NULL ELSE 'N' END
    FROM generate_series(1, m) i
    CROSS JOIN LATERAL (SELECT hashint4(i * 41 + 3) AS h, abs(hashint4(i * 43 + 1)) % 100 AS s,
                               1 + abs(hashint4(i * 47)) % 2000 AS size,
                               TIMESTAMP '2019-01-01 08:00'
                                 + (abs(hashint4(i * 53)) % (4 * 365 * 24 * 60)) * INTERVAL '1 minute' AS at) x
    -- 15% waiting for the manager, 10% declined by the manager, 10% waiting
    -- for compliance, 7% declined by compliance, the rest approved by both.
    CROSS JOIN LATERAL (SELECT
            CASE WHEN x.s < 15 THEN 'request' WHEN x.s < 25 THEN 'declined' WHEN x.s < 35 THEN 'approved'
                 WHEN x.s < 42 THEN 'declined' ELSE 'approved' END AS status,
            CASE WHEN x.s < 15 THEN 'pending' WHEN x.s < 25 THEN 'declined' ELSE 'approved' END AS manager,
            CASE WHEN x.s < 35 THEN 'pending' WHEN x.s < 42 THEN 'declined' ELSE 'approved' END AS compliance) st
    JOIN bo_airflow.oracle_employee e ON e.id = padetl_employee_id('source', 1 + abs(hashint4(i * 37 + 5)) % n_emp)
    JOIN bo_airflow.oracle_bloomberg b ON b.id = padetl_security_id('source', 1 + abs(hashint4(i * 61 + 2)) % n_sec)
    -- An approver once decided, or (some pending compliance approvals) assigned and undecided.
    LEFT JOIN bo_airflow.oracle_employee mgr
      ON st.manager <> 'pending' AND mgr.id = padetl_employee_id('source', 1 + abs(hashint4(i * 67)) % n_emp)
    LEFT JOIN bo_airflow.oracle_employee cmp
      ON (st.compliance <> 'pending' OR (st.manager = 'approved' AND i % 2 = 0))
     AND cmp.id = padetl_employee_id('source', 1 + abs(hashint4(i * 71)) % n_emp);

    PERFORM setval(pg_get_serial_sequence('pa_dealing.personal_account_dealing', 'id'), m + 1);
END $$;

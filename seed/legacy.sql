-- The legacy v1 data (schema pa_dealing), for the demo, docker and the
-- benchmark. Tables come from migrations/0001_v1_legacy_layout.sql applied in
-- schema pa_dealing; this file only generates rows: set-based, deterministic
-- (hashes of the row number), with the quirks of the real legacy data:
-- lower-case currencies, requests of leavers and of delisted securities,
-- NULL security ids, pending approvals as NULL, executions of requests never
-- approved, UPPER breach types, e-mails in any case, invalid JSON payloads,
-- local times inside the clock-change hours, and a few execution prices with
-- seven decimals, one more than the v3 column holds.

CREATE OR REPLACE FUNCTION public.padetl_seed_legacy(n int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    n_emp int := (padetl_seed_sizes(n)).employees;
    n_sec int := (padetl_seed_sizes(n)).securities;
BEGIN
    INSERT INTO pa_dealing.pad_request (id, employee_id, security_id, ticker, direction, quantity, price, currency, status, reason, created_at)
    SELECT i,
           padetl_employee_id('source', 1 + abs(hashint4(i * 3 + 1)) % n_emp),
           CASE WHEN abs(h) % 20 = 0 THEN NULL ELSE padetl_security_id('source', s) END,
           'TK' || s,
           CASE WHEN h % 2 = 0 THEN 'B' ELSE 'S' END,
           1 + abs(h) % 5000,
           (abs(hashint4(i * 5)) % 100000000)::numeric / 10000,
           (ARRAY['gbp', 'USD', 'eur', 'GBP', 'GBP', 'USD', 'EUR', 'GBP', 'GBP', 'CHF'])[1 + abs(h) % 10],
           CASE WHEN st < 10 THEN 'PENDING' WHEN st < 20 THEN 'REJECTED' WHEN st < 25 THEN 'CANCELLED'
                WHEN st < 55 THEN 'APPROVED' ELSE 'EXECUTED' END,
           (ARRAY['Long-term investment', 'Rebalancing', 'Sale for a house deposit', NULL])[1 + abs(h) % 4],
           CASE WHEN i % 97 = 0 THEN TIMESTAMP '2023-10-29 01:00' + (i % 60) * INTERVAL '1 minute'   -- happens twice
                WHEN i % 89 = 0 THEN TIMESTAMP '2024-03-31 01:00' + (i % 60) * INTERVAL '1 minute'   -- never happens
                ELSE TIMESTAMP '2023-01-01 08:00' + (abs(hashint4(i * 11)) % (3 * 365 * 24 * 60)) * INTERVAL '1 minute' END
    FROM generate_series(1, n) i,
         LATERAL (SELECT hashint4(i) AS h, 1 + abs(hashint4(i * 3 + 2)) % n_sec AS s, abs(hashint4(i * 7)) % 100 AS st) x;

    -- A manager approval for every request, a compliance one unless the manager stopped it.
    INSERT INTO pa_dealing.pad_approval (id, request_id, approver_id, level, approved, comment, decided_at)
    SELECT 2 * r.id - 1 + lvl.k, r.id,
           padetl_employee_id('source', 1 + abs(hashint4(r.id * 13 + lvl.k)) % n_emp),
           CASE lvl.k WHEN 0 THEN 'MANAGER' ELSE 'COMPLIANCE' END,
           a.approved,
           CASE WHEN a.approved IS FALSE THEN 'Conflicts with a restricted list' END,
           CASE WHEN a.approved IS NOT NULL THEN r.created_at + (lvl.k + 1) * INTERVAL '3 hours' END
    FROM pa_dealing.pad_request r
    CROSS JOIN (VALUES (0), (1)) lvl(k)
    CROSS JOIN LATERAL (SELECT CASE
            WHEN r.status = 'PENDING' AND (lvl.k = 1 OR r.id % 2 = 0) THEN NULL
            WHEN r.status = 'REJECTED' AND (lvl.k = 1 OR r.id % 2 = 0) THEN false
            ELSE true END AS approved) a
    WHERE lvl.k = 0 OR NOT ((r.status IN ('PENDING', 'REJECTED')) AND r.id % 2 = 0);

    -- Executions of executed requests, and (a breach) of some never approved.
    INSERT INTO pa_dealing.pad_execution (id, request_id, exec_date, exec_price, exec_qty)
    SELECT r.id, r.id, (r.created_at + (1 + r.id % 5) * INTERVAL '1 day')::date,
           coalesce(r.price, 1) * (1 + (r.id % 7 - 3) / 100.0)
             + CASE WHEN r.id % 500 = 401 THEN 0.0000001 ELSE 0 END,    -- 7 decimals: does not fit numeric(20,6)
           r.quantity
    FROM pa_dealing.pad_request r
    WHERE r.status = 'EXECUTED' OR (r.status IN ('PENDING', 'REJECTED') AND r.id % 100 = 3);

    INSERT INTO pa_dealing.pad_breach (id, request_id, employee_id, breach_type, details, created_at)
    SELECT r.id, r.id, r.employee_id,
           (ARRAY['NO_PRECLEARANCE', 'HOLDING_PERIOD', 'RESTRICTED_SECURITY', 'QUANTITY_EXCEEDED', 'LATE_EXECUTION'])[1 + abs(hashint4(r.id * 17)) % 5],
           'Detected by the nightly surveillance job', r.created_at + INTERVAL '2 days'
    FROM pa_dealing.pad_request r WHERE r.id % 10 = 0;
    INSERT INTO pa_dealing.pad_breach (id, request_id, employee_id, breach_type, details, created_at)
    SELECT n + k, NULL, padetl_employee_id('source', 1 + abs(hashint4(k * 19)) % n_emp), 'NO_PRECLEARANCE',
           'Trade found in a broker statement without a request', TIMESTAMP '2024-06-01 09:00' + k * INTERVAL '1 hour'
    FROM generate_series(1, greatest(1, n / 100)) k;

    -- Three audit rows per request: by the requester, by the approver, by the system.
    INSERT INTO pa_dealing.audit_logs (id, request_id, action, actor_email, payload, created_at)
    SELECT 3 * r.id - 2 + ev.k, r.id,
           (ARRAY['request_created', 'request_reviewed', 'surveillance_checked'])[ev.k + 1],
           CASE ev.k WHEN 2 THEN NULL
                ELSE CASE r.id % 3 WHEN 0 THEN upper(e.email) WHEN 1 THEN initcap(e.email) ELSE e.email END END,
           CASE WHEN r.id % 100 = 42 AND ev.k = 0 THEN '{"note": truncated'
                ELSE json_build_object('request', r.id, 'status', lower(r.status), 'step', ev.k)::text END,
           r.created_at + ev.k * INTERVAL '1 hour'
    FROM pa_dealing.pad_request r
    CROSS JOIN (VALUES (0), (1), (2)) ev(k)
    LEFT JOIN bo_airflow.oracle_employee e
      ON e.id = CASE ev.k WHEN 0 THEN r.employee_id
                ELSE padetl_employee_id('source', 1 + abs(hashint4(r.id * 13)) % n_emp) END;

    PERFORM setval(pg_get_serial_sequence('pa_dealing.' || t, 'id'), (SELECT max(id) FROM pa_dealing.audit_logs) + n + 10)
    FROM unnest(ARRAY['pad_request', 'pad_approval', 'pad_execution', 'pad_breach', 'audit_logs']) t;
END $$;

-- The source side of the demo: its reference mirror, then the legacy rows.
CREATE OR REPLACE FUNCTION public.padetl_seed_source(n_requests int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM padetl_seed_reference('source', n_requests);
    PERFORM padetl_seed_legacy(n_requests);
END $$;

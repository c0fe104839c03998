-- Monolith personal_account_dealing → v3 pad_request. The source query
-- (pipelines/shared/monolith.toml) already made the key (-id) and the
-- estimated price (value / size). The employee is re-pointed through the
-- keymap; the security, named by its codes only, is found in the source
-- mirror by inst_symbol (else ISIN) and re-pointed through the keymap.
WITH m AS (
    SELECT r.*,
           emp.target_id                                           AS employee_target,
           emp.status                                              AS employee_status,
           CASE WHEN by_symbol.status IS NOT NULL THEN by_symbol.target_id
                ELSE by_isin.target_id END                         AS security_target,
           coalesce(by_symbol.status, by_isin.status)              AS security_status,
           -- Status, as the app's team mapped it: `request` → pending manager;
           -- `approved` with compliance `pending` → pending compliance; with
           -- compliance `approved` → approved; `declined` by anyone → rejected.
           -- Anything else stays NULL and is rejected as unmapped, never guessed.
           CASE
               WHEN lower(r.status) = 'declined' OR lower(r.status_manager) = 'declined'
                    OR lower(r.status_compliance) = 'declined'     THEN 'rejected'
               WHEN lower(r.status) = 'request'                    THEN 'pending_manager_approval'
               WHEN lower(r.status) = 'approved' AND lower(r.status_compliance) = 'pending'
                                                                   THEN 'pending_compliance_approval'
               WHEN lower(r.status) = 'approved' AND lower(r.status_compliance) = 'approved'
                                                                   THEN 'approved'
           END                                                     AS mapped_status
    FROM source.pad_request r
    LEFT JOIN keymap.employee emp ON emp.source_id = r.employee
    -- The source mirror's row with the monolith's inst_symbol, else its ISIN;
    -- a code that two mirror rows share is ambiguous (one row per request).
    LEFT JOIN (
        SELECT inst_symbol, min(target_id) AS target_id,
               CASE WHEN count(*) > 1 THEN 'ambiguous' ELSE min(status) END AS status
        FROM keymap.security WHERE inst_symbol IS NOT NULL GROUP BY inst_symbol
    ) by_symbol ON by_symbol.inst_symbol = r.inst_symbol
    LEFT JOIN (
        SELECT isin, min(target_id) AS target_id,
               CASE WHEN count(*) > 1 THEN 'ambiguous' ELSE min(status) END AS status
        FROM keymap.security WHERE isin IS NOT NULL GROUP BY isin
    ) by_isin ON by_isin.isin = r.isin
)
SELECT
    m.id,
    -- PAD-<year>-M<monolith id, six digits>: the M keeps the monolith's
    -- references apart from v1's PAD-<year>-<id> (the two id series overlap).
    'PAD-' || CAST(CAST(date_part('year', m.requested_date) AS INT) AS VARCHAR)
        || '-M' || CASE WHEN m.monolith_id < 1000000 THEN lpad(CAST(m.monolith_id AS VARCHAR), 6, '0')
                        ELSE CAST(m.monolith_id AS VARCHAR) END    AS reference_id,
    m.employee_target                                              AS employee_id,
    m.security_target                                              AS security_id,
    m.ticker                                                       AS ticker,
    m.isin                                                         AS isin,
    CASE upper(m.buysell) WHEN 'B' THEN 'buy' WHEN 'S' THEN 'sell' END AS direction,
    m.trade_size                                                   AS quantity,
    m.estimated_price                                              AS estimated_price,
    upper(m.currency)                                              AS currency,
    m.broker                                                       AS broker,
    m.justification                                                AS reason,
    m.mapped_status                                                AS status,
    m.requested_date                                               AS created_at,
    coalesce(m.last_modified_date, m.requested_date)               AS updated_at,
    CASE
        WHEN upper(coalesce(m.is_deleted_yn, 'N')) = 'Y' THEN 'soft-deleted in the monolith'
        WHEN m.employee_status = 'ambiguous' THEN 'ambiguous employee'
        WHEN m.employee_target IS NULL THEN 'orphan employee'
        WHEN (m.inst_symbol IS NOT NULL OR m.isin IS NOT NULL) AND m.security_status IS NULL
             THEN 'security not in the source mirror'
        WHEN m.security_status = 'ambiguous' THEN 'ambiguous security'
        WHEN m.security_status IS NOT NULL AND m.security_target IS NULL THEN 'orphan security'
        WHEN upper(m.buysell) NOT IN ('B', 'S') OR m.buysell IS NULL THEN 'unmapped direction'
        WHEN m.mapped_status IS NULL THEN 'unmapped status'
    END                                                            AS _reject_reason
FROM m

-- Legacy pa_dealing.pad_request (v1) → padealing.pad_request (v3).
-- Ids of employees and securities are re-pointed through the keymaps; a row
-- that cannot be re-pointed is rejected with a reason, never guessed.
SELECT
    r.id,
    -- PAD-<year>-<id, zero-padded to six digits>; a longer id is kept whole
    -- (lpad would cut it, and two requests would share a reference).
    'PAD-' || CAST(CAST(date_part('year', r.created_at) AS INT) AS VARCHAR)
        || '-' || CASE WHEN r.id < 1000000 THEN lpad(CAST(r.id AS VARCHAR), 6, '0')
                       ELSE CAST(r.id AS VARCHAR) END              AS reference_id,
    emp.target_id                                                  AS employee_id,
    sec.target_id                                                  AS security_id,
    r.ticker                                                       AS ticker,
    sec.isin                                                       AS isin,
    CASE upper(r.direction) WHEN 'B' THEN 'buy' WHEN 'S' THEN 'sell' END AS direction,
    r.quantity                                                     AS quantity,
    r.price                                                        AS estimated_price,
    upper(r.currency)                                              AS currency,
    r.reason                                                       AS reason,
    CASE upper(r.status)
        WHEN 'PENDING'   THEN 'pending_manager_approval'
        WHEN 'APPROVED'  THEN 'approved'
        WHEN 'REJECTED'  THEN 'rejected'
        WHEN 'EXECUTED'  THEN 'executed'
        WHEN 'CANCELLED' THEN 'cancelled'
    END                                                            AS status,
    r.created_at                                                   AS created_at,
    r.created_at                                                   AS updated_at,
    CASE
        WHEN emp.status = 'ambiguous' THEN 'ambiguous employee'
        WHEN emp.target_id IS NULL THEN 'orphan employee'
        WHEN r.security_id IS NOT NULL AND sec.status = 'ambiguous' THEN 'ambiguous security'
        WHEN r.security_id IS NOT NULL AND sec.target_id IS NULL THEN 'orphan security'
        WHEN upper(r.direction) NOT IN ('B', 'S') OR r.direction IS NULL THEN 'unmapped direction'
        WHEN upper(r.status) NOT IN ('PENDING', 'APPROVED', 'REJECTED', 'EXECUTED', 'CANCELLED')
             OR r.status IS NULL THEN 'unmapped status'
    END                                                            AS _reject_reason
FROM source.pad_request r
LEFT JOIN keymap.employee emp ON emp.source_id = r.employee_id
LEFT JOIN keymap.security sec ON sec.source_id = r.security_id

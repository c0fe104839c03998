-- Monolith execution flags → v3 pad_execution: one execution per monolith
-- row with two_business_days_execution_yn or contract_notes_received_yn '1'
-- (the source query chose them and made executed_at, quantity and price).
SELECT
    e.id,
    e.request_id,
    e.executed_at                                                  AS executed_at,
    e.quantity                                                     AS quantity,
    e.price                                                        AS price,
    upper(e.currency)                                              AS currency,
    CASE
        WHEN upper(coalesce(e.is_deleted_yn, 'N')) = 'Y' THEN 'soft-deleted in the monolith'
        WHEN rq.key IS NOT NULL THEN 'request rejected'
        WHEN e.price IS NULL THEN 'no price'
    END                                                            AS _reject_reason
FROM source.pad_execution e
LEFT JOIN rejected.pad_request rq ON rq.key = e.request_id

-- Legacy pad_breach → v3: breach types lower-case, severity derived from
-- the type (legacy rows have none), employee re-pointed.
SELECT
    b.id,
    b.request_id,
    emp.target_id                                                  AS employee_id,
    lower(b.breach_type)                                           AS breach_type,
    CASE upper(b.breach_type)
        WHEN 'NO_PRECLEARANCE'     THEN 'high'
        WHEN 'RESTRICTED_SECURITY' THEN 'high'
        WHEN 'HOLDING_PERIOD'      THEN 'medium'
        WHEN 'QUANTITY_EXCEEDED'   THEN 'medium'
        WHEN 'LATE_EXECUTION'      THEN 'low'
    END                                                            AS severity,
    b.details                                                      AS details,
    b.created_at                                                   AS detected_at,
    CASE
        WHEN rq.key IS NOT NULL THEN 'request rejected'
        WHEN emp.status = 'ambiguous' THEN 'ambiguous employee'
        WHEN emp.target_id IS NULL THEN 'orphan employee'
        WHEN upper(b.breach_type) NOT IN ('NO_PRECLEARANCE', 'RESTRICTED_SECURITY', 'HOLDING_PERIOD',
                                          'QUANTITY_EXCEEDED', 'LATE_EXECUTION')
             OR b.breach_type IS NULL THEN 'unmapped breach type'
    END                                                            AS _reject_reason
FROM source.pad_breach b
LEFT JOIN rejected.pad_request rq ON rq.key = b.request_id
LEFT JOIN keymap.employee emp ON emp.source_id = b.employee_id

-- Legacy pad_approval on Oracle → v3: as ../pad_approval.sql, but `approved`
-- is NUMBER(1) (1 approved, 0 rejected, NULL pending): Oracle has no boolean
-- that connectorx reads. level → approval_type, approved (NULL =
-- pending) → decision; approver re-pointed through the employee keymap.
SELECT
    a.id,
    a.request_id,
    apr.target_id                                                  AS approver_id,
    CASE upper(a.level) WHEN 'MANAGER' THEN 'manager' WHEN 'COMPLIANCE' THEN 'compliance' END AS approval_type,
    CASE WHEN a.approved IS NULL THEN 'pending' WHEN a.approved = 1 THEN 'approved' ELSE 'rejected' END AS decision,
    a.comment                                                      AS comments,
    a.decided_at                                                   AS decided_at,
    CASE
        WHEN rq.key IS NOT NULL THEN 'request rejected'
        WHEN apr.status = 'ambiguous' THEN 'ambiguous approver'
        WHEN apr.target_id IS NULL THEN 'orphan approver'
        WHEN upper(a.level) NOT IN ('MANAGER', 'COMPLIANCE') OR a.level IS NULL THEN 'unmapped level'
    END                                                            AS _reject_reason
FROM source.pad_approval a
LEFT JOIN rejected.pad_request rq ON rq.key = a.request_id
LEFT JOIN keymap.employee apr ON apr.source_id = a.approver_id

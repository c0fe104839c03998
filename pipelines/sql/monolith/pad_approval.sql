-- Monolith approvals → v3 pad_approval. The source query made one row per
-- approval that has an approver (auth_manager / auth_compliance set), keyed
-- -(2 id) for the manager and -(2 id + 1) for compliance, request_id = -id.
-- Decisions: approved → approved, declined → rejected, pending → pending.
SELECT
    a.id,
    a.request_id,
    apr.target_id                                                  AS approver_id,
    a.approval_type                                                AS approval_type,
    CASE lower(a.decision) WHEN 'approved' THEN 'approved' WHEN 'declined' THEN 'rejected'
                           WHEN 'pending' THEN 'pending' END       AS decision,
    a.comments                                                     AS comments,
    CASE WHEN lower(a.decision) <> 'pending' THEN a.decided_at END AS decided_at,
    CASE
        WHEN upper(coalesce(a.is_deleted_yn, 'N')) = 'Y' THEN 'soft-deleted in the monolith'
        WHEN rq.key IS NOT NULL THEN 'request rejected'
        WHEN apr.status = 'ambiguous' THEN 'ambiguous approver'
        WHEN apr.target_id IS NULL THEN 'orphan approver'
        WHEN lower(a.decision) NOT IN ('approved', 'declined', 'pending') OR a.decision IS NULL
             THEN 'unmapped decision'
    END                                                            AS _reject_reason
FROM source.pad_approval a
LEFT JOIN rejected.pad_request rq ON rq.key = a.request_id
LEFT JOIN keymap.employee apr ON apr.source_id = a.approver

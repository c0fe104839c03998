-- Monolith → v3 audit_log: per monolith row the submission (by the
-- employee, at requested_date) and each decision (by its approver), all
-- marked `"migrated_from": "personal_account_dealing"` with the monolith id.
-- Keys: -(3 id) submission, -(3 id + 1) manager, -(3 id + 2) compliance.
--
-- The submission's details keep what v3 has no column for, rather than lose
-- it: every yes/no flag as a boolean ('1' = true, '2' = false), the
-- security's codes that pad_request has no column for, the legacy free
-- text, who last modified the row and when. inside_info_yn is the other
-- way round from a declaration: '1' means the employee HAS inside
-- information, so it becomes "has_inside_information": true.
--
-- Audit rows are never dropped for an actor that cannot be re-pointed (the
-- actor is then kept in actor_identifier with actor_id NULL); only rows of
-- soft-deleted monolith rows stay behind.
SELECT
    l.id,
    'pad_request'                                                  AS entity_type,
    -l.monolith_id                                                 AS entity_id,
    CASE l.event WHEN 'submission' THEN 'request_created' ELSE 'request_reviewed' END AS action,
    actor.target_id                                                AS actor_id,
    coalesce(actor.email, actor.mako_id,
             'monolith employee ' || CAST(l.actor AS VARCHAR))     AS actor_identifier,
    CASE l.event
        WHEN 'submission' THEN json_build_object(
            'migrated_from', 'personal_account_dealing', 'monolith_id', l.monolith_id,
            'related', CASE l.related_yn WHEN '1' THEN true WHEN '2' THEN false END,
            'derivative_contract', CASE l.derivative_contract_yn WHEN '1' THEN true WHEN '2' THEN false END,
            'leveraged', CASE l.leveraged_yn WHEN '1' THEN true WHEN '2' THEN false END,
            'existing_position', CASE l.existing_pos_yn WHEN '1' THEN true WHEN '2' THEN false END,
            'signed', CASE l.signed_yn WHEN '1' THEN true WHEN '2' THEN false END,
            'restricted', CASE l.restricted_yn WHEN '1' THEN true WHEN '2' THEN false END,
            'holding_period', CASE l.holding_period_yn WHEN '1' THEN true WHEN '2' THEN false END,
            'conflicts', CASE l.conflicts_yn WHEN '1' THEN true WHEN '2' THEN false END,
            'broker_reporting', CASE l.broker_reporting_yn WHEN '1' THEN true WHEN '2' THEN false END,
            'has_inside_information', CASE l.inside_info_yn WHEN '1' THEN true WHEN '2' THEN false END,
            'two_business_days_execution', CASE l.two_business_days_execution_yn WHEN '1' THEN true WHEN '2' THEN false END,
            'contract_notes_received', CASE l.contract_notes_received_yn WHEN '1' THEN true WHEN '2' THEN false END,
            'name', l.name, 'relation', l.relation,
            'sedol', l.sedol, 'bloomberg', l.bloomberg, 'inst_symbol', l.inst_symbol,
            'security_description', l.security_description,
            'conflict_comments', l.conflict_comments, 'other_comments', l.other_comments,
            'last_modified_by', l.last_modified_by, 'last_modified_date', l.last_modified_date)
        ELSE json_build_object(
            'migrated_from', 'personal_account_dealing', 'monolith_id', l.monolith_id,
            'approval_type', l.event, 'decision', lower(l.decision), 'comments', l.comments)
    END                                                            AS details,
    l.occurred_at                                                  AS occurred_at,
    CASE
        WHEN upper(coalesce(l.is_deleted_yn, 'N')) = 'Y' THEN 'soft-deleted in the monolith'
    END                                                            AS _reject_reason
FROM source.audit_log l
LEFT JOIN keymap.employee actor ON actor.source_id = l.actor

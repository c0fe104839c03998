-- Legacy audit_logs → v3 audit_log. Audit rows are kept for seven years and
-- are never dropped: an actor who cannot be re-pointed keeps their e-mail in
-- actor_identifier with actor_id NULL, and a payload that is not valid JSON
-- is wrapped as {"raw": "..."}.
SELECT
    l.id,
    CASE WHEN l.request_id IS NULL THEN 'system' ELSE 'pad_request' END AS entity_type,
    coalesce(l.request_id, 0)                                      AS entity_id,
    lower(l.action)                                                AS action,
    actor.target_id                                                AS actor_id,
    coalesce(lower(l.actor_email), 'system')                       AS actor_identifier,
    json_or_raw(l.payload)                                         AS details,
    l.created_at                                                   AS occurred_at
FROM source.audit_log l
LEFT JOIN keymap.employee actor ON actor.email = lower(l.actor_email)

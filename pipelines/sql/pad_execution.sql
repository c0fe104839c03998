-- Legacy pad_execution → v3. The source query (pipelines/shared/pa_dealing.toml)
-- already turned exec_date into a London-local timestamp and brought the
-- request's currency; padetl localized it to UTC.
SELECT
    e.id,
    e.request_id,
    e.executed_at                                                  AS executed_at,
    e.exec_qty                                                     AS quantity,
    e.exec_price                                                   AS price,
    upper(e.currency)                                              AS currency,
    CASE
        WHEN rq.key IS NOT NULL THEN 'request rejected'
        WHEN e.currency IS NULL THEN 'no currency'
    END                                                            AS _reject_reason
FROM source.pad_execution e
LEFT JOIN rejected.pad_request rq ON rq.key = e.request_id

-- v1 → v2: audit_logs becomes audit_log; statuses lower-case; ids bigint;
-- London-local timestamps become timestamptz; requests get a reference_id.
ALTER TABLE audit_logs RENAME TO audit_log;

UPDATE pad_request SET status = lower(status);

ALTER TABLE pad_request
    ALTER COLUMN id TYPE bigint,
    ALTER COLUMN employee_id TYPE bigint,
    ALTER COLUMN security_id TYPE bigint,
    ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'Europe/London';
ALTER TABLE pad_approval
    ALTER COLUMN id TYPE bigint,
    ALTER COLUMN request_id TYPE bigint,
    ALTER COLUMN approver_id TYPE bigint,
    ALTER COLUMN decided_at TYPE timestamptz USING decided_at AT TIME ZONE 'Europe/London';
ALTER TABLE pad_execution
    ALTER COLUMN id TYPE bigint,
    ALTER COLUMN request_id TYPE bigint;
ALTER TABLE pad_breach
    ALTER COLUMN id TYPE bigint,
    ALTER COLUMN request_id TYPE bigint,
    ALTER COLUMN employee_id TYPE bigint,
    ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'Europe/London';
ALTER TABLE audit_log
    ALTER COLUMN id TYPE bigint,
    ALTER COLUMN request_id TYPE bigint,
    ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'Europe/London';

ALTER TABLE pad_request ADD COLUMN reference_id text;
UPDATE pad_request
   SET reference_id = 'PAD-' || to_char(created_at AT TIME ZONE 'UTC', 'YYYY') || '-' || lpad(id::text, 6, '0');
ALTER TABLE pad_request
    ALTER COLUMN reference_id SET NOT NULL,
    ADD CONSTRAINT pad_request_reference_id_key UNIQUE (reference_id);

-- The reference mirror as QA and prod have it: oracle_employee without an
-- e-mail column; e-mail lives in oracle_contact (contact_group_id 2,
-- contact_type_id 5). Applied after padetl_seed_target() by the QA-like
-- server (scripts/qa-server) and its tests; pipelines/qa.toml reads it
-- through pipelines/shared/email_in_oracle_contact.toml.
CREATE OR REPLACE FUNCTION public.padetl_reshape_as_qa() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    CREATE TABLE bo_airflow.oracle_contact (
        id bigint PRIMARY KEY, employee_id bigint NOT NULL, contact_group_id int NOT NULL,
        contact_type_id int NOT NULL, contact text NOT NULL
    );
    -- E-mail rows, then a phone number each: the join must pick the e-mail.
    INSERT INTO bo_airflow.oracle_contact
    SELECT row_number() OVER (ORDER BY id), id, 2, 5, upper(email)
    FROM bo_airflow.oracle_employee WHERE email IS NOT NULL;
    INSERT INTO bo_airflow.oracle_contact
    SELECT 100000 + row_number() OVER (ORDER BY id), id, 1, 3, '+44 20 7946 ' || lpad((id % 10000)::text, 4, '0')
    FROM bo_airflow.oracle_employee;
    ALTER TABLE bo_airflow.oracle_employee DROP COLUMN email;
END $$;

-- v1: the legacy single-database layout (schema pa_dealing in the old DB).
-- Runs with search_path set to the target schema; names are unqualified.
-- The demo's legacy source is this same file applied in schema pa_dealing.
CREATE TABLE pad_request (
    id          serial PRIMARY KEY,
    employee_id integer NOT NULL,
    security_id integer,
    ticker      varchar(32) NOT NULL,
    direction   char(1) NOT NULL,
    quantity    integer NOT NULL,
    price       numeric,
    currency    varchar(3) NOT NULL,
    status      varchar(20) NOT NULL,
    reason      text,
    created_at  timestamp NOT NULL DEFAULT now()
);

CREATE TABLE pad_approval (
    id          serial PRIMARY KEY,
    request_id  integer NOT NULL REFERENCES pad_request (id),
    approver_id integer NOT NULL,
    level       varchar(20) NOT NULL,
    approved    boolean,
    comment     text,
    decided_at  timestamp
);

CREATE TABLE pad_execution (
    id          serial PRIMARY KEY,
    request_id  integer NOT NULL REFERENCES pad_request (id),
    exec_date   date NOT NULL,
    exec_price  numeric NOT NULL,
    exec_qty    integer NOT NULL
);

CREATE TABLE pad_breach (
    id          serial PRIMARY KEY,
    request_id  integer REFERENCES pad_request (id),
    employee_id integer NOT NULL,
    breach_type varchar(40) NOT NULL,
    details     text,
    created_at  timestamp NOT NULL DEFAULT now()
);

CREATE TABLE audit_logs (
    id          serial PRIMARY KEY,
    request_id  integer,
    action      varchar(64) NOT NULL,
    actor_email text,
    payload     text,
    created_at  timestamp NOT NULL DEFAULT now()
);

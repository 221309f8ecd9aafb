CREATE SCHEMA IF NOT EXISTS pgroll;

CREATE TABLE IF NOT EXISTS pgroll.migrations
(
    schema           NAME      NOT NULL,
    name             TEXT      NOT NULL,
    migration        JSONB     NOT NULL,
    created_at       TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at       TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,

    parent           TEXT,
    done             BOOLEAN   NOT NULL DEFAULT false,
    resulting_schema JSONB     NOT NULL DEFAULT '{}'::jsonb,

    PRIMARY KEY (schema, name),
    FOREIGN KEY (schema, parent) REFERENCES pgroll.migrations (schema, name)
);

CREATE UNIQUE INDEX IF NOT EXISTS only_one_active ON pgroll.migrations (schema, name, done) WHERE done = false;

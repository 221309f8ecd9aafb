CREATE TABLE "schema_migrations" ("version" character varying NOT NULL PRIMARY KEY);

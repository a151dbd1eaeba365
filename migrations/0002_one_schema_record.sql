-- 0002: the applied migrations (schema_migrations) are the one record of
-- the schema's version; the old digest row goes.
DROP TABLE IF EXISTS schema_version;

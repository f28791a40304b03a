DROP TABLE user_extension_values;
ALTER TABLE orgs DROP COLUMN schema_version;
DROP TABLE schema_extensions;

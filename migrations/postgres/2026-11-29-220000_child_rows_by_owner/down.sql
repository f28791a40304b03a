DROP INDEX user_extension_values_user;
CREATE INDEX user_extension_values_user ON user_extension_values (user_id);
DROP INDEX user_phone_numbers_user;
CREATE INDEX user_phone_numbers_user ON user_phone_numbers (user_id);
DROP INDEX user_emails_user;
CREATE INDEX user_emails_user ON user_emails (user_id);

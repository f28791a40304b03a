DROP TABLE audit_events;
DROP TABLE revoked_tokens;
DROP TABLE user_phone_numbers;
DROP TABLE user_emails;
DROP TABLE users;
DROP TABLE orgs;

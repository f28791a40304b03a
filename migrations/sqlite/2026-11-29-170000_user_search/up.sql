-- The console's user search (store::users::search): a case-insensitive substring of userName,
-- displayName or an e-mail address. FTS5 tables with the trigram tokenizer hold the folded
-- values the search compares (users.user_name_ci, lower(users.display_name),
-- user_emails.value_ci), case-sensitively since they are folded already, so a phrase query is
-- an exact substring match of 3 characters or more. Triggers keep them in step with every
-- write, in its transaction. lower() is roster's Unicode-aware one (src/store/lower.rs), as
-- for the expression index users_org_display_name_lower.
--
-- users has a text primary key and an implicit rowid, which VACUUM may renumber, so the FTS
-- rows of users are keyed by user_search_keys.key (an INTEGER PRIMARY KEY, kept by VACUUM);
-- those of e-mails by user_emails.id.
CREATE TABLE user_search_keys (
    key      INTEGER PRIMARY KEY NOT NULL,
    user_id  TEXT NOT NULL UNIQUE
);

CREATE VIRTUAL TABLE user_name_search USING fts5 (
    name_key, display_lower,
    content = '', contentless_delete = 1, tokenize = 'trigram case_sensitive 1'
);

CREATE VIRTUAL TABLE user_email_search USING fts5 (
    value_ci,
    content = '', contentless_delete = 1, tokenize = 'trigram case_sensitive 1'
);

INSERT INTO user_search_keys (user_id) SELECT id FROM users ORDER BY id;
INSERT INTO user_name_search (rowid, name_key, display_lower)
    SELECT k.key, u.user_name_ci, lower(u.display_name)
    FROM users u JOIN user_search_keys k ON k.user_id = u.id;
INSERT INTO user_email_search (rowid, value_ci) SELECT id, value_ci FROM user_emails;

CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO user_search_keys (user_id) VALUES (new.id);
    INSERT INTO user_name_search (rowid, name_key, display_lower)
        VALUES ((SELECT key FROM user_search_keys WHERE user_id = new.id),
                new.user_name_ci, lower(new.display_name));
END;

CREATE TRIGGER users_search_update AFTER UPDATE OF user_name_ci, display_name ON users BEGIN
    DELETE FROM user_name_search
        WHERE rowid = (SELECT key FROM user_search_keys WHERE user_id = old.id);
    INSERT INTO user_name_search (rowid, name_key, display_lower)
        VALUES ((SELECT key FROM user_search_keys WHERE user_id = new.id),
                new.user_name_ci, lower(new.display_name));
END;

CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    DELETE FROM user_name_search
        WHERE rowid = (SELECT key FROM user_search_keys WHERE user_id = old.id);
    DELETE FROM user_search_keys WHERE user_id = old.id;
END;

CREATE TRIGGER user_emails_search_insert AFTER INSERT ON user_emails BEGIN
    INSERT INTO user_email_search (rowid, value_ci) VALUES (new.id, new.value_ci);
END;

CREATE TRIGGER user_emails_search_update AFTER UPDATE OF value_ci ON user_emails BEGIN
    DELETE FROM user_email_search WHERE rowid = old.id;
    INSERT INTO user_email_search (rowid, value_ci) VALUES (new.id, new.value_ci);
END;

CREATE TRIGGER user_emails_search_delete AFTER DELETE ON user_emails BEGIN
    DELETE FROM user_email_search WHERE rowid = old.id;
END;

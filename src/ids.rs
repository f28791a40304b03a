//! Typed identifiers that cross layers, so that an org slug is never passed where a user id is
//! expected.

use std::fmt;

use serde::Serialize;

/// A tenant: the org slug carried in every token's `org` claim (`[a-z0-9][a-z0-9-]{0,62}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct OrgId(String);

impl OrgId {
    /// Parses an org slug: 1 to 63 characters of lowercase ASCII letters, digits and `-`, not
    /// starting with `-`.
    pub fn parse(s: &str) -> Result<OrgId, String> {
        let valid = !s.is_empty()
            && s.len() <= 63
            && !s.starts_with('-')
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(OrgId(s.to_owned()))
        } else {
            Err(format!(
                "'{s}' is not a valid org slug: use 1 to 63 lowercase letters, digits or '-', not starting with '-'"
            ))
        }
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a slug read from the database (checked when it was written).
    pub(crate) fn from_db(s: String) -> OrgId {
        OrgId(s)
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user's server-assigned id (RFC 7643 §3.1 `id`): a UUID, compared exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// A fresh id. UUIDv7, so that new rows land at the end of the primary-key index.
    pub fn generate() -> UserId {
        UserId(uuid::Uuid::now_v7().to_string())
    }

    /// Parses an id from a URL or a token. Anything that is not a UUID in its canonical
    /// lowercase form cannot name a user, so callers answer 404 without a query.
    pub fn parse(s: &str) -> Option<UserId> {
        let uuid = uuid::Uuid::parse_str(s).ok()?;
        let canonical = uuid.hyphenated().to_string();
        (canonical == s).then_some(UserId(canonical))
    }

    /// The id as stored and rendered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps an id read from the database.
    pub(crate) fn from_db(s: String) -> UserId {
        UserId(s)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A group's server-assigned id (RFC 7643 §3.1 `id`): a UUID, compared exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct GroupId(String);

impl GroupId {
    /// A fresh id. UUIDv7, so that new rows land at the end of the primary-key index.
    pub fn generate() -> GroupId {
        GroupId(uuid::Uuid::now_v7().to_string())
    }

    /// Parses an id from a URL or a request. Anything that is not a UUID in its canonical
    /// lowercase form cannot name a group, so callers answer 404 without a query.
    pub fn parse(s: &str) -> Option<GroupId> {
        let uuid = uuid::Uuid::parse_str(s).ok()?;
        let canonical = uuid.hyphenated().to_string();
        (canonical == s).then_some(GroupId(canonical))
    }

    /// The id as stored and rendered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps an id read from the database.
    pub(crate) fn from_db(s: String) -> GroupId {
        GroupId(s)
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_slugs() {
        assert!(OrgId::parse("default").is_ok());
        assert!(OrgId::parse("acme-2").is_ok());
        for bad in ["", "-x", "Acme", "a b", "é", &"a".repeat(64)] {
            assert!(OrgId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn group_ids_are_canonical_uuids() {
        let id = GroupId::generate();
        assert_eq!(GroupId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(GroupId::parse(&id.as_str().to_uppercase()), None);
        assert_eq!(GroupId::parse("not-a-uuid"), None);
    }

    #[test]
    fn user_ids_are_canonical_uuids() {
        let id = UserId::generate();
        assert_eq!(UserId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(UserId::parse(&id.as_str().to_uppercase()), None);
        assert_eq!(UserId::parse("not-a-uuid"), None);
        assert_eq!(UserId::parse("' OR 1=1 --"), None);
    }
}

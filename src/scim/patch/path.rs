//! A PATCH operation's `path` (RFC 7644 §3.5.2): `attrPath / valuePath [subAttr]`, parsed by
//! the filter parser (the value filter between `[` and `]` is a filter).

use crate::scim::error::ScimError;
use crate::scim::filter::{Filter, parse_value_path};
use crate::scim::path::AttrPath;

/// A PATCH operation's `path` (RFC 7644 §3.5.2): `PATH = attrPath / valuePath [subAttr]`.
///
/// `members`, `name.familyName`, `addresses[type eq "work"]`,
/// `members[value eq "2819c223"]`, `emails[type eq "work"].value`.
/// Without a filter a sub-attribute is in `attr.sub_attr`; with a filter `attr.sub_attr` is
/// `None` and the sub-attribute after `]` is in `sub_attr`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (and, without a filter, its sub-attribute).
    pub attr: AttrPath,
    /// The value filter between `[` and `]`, with paths relative to the attribute.
    pub filter: Option<Filter>,
    /// The sub-attribute after `]`.
    pub sub_attr: Option<String>,
}

impl PatchPath {
    /// Parse a PATCH path (RFC 7644 §3.5.2). The length and nesting bounds of the filter
    /// parser apply. Any syntax error is `invalidPath`.
    pub fn parse(s: &str) -> Result<PatchPath, ScimError> {
        let (attr, filter, sub_attr) = parse_value_path(s).map_err(ScimError::invalid_path)?;
        Ok(PatchPath {
            attr,
            filter,
            sub_attr,
        })
    }

    /// The sub-attribute the path ends at, with or without a filter (RFC 7644 §3.5.2
    /// `attrPath / valuePath [subAttr]`).
    pub fn sub(&self) -> Option<&str> {
        self.sub_attr.as_deref().or(self.attr.sub_attr.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::filter::CompareOp;
    use crate::scim::schema::ENTERPRISE_USER_SCHEMA;

    #[test]
    fn parses_patch_paths() {
        let plain = PatchPath::parse("name.familyName").unwrap();
        assert_eq!(plain.attr, AttrPath::with_sub("name", "familyName"));
        assert_eq!((&plain.filter, plain.sub()), (&None, Some("familyName")));

        let vp = PatchPath::parse("emails[type eq \"work\"].value").unwrap();
        assert_eq!(vp.attr, AttrPath::new("emails"));
        assert_eq!(vp.sub_attr.as_deref(), Some("value"));
        assert_eq!(
            vp.filter,
            Some(Filter::Compare {
                path: AttrPath::new("type"),
                op: CompareOp::Eq,
                value: serde_json::json!("work"),
            })
        );

        let members = PatchPath::parse("members[value eq \"2819c223-7f76\"]").unwrap();
        assert_eq!(members.attr, AttrPath::new("members"));
        assert_eq!(members.sub_attr, None);
        assert!(members.filter.is_some());

        let urn =
            PatchPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
                .unwrap();
        assert_eq!(
            urn.attr,
            AttrPath {
                urn: Some(ENTERPRISE_USER_SCHEMA.to_owned()),
                attr: "manager".to_owned(),
                sub_attr: None,
            }
        );
    }

    #[test]
    fn rejects_malformed_patch_paths() {
        for input in [
            "",
            "emails[",
            "emails[type eq \"work\"",
            "emails[]",
            "emails[type eq \"work\"]value",
            "emails[type eq \"work\"].value.x",
            "emails.value[type eq \"work\"]",
            "emails[type eq \"work\"] and x",
            "emails[type[value eq \"a\"]]",
            "name givenName",
        ] {
            let err = PatchPath::parse(input).map(|_| ()).unwrap_err();
            assert_eq!(err.scim_type(), Some(ScimType::InvalidPath), "{input}");
        }
    }
}

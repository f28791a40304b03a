//! Attribute paths (RFC 7644 §3.10): their syntax, and their resolution against the schema data.
//!
//! Parsing here is purely syntactic; [`AttrPath::resolve`] looks a path up in a resource
//! type's schema data and yields the canonical attribute definitions. The PATCH `path` grammar is
//! [`super::patch::PatchPath`], with the PATCH code; it is re-exported here under its old name.

use std::fmt;
use std::sync::LazyLock;

use super::error::ScimError;
pub use super::patch::PatchPath;
use super::schema::{
    AttributeDef, AttributeType, Mutability, ResourceTypeDef, Returned, SchemaDef, Uniqueness,
};

/// The `schemas` attribute every resource carries (RFC 7643 §3). It is in no schema's attribute
/// table, yet filters may name it (RFC 7644 §3.4.2.2 example `schemas eq "urn:…"`), so
/// [`AttrPath::resolve`] answers it with this definition, attributed to the core schema.
pub static SCHEMAS_ATTRIBUTE: LazyLock<AttributeDef> = LazyLock::new(|| AttributeDef {
    name: "schemas".to_owned(),
    kind: AttributeType::Reference,
    multi_valued: true,
    description: "The schema URNs the resource conforms to.".to_owned(),
    required: true,
    case_exact: false,
    mutability: Mutability::ReadOnly,
    returned: Returned::Always,
    uniqueness: Uniqueness::None,
    canonical_values: Vec::new(),
    reference_types: vec!["uri".to_owned()],
    sub_attributes: Vec::new(),
    indexed: false,
});

/// An attribute path without a value filter (RFC 7644 §3.10, ABNF `attrPath` of §3.4.2.2):
/// `[URN ":"] attr ["." subAttr]`, for example `userName`, `name.givenName`,
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN prefix, when given (everything before the last `:`).
    pub urn: Option<String>,
    /// The attribute name (after the last `:`, before the first `.`).
    pub attr: String,
    /// The sub-attribute name, after the first `.` of the attribute part.
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// A path to the attribute `attr` (no URN, no sub-attribute; RFC 7644 §3.10).
    pub fn new(attr: impl Into<String>) -> Self {
        Self {
            urn: None,
            attr: attr.into(),
            sub_attr: None,
        }
    }

    /// A path to `attr.sub_attr` (no URN; RFC 7644 §3.10).
    pub fn with_sub(attr: impl Into<String>, sub_attr: impl Into<String>) -> Self {
        Self {
            urn: None,
            attr: attr.into(),
            sub_attr: Some(sub_attr.into()),
        }
    }

    /// Parse `[URN ":"] ATTRNAME ["." subAttr]` (RFC 7644 §3.10; ABNF `attrPath` of §3.4.2.2).
    ///
    /// The URN is everything before the last `:` (URNs themselves contain `:` and `.`, as in
    /// `2.0`), the sub-attribute what follows the first `.` after it. Brackets are not allowed:
    /// use [`PatchPath::parse`] for value paths. Errors are `invalidPath` (this is the PATCH
    /// vocabulary); the filter parser reports the same problems as `invalidFilter`.
    pub fn parse(s: &str) -> Result<AttrPath, ScimError> {
        parse_attr_path(s).map_err(ScimError::invalid_path)
    }

    /// Look the path up in `rt`'s schemas, ignoring case (RFC 7643 §2.1, RFC 7644 §3.10).
    ///
    /// With a URN, the attribute is looked up in that schema (common attributes `id`,
    /// `externalId`, `meta` belong to the core schema). Without one, the core schema and the
    /// common attributes come first, then the extensions in order, so Entra's unqualified
    /// `manager` still finds the enterprise `manager`. `schemas` resolves to
    /// [`SCHEMAS_ATTRIBUTE`]. A sub-attribute must exist in a complex attribute. Unknown
    /// names give `None`.
    pub fn resolve<'r>(&self, rt: &'r ResourceTypeDef) -> Option<Resolved<'r>> {
        let (schema, attr) = match &self.urn {
            Some(urn) => {
                let schema = rt.schema(urn)?;
                (schema, attribute_in(rt, schema, &self.attr)?)
            }
            None => rt
                .schemas()
                .find_map(|s| attribute_in(rt, s, &self.attr).map(|a| (s, a)))?,
        };
        let sub = match &self.sub_attr {
            Some(name) => Some(attr.sub_attribute(name)?),
            None => None,
        };
        Some(Resolved { schema, attr, sub })
    }
}

fn attribute_in<'r>(
    rt: &'r ResourceTypeDef,
    schema: &'r SchemaDef,
    name: &str,
) -> Option<&'r AttributeDef> {
    if std::ptr::eq(schema, rt.schema) {
        if name.eq_ignore_ascii_case(&SCHEMAS_ATTRIBUTE.name) {
            return Some(&SCHEMAS_ATTRIBUTE);
        }
        rt.core_attribute(name)
    } else {
        schema.attribute(name)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Syntax check of an attribute path; the error is a detail message the caller wraps in the
/// scimType of its context.
pub(super) fn parse_attr_path(s: &str) -> Result<AttrPath, String> {
    let (urn, rest) = match s.rfind(':') {
        Some(i) => {
            let urn = &s[..i];
            if !is_urn(urn) {
                return Err(format!("'{s}' is not an attribute path: bad schema URN"));
            }
            (Some(urn.to_owned()), &s[i + 1..])
        }
        None => (None, s),
    };
    let (attr, sub) = match rest.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (rest, None),
    };
    if !is_attr_name(attr) {
        return Err(format!("'{s}' is not an attribute path"));
    }
    if let Some(sub) = sub
        && !is_attr_name(sub)
    {
        return Err(format!("'{s}' is not an attribute path: bad sub-attribute"));
    }
    Ok(AttrPath {
        urn,
        attr: attr.to_owned(),
        sub_attr: sub.map(str::to_owned),
    })
}

/// `ATTRNAME = ALPHA *(nameChar)`, plus `$ref` (RFC 7643 §2.1, RFC 7644 §3.10).
pub(super) fn is_attr_name(s: &str) -> bool {
    if s.eq_ignore_ascii_case("$ref") {
        return true;
    }
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_urn(s: &str) -> bool {
    s.len() > 4
        && s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        && !s.ends_with(':')
        && s.chars()
            .all(|c| c.is_ascii_graphic() && !"[]()\"".contains(c))
}

/// The definitions a path names, taken from the schema tables (RFC 7643 §7), so their `name`s
/// are canonical.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'r> {
    /// The schema the attribute belongs to (the core schema for common attributes).
    pub schema: &'r SchemaDef,
    /// The top-level attribute.
    pub attr: &'r AttributeDef,
    /// The sub-attribute, when the path names one.
    pub sub: Option<&'r AttributeDef>,
}

impl<'r> Resolved<'r> {
    /// The definition the path ends at: the sub-attribute if any, else the attribute
    /// (RFC 7643 §2.2, whose characteristics govern comparison and writes).
    pub fn leaf(&self) -> &'r AttributeDef {
        self.sub.unwrap_or(self.attr)
    }

    /// Whether the attribute lives in an extension schema of `rt`, i.e. nested under the
    /// extension's URN in a resource (RFC 7643 §3.3).
    pub fn is_extension(&self, rt: &ResourceTypeDef) -> bool {
        !std::ptr::eq(self.schema, rt.schema)
    }

    /// The canonical path: canonical names, and a URN only for extension attributes (the core
    /// URN is implied, RFC 7644 §3.10).
    pub fn to_path(&self, rt: &ResourceTypeDef) -> AttrPath {
        AttrPath {
            urn: self.is_extension(rt).then(|| self.schema.id.to_owned()),
            attr: self.attr.name.clone(),
            sub_attr: self.sub.map(|s| s.name.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::{ENTERPRISE_USER_SCHEMA, GROUP_RESOURCE, USER_RESOURCE};
    use super::*;

    fn p(urn: Option<&str>, attr: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(str::to_owned),
            attr: attr.to_owned(),
            sub_attr: sub.map(str::to_owned),
        }
    }

    #[test]
    fn parses_attribute_paths() {
        let cases = [
            ("userName", p(None, "userName", None)),
            ("name.givenName", p(None, "name", Some("givenName"))),
            ("members.$ref", p(None, "members", Some("$ref"))),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:userName",
                p(
                    Some("urn:ietf:params:scim:schemas:core:2.0:User"),
                    "userName",
                    None,
                ),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                p(Some(ENTERPRISE_USER_SCHEMA), "manager", Some("value")),
            ),
            ("x-custom_1", p(None, "x-custom_1", None)),
        ];
        for (input, want) in cases {
            assert_eq!(AttrPath::parse(input), Ok(want.clone()), "{input}");
            assert_eq!(want.to_string(), input);
        }
    }

    #[test]
    fn rejects_malformed_attribute_paths() {
        for input in [
            "",
            "1abc",
            "name.",
            ".name",
            "name.given.name",
            "emails[type eq \"work\"]",
            "user name",
            "foo:userName",
            "urn:x:",
            ":userName",
        ] {
            let err = AttrPath::parse(input).map(|_| ()).unwrap_err();
            assert_eq!(
                err.scim_type(),
                Some(super::super::error::ScimType::InvalidPath),
                "{input}"
            );
        }
    }

    #[test]
    fn resolves_with_canonical_names() {
        let r = AttrPath::parse("NAME.GIVENNAME")
            .ok()
            .and_then(|a| a.resolve(&USER_RESOURCE));
        let r = r.unwrap();
        assert_eq!(
            (r.attr.name.as_str(), r.sub.map(|s| s.name.as_str())),
            ("name", Some("givenName"))
        );
        assert_eq!(
            r.to_path(&USER_RESOURCE),
            AttrPath::with_sub("name", "givenName")
        );

        let ext = AttrPath::parse(
            "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:employeeNUMBER",
        )
        .unwrap()
        .resolve(&USER_RESOURCE)
        .unwrap();
        assert!(ext.is_extension(&USER_RESOURCE));
        assert_eq!(
            ext.to_path(&USER_RESOURCE),
            p(Some(ENTERPRISE_USER_SCHEMA), "employeeNumber", None)
        );

        let core = AttrPath::parse("urn:ietf:params:scim:schemas:core:2.0:User:id")
            .unwrap()
            .resolve(&USER_RESOURCE)
            .unwrap();
        assert_eq!(core.attr.name, "id");
        assert_eq!(core.to_path(&USER_RESOURCE), AttrPath::new("id"));

        let meta = AttrPath::parse("meta.lastmodified")
            .unwrap()
            .resolve(&GROUP_RESOURCE);
        assert_eq!(
            meta.and_then(|m| m.sub).map(|s| s.name.as_str()),
            Some("lastModified")
        );

        let manager = AttrPath::parse("manager")
            .unwrap()
            .resolve(&USER_RESOURCE)
            .unwrap();
        assert_eq!(manager.schema.id, ENTERPRISE_USER_SCHEMA);

        let schemas = AttrPath::parse("schemas")
            .unwrap()
            .resolve(&GROUP_RESOURCE)
            .unwrap();
        assert_eq!(schemas.attr.name, "schemas");
        assert!(!schemas.is_extension(&GROUP_RESOURCE));
    }

    #[test]
    fn resolve_rejects_unknown_names() {
        for input in [
            "nosuch",
            "name.nosuch",
            "userName.sub",
            "urn:ietf:params:scim:schemas:core:2.0:Group:displayName.x",
            "urn:ietf:params:scim:schemas:extension:other:2.0:User:employeeNumber",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName",
        ] {
            let resolved = AttrPath::parse(input).unwrap().resolve(&USER_RESOURCE);
            assert!(resolved.is_none(), "{input}");
        }
        assert!(AttrPath::new("members").resolve(&USER_RESOURCE).is_none());
        assert!(AttrPath::new("userName").resolve(&GROUP_RESOURCE).is_none());
    }
}

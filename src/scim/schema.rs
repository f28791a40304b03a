//! Attribute characteristics as data (RFC 7643 §2.2, §4, §7, §8.7).
//!
//! One table per schema drives `/Schemas`, type and mutability checks, `attributes=` projection,
//! filter validation and case-insensitive attribute lookup. Nothing else in roster hard-codes
//! which attributes exist or how they behave.
//!
//! The built-in schemas are built once ([`LazyLock`]); an organization's own extension schemas
//! (registered through the admin API, RFC 7643 §3.3) are the same types, owned, and shared by
//! [`Arc`] in that organization's [`ResourceTypeDef`]s.

use std::sync::{Arc, LazyLock};

use serde::Serialize;

/// URN of the core User schema (RFC 7643 §4.1).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the Enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// URN of the core Group schema (RFC 7643 §4.2).
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The group schema URN Entra ID sends on group creation; accepted as an alias of [`GROUP_SCHEMA`].
pub const ENTRA_GROUP_SCHEMA: &str =
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

/// `type` characteristic (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AttributeType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

/// `mutability` characteristic (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// `returned` characteristic (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

/// `uniqueness` characteristic (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

/// One attribute definition with all its characteristics (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeDef {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttributeType,
    pub multi_valued: bool,
    pub description: String,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reference_types: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sub_attributes: Vec<AttributeDef>,
    /// roster's own, not an RFC 7643 characteristic: the attribute's string values are kept in
    /// an index as well (an organization's extension attributes), so each is at most
    /// [`super::value::MAX_INDEXED_BYTES`].
    #[serde(skip)]
    pub indexed: bool,
}

impl AttributeDef {
    /// A readWrite, singular, optional, case-insensitive attribute returned by default.
    pub fn new(name: &str, kind: AttributeType) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            multi_valued: false,
            description: String::new(),
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
            indexed: false,
        }
    }
    fn string(name: &str) -> Self {
        Self::new(name, AttributeType::String)
    }
    fn boolean(name: &str) -> Self {
        Self::new(name, AttributeType::Boolean)
    }
    fn complex(name: &str, subs: Vec<AttributeDef>) -> Self {
        let mut a = Self::new(name, AttributeType::Complex);
        a.sub_attributes = subs;
        a
    }
    fn reference(name: &str, types: &[&str]) -> Self {
        let mut a = Self::new(name, AttributeType::Reference);
        a.reference_types = strings(types);
        a
    }
    fn describe(mut self, d: &str) -> Self {
        self.description = d.to_owned();
        self
    }
    fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    fn required(mut self) -> Self {
        self.required = true;
        self
    }
    fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    fn read_only(mut self) -> Self {
        self.mutability = Mutability::ReadOnly;
        self
    }
    fn immutable(mut self) -> Self {
        self.mutability = Mutability::Immutable;
        self
    }
    fn write_only(mut self) -> Self {
        self.mutability = Mutability::WriteOnly;
        self
    }
    fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    fn unique(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    fn canonical(mut self, values: &[&str]) -> Self {
        self.canonical_values = strings(values);
        self
    }

    /// The sub-attribute called `name`, ignoring case (RFC 7643 §2.1).
    pub fn sub_attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Whether values of this attribute can be written by a client at all.
    pub fn is_read_only(&self) -> bool {
        self.mutability == Mutability::ReadOnly
    }
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// A schema: its URN and its top-level attributes (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemaDef {
    pub id: String,
    pub name: String,
    pub description: String,
    pub attributes: Vec<AttributeDef>,
}

impl SchemaDef {
    /// The top-level attribute called `name`, ignoring case.
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// The resource types roster stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

/// A resource type (RFC 7643 §6): its endpoint, core schema and extensions. The built-in ones are
/// [`USER_RESOURCE`] and [`GROUP_RESOURCE`]; an organization with extension schemas of its own has
/// its copy of them with those extensions added ([`ResourceTypeDef::with_extensions`]).
#[derive(Debug, Clone)]
pub struct ResourceTypeDef {
    pub kind: ResourceKind,
    pub name: &'static str,
    pub endpoint: &'static str,
    pub description: &'static str,
    pub schema: &'static SchemaDef,
    /// Extension schemas, each with whether it is required.
    pub extensions: Vec<(Arc<SchemaDef>, bool)>,
    /// Further URNs accepted in a request's `schemas` as aliases of the core schema.
    pub schema_aliases: &'static [&'static str],
}

impl ResourceTypeDef {
    /// This resource type with `custom` added to its extensions (none of them required), after
    /// the built-in ones.
    pub fn with_extensions(&self, custom: impl IntoIterator<Item = Arc<SchemaDef>>) -> Self {
        let mut rt = self.clone();
        rt.extensions.extend(custom.into_iter().map(|s| (s, false)));
        rt
    }

    /// The schema (core or extension) whose URN is `urn`, ignoring case (RFC 7643 §2.1).
    pub fn schema(&self, urn: &str) -> Option<&SchemaDef> {
        if self.schema.id.eq_ignore_ascii_case(urn)
            || self
                .schema_aliases
                .iter()
                .any(|a| a.eq_ignore_ascii_case(urn))
        {
            return Some(self.schema);
        }
        self.extensions
            .iter()
            .map(|(s, _)| &**s)
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// A top-level attribute of the core schema or one of the common attributes (`id`,
    /// `externalId`, `meta`), ignoring case.
    pub fn core_attribute(&self, name: &str) -> Option<&AttributeDef> {
        COMMON_ATTRIBUTES
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .or_else(|| self.schema.attribute(name))
    }

    /// Every schema this resource type knows: core first, then extensions.
    pub fn schemas(&self) -> impl Iterator<Item = &SchemaDef> + '_ {
        std::iter::once(self.schema).chain(self.extensions.iter().map(|(s, _)| &**s))
    }
}

const CANONICAL_EMAIL_TYPES: &[&str] = &["work", "home", "other"];

/// The sub-attributes of a standard multi-valued attribute (RFC 7643 §2.4).
macro_rules! multi_valued_subs {
    ($value_kind:expr, $types:expr) => {
        vec![
            AttributeDef::new("value", $value_kind),
            AttributeDef::string("display"),
            AttributeDef::string("type").canonical($types),
            AttributeDef::boolean("primary"),
        ]
    };
}

/// The common attributes of every resource (RFC 7643 §3.1).
pub static COMMON_ATTRIBUTES: LazyLock<Vec<AttributeDef>> = LazyLock::new(|| {
    vec![
        AttributeDef::string("id")
            .describe("Unique identifier for the resource, assigned by the service provider.")
            .case_exact()
            .read_only()
            .returned(Returned::Always)
            .unique(Uniqueness::Server),
        AttributeDef::string("externalId")
            .describe("Identifier of the resource as defined by the provisioning client.")
            .case_exact(),
        AttributeDef::complex(
            "meta",
            vec![
                AttributeDef::string("resourceType")
                    .case_exact()
                    .read_only(),
                AttributeDef::new("created", AttributeType::DateTime).read_only(),
                AttributeDef::new("lastModified", AttributeType::DateTime).read_only(),
                AttributeDef::reference("location", &["uri"])
                    .case_exact()
                    .read_only(),
                AttributeDef::string("version").case_exact().read_only(),
            ],
        )
        .describe("Resource metadata.")
        .read_only(),
    ]
});

/// The core User schema (RFC 7643 §4.1, §8.7.1).
pub static USER: LazyLock<SchemaDef> = LazyLock::new(|| {
    SchemaDef {
    id: USER_SCHEMA.to_owned(),
    name: "User".to_owned(),
    description: "User Account".to_owned(),
    attributes: vec![
        AttributeDef::string("userName")
            .describe("Unique identifier for the User, used to authenticate. Unique per organization, ignoring case.")
            .required()
            .unique(Uniqueness::Server),
        AttributeDef::complex(
            "name",
            vec![
                AttributeDef::string("formatted"),
                AttributeDef::string("familyName"),
                AttributeDef::string("givenName"),
                AttributeDef::string("middleName"),
                AttributeDef::string("honorificPrefix"),
                AttributeDef::string("honorificSuffix"),
            ],
        )
        .describe("The components of the user's real name."),
        AttributeDef::string("displayName").describe("The name of the User, suitable for display."),
        AttributeDef::string("nickName").describe("The casual way to address the user."),
        AttributeDef::reference("profileUrl", &["external"]).describe("A URI of the user's online profile."),
        AttributeDef::string("title").describe("The user's title, such as \"Vice President\"."),
        AttributeDef::string("userType").describe("The relationship between the organization and the user."),
        AttributeDef::string("preferredLanguage").describe("The user's preferred written or spoken language (RFC 7231 Accept-Language)."),
        AttributeDef::string("locale").describe("The user's default location for localization (e.g. en-US)."),
        AttributeDef::string("timezone").describe("The user's time zone in IANA format (e.g. America/Los_Angeles)."),
        AttributeDef::boolean("active").describe("Whether the user has access to the organization. false = deactivated: every token acting as the user is refused."),
        AttributeDef::string("password")
            .describe("The user's cleartext password, stored only as an argon2 hash and never returned.")
            .write_only()
            .returned(Returned::Never),
        AttributeDef::complex("emails", multi_valued_subs!(AttributeType::String, CANONICAL_EMAIL_TYPES))
            .describe("Email addresses for the user.")
            .multi(),
        AttributeDef::complex(
            "phoneNumbers",
            multi_valued_subs!(AttributeType::String, &["work", "home", "mobile", "fax", "pager", "other"]),
        )
        .describe("Phone numbers for the user.")
        .multi(),
        AttributeDef::complex(
            "ims",
            multi_valued_subs!(AttributeType::String, &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
        )
        .describe("Instant messaging addresses for the user.")
        .multi(),
        AttributeDef::complex(
            "photos",
            vec![
                AttributeDef::reference("value", &["external"]),
                AttributeDef::string("display"),
                AttributeDef::string("type").canonical(&["photo", "thumbnail"]),
                AttributeDef::boolean("primary"),
            ],
        )
        .describe("URLs of photos of the user.")
        .multi(),
        AttributeDef::complex(
            "addresses",
            vec![
                AttributeDef::string("formatted"),
                AttributeDef::string("streetAddress"),
                AttributeDef::string("locality"),
                AttributeDef::string("region"),
                AttributeDef::string("postalCode"),
                AttributeDef::string("country"),
                AttributeDef::string("type").canonical(CANONICAL_EMAIL_TYPES),
                AttributeDef::boolean("primary"),
            ],
        )
        .describe("Physical mailing addresses for this user.")
        .multi(),
        AttributeDef::complex(
            "groups",
            vec![
                AttributeDef::string("value").read_only(),
                AttributeDef::reference("$ref", &["User", "Group"]).read_only(),
                AttributeDef::string("display").read_only(),
                AttributeDef::string("type").canonical(&["direct", "indirect"]).read_only(),
            ],
        )
        .describe("The groups the user belongs to, direct or indirect; derived from group membership.")
        .multi()
        .read_only(),
        AttributeDef::complex("entitlements", multi_valued_subs!(AttributeType::String, &[]))
            .describe("Entitlements of the user.")
            .multi(),
        AttributeDef::complex("roles", multi_valued_subs!(AttributeType::String, &[]))
            .describe("Roles of the user.")
            .multi(),
        AttributeDef::complex("x509Certificates", multi_valued_subs!(AttributeType::Binary, &[]))
            .describe("DER-encoded X.509 certificates of the user.")
            .multi(),
    ],
    }
});

/// The Enterprise User extension (RFC 7643 §4.3, §8.7.1).
pub static ENTERPRISE_USER: LazyLock<Arc<SchemaDef>> = LazyLock::new(|| {
    Arc::new(SchemaDef {
        id: ENTERPRISE_USER_SCHEMA.to_owned(),
        name: "EnterpriseUser".to_owned(),
        description: "Enterprise User".to_owned(),
        attributes: vec![
            AttributeDef::string("employeeNumber")
                .describe("Numeric or alphanumeric identifier assigned to a person."),
            AttributeDef::string("costCenter").describe("Identifies the name of a cost center."),
            AttributeDef::string("organization")
                .describe("Identifies the name of an organization."),
            AttributeDef::string("division").describe("Identifies the name of a division."),
            AttributeDef::string("department").describe("Identifies the name of a department."),
            AttributeDef::complex(
                "manager",
                vec![
                    AttributeDef::string("value")
                        .describe("The id of the SCIM resource representing the user's manager."),
                    AttributeDef::reference("$ref", &["User"]),
                    AttributeDef::string("displayName").read_only(),
                ],
            )
            .describe("The user's manager."),
        ],
    })
});

/// The core Group schema (RFC 7643 §4.2, §8.7.1).
pub static GROUP: LazyLock<SchemaDef> = LazyLock::new(|| SchemaDef {
    id: GROUP_SCHEMA.to_owned(),
    name: "Group".to_owned(),
    description: "Group".to_owned(),
    attributes: vec![
        AttributeDef::string("displayName")
            .describe(
                "A human-readable name for the Group. Unique per organization, ignoring case.",
            )
            .required()
            .unique(Uniqueness::Server),
        AttributeDef::complex(
            "members",
            vec![
                AttributeDef::string("value").immutable(),
                AttributeDef::reference("$ref", &["User", "Group"]).immutable(),
                AttributeDef::string("display").read_only(),
                AttributeDef::string("type")
                    .canonical(&["User", "Group"])
                    .immutable(),
            ],
        )
        .describe("A list of members of the Group.")
        .multi(),
    ],
});

/// The User resource type (RFC 7643 §6).
pub static USER_RESOURCE: LazyLock<ResourceTypeDef> = LazyLock::new(|| ResourceTypeDef {
    kind: ResourceKind::User,
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER,
    extensions: vec![(Arc::clone(&ENTERPRISE_USER), false)],
    schema_aliases: &[],
});

/// The Group resource type (RFC 7643 §6).
pub static GROUP_RESOURCE: LazyLock<ResourceTypeDef> = LazyLock::new(|| ResourceTypeDef {
    kind: ResourceKind::Group,
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP,
    extensions: Vec::new(),
    schema_aliases: &[ENTRA_GROUP_SCHEMA],
});

/// An organization's resource types: the built-in ones with the extension schemas the
/// organization registered (RFC 7643 §3.3), at the version of its registry they were read at.
#[derive(Debug, Clone)]
pub struct OrgSchemas {
    /// The organization's `schema_version` these were read at (0: none ever registered).
    pub version: i64,
    pub user: Arc<ResourceTypeDef>,
    pub group: Arc<ResourceTypeDef>,
}

impl OrgSchemas {
    /// The built-in resource types, with `custom` extensions added to the one each extends.
    pub fn new(version: i64, custom: Vec<(ResourceKind, Arc<SchemaDef>)>) -> OrgSchemas {
        let of = |kind: ResourceKind| {
            custom
                .iter()
                .filter(move |(k, _)| *k == kind)
                .map(|(_, s)| Arc::clone(s))
        };
        OrgSchemas {
            version,
            user: Arc::new(USER_RESOURCE.with_extensions(of(ResourceKind::User))),
            group: Arc::new(GROUP_RESOURCE.with_extensions(of(ResourceKind::Group))),
        }
    }

    /// The resource type of `kind`.
    pub fn of(&self, kind: ResourceKind) -> &Arc<ResourceTypeDef> {
        match kind {
            ResourceKind::User => &self.user,
            ResourceKind::Group => &self.group,
        }
    }

    /// Both resource types, User first (the order of `/ResourceTypes` and `/Schemas`).
    pub fn types(&self) -> [&ResourceTypeDef; 2] {
        [&self.user, &self.group]
    }
}

/// The URNs of the extensions roster defines itself (the others are an organization's own).
pub const BUILT_IN_EXTENSIONS: &[&str] = &[ENTERPRISE_USER_SCHEMA];

/// Every resource type roster serves, as built in (without any organization's extensions).
pub fn resource_types() -> [&'static ResourceTypeDef; 2] {
    [&USER_RESOURCE, &GROUP_RESOURCE]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_ignore_case() {
        assert_eq!(
            USER.attribute("USERNAME").map(|a| a.name.as_str()),
            Some("userName")
        );
        let emails = USER.attribute("emails");
        assert!(emails.is_some_and(|e| e.multi_valued));
        assert_eq!(
            emails
                .and_then(|e| e.sub_attribute("VALUE"))
                .map(|a| a.name.as_str()),
            Some("value")
        );
        assert_eq!(
            USER_RESOURCE.core_attribute("ID").map(|a| a.name.as_str()),
            Some("id")
        );
        assert!(
            USER_RESOURCE
                .schema(&ENTERPRISE_USER_SCHEMA.to_uppercase())
                .is_some()
        );
        assert!(GROUP_RESOURCE.schema(ENTRA_GROUP_SCHEMA).is_some());
    }

    #[test]
    fn characteristics_serialize_in_rfc_spelling() {
        let password = USER.attribute("password").map(serde_json::to_value);
        let Some(Ok(json)) = password else {
            unreachable!("password is defined")
        };
        assert_eq!(json["mutability"], "writeOnly");
        assert_eq!(json["returned"], "never");
        assert_eq!(json["type"], "string");
        assert_eq!(json["multiValued"], false);
    }
}

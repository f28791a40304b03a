//! The discovery documents: `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas`
//! (RFC 7643 §5–§7, examples §8.5–§8.7; RFC 7644 §4), and the ListResponse envelope
//! (RFC 7644 §3.4.2) they and the query endpoints share.
//!
//! What belongs here: turning the schema data of [`super::schema`] and the [`Capabilities`] of this
//! build into JSON. Nothing is hand-written twice: a new attribute in the schema tables shows up in
//! `/Schemas` by itself. The documents never contain `null` (Entra refuses schemas that do) and
//! spell characteristics in camelCase, as the RFC does.

use serde_json::{Map, Value, json};

use super::schema::{ResourceTypeDef, SchemaDef};

/// URN of the ServiceProviderConfig schema (RFC 7643 §5).
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// URN of the ResourceType schema (RFC 7643 §6).
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// URN of the Schema schema (RFC 7643 §7).
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// URN of the ListResponse message (RFC 7644 §3.4.2).
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// What this build supports, so that `/ServiceProviderConfig` is truthful (RFC 7643 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub patch: bool,
    /// `None` = `/Bulk` unsupported.
    pub bulk: Option<BulkLimits>,
    /// `None` = filtering unsupported; otherwise the most results a filtered query returns.
    pub filter_max_results: Option<u32>,
    pub change_password: bool,
    pub sort: bool,
    pub etag: bool,
    /// RFC 9865 cursor pagination.
    pub cursor_pagination: bool,
    pub max_page_size: u32,
    pub default_page_size: u32,
    /// The RFC 9967 event URIs of the Security Event Tokens this server sends; empty: none,
    /// and `securityEvents` is left out.
    pub security_event_uris: Vec<&'static str>,
}

/// Limits of `/Bulk` (RFC 7644 §3.7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkLimits {
    pub max_operations: u32,
    /// Bytes.
    pub max_payload_size: u64,
}

/// The `/ServiceProviderConfig` document (RFC 7643 §5, §8.5), with the `pagination` object of
/// RFC 9865 §4.
///
/// `bulk.maxOperations`, `bulk.maxPayloadSize` and `filter.maxResults` are REQUIRED by the RFC
/// (and asserted by Okta's test suite) even when the feature is unsupported; they are then `0`.
/// `cursorTimeout` is left out: it is optional and cursors do not expire by time here.
///
/// `securityEvents` is RFC 9967 §4's: `asyncRequest: "none"` (requests are answered
/// synchronously; events are pushed to subscriptions made over the admin API) and the event
/// URIs sent.
pub fn service_provider_config(base_url: &str, caps: &Capabilities) -> Value {
    let bulk = caps.bulk.unwrap_or(BulkLimits {
        max_operations: 0,
        max_payload_size: 0,
    });
    let mut doc = json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": { "supported": caps.patch },
        "bulk": {
            "supported": caps.bulk.is_some(),
            "maxOperations": bulk.max_operations,
            "maxPayloadSize": bulk.max_payload_size,
        },
        "filter": {
            "supported": caps.filter_max_results.is_some(),
            "maxResults": caps.filter_max_results.unwrap_or(0),
        },
        "changePassword": { "supported": caps.change_password },
        "sort": { "supported": caps.sort },
        "etag": { "supported": caps.etag },
        "pagination": {
            "cursor": caps.cursor_pagination,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": caps.default_page_size,
            "maxPageSize": caps.max_page_size,
        },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer JWT minted by `roster token create` (or by a configured issuer)",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig"),
        },
    });
    if !caps.security_event_uris.is_empty()
        && let Some(fields) = doc.as_object_mut()
    {
        fields.insert(
            "securityEvents".to_owned(),
            json!({"asyncRequest": "none", "eventUris": caps.security_event_uris}),
        );
    }
    doc
}

/// Every resource type of `types` (an organization's, RFC 7643 §6, §8.6), each with
/// `meta.location`.
pub fn resource_types(base_url: &str, types: &[&ResourceTypeDef]) -> Vec<Value> {
    types
        .iter()
        .map(|rt| resource_type_json(base_url, rt))
        .collect()
}

/// One resource type by its `id` (`User`, `Group`). Matched ignoring case: the ids are attribute
/// -like names, which SCIM compares ignoring case (RFC 7643 §2.1), and answering
/// `/ResourceTypes/user` harms no one.
pub fn resource_type(base_url: &str, types: &[&ResourceTypeDef], name: &str) -> Option<Value> {
    types
        .iter()
        .find(|rt| rt.name.eq_ignore_ascii_case(name))
        .map(|rt| resource_type_json(base_url, rt))
}

fn resource_type_json(base_url: &str, rt: &ResourceTypeDef) -> Value {
    let mut doc = Map::new();
    doc.insert("schemas".to_owned(), json!([RESOURCE_TYPE_SCHEMA]));
    doc.insert("id".to_owned(), rt.name.into());
    doc.insert("name".to_owned(), rt.name.into());
    doc.insert("endpoint".to_owned(), rt.endpoint.into());
    doc.insert("description".to_owned(), rt.description.into());
    doc.insert("schema".to_owned(), rt.schema.id.clone().into());
    // Omitted when empty, as in the RFC's Group example (§8.6).
    if !rt.extensions.is_empty() {
        let extensions = rt
            .extensions
            .iter()
            .map(|(s, required)| json!({ "schema": s.id, "required": required }))
            .collect();
        doc.insert("schemaExtensions".to_owned(), Value::Array(extensions));
    }
    doc.insert(
        "meta".to_owned(),
        json!({
            "resourceType": "ResourceType",
            "location": format!("{base_url}/ResourceTypes/{}", rt.name),
        }),
    );
    Value::Object(doc)
}

/// Every resource schema of `types`: core User, Enterprise User, Group, then the organization's
/// own extensions (RFC 7643 §7, §8.7.1). As in §8.7.1 the common attributes (`id`, `externalId`,
/// `meta`) are not listed: RFC 7643 §3.1 defines them for every resource.
pub fn schemas(base_url: &str, types: &[&ResourceTypeDef]) -> Vec<Value> {
    all_schemas(types)
        .into_iter()
        .map(|s| schema_json(base_url, s))
        .collect()
}

/// One schema by its URN, ignoring case (RFC 7643 §2.1).
pub fn schema(base_url: &str, types: &[&ResourceTypeDef], urn: &str) -> Option<Value> {
    all_schemas(types)
        .into_iter()
        .find(|s| s.id.eq_ignore_ascii_case(urn))
        .map(|s| schema_json(base_url, s))
}

/// The schemas of every resource type, core before extensions, each once.
fn all_schemas<'r>(types: &[&'r ResourceTypeDef]) -> Vec<&'r SchemaDef> {
    let mut out: Vec<&SchemaDef> = Vec::new();
    for s in types.iter().flat_map(|rt| rt.schemas()) {
        if !out.iter().any(|seen| seen.id == s.id) {
            out.push(s);
        }
    }
    out
}

fn schema_json(base_url: &str, s: &SchemaDef) -> Value {
    // Serialising plain static data cannot fail; an empty list is the harmless fallback.
    let mut attributes =
        serde_json::to_value(&s.attributes).unwrap_or_else(|_| Value::Array(Vec::new()));
    advertise_limits(&mut attributes);
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "attributes": attributes,
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base_url}/Schemas/{}", s.id),
        },
    })
}

/// Appends to the `description` of each writable multi-valued attribute how many values it
/// takes: RFC 7643 §7 has no characteristic for it, and the description is where a client
/// reading `/Schemas` looks.
fn advertise_limits(attributes: &mut Value) {
    use super::patch::{MAX_MEMBERS_PER_REQUEST, MAX_VALUES};
    let Value::Array(attributes) = attributes else {
        return;
    };
    for attr in attributes.iter_mut().filter_map(Value::as_object_mut) {
        let multi = attr.get("multiValued") == Some(&Value::Bool(true));
        let writable = attr.get("mutability").and_then(Value::as_str) != Some("readOnly");
        if !multi || !writable {
            continue;
        }
        let limit = if attr.get("name").and_then(Value::as_str) == Some("members") {
            format!(
                " Any number of members; a request names at most {MAX_MEMBERS_PER_REQUEST} \
                 member values."
            )
        } else {
            format!(" At most {MAX_VALUES} values.")
        };
        let text = attr
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim_end()
            .to_owned();
        attr.insert(
            "description".to_owned(),
            Value::String(format!("{text}{limit}").trim().to_owned()),
        );
    }
}

/// The ListResponse envelope (RFC 7644 §3.4.2): `itemsPerPage` is the number of resources in this
/// page, and `Resources` is present even when empty.
pub fn list_response(resources: Vec<Value>, total: u64, start_index: u64) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "startIndex": start_index,
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::super::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
    use super::*;

    const BASE: &str = "https://example.com/scim/v2";

    fn built_in() -> [&'static ResourceTypeDef; 2] {
        super::super::schema::resource_types()
    }

    fn caps() -> Capabilities {
        Capabilities {
            patch: true,
            bulk: Some(BulkLimits {
                max_operations: 1000,
                max_payload_size: 1_048_576,
            }),
            filter_max_results: Some(200),
            change_password: false,
            sort: true,
            etag: true,
            cursor_pagination: false,
            max_page_size: 500,
            default_page_size: 100,
            security_event_uris: Vec::new(),
        }
    }

    /// Every `null` in a document, by JSON pointer.
    fn nulls(v: &Value, at: &str, found: &mut Vec<String>) {
        match v {
            Value::Null => found.push(at.to_owned()),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    nulls(item, &format!("{at}/{i}"), found);
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    nulls(item, &format!("{at}/{k}"), found);
                }
            }
            _ => {}
        }
    }

    fn assert_no_nulls(v: &Value) {
        let mut found = Vec::new();
        nulls(v, "", &mut found);
        assert!(found.is_empty(), "nulls at {found:?}");
    }

    #[test]
    fn service_provider_config_reflects_capabilities() {
        assert_eq!(
            service_provider_config(BASE, &caps()),
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
                "patch": {"supported": true},
                "bulk": {"supported": true, "maxOperations": 1000, "maxPayloadSize": 1_048_576},
                "filter": {"supported": true, "maxResults": 200},
                "changePassword": {"supported": false},
                "sort": {"supported": true},
                "etag": {"supported": true},
                "pagination": {
                    "cursor": false,
                    "index": true,
                    "defaultPaginationMethod": "index",
                    "defaultPageSize": 100,
                    "maxPageSize": 500
                },
                "authenticationSchemes": [{
                    "type": "oauthbearertoken",
                    "name": "OAuth Bearer Token",
                    "description": "Authentication with a bearer JWT minted by `roster token create` (or by a configured issuer)",
                    "specUri": "https://www.rfc-editor.org/info/rfc6750",
                    "primary": true
                }],
                "meta": {
                    "resourceType": "ServiceProviderConfig",
                    "location": "https://example.com/scim/v2/ServiceProviderConfig"
                }
            })
        );
        let none = Capabilities {
            patch: false,
            bulk: None,
            filter_max_results: None,
            cursor_pagination: true,
            ..caps()
        };
        let doc = service_provider_config(BASE, &none);
        assert_eq!(doc["patch"], json!({"supported": false}));
        assert_eq!(
            doc["bulk"],
            json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0})
        );
        assert_eq!(doc["filter"], json!({"supported": false, "maxResults": 0}));
        assert_eq!(doc["pagination"]["cursor"], true);
        assert_no_nulls(&doc);
        assert!(doc.get("securityEvents").is_none());
        let events = Capabilities {
            security_event_uris: vec!["urn:ietf:params:scim:event:prov:delete"],
            ..caps()
        };
        assert_eq!(
            service_provider_config(BASE, &events)["securityEvents"],
            json!({"asyncRequest": "none", "eventUris": ["urn:ietf:params:scim:event:prov:delete"]})
        );
    }

    #[test]
    fn resource_types_document_both_types() {
        let types = resource_types(BASE, &built_in());
        assert_eq!(
            types,
            vec![
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
                    "id": "User",
                    "name": "User",
                    "endpoint": "/Users",
                    "description": "User Account",
                    "schema": USER_SCHEMA,
                    "schemaExtensions": [{"schema": ENTERPRISE_USER_SCHEMA, "required": false}],
                    "meta": {
                        "resourceType": "ResourceType",
                        "location": "https://example.com/scim/v2/ResourceTypes/User"
                    }
                }),
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
                    "id": "Group",
                    "name": "Group",
                    "endpoint": "/Groups",
                    "description": "Group",
                    "schema": GROUP_SCHEMA,
                    "meta": {
                        "resourceType": "ResourceType",
                        "location": "https://example.com/scim/v2/ResourceTypes/Group"
                    }
                }),
            ]
        );
        assert_eq!(
            resource_type(BASE, &built_in(), "group").as_ref(),
            types.get(1)
        );
        assert_eq!(resource_type(BASE, &built_in(), "Widget"), None);
    }

    #[test]
    fn schemas_list_the_three_schemas_without_nulls() {
        let all = schemas(BASE, &built_in());
        let ids: Vec<&str> = all.iter().filter_map(|s| s["id"].as_str()).collect();
        assert_eq!(ids, [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA]);
        for s in &all {
            assert_no_nulls(s);
            assert_eq!(s["schemas"], json!([SCHEMA_SCHEMA]));
            assert_eq!(s["meta"]["resourceType"], "Schema");
            assert!(s["attributes"].as_array().is_some_and(|a| !a.is_empty()));
        }
        let user = schema(BASE, &built_in(), &USER_SCHEMA.to_uppercase()).unwrap();
        assert_eq!(
            user["meta"]["location"],
            "https://example.com/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"
        );
        let attrs = user["attributes"].as_array().unwrap();
        // RFC 7643 §8.7.1: common attributes are not listed.
        assert!(
            !attrs
                .iter()
                .any(|a| a["name"] == "id" || a["name"] == "meta")
        );
        let user_name = attrs.iter().find(|a| a["name"] == "userName").unwrap();
        assert_eq!(user_name["required"], true);
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["caseExact"], false);
        let emails = attrs.iter().find(|a| a["name"] == "emails").unwrap();
        assert_eq!(emails["multiValued"], true);
        assert_eq!(emails["subAttributes"][0]["name"], "value");
        let password = attrs.iter().find(|a| a["name"] == "password").unwrap();
        assert_eq!(
            (&password["mutability"], &password["returned"]),
            (&json!("writeOnly"), &json!("never"))
        );
        assert_eq!(schema(BASE, &built_in(), "urn:example:nosuch"), None);
    }

    #[test]
    fn list_response_envelope() {
        assert_eq!(
            list_response(Vec::new(), 0, 1),
            json!({
                "schemas": [LIST_RESPONSE],
                "totalResults": 0,
                "itemsPerPage": 0,
                "startIndex": 1,
                "Resources": []
            })
        );
        let page = list_response(vec![json!({"id": "a"}), json!({"id": "b"})], 7, 3);
        assert_eq!(
            (page["totalResults"].as_u64(), page["itemsPerPage"].as_u64()),
            (Some(7), Some(2))
        );
        assert_eq!(page["startIndex"], 3);
        let wrapped = list_response(schemas(BASE, &built_in()), 3, 1);
        assert_no_nulls(&wrapped);
    }
}

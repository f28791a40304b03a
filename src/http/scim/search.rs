//! `POST /.search` and `POST /Users/.search` (RFC 7644 §3.4.3): a query sent as a
//! `SearchRequest` body, so that filters (often personal data) stay out of URLs and logs.
//! Answered exactly as the same query sent to `GET /Users`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};

use super::users::{self, Search};
use crate::http::AppState;
use crate::http::extract::{Authenticated, ScimJson};
use crate::scim::ScimError;

use super::ResourceQuery;

/// URN of the SearchRequest message (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// `POST /Users/.search` (RFC 7644 §3.4.3): 200 with a ListResponse, as `GET /Users`.
pub async fn users(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let query = parse(body.into_inner())?;
    users::search(&auth, &state, &req, query).await
}

/// `POST /.search` (RFC 7644 §3.4.3): a search from the root. Users are the only resource
/// type searched from the root; search groups at `/Groups/.search`.
pub async fn root(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    users(auth, state, req, body).await
}

/// Reads a `SearchRequest` (RFC 7644 §3.4.3): `schemas` must name [`SEARCH_REQUEST`];
/// `attributes` and `excludedAttributes` are arrays of strings (a comma-separated string is
/// accepted too); `filter`, `sortBy`, `sortOrder` strings; `startIndex`, `count` integers.
/// Member names ignore case (RFC 7643 §2.1); unknown members are ignored. A malformed body is
/// `invalidSyntax`, a member of the wrong type `invalidValue`.
pub fn parse(body: Value) -> Result<Search, ScimError> {
    let Value::Object(map) = body else {
        return Err(ScimError::invalid_syntax(
            "a SearchRequest is a JSON object (RFC 7644 §3.4.3)",
        ));
    };
    let schemas_ok = member(&map, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter().any(|u| {
                u.as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(SEARCH_REQUEST))
            })
        });
    if !schemas_ok {
        return Err(ScimError::invalid_syntax(format!(
            "'schemas' must be [\"{SEARCH_REQUEST}\"]"
        )));
    }
    Ok(Search {
        filter: string(&map, "filter")?,
        sort_by: string(&map, "sortBy")?,
        sort_order: string(&map, "sortOrder")?,
        start_index: integer(&map, "startIndex")?,
        count: integer(&map, "count")?,
        projection: ResourceQuery {
            attributes: names(&map, "attributes")?,
            excluded_attributes: names(&map, "excludedAttributes")?,
        },
    })
}

fn member<'v>(map: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn string(map: &Map<String, Value>, name: &str) -> Result<Option<String>, ScimError> {
    match member(map, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ScimError::invalid_value(format!(
            "'{name}' must be a string, not {other}"
        ))),
    }
}

fn integer(map: &Map<String, Value>, name: &str) -> Result<Option<i64>, ScimError> {
    match member(map, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
        // An integer larger than i64 is clamped like any other out-of-range count.
        Some(Value::Number(n)) if n.is_u64() => Ok(Some(i64::MAX)),
        Some(other) => Err(ScimError::invalid_value(format!(
            "'{name}' must be an integer, not {other}"
        ))),
    }
}

/// An array of attribute names, joined with commas as the query parameter would carry them.
fn names(map: &Map<String, Value>, name: &str) -> Result<Option<String>, ScimError> {
    let bad = || ScimError::invalid_value(format!("'{name}' must be an array of attribute names"));
    match member(map, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Array(items)) => {
            let names: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            let names = names.ok_or_else(bad)?;
            if names.iter().any(|n| n.contains(',')) {
                return Err(bad());
            }
            Ok(Some(names.join(",")))
        }
        Some(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_rfc_example() {
        // RFC 7644 §3.4.3, figure 6.
        let search = parse(json!({
            "schemas": [SEARCH_REQUEST],
            "attributes": ["displayName", "userName"],
            "filter": "displayName sw \"smith\"",
            "startIndex": 1,
            "count": 10
        }))
        .unwrap();
        assert_eq!(search.filter.as_deref(), Some("displayName sw \"smith\""));
        assert_eq!(
            search.projection.attributes.as_deref(),
            Some("displayName,userName")
        );
        assert_eq!((search.start_index, search.count), (Some(1), Some(10)));
    }

    #[test]
    fn refuses_malformed_requests() {
        let err = parse(json!({"filter": "x pr"})).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.detail().contains("schemas"));
        let err = parse(json!({"schemas": [SEARCH_REQUEST], "count": "10"})).unwrap_err();
        assert_eq!(err.detail(), "'count' must be an integer, not \"10\"");
        let err = parse(json!({"schemas": [SEARCH_REQUEST], "attributes": [1]})).unwrap_err();
        assert_eq!(
            err.detail(),
            "'attributes' must be an array of attribute names"
        );
        assert!(parse(json!([])).is_err());
    }
}

//! The SCIM search handlers: `POST /.search`, `POST /Users/.search`, `POST /Groups/.search`, a
//! query sent as a `SearchRequest` body (RFC 7644 §3.4.3), so that filters (often personal data) stay out
//! of URLs and logs. Answered as the same query sent to `GET /Users` or `GET /Groups`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};

use super::{Search, groups, users};
use crate::http::AppState;
use crate::http::extract::{Authenticated, ScimJson};
use crate::provisioning::schema_extensions;
use crate::scim::ScimError;
use crate::scim::discovery::list_response;
use crate::scim::resource::split_list;

use super::{ResourceQuery, respond};

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

/// `POST /Groups/.search` (RFC 7644 §3.4.3): a `SearchRequest` body, answered as the same
/// `GET /Groups`.
pub async fn groups(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let query = parse(body.into_inner())?;
    groups::search(&auth, &state, &req, query).await
}

/// `POST /.search` (RFC 7644 §3.4.3): a search across every resource type — the users
/// matching the filter, then the groups. The filter is read against each type's schema; a type
/// whose schema lacks one of its attributes has no match (the filter is refused only when no
/// type knows it). `sortBy` orders within each type. Paging runs over the whole sequence and
/// `totalResults` counts both.
pub async fn root(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let query = parse(body.into_inner())?;
    let (start_index, count) = query.bounds(&state);
    let offset = start_index - 1;
    let org = schema_extensions::of(&state.store, &auth.0.org).await?;
    let user_filter = query.filter(&org.user);
    let group_filter = query.filter(&org.group);
    let (user_filter, group_filter) = match (user_filter, group_filter) {
        (Err(e), Err(_)) => return Err(e),
        (u, g) => (u.ok(), g.ok()),
    };
    let mut resources = Vec::new();
    let mut total = 0;
    if let Some(filter) = user_filter {
        let (found, matches) =
            users::matching(&auth, &state, &req, &query, filter, offset, count).await?;
        resources = found;
        total += matches;
    }
    if let Some(filter) = group_filter {
        // Groups follow the users: skip what the users' part of the sequence covered.
        let skip = (offset - total).max(0);
        let room = count - i64::try_from(resources.len()).unwrap_or(i64::MAX);
        let (found, matches) =
            groups::matching(&auth, &state, &req, &query, filter, skip, room.max(0)).await?;
        resources.extend(found);
        total += matches;
    }
    Ok(respond(
        StatusCode::OK,
        &list_response(
            resources,
            u64::try_from(total).unwrap_or_default(),
            u64::try_from(start_index).unwrap_or(1),
        ),
    ))
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
        cursor: string(&map, "cursor")?,
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
            // One name per item: a comma inside a value filter's brackets or quotes is part of it.
            if names.iter().any(|n| split_list(n).len() > 1) {
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

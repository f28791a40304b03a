//! The one judge of attribute values (RFC 7643 §2.3): whether a JSON value is a value of an
//! attribute, whichever request carries it: a POST or PUT body ([`super::resource`]), a PATCH
//! operation ([`super::patch`]) or a filter literal ([`super::filter`]).
//!
//! Beyond its type, every string is held to what both backends store and index alike, so that
//! the same input gets the same answer on SQLite and PostgreSQL, and never a 500:
//! - no NUL character (U+0000): PostgreSQL's `text` cannot hold one;
//! - at most [`MAX_INDEXED_BYTES`] (UTF-8) for the attributes stored in indexed columns
//!   ([`INDEXED`]), well under PostgreSQL's limit of about 2.7 KB for a btree entry;
//! - at most [`MAX_STRING_BYTES`] for any other string.
//!
//! Refusals are 400 `invalidValue` naming the attribute. `docs/limits.md` lists the limits.

use chrono::DateTime;
use serde_json::Value;

use super::error::ScimError;
use super::schema::{AttributeDef, AttributeType};

/// The longest value, in UTF-8 bytes, of an attribute stored in an indexed column.
pub const MAX_INDEXED_BYTES: usize = 1024;

/// The longest value, in UTF-8 bytes, of any other string attribute (and of `password`).
pub const MAX_STRING_BYTES: usize = 16 * 1024;

/// The attributes kept in indexed columns, as (parent attribute, attribute): `userName`,
/// `externalId` and `displayName` (users and groups), and the `value` of `emails`,
/// `phoneNumbers` and `members`. Names are compared ignoring case (RFC 7643 §2.1).
pub const INDEXED: &[(Option<&str>, &str)] = &[
    (None, "userName"),
    (None, "externalId"),
    (None, "displayName"),
    (Some("emails"), "value"),
    (Some("phoneNumbers"), "value"),
    (Some("members"), "value"),
];

/// The longest string accepted for the attribute `name` (a sub-attribute of `parent`, when
/// given).
pub fn max_bytes(parent: Option<&str>, name: &str) -> usize {
    let indexed = INDEXED.iter().any(|(p, n)| {
        n.eq_ignore_ascii_case(name)
            && match (p, parent) {
                (None, None) => true,
                (Some(p), Some(parent)) => p.eq_ignore_ascii_case(parent),
                _ => false,
            }
    });
    if indexed {
        MAX_INDEXED_BYTES
    } else {
        MAX_STRING_BYTES
    }
}

/// Checks a string given for the attribute `name` (of `parent`), named `label` in the error:
/// no NUL, no longer than [`max_bytes`].
pub fn check_text(
    parent: Option<&str>,
    name: &str,
    text: &str,
    label: &str,
) -> Result<(), ScimError> {
    if text.contains('\0') {
        return Err(ScimError::invalid_value(format!(
            "attribute '{label}' contains a NUL character (U+0000), which no attribute may hold"
        )));
    }
    check_len(text, max_bytes(parent, name), label)
}

/// `text` is at most `max` bytes long and, when `max` is [`MAX_INDEXED_BYTES`], so is its
/// folded form.
fn check_len(text: &str, max: usize, label: &str) -> Result<(), ScimError> {
    if text.len() > max {
        return Err(ScimError::invalid_value(format!(
            "attribute '{label}' is {} bytes long; at most {max} bytes are accepted \
             (UTF-8; see docs/limits.md)",
            text.len()
        )));
    }
    // An indexed attribute is also indexed by its caseless key, which compatibility
    // normalisation can make many times longer (U+FDFA is 3 bytes and 33 once NFKC'd): the
    // limit holds for that form too.
    if max == MAX_INDEXED_BYTES && !text.is_ascii() {
        let folded = folded_len(text);
        if folded > max {
            return Err(ScimError::invalid_value(format!(
                "attribute '{label}' is {folded} bytes long once normalised for caseless \
                 matching; at most {max} bytes are accepted (see \
                 docs/limits.md)"
            )));
        }
    }
    Ok(())
}

/// The length in UTF-8 bytes of the longest indexed key made from `text`: the caseless key of
/// `userName` and group `displayName` ([`super::caseless::key`]), or the lower-cased form kept
/// for `emails.value`.
fn folded_len(text: &str) -> usize {
    super::caseless::key(text)
        .len()
        .max(text.to_lowercase().len())
}

/// What a value of `kind` must be, for error details.
pub fn expected(kind: AttributeType) -> &'static str {
    match kind {
        AttributeType::String => "a string",
        AttributeType::Boolean => "a boolean",
        AttributeType::Decimal => "a number",
        AttributeType::Integer => "an integer",
        AttributeType::DateTime => "an RFC 3339 dateTime",
        AttributeType::Binary => "a base64 string",
        AttributeType::Reference => "a URI string",
        AttributeType::Complex => "an object",
    }
}

/// The type check alone: `value` (not null, not an array) as a value of the simple attribute
/// `def`, canonicalised (`"True"`/`"false"` strings, as Entra sends booleans, become booleans);
/// `None` when it is not of the attribute's type. Complex attributes are never simple values.
pub fn of_type(def: &AttributeDef, value: Value) -> Option<Value> {
    match (def.kind, value) {
        (AttributeType::Boolean, Value::Bool(b)) => Some(Value::Bool(b)),
        (AttributeType::Boolean, Value::String(s)) => boolean(&s).map(Value::Bool),
        (AttributeType::String | AttributeType::Reference, v @ Value::String(_)) => Some(v),
        (AttributeType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => {
            Some(Value::Number(n))
        }
        (AttributeType::Decimal, Value::Number(n)) => Some(Value::Number(n)),
        (AttributeType::DateTime, Value::String(s)) => DateTime::parse_from_rfc3339(&s)
            .is_ok()
            .then_some(Value::String(s)),
        (AttributeType::Binary, Value::String(s)) => is_base64(&s).then_some(Value::String(s)),
        _ => None,
    }
}

/// Checks one value (not null, not an array) of the simple attribute `def`, a sub-attribute of
/// `parent` when given; `label` names it in errors (`emails[0].value`). Returns the canonical
/// value. Used for every value a client sends, whichever verb sends it.
pub fn check(
    def: &AttributeDef,
    parent: Option<&str>,
    value: Value,
    label: &str,
) -> Result<Value, ScimError> {
    if let Value::String(s) = &value {
        check_text(parent, &def.name, s, label)?;
        if def.indexed {
            check_len(s, MAX_INDEXED_BYTES, label)?;
        }
    }
    of_type(def, value).ok_or_else(|| type_error(label, def.kind))
}

/// 400 `invalidValue`: the value at `label` is not of the attribute's type. The value itself is
/// not echoed (it may be large).
pub fn type_error(label: &str, kind: AttributeType) -> ScimError {
    ScimError::invalid_value(format!("attribute '{label}' must be {}", expected(kind)))
}

/// Entra's boolean quirk: `"True"`/`"False"` (any case) as strings. Any other string is not a
/// boolean.
pub fn boolean(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn is_base64(s: &str) -> bool {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    STANDARD.decode(s).is_ok() || STANDARD_NO_PAD.decode(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::USER;
    use serde_json::json;

    fn user_attr(name: &str) -> &AttributeDef {
        USER.attribute(name).unwrap_or_else(|| panic!("{name}"))
    }

    #[test]
    fn nul_is_refused_in_every_string() {
        for (parent, name) in [
            (None, "userName"),
            (None, "title"),
            (Some("name"), "givenName"),
        ] {
            let e = check_text(parent, name, "a\0b", name).err();
            assert!(e.is_some_and(|e| e.detail().contains("NUL") && e.detail().contains(name)));
        }
    }

    #[test]
    fn indexed_attributes_have_the_short_limit() {
        assert_eq!(max_bytes(None, "userName"), MAX_INDEXED_BYTES);
        assert_eq!(max_bytes(None, "USERNAME"), MAX_INDEXED_BYTES);
        assert_eq!(max_bytes(Some("emails"), "value"), MAX_INDEXED_BYTES);
        assert_eq!(max_bytes(Some("members"), "value"), MAX_INDEXED_BYTES);
        assert_eq!(max_bytes(None, "title"), MAX_STRING_BYTES);
        assert_eq!(max_bytes(Some("name"), "displayName"), MAX_STRING_BYTES);
        assert_eq!(max_bytes(Some("photos"), "value"), MAX_STRING_BYTES);
        let at_limit = "a".repeat(MAX_INDEXED_BYTES);
        assert!(check_text(None, "userName", &at_limit, "userName").is_ok());
        let over = format!("{at_limit}a");
        assert!(check_text(None, "userName", &over, "userName").is_err());
        assert!(check_text(None, "title", &over, "title").is_ok());
        // Bytes, not characters: 400 two-byte characters are 800 bytes.
        assert!(check_text(None, "userName", &"é".repeat(512), "userName").is_ok());
        assert!(check_text(None, "userName", &"é".repeat(513), "userName").is_err());
        // 300 bytes as sent, 3300 once normalised.
        let expands = "\u{FDFA}".repeat(100);
        assert!(check_text(None, "userName", &expands, "userName").is_err());
        assert!(check_text(None, "title", &expands, "title").is_ok());
    }

    #[test]
    fn types_are_judged_once() {
        let active = user_attr("active");
        assert_eq!(
            check(active, None, json!("True"), "active"),
            Ok(json!(true))
        );
        assert_eq!(
            check(active, None, json!("yes"), "active").map_err(|e| e.detail().to_owned()),
            Err("attribute 'active' must be a boolean".to_owned())
        );
        let user_name = user_attr("userName");
        assert!(check(user_name, None, json!(5), "userName").is_err());
        assert!(check(user_name, None, json!("a\0"), "userName").is_err());
        let x509 = user_attr("x509Certificates");
        let value = x509
            .sub_attribute("value")
            .unwrap_or_else(|| panic!("value"));
        assert!(check(value, Some("x509Certificates"), json!("not base64!"), "v").is_err());
        assert!(check(value, Some("x509Certificates"), json!("TUlJ"), "v").is_ok());
    }
}

//! The `set` format (docs/events.md): Security Event Tokens (RFC 8417) in the SCIM profile of
//! RFC 9967, pushed as RFC 8935 describes, signed ES256 with roster's own key.
//!
//! What an event becomes: one SET per event, its `events` claim holding one RFC 9967 URI
//! ([`event_uri`]), its subject in `sub_id` (format `scim`: the resource's `uri` relative to
//! the SCIM base, its `id` and `externalId`). `:notice` forms are sent, never `:full`: a
//! notice names the changed attributes, and roster sends no personal data in events.
//!
//! The outbox stores the claims that do not depend on configuration ([`claims`]); the worker
//! adds `jti` (the event id, the same on every attempt), `iss` and `aud`, and signs
//! ([`SetSigner::sign`]). ECDSA signatures here are deterministic (RFC 6979), so a retry sends
//! the very same bytes. Pure code: key files and the database are `provisioning::event_key`.

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};

use super::EventType;

/// The media type of a SET (RFC 8417 §7.2), the `Content-Type` of every push (RFC 8935 §2).
pub const MEDIA_TYPE: &str = "application/secevent+jwt";
/// The JOSE `typ` of a SET (RFC 8417 §2.3).
pub const TYP: &str = "secevent+jwt";

/// RFC 9967 §2.4.1: a resource was created; `attributes` names what it was created with.
pub const CREATE_NOTICE: &str = "urn:ietf:params:scim:event:prov:create:notice";
/// RFC 9967 §2.4.2: a resource was modified; `attributes` names what changed.
pub const PATCH_NOTICE: &str = "urn:ietf:params:scim:event:prov:patch:notice";
/// RFC 9967 §2.4.4: a resource was deleted.
pub const DELETE: &str = "urn:ietf:params:scim:event:prov:delete";
/// RFC 9967 §2.4.5: a user was activated (`active` became true).
pub const ACTIVATE: &str = "urn:ietf:params:scim:event:prov:activate";
/// RFC 9967 §2.4.6: a user was deactivated (`active` became false).
pub const DEACTIVATE: &str = "urn:ietf:params:scim:event:prov:deactivate";
/// The OpenID Shared Signals Framework's verification event: what `POST …/{id}/test` sends a
/// `set` subscription, since RFC 9967 defines no test event.
pub const VERIFICATION: &str = "https://schemas.openid.net/secevent/ssf/event-type/verification";

/// roster's own event (RFC 9967 defines none for it): an admin put a user on hold.
pub const HOLD: &str = "urn:x-roster:event:user:hold";
/// roster's own event: an admin lifted a user's hold.
pub const RELEASE: &str = "urn:x-roster:event:user:release";

/// roster's own event: an admin restored a deleted user (RFC 9967 has no undelete).
pub const RESTORE: &str = "urn:x-roster:event:user:restore";

/// roster's own event: a deleted user was purged for good.
pub const PURGE: &str = "urn:x-roster:event:user:purge";

/// Every RFC 9967 event URI roster sends: `securityEvents.eventUris` of
/// `/ServiceProviderConfig` (RFC 9967 §4).
pub const EVENT_URIS: [&str; 5] = [CREATE_NOTICE, PATCH_NOTICE, DELETE, ACTIVATE, DEACTIVATE];

/// The RFC 9967 event URI of a lifecycle event. An update is a `patch:notice` whichever
/// request made it (PATCH, PUT or the admin API): roster reports which attributes changed, not
/// the request.
pub fn event_uri(kind: EventType) -> &'static str {
    match kind {
        EventType::UserCreated | EventType::GroupCreated => CREATE_NOTICE,
        EventType::UserUpdated | EventType::GroupUpdated => PATCH_NOTICE,
        EventType::UserDeactivated => DEACTIVATE,
        EventType::UserReactivated => ACTIVATE,
        EventType::UserDeleted | EventType::GroupDeleted => DELETE,
        EventType::UserHeld => HOLD,
        EventType::UserReleased => RELEASE,
        EventType::UserRestored => RESTORE,
        EventType::UserPurged => PURGE,
    }
}

/// What one SET says about one change, before `jti`, `iss` and `aud` are added.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub kind: EventType,
    /// `User` or `Group`.
    pub resource_type: &'a str,
    pub id: &'a str,
    pub external_id: Option<&'a str>,
    /// Names of the attributes the change set (never their values).
    pub attributes: &'a [String],
    pub occurred_at: DateTime<Utc>,
    /// The `txn` claim (RFC 8417 §2.2).
    pub txn: &'a str,
}

/// The stored claims of a change's SET: `iat`, `toe`, `txn`, `sub_id` and `events`.
pub fn claims(change: &Change<'_>) -> Value {
    let endpoint = match change.resource_type {
        "Group" => "Groups",
        _ => "Users",
    };
    let mut subject = Map::new();
    subject.insert("format".to_owned(), json!("scim"));
    subject.insert(
        "uri".to_owned(),
        json!(format!("/{endpoint}/{}", change.id)),
    );
    subject.insert("id".to_owned(), json!(change.id));
    if let Some(external_id) = change.external_id {
        subject.insert("externalId".to_owned(), json!(external_id));
    }
    let uri = event_uri(change.kind);
    let payload = if uri == CREATE_NOTICE || uri == PATCH_NOTICE {
        json!({ "attributes": change.attributes })
    } else {
        json!({})
    };
    let at = change.occurred_at.timestamp();
    json!({
        "iat": at,
        "toe": at,
        "txn": change.txn,
        "sub_id": subject,
        "events": { uri: payload },
    })
}

/// The stored claims of a test ping to the subscription `subscription`.
pub fn ping_claims(subscription: &str, at: DateTime<Utc>) -> Value {
    json!({
        "iat": at.timestamp(),
        "sub_id": {"format": "opaque", "id": subscription},
        "events": { VERIFICATION: {} },
    })
}

/// What is wrong with a signing key or a stored SET.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    /// The key is not a PKCS#8 PEM EC P-256 private key.
    #[error(
        "not a PKCS#8 PEM EC P-256 private key ({0}); make one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`"
    )]
    BadKey(String),
    /// No randomness for a new key.
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    /// The stored claims are not a JSON object.
    #[error("the stored SET claims are not a JSON object")]
    BadClaims,
    /// Signing failed.
    #[error("cannot sign the SET: {0}")]
    Sign(String),
}

/// roster's SET signing key: the ES256 private key, its `kid` (the RFC 7638 thumbprint of its
/// public JWK) and the public JWK itself.
#[derive(Clone)]
pub struct SetSigner {
    key: EncodingKey,
    kid: String,
    public: Jwk,
}

impl std::fmt::Debug for SetSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SetSigner {
    /// The signer of a PKCS#8 PEM EC P-256 private key.
    pub fn from_pem(pem: &[u8]) -> Result<SetSigner, SetError> {
        let key = EncodingKey::from_ec_pem(pem).map_err(|e| SetError::BadKey(e.to_string()))?;
        // Fails unless the key is a P-256 key in PKCS#8 form.
        let mut public = Jwk::from_encoding_key(&key, Algorithm::ES256)
            .map_err(|e| SetError::BadKey(e.to_string()))?;
        let kid = public
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| SetError::BadKey(e.to_string()))?;
        public.common.key_id = Some(kid.clone());
        public.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(SetSigner { key, kid, public })
    }

    /// A fresh EC P-256 private key as PKCS#8 PEM, from the operating system's randomness.
    pub fn generate_pem() -> Result<String, SetError> {
        use p256::pkcs8::{EncodePrivateKey, LineEnding};
        // A random 32-byte string is a valid scalar but for a chance of about 2^-32; draw again
        // in that case.
        for _ in 0..8 {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| SetError::Random(e.to_string()))?;
            if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
                let pem = secret
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| SetError::BadKey(e.to_string()))?;
                return Ok(pem.as_str().to_owned());
            }
        }
        Err(SetError::Random("no valid P-256 scalar drawn".to_owned()))
    }

    /// The key's id, the `kid` of every SET's header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK Set served at `/.well-known/jwks.json` (RFC 7517 §5).
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.public] })
    }

    /// The compact JWS of a SET: the stored `claims` with `jti`, `iss` and `aud` first, signed
    /// ES256 with `typ: secevent+jwt` and this key's `kid`.
    pub fn sign(&self, claims: &str, jti: &str, iss: &str, aud: &str) -> Result<String, SetError> {
        let Ok(Value::Object(stored)) = serde_json::from_str::<Value>(claims) else {
            return Err(SetError::BadClaims);
        };
        let mut all = Map::new();
        all.insert("jti".to_owned(), json!(jti));
        all.insert("iss".to_owned(), json!(iss));
        all.insert("aud".to_owned(), json!(aud));
        all.extend(stored);
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(TYP.to_owned());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &Value::Object(all), &self.key)
            .map_err(|e| SetError::Sign(e.to_string()))
    }
}

/// The error body of RFC 8935 §2.3 (`{"err": "…", "description": "…"}`), in words for
/// `lastError`; `None` when `body` is not one.
pub fn describe_error_body(body: &[u8]) -> Option<String> {
    let Ok(Value::Object(error)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let err = error.get("err")?.as_str()?;
    Some(match error.get("description").and_then(Value::as_str) {
        Some(description) => format!("the receiver refused the SET: {err}: {description}"),
        None => format!("the receiver refused the SET: {err}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use jsonwebtoken::{DecodingKey, Validation};

    fn decode_part(part: &str) -> Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn change(kind: EventType, attributes: &[String]) -> Value {
        claims(&Change {
            kind,
            resource_type: "User",
            id: "u1",
            external_id: Some("00u1"),
            attributes,
            occurred_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            txn: "evt_1",
        })
    }

    #[test]
    fn each_lifecycle_event_has_its_rfc_9967_uri_and_a_scim_subject() {
        let created = change(EventType::UserCreated, &["userName".to_owned()]);
        assert_eq!(
            created,
            json!({
                "iat": 1_700_000_000,
                "toe": 1_700_000_000,
                "txn": "evt_1",
                "sub_id": {"format": "scim", "uri": "/Users/u1", "id": "u1", "externalId": "00u1"},
                "events": {CREATE_NOTICE: {"attributes": ["userName"]}},
            })
        );
        assert_eq!(
            change(EventType::UserDeactivated, &[])["events"],
            json!({DEACTIVATE: {}})
        );
        assert_eq!(
            change(EventType::UserReactivated, &[])["events"],
            json!({ACTIVATE: {}})
        );
        assert_eq!(
            change(EventType::UserDeleted, &[])["events"],
            json!({DELETE: {}})
        );
        assert_eq!(
            change(EventType::UserUpdated, &["name".to_owned()])["events"],
            json!({PATCH_NOTICE: {"attributes": ["name"]}})
        );
        let group = claims(&Change {
            kind: EventType::GroupUpdated,
            resource_type: "Group",
            id: "g1",
            external_id: None,
            attributes: &["members".to_owned()],
            occurred_at: DateTime::from_timestamp(1, 0).unwrap(),
            txn: "evt_2",
        });
        assert_eq!(
            group["sub_id"],
            json!({"format": "scim", "uri": "/Groups/g1", "id": "g1"})
        );
    }

    #[test]
    fn a_generated_key_signs_sets_its_jwks_verifies() {
        let pem = SetSigner::generate_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
        let signer = SetSigner::from_pem(pem.as_bytes()).unwrap();
        let other = SetSigner::from_pem(SetSigner::generate_pem().unwrap().as_bytes()).unwrap();
        assert_ne!(signer.kid(), other.kid());
        let stored = change(EventType::UserDeactivated, &[]).to_string();
        let token = signer
            .sign(
                &stored,
                "evt_1",
                "https://roster.example.com",
                "https://app.example.com/",
            )
            .unwrap();
        assert_eq!(
            token,
            signer
                .sign(
                    &stored,
                    "evt_1",
                    "https://roster.example.com",
                    "https://app.example.com/"
                )
                .unwrap(),
            "a retry sends the same bytes"
        );
        let header = decode_part(token.split('.').next().unwrap());
        assert_eq!(header["typ"], TYP);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], signer.kid());

        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(signer.jwks()).unwrap();
        assert_eq!(jwks.keys.len(), 1);
        let jwk = jwks.find(signer.kid()).unwrap();
        let json = serde_json::to_value(jwk).unwrap();
        assert!(json.get("d").is_none(), "public only: {json}");
        assert_eq!(json["use"], "sig");
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&["https://app.example.com/"]);
        validation.set_issuer(&["https://roster.example.com"]);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let decoded = jsonwebtoken::decode::<Value>(
            &token,
            &DecodingKey::from_jwk(jwk).unwrap(),
            &validation,
        )
        .unwrap();
        assert_eq!(decoded.claims["jti"], "evt_1");
        assert_eq!(decoded.claims["events"], json!({DEACTIVATE: {}}));
        let foreign = other.jwks();
        let foreign: jsonwebtoken::jwk::JwkSet = serde_json::from_value(foreign).unwrap();
        assert!(
            jsonwebtoken::decode::<Value>(
                &token,
                &DecodingKey::from_jwk(&foreign.keys[0]).unwrap(),
                &validation
            )
            .is_err()
        );
    }

    #[test]
    fn keys_other_than_pkcs8_p256_are_refused() {
        assert!(matches!(
            SetSigner::from_pem(b"not a key"),
            Err(SetError::BadKey(_))
        ));
    }

    #[test]
    fn rfc_8935_error_bodies_are_described() {
        assert_eq!(
            describe_error_body(br#"{"err":"invalid_audience","description":"wrong aud"}"#),
            Some("the receiver refused the SET: invalid_audience: wrong aud".to_owned())
        );
        assert_eq!(describe_error_body(b"oops"), None);
    }
}

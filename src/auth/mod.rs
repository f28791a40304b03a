//! Who is calling: the bearer JWT every request carries (docs/architecture.md §5).
//!
//! This module owns the token vocabulary ([`Role`], [`Claims`]), the key material
//! ([`keys`]: the HS256 secret, PEM and JWKS public keys) and the cryptography
//! ([`token`]: [`Verifier`] for incoming tokens, [`Signer`] for `roster token create`).
//! It knows nothing about HTTP, the database or revocation: the request extractor
//! builds on [`Verifier::verify`] and then checks `jti` revocation and `sub` activity.

pub mod keys;
pub mod token;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use self::keys::{Secret, load_or_create_secret};
pub use self::token::{AuthError, JwtSettings, KeyError, Signer, Verifier};

/// What a token may do: `/scim/v2` needs [`Role::Provisioner`] or [`Role::Admin`],
/// `/admin/v1` needs [`Role::Admin`] (docs/architecture.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An identity provider's connector (Okta, Entra ID) provisioning users and groups.
    Provisioner,
    /// An administrator of one organisation.
    Admin,
}

impl Role {
    /// The claim value: `"provisioner"` or `"admin"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Provisioner => "provisioner",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is neither `provisioner` nor `admin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the role must be `provisioner` or `admin`")]
pub struct ParseRoleError;

impl FromStr for Role {
    type Err = ParseRoleError;

    /// Parses the exact, lowercase claim value, as the CLI's `--role` flag and the `role` claim spell it.
    fn from_str(s: &str) -> Result<Role, ParseRoleError> {
        match s {
            "provisioner" => Ok(Role::Provisioner),
            "admin" => Ok(Role::Admin),
            _ => Err(ParseRoleError),
        }
    }
}

/// The verified claims of a roster token (RFC 7519 §4.1 registered claims plus `org` and `role`).
///
/// A value of this type coming out of [`Verifier::verify`] has had its signature, `iss`, `aud`,
/// `exp`, `nbf` and `iat` checked; `aud` then holds the configured audience even when the token
/// carried an array of audiences (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer (RFC 7519 §4.1.1); equals `ROSTER_JWT_ISSUER`.
    pub iss: String,
    /// Audience (RFC 7519 §4.1.3); equals `ROSTER_JWT_AUDIENCE`.
    pub aud: String,
    /// The tenant slug every query of this request is scoped to.
    pub org: String,
    /// What the caller may do.
    pub role: Role,
    /// Token id (RFC 7519 §4.1.7), the handle for `roster token revoke`.
    pub jti: String,
    /// The roster user id the token acts as (RFC 7519 §4.1.2); when that user is deactivated
    /// the token stops working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Expiry in unix seconds (RFC 7519 §4.1.4); `None` for long-lived connector tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time in unix seconds (RFC 7519 §4.1.6).
    pub iat: i64,
}

/// The caller of a request once its token is verified: the org every query is scoped to, what
/// it may do, and the user it acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub org: crate::ids::OrgId,
    pub role: Role,
    /// The user the token acts as (`sub`); refused while that user is deactivated.
    pub subject: Option<crate::ids::UserId>,
    /// The token id (`jti`), checked against the revocation list.
    pub token_id: String,
}

impl Principal {
    /// Checks the claims' shape beyond the signature: a valid org slug and, when present, a
    /// `sub` that can name a roster user.
    pub fn from_claims(claims: Claims) -> Result<Principal, String> {
        let org = crate::ids::OrgId::parse(&claims.org)
            .map_err(|e| format!("the token's `org` claim is invalid: {e}"))?;
        let subject = match claims.sub {
            Some(sub) => Some(crate::ids::UserId::parse(&sub).ok_or_else(|| {
                format!("the token's `sub` claim '{sub}' is not a roster user id")
            })?),
            None => None,
        };
        Ok(Principal {
            org,
            role: claims.role,
            subject,
            token_id: claims.jti,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_round_trips_through_str_and_serde() {
        for role in [Role::Provisioner, Role::Admin] {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{role}\""));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), role);
        }
        assert_eq!("Admin".parse::<Role>(), Err(ParseRoleError));
        assert_eq!("root".parse::<Role>(), Err(ParseRoleError));
    }

    #[test]
    fn claims_omit_absent_optional_fields() {
        let claims = Claims {
            iss: "roster".into(),
            aud: "scim".into(),
            org: "default".into(),
            role: Role::Admin,
            jti: "j".into(),
            sub: None,
            exp: None,
            iat: 1,
        };
        let json = serde_json::to_value(&claims).unwrap();
        assert!(json.get("sub").is_none());
        assert!(json.get("exp").is_none());
        assert_eq!(json["role"], "admin");
    }
}

//! JWT verification ([`Verifier`], for every request) and issuing ([`Signer`], for
//! `roster token create`), with their errors ([`AuthError`]).
//!
//! The rules (docs/architecture.md §5):
//! - The algorithm comes from the configured allow-list; the token's header only picks among the
//!   allowed ones, and must fit the key it is verified with. HMAC tokens are verified with the
//!   shared secret only, asymmetric tokens with public keys only, so a public key can never be
//!   abused as an HMAC secret. `alg: none` is never allowed.
//! - `iss` and `aud` are always checked. `exp` is optional (IdP connector tokens are often
//!   long-lived) but enforced when present; so are `nbf` and `iat`, all with a leeway, against a
//!   `now` the caller passes in (the wall clock is read only in `src/clock.rs`).
//! - `org`, `role` and `jti` are required.
//!
//! A connector sends the same token with every request, so [`Verifier`] remembers the tokens it
//! has verified (a bounded map from the exact token text to its claims and the time window in
//! which those claims hold): a token seen before is not decoded and its signature not checked
//! again while the window holds. The keys are fixed for the verifier's life, so the answer cannot
//! change; revocation and the subject's deactivation are not a matter of the token and are read
//! from the database on every request (`provisioning::access`).

use std::fmt;
use std::path::PathBuf;
use std::sync::PoisonError;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

pub use super::keys::KeyError;
use super::keys::{KeySource, PublicKey, PublicKeys, Secret};
use super::{Claims, Role};

/// Tokens longer than this are refused before any parsing: no legitimate roster or IdP token
/// comes close, and it bounds the work an anonymous caller can cause.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The default clock skew tolerated for `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 60;

/// How incoming tokens are verified (`ROSTER_JWT_*`: docs/configuration.md).
#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// The HS256 shared secret (`ROSTER_JWT_SECRET`, or the generated one).
    pub secret: Option<Secret>,
    /// `ROSTER_JWT_PUBLIC_KEYS`: a file of one or more PEM public keys (RSA or EC), or a JWKS
    /// JSON document.
    pub public_keys: Option<PathBuf>,
    /// The required `iss` (`ROSTER_JWT_ISSUER`).
    pub issuer: String,
    /// The audience that must be among the token's `aud` (`ROSTER_JWT_AUDIENCE`).
    pub audience: String,
    /// The allow-list. Empty means: HS256 when there is a secret, plus RS256 / ES256 (ES384 for
    /// P-384 keys, or the JWK's own `alg`) for the public keys present.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated for `exp`, `nbf` and `iat`; [`DEFAULT_LEEWAY_SECONDS`] by default.
    pub leeway_seconds: u64,
}

/// Why a token was refused, or could not be issued. Each message tells a person what to fix;
/// none contains the token or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not three base64url parts with a JSON header and payload.
    #[error("the token is not a well-formed JWT (three base64url parts separated by dots)")]
    Malformed,
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("the token is longer than 16 KiB")]
    TooLong,
    /// The header's `alg` is known but not in the allow-list (or is `none`).
    #[error("the token's algorithm {0} is not allowed here")]
    AlgorithmNotAllowed(String),
    /// The header's `alg` is missing or is no algorithm roster knows.
    #[error("the token's algorithm is missing or unknown")]
    UnknownAlgorithm,
    /// The header has `crit` (RFC 7515 §4.1.11), whose extensions must be understood.
    #[error(
        "the token's header marks extensions as critical (`crit`), which roster does not support"
    )]
    CriticalHeader,
    /// No configured key fits the header's `kid` and `alg`.
    #[error(
        "no configured key matches the token's key id (`kid`) and algorithm; if the issuer rotated \
         its keys, update ROSTER_JWT_PUBLIC_KEYS"
    )]
    NoMatchingKey,
    /// No `kid`, and more than one JWKS key could have signed it.
    #[error(
        "the token has no key id (`kid`) and several configured keys fit its algorithm; the issuer \
         must set `kid`"
    )]
    AmbiguousKey,
    /// The signature does not verify.
    #[error("the token's signature does not verify against the configured keys")]
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is still ahead (beyond the leeway).
    #[error("the token is not valid yet (its `nbf` is in the future)")]
    NotYetValid,
    /// `iat` is ahead (beyond the leeway).
    #[error("the token's `iat` is in the future; check the issuer's clock")]
    IssuedInFuture,
    /// `iss` is not the configured issuer.
    #[error("the token's issuer does not match ROSTER_JWT_ISSUER")]
    WrongIssuer,
    /// The configured audience is not among `aud`.
    #[error("the token's audience does not include ROSTER_JWT_AUDIENCE")]
    WrongAudience,
    /// A required claim is absent.
    #[error("the token is missing the `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim is present but empty or of the wrong JSON type.
    #[error("the token's `{0}` claim is empty or of the wrong type")]
    InvalidClaim(&'static str),
    /// `role` is a string other than the two roles.
    #[error("the token's `role` claim must be `provisioner` or `admin`")]
    UnknownRole,
    /// Issuing with a secret shorter than 32 bytes.
    #[error(
        "the signing secret is {len} bytes long; set ROSTER_JWT_SECRET to at least 32 characters"
    )]
    WeakSecret {
        /// The secret's length in bytes.
        len: usize,
    },
    /// `now + ttl` does not fit a timestamp.
    #[error("the token lifetime is too long")]
    TtlTooLong,
    /// The cryptographic library refused to sign.
    #[error("the token could not be signed: {0}")]
    Signing(String),
}

/// Verifies bearer tokens. Build it once at start-up; it holds the parsed keys.
pub struct Verifier {
    /// Tokens verified before, by their exact text ([`Verifier::verify`]).
    verified: std::sync::RwLock<std::collections::HashMap<Box<str>, Verified>>,
    hmac: Option<DecodingKey>,
    public: Option<PublicKeys>,
    algorithms: Vec<Algorithm>,
    issuer: String,
    audience: String,
    leeway: i64,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("hmac", &self.hmac.as_ref().map(|_| "**redacted**"))
            .field("public", &self.public)
            .field("algorithms", &self.algorithms)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .finish()
    }
}

impl Verifier {
    /// Loads the keys and fixes the allow-list. Fails when no key is configured, a key file is
    /// unreadable or malformed, the secret is shorter than 32 bytes, or an allowed algorithm has
    /// no key that could verify it (a configuration mistake better caught at start-up).
    pub fn new(settings: &JwtSettings) -> Result<Verifier, KeyError> {
        let hmac = match &settings.secret {
            Some(secret) => {
                secret.check_length()?;
                Some(DecodingKey::from_secret(secret.expose()))
            }
            None => None,
        };
        let public = settings
            .public_keys
            .as_deref()
            .map(PublicKeys::load)
            .transpose()?;
        if hmac.is_none() && public.is_none() {
            return Err(KeyError::NoKeyConfigured);
        }
        let public_keys: &[PublicKey] = public.as_ref().map_or(&[], |p| &p.keys);

        let mut algorithms = Vec::new();
        if settings.algorithms.is_empty() {
            let derived = hmac
                .iter()
                .map(|_| Algorithm::HS256)
                .chain(public_keys.iter().map(PublicKey::default_algorithm));
            for alg in derived {
                if !algorithms.contains(&alg) {
                    algorithms.push(alg);
                }
            }
        } else {
            for &alg in &settings.algorithms {
                let has_key = match alg.family() {
                    AlgorithmFamily::Hmac => hmac.is_some(),
                    AlgorithmFamily::Rsa | AlgorithmFamily::Ec => {
                        public_keys.iter().any(|k| k.accepts(alg))
                    }
                    AlgorithmFamily::Ed => return Err(KeyError::UnsupportedAlgorithm(alg)),
                };
                if !has_key {
                    return Err(KeyError::AlgorithmWithoutKey(alg));
                }
                if !algorithms.contains(&alg) {
                    algorithms.push(alg);
                }
            }
            if hmac.is_some()
                && !algorithms
                    .iter()
                    .any(|a| a.family() == AlgorithmFamily::Hmac)
            {
                tracing::info!("the JWT secret is not used: no HMAC algorithm is allowed");
            }
            for key in public_keys
                .iter()
                .filter(|k| !algorithms.iter().any(|&a| k.accepts(a)))
            {
                tracing::warn!(kid = ?key.kid, kind = ?key.kind, "a public key is not used: none of the allowed algorithms fits it");
            }
        }

        Ok(Verifier {
            verified: std::sync::RwLock::default(),
            hmac,
            public,
            algorithms,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            leeway: i64::try_from(settings.leeway_seconds).unwrap_or(i64::MAX),
        })
    }

    /// The algorithms this verifier accepts, in order.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// Verifies `token` (the text after `Bearer `) and returns its claims. `now` is unix seconds.
    ///
    /// The signature is checked before any claim is looked at; then `iss`, `aud`
    /// (RFC 7519 §4.1.3: a string or an array), `exp`, `nbf`, `iat`, and roster's own claims.
    ///
    /// A token verified before is answered from memory while `now` lies in the window its
    /// `exp`, `nbf` and `iat` (with the leeway) allow; outside it, it is verified anew, which
    /// gives the precise error.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, AuthError> {
        // The map only ever holds verified tokens, so a lock poisoned by a panic elsewhere
        // leaves it usable.
        if let Some(hit) = self
            .verified
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .filter(|hit| hit.holds_at(now))
        {
            return Ok(hit.claims.clone());
        }
        let verified = self.verify_anew(token, now)?;
        let claims = verified.claims.clone();
        if token.len() <= MAX_REMEMBERED_TOKEN_LEN {
            let mut remembered = self
                .verified
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if remembered.len() >= MAX_REMEMBERED_TOKENS {
                // Bounded memory: start over rather than track use (connectors use few tokens).
                remembered.clear();
            }
            remembered.insert(token.into(), verified);
        }
        Ok(claims)
    }

    /// [`Verifier::verify`] without the memory of earlier tokens.
    fn verify_anew(&self, token: &str, now: i64) -> Result<Verified, AuthError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::TooLong);
        }
        let header = RawHeader::parse(token)?;
        let alg = self.allowed_algorithm(&header.alg)?;
        let payload = self.verify_signature(token, alg, header.kid.as_deref())?;
        self.claims(&payload, now)
    }

    fn allowed_algorithm(&self, name: &str) -> Result<Algorithm, AuthError> {
        if name.eq_ignore_ascii_case("none") {
            return Err(AuthError::AlgorithmNotAllowed("none".into()));
        }
        let alg: Algorithm = name.parse().map_err(|_| AuthError::UnknownAlgorithm)?;
        if !self.algorithms.contains(&alg) {
            // `name` parsed as a known algorithm, so echoing it cannot inject anything.
            return Err(AuthError::AlgorithmNotAllowed(name.to_owned()));
        }
        Ok(alg)
    }

    /// Picks the candidate keys for `alg` and `kid`, and returns the payload of the first key the
    /// signature verifies with.
    fn verify_signature(
        &self,
        token: &str,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<Map<String, Value>, AuthError> {
        let candidates: Vec<&DecodingKey> = match alg.family() {
            AlgorithmFamily::Hmac => self.hmac.iter().collect(),
            AlgorithmFamily::Rsa | AlgorithmFamily::Ec => self.public_candidates(alg, kid)?,
            AlgorithmFamily::Ed => Vec::new(),
        };
        if candidates.is_empty() {
            return Err(AuthError::NoMatchingKey);
        }

        // Only the header's algorithm, already checked against the allow-list and the key's
        // family; jsonwebtoken's own time and audience checks are off (they read the wall clock
        // and cannot express roster's rules), everything else is checked in `claims`.
        let mut validation = Validation::new(alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;

        for key in candidates {
            match jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) => match e.kind() {
                    // The next key may be the right one.
                    ErrorKind::InvalidSignature
                    | ErrorKind::InvalidEcdsaKey
                    | ErrorKind::InvalidRsaKey(_)
                    | ErrorKind::InvalidKeyFormat => {}
                    ErrorKind::Base64(_)
                    | ErrorKind::Json(_)
                    | ErrorKind::Utf8(_)
                    | ErrorKind::InvalidToken => return Err(AuthError::Malformed),
                    other => {
                        tracing::debug!(error = ?other, "token refused by jsonwebtoken");
                        return Err(AuthError::BadSignature);
                    }
                },
            }
        }
        Err(AuthError::BadSignature)
    }

    /// RFC 7515 §4.1.4: with a `kid`, only the keys carrying that id; without one, every PEM key
    /// that fits, or the single JWKS key that fits.
    fn public_candidates(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<Vec<&DecodingKey>, AuthError> {
        let Some(public) = &self.public else {
            return Ok(Vec::new());
        };
        let fitting = || public.keys.iter().filter(move |k| k.accepts(alg));
        let any_kids = public.keys.iter().any(|k| k.kid.is_some());
        let chosen: Vec<&PublicKey> = match kid {
            Some(kid) if any_kids => fitting()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .collect(),
            _ => {
                let all: Vec<&PublicKey> = fitting().collect();
                if public.source == KeySource::Jwks && all.len() > 1 {
                    return Err(AuthError::AmbiguousKey);
                }
                all
            }
        };
        Ok(chosen.into_iter().map(PublicKey::decoding_key).collect())
    }

    fn claims(&self, payload: &Map<String, Value>, now: i64) -> Result<Verified, AuthError> {
        let iss = string_claim(payload, "iss")?.ok_or(AuthError::MissingClaim("iss"))?;
        if iss != self.issuer {
            return Err(AuthError::WrongIssuer);
        }
        let audience_ok = match payload.get("aud") {
            None => return Err(AuthError::MissingClaim("aud")),
            Some(Value::String(aud)) => *aud == self.audience,
            Some(Value::Array(auds)) => {
                if !auds.iter().all(Value::is_string) {
                    return Err(AuthError::InvalidClaim("aud"));
                }
                auds.iter()
                    .any(|a| a.as_str() == Some(self.audience.as_str()))
            }
            Some(_) => return Err(AuthError::InvalidClaim("aud")),
        };
        if !audience_ok {
            return Err(AuthError::WrongAudience);
        }

        let exp = numeric_claim(payload, "exp")?;
        if exp.is_some_and(|exp| now >= exp.saturating_add(self.leeway)) {
            return Err(AuthError::Expired);
        }
        let nbf = numeric_claim(payload, "nbf")?;
        if nbf.is_some_and(|nbf| now.saturating_add(self.leeway) < nbf) {
            return Err(AuthError::NotYetValid);
        }
        let iat = numeric_claim(payload, "iat")?.ok_or(AuthError::MissingClaim("iat"))?;
        if iat > now.saturating_add(self.leeway) {
            return Err(AuthError::IssuedInFuture);
        }

        let org = required_text(payload, "org")?;
        let role = match string_claim(payload, "role")? {
            None => return Err(AuthError::MissingClaim("role")),
            Some(role) => role.parse::<Role>().map_err(|_| AuthError::UnknownRole)?,
        };
        let jti = required_text(payload, "jti")?;
        let sub = match string_claim(payload, "sub")? {
            Some("") => return Err(AuthError::InvalidClaim("sub")),
            sub => sub.map(str::to_owned),
        };

        let claims = Claims {
            iss: iss.to_owned(),
            aud: self.audience.clone(),
            org,
            role,
            jti,
            sub,
            exp,
            iat,
        };
        // The window in which these time checks pass, for the memory of verified tokens.
        Ok(Verified {
            from: iat.max(nbf.unwrap_or(i64::MIN)).saturating_sub(self.leeway),
            until: exp.map(|exp| exp.saturating_add(self.leeway)),
            claims,
        })
    }
}

/// At most this many verified tokens are remembered; the memory starts over when full.
const MAX_REMEMBERED_TOKENS: usize = 1024;

/// Longer tokens are verified every time: the memory holds at most 1,024 tokens of 2 KiB and
/// their claims (a few MiB at worst).
const MAX_REMEMBERED_TOKEN_LEN: usize = 2048;

/// A verified token's claims and the unix seconds in which its time checks pass: from `from`
/// on (`nbf` and `iat` less the leeway), until before `until` (`exp` plus the leeway).
#[derive(Debug, Clone)]
struct Verified {
    claims: Claims,
    from: i64,
    until: Option<i64>,
}

impl Verified {
    fn holds_at(&self, now: i64) -> bool {
        now >= self.from && self.until.is_none_or(|until| now < until)
    }
}

/// The two header fields roster looks at before verifying, read without trusting anything else.
struct RawHeader {
    alg: String,
    kid: Option<String>,
}

impl RawHeader {
    fn parse(token: &str) -> Result<RawHeader, AuthError> {
        let mut parts = token.split('.');
        let (Some(header), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed);
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| AuthError::Malformed)?;
        let header: Map<String, Value> =
            serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)?;
        if header.contains_key("crit") {
            return Err(AuthError::CriticalHeader);
        }
        let alg = match header.get("alg") {
            Some(Value::String(alg)) => alg.clone(),
            _ => return Err(AuthError::UnknownAlgorithm),
        };
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(AuthError::Malformed),
        };
        Ok(RawHeader { alg, kid })
    }
}

fn string_claim<'a>(
    payload: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, AuthError> {
    match payload.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AuthError::InvalidClaim(name)),
    }
}

fn required_text(payload: &Map<String, Value>, name: &'static str) -> Result<String, AuthError> {
    match string_claim(payload, name)? {
        None => Err(AuthError::MissingClaim(name)),
        Some("") => Err(AuthError::InvalidClaim(name)),
        Some(s) => Ok(s.to_owned()),
    }
}

/// A NumericDate (RFC 7519 §2): seconds, possibly fractional; fractions are truncated down.
fn numeric_claim(
    payload: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, AuthError> {
    let Some(value) = payload.get(name) else {
        return Ok(None);
    };
    let invalid = AuthError::InvalidClaim(name);
    let Value::Number(number) = value else {
        return Err(invalid);
    };
    if let Some(n) = number.as_i64() {
        return Ok(Some(n));
    }
    match number.as_f64() {
        // Beyond ±2^62 seconds no timestamp is meaningful; refusing keeps the cast exact enough.
        Some(f) if f.is_finite() && f.abs() < 4.6e18 => Ok(Some(f.floor() as i64)),
        _ => Err(invalid),
    }
}

/// Issues HS256 tokens with the shared secret: what `roster token create` prints for pasting
/// into Okta or Entra ID.
pub struct Signer {
    key: EncodingKey,
    secret_len: usize,
    issuer: String,
    audience: String,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key", &"**redacted**")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl Signer {
    /// A signer for tokens with this `iss` and `aud`. A secret shorter than 32 bytes is refused
    /// by [`Signer::issue`] ([`AuthError::WeakSecret`]); call [`Secret::check_length`] first to
    /// report it at start-up.
    pub fn new(secret: &Secret, issuer: &str, audience: &str) -> Signer {
        Signer {
            key: EncodingKey::from_secret(secret.expose()),
            secret_len: secret.expose().len(),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        }
    }

    /// Mints a token with a fresh random `jti` (UUID v4), `iat = now`, and `exp = now + ttl`
    /// (whole seconds) when `ttl` is given; without `ttl` the token lives until revoked.
    pub fn issue(
        &self,
        org: &str,
        role: Role,
        sub: Option<&str>,
        ttl: Option<Duration>,
        now: i64,
    ) -> Result<(String, Claims), AuthError> {
        if self.secret_len < super::keys::MIN_SECRET_LEN {
            return Err(AuthError::WeakSecret {
                len: self.secret_len,
            });
        }
        if org.is_empty() {
            return Err(AuthError::MissingClaim("org"));
        }
        if sub == Some("") {
            return Err(AuthError::InvalidClaim("sub"));
        }
        let exp = match ttl {
            None => None,
            Some(ttl) => {
                let secs = i64::try_from(ttl.as_secs()).map_err(|_| AuthError::TtlTooLong)?;
                Some(now.checked_add(secs).ok_or(AuthError::TtlTooLong)?)
            }
        };
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            org: org.to_owned(),
            role,
            jti: uuid::Uuid::new_v4().to_string(),
            sub: sub.map(str::to_owned),
            exp,
            iat: now,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .map_err(|e| AuthError::Signing(e.to_string()))?;
        Ok((token, claims))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;

    const SECRET: &str = "an hs256 test secret of 32+ bytes!";
    const ISSUER: &str = "https://idp.example.com";
    const AUDIENCE: &str = "roster";
    const NOW: i64 = 1_700_000_000;

    const RSA_PUBLIC: &str = include_str!("../../tests/fixtures/keys/rsa_public.pem");
    const RSA_PRIVATE: &str = include_str!("../../tests/fixtures/keys/rsa_private.pem");
    const RSA2_PUBLIC: &str = include_str!("../../tests/fixtures/keys/rsa2_public.pem");
    const RSA2_PRIVATE: &str = include_str!("../../tests/fixtures/keys/rsa2_private.pem");
    const EC_PUBLIC: &str = include_str!("../../tests/fixtures/keys/ec_public.pem");
    const EC_PRIVATE: &str = include_str!("../../tests/fixtures/keys/ec_private.pem");
    const JWKS: &str = include_str!("../../tests/fixtures/keys/jwks.json");

    /// A verifier plus the temporary directory its key file lives in.
    struct Fixture {
        verifier: Verifier,
        _dir: tempfile::TempDir,
    }

    fn settings(
        secret: Option<&str>,
        keys: Option<&Path>,
        algorithms: &[Algorithm],
    ) -> JwtSettings {
        JwtSettings {
            secret: secret.map(Secret::from_config),
            public_keys: keys.map(Path::to_path_buf),
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            algorithms: algorithms.to_vec(),
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
        }
    }

    fn verifier(secret: Option<&str>, key_file: Option<&str>, algorithms: &[Algorithm]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = key_file.map(|contents| {
            let path = dir.path().join("keys");
            std::fs::write(&path, contents).unwrap();
            path
        });
        let verifier = Verifier::new(&settings(secret, path.as_deref(), algorithms)).unwrap();
        Fixture {
            verifier,
            _dir: dir,
        }
    }

    fn payload() -> Value {
        json!({
            "iss": ISSUER, "aud": AUDIENCE, "org": "acme", "role": "provisioner",
            "jti": "7d0b4b1e-jti", "iat": NOW - 10,
        })
    }

    fn with(mut claims: Value, name: &str, value: Value) -> Value {
        claims[name] = value;
        claims
    }

    fn without(mut claims: Value, name: &str) -> Value {
        claims.as_object_mut().unwrap().remove(name);
        claims
    }

    fn b64(json: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).unwrap())
    }

    /// Signs `header` and `claims` exactly as given, so tests can forge any header.
    fn forge(header: &Value, claims: &Value, alg: Algorithm, key: &EncodingKey) -> String {
        let message = format!("{}.{}", b64(header), b64(claims));
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
        format!("{message}.{signature}")
    }

    fn hs(claims: &Value) -> String {
        hs_with(SECRET.as_bytes(), claims)
    }

    fn hs_with(secret: &[u8], claims: &Value) -> String {
        let header = json!({"alg": "HS256", "typ": "JWT"});
        forge(
            &header,
            claims,
            Algorithm::HS256,
            &EncodingKey::from_secret(secret),
        )
    }

    fn rs(private_pem: &str, kid: Option<&str>, claims: &Value) -> String {
        let key = EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap();
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = kid {
            header["kid"] = json!(kid);
        }
        forge(&header, claims, Algorithm::RS256, &key)
    }

    fn es(kid: Option<&str>, claims: &Value) -> String {
        let key = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap();
        let mut header = json!({"alg": "ES256"});
        if let Some(kid) = kid {
            header["kid"] = json!(kid);
        }
        forge(&header, claims, Algorithm::ES256, &key)
    }

    fn hs_verifier() -> Fixture {
        verifier(Some(SECRET), None, &[])
    }

    /// Verifies and, on failure, checks that the message does not leak the token.
    fn check(fixture: &Fixture, token: &str, now: i64) -> Result<Claims, AuthError> {
        let result = fixture.verifier.verify(token, now);
        if let Err(e) = &result {
            let message = e.to_string();
            assert!(!token.is_empty() && !message.contains(token), "{message}");
            assert!(!message.contains(SECRET));
        }
        result
    }

    #[test]
    fn hs256_round_trip() {
        let secret = Secret::from_config(SECRET);
        let signer = Signer::new(&secret, ISSUER, AUDIENCE);
        let ttl = Some(Duration::from_secs(3600));
        let (token, issued) = signer
            .issue("acme", Role::Admin, Some("u-1"), ttl, NOW)
            .unwrap();
        assert_eq!(issued.exp, Some(NOW + 3600));
        assert_eq!(issued.iat, NOW);
        assert_eq!(issued.sub.as_deref(), Some("u-1"));
        assert!(uuid::Uuid::parse_str(&issued.jti).is_ok());

        let fixture = hs_verifier();
        assert_eq!(fixture.verifier.algorithms(), [Algorithm::HS256]);
        assert_eq!(check(&fixture, &token, NOW + 10), Ok(issued.clone()));
        assert_eq!(
            check(&fixture, &token, NOW + 3600 + 60),
            Err(AuthError::Expired)
        );

        let (long_lived, claims) = signer
            .issue("acme", Role::Provisioner, None, None, NOW)
            .unwrap();
        assert_eq!((claims.exp, claims.sub.as_deref()), (None, None));
        assert_ne!(claims.jti, issued.jti);
        assert_eq!(
            check(&fixture, &long_lived, NOW + 10 * 365 * 86_400),
            Ok(claims)
        );
    }

    #[test]
    fn signer_refuses_what_the_verifier_would_refuse() {
        let weak = Signer::new(&Secret::from_config("short"), ISSUER, AUDIENCE);
        let err = weak
            .issue("acme", Role::Admin, None, None, NOW)
            .unwrap_err();
        assert_eq!(err, AuthError::WeakSecret { len: 5 });
        assert!(err.to_string().contains("at least 32 characters"));

        let signer = Signer::new(&Secret::from_config(SECRET), ISSUER, AUDIENCE);
        let issue = |org, sub, ttl| signer.issue(org, Role::Admin, sub, ttl, NOW).map(|_| ());
        assert_eq!(issue("", None, None), Err(AuthError::MissingClaim("org")));
        assert_eq!(
            issue("acme", Some(""), None),
            Err(AuthError::InvalidClaim("sub"))
        );
        assert_eq!(
            issue("acme", None, Some(Duration::MAX)),
            Err(AuthError::TtlTooLong)
        );
        assert!(format!("{signer:?}").contains("redacted"));
        assert!(!format!("{signer:?}").contains(SECRET));
    }

    #[test]
    fn rs256_and_es256_via_pem() {
        let rsa = verifier(None, Some(RSA_PUBLIC), &[]);
        assert_eq!(rsa.verifier.algorithms(), [Algorithm::RS256]);
        let claims = check(&rsa, &rs(RSA_PRIVATE, None, &payload()), NOW).unwrap();
        assert_eq!(
            (claims.org.as_str(), claims.role),
            ("acme", Role::Provisioner)
        );
        // A PEM key has no kid, so a token's kid does not stand in the way.
        assert!(check(&rsa, &rs(RSA_PRIVATE, Some("whatever"), &payload()), NOW).is_ok());

        let ec = verifier(None, Some(EC_PUBLIC), &[]);
        assert_eq!(ec.verifier.algorithms(), [Algorithm::ES256]);
        assert!(check(&ec, &es(None, &payload()), NOW).is_ok());
    }

    #[test]
    fn every_pem_key_of_the_right_kind_is_tried() {
        let file = format!("{RSA2_PUBLIC}{EC_PUBLIC}{RSA_PUBLIC}");
        let fixture = verifier(None, Some(&file), &[]);
        assert_eq!(
            fixture.verifier.algorithms(),
            [Algorithm::RS256, Algorithm::ES256]
        );
        assert!(check(&fixture, &rs(RSA_PRIVATE, None, &payload()), NOW).is_ok());
        assert!(check(&fixture, &rs(RSA2_PRIVATE, None, &payload()), NOW).is_ok());
        assert!(check(&fixture, &es(None, &payload()), NOW).is_ok());
    }

    #[test]
    fn jwks_picks_the_key_by_kid() {
        let fixture = verifier(None, Some(JWKS), &[]);
        assert_eq!(
            fixture.verifier.algorithms(),
            [Algorithm::RS256, Algorithm::ES256]
        );
        assert!(check(&fixture, &rs(RSA_PRIVATE, Some("rsa-1"), &payload()), NOW).is_ok());
        assert!(check(&fixture, &rs(RSA2_PRIVATE, Some("rsa-2"), &payload()), NOW).is_ok());
        assert!(check(&fixture, &es(Some("ec-1"), &payload()), NOW).is_ok());

        let wrong_kid = rs(RSA_PRIVATE, Some("rsa-9"), &payload());
        assert_eq!(
            check(&fixture, &wrong_kid, NOW),
            Err(AuthError::NoMatchingKey)
        );
        let other_keys_kid = rs(RSA_PRIVATE, Some("rsa-2"), &payload());
        assert_eq!(
            check(&fixture, &other_keys_kid, NOW),
            Err(AuthError::BadSignature)
        );
        let kid_of_an_ec_key = rs(RSA_PRIVATE, Some("ec-1"), &payload());
        assert_eq!(
            check(&fixture, &kid_of_an_ec_key, NOW),
            Err(AuthError::NoMatchingKey)
        );
    }

    #[test]
    fn jwks_without_kid_needs_a_single_candidate() {
        let fixture = verifier(None, Some(JWKS), &[]);
        let two_rsa_keys = rs(RSA_PRIVATE, None, &payload());
        assert_eq!(
            check(&fixture, &two_rsa_keys, NOW),
            Err(AuthError::AmbiguousKey)
        );
        assert!(
            check(&fixture, &es(None, &payload()), NOW).is_ok(),
            "one EC key"
        );
    }

    #[test]
    fn alg_none_is_refused() {
        let fixture = verifier(Some(SECRET), Some(RSA_PUBLIC), &[]);
        for alg in ["none", "None", "NONE"] {
            let header = b64(&json!({"alg": alg, "typ": "JWT"}));
            for token in [
                format!("{header}.{}.", b64(&payload())),
                format!("{header}.{}", b64(&payload())),
            ] {
                let err = check(&fixture, &token, NOW).unwrap_err();
                assert!(
                    matches!(
                        err,
                        AuthError::AlgorithmNotAllowed(_) | AuthError::Malformed
                    ),
                    "{alg}: {err}"
                );
            }
        }
        let token = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&payload()));
        assert_eq!(
            check(&fixture, &token, NOW).unwrap_err().to_string(),
            "the token's algorithm none is not allowed here"
        );
    }

    #[test]
    fn unknown_missing_or_critical_headers_are_refused() {
        let fixture = hs_verifier();
        let key = EncodingKey::from_secret(SECRET.as_bytes());
        let cases = [
            (json!({"alg": "HS1024"}), AuthError::UnknownAlgorithm),
            (json!({"typ": "JWT"}), AuthError::UnknownAlgorithm),
            (json!({"alg": 256}), AuthError::UnknownAlgorithm),
            (json!({"alg": "HS256", "kid": 7}), AuthError::Malformed),
            (
                json!({"alg": "HS256", "crit": ["exp"], "exp": 1}),
                AuthError::CriticalHeader,
            ),
        ];
        for (header, expected) in cases {
            let token = forge(&header, &payload(), Algorithm::HS256, &key);
            assert_eq!(check(&fixture, &token, NOW), Err(expected), "{header}");
        }
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let fixture = hs_verifier();
        let good = hs(&payload());
        let parts: Vec<&str> = good.split('.').collect();
        let cases = [
            "x".to_owned(),
            "a.b".to_owned(),
            format!("{good}.extra"),
            format!("!!.{}.{}", parts[1], parts[2]),
            format!("{}.{}.%%%", parts[0], parts[1]),
            format!("{}.{}.{}", b64(&json!("not an object")), parts[1], parts[2]),
        ];
        for token in cases {
            assert!(check(&fixture, &token, NOW).is_err(), "{token}");
        }
        assert_eq!(fixture.verifier.verify("", NOW), Err(AuthError::Malformed));
        let huge = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(fixture.verifier.verify(&huge, NOW), Err(AuthError::TooLong));
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let fixture = verifier(Some(SECRET), Some(RSA_PUBLIC), &[]);
        for token in [hs(&payload()), rs(RSA_PRIVATE, None, &payload())] {
            let parts: Vec<&str> = token.split('.').collect();
            let admin = b64(&with(payload(), "role", json!("admin")));
            let tampered = format!("{}.{admin}.{}", parts[0], parts[2]);
            assert_eq!(
                check(&fixture, &tampered, NOW),
                Err(AuthError::BadSignature)
            );
            // Flipping one character of the signature.
            let mut signature = parts[2].to_owned();
            let last = if signature.ends_with('A') { "B" } else { "A" };
            signature.replace_range(signature.len() - 1.., last);
            let flipped = format!("{}.{}.{signature}", parts[0], parts[1]);
            assert!(check(&fixture, &flipped, NOW).is_err());
        }
    }

    #[test]
    fn a_wrong_signature_is_refused() {
        let rsa = verifier(None, Some(RSA_PUBLIC), &[]);
        let by_other_key = rs(RSA2_PRIVATE, None, &payload());
        assert_eq!(
            check(&rsa, &by_other_key, NOW),
            Err(AuthError::BadSignature)
        );

        let hmac = hs_verifier();
        let other_secret = hs_with(b"another secret, also 32 bytes long", &payload());
        assert_eq!(
            check(&hmac, &other_secret, NOW),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn hs256_is_refused_when_only_rs256_is_allowed() {
        let fixture = verifier(Some(SECRET), Some(RSA_PUBLIC), &[Algorithm::RS256]);
        let err = check(&fixture, &hs(&payload()), NOW).unwrap_err();
        assert_eq!(err, AuthError::AlgorithmNotAllowed("HS256".into()));
        assert_eq!(
            err.to_string(),
            "the token's algorithm HS256 is not allowed here"
        );
        let rs512 = {
            let key = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
            forge(&json!({"alg": "RS512"}), &payload(), Algorithm::RS512, &key)
        };
        assert_eq!(
            check(&fixture, &rs512, NOW).unwrap_err().to_string(),
            "the token's algorithm RS512 is not allowed here"
        );
    }

    #[test]
    fn a_public_key_used_as_hmac_secret_is_refused() {
        // The classic confusion: sign HS256 with the (public) PEM text as the secret.
        let forged = hs_with(RSA_PUBLIC.as_bytes(), &payload());
        let rsa_only = verifier(None, Some(RSA_PUBLIC), &[]);
        assert_eq!(
            check(&rsa_only, &forged, NOW),
            Err(AuthError::AlgorithmNotAllowed("HS256".into()))
        );
        // Even with HS256 allowed, HMAC tokens are checked against the secret only.
        let both = verifier(Some(SECRET), Some(RSA_PUBLIC), &[]);
        assert_eq!(
            both.verifier.algorithms(),
            [Algorithm::HS256, Algorithm::RS256]
        );
        assert_eq!(check(&both, &forged, NOW), Err(AuthError::BadSignature));
        let der = DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes()).unwrap();
        let forged_der = hs_with(der.try_get_as_bytes().unwrap(), &payload());
        assert_eq!(check(&both, &forged_der, NOW), Err(AuthError::BadSignature));
    }

    #[test]
    fn issuer_and_audience_are_checked() {
        let fixture = hs_verifier();
        let verify = |claims: Value| check(&fixture, &hs(&claims), NOW);
        assert_eq!(
            verify(with(payload(), "iss", json!("https://evil"))),
            Err(AuthError::WrongIssuer)
        );
        assert_eq!(
            verify(without(payload(), "iss")),
            Err(AuthError::MissingClaim("iss"))
        );
        assert_eq!(
            verify(with(payload(), "aud", json!("other"))),
            Err(AuthError::WrongAudience)
        );
        assert_eq!(
            verify(without(payload(), "aud")),
            Err(AuthError::MissingClaim("aud"))
        );
        assert_eq!(
            verify(with(payload(), "aud", json!(42))),
            Err(AuthError::InvalidClaim("aud"))
        );
        assert_eq!(
            verify(with(payload(), "aud", json!(["a", "b"]))),
            Err(AuthError::WrongAudience)
        );
        assert_eq!(
            verify(with(payload(), "aud", json!([]))),
            Err(AuthError::WrongAudience)
        );
        let many = verify(with(payload(), "aud", json!(["other", AUDIENCE]))).unwrap();
        assert_eq!(many.aud, AUDIENCE);
        assert_eq!(
            AuthError::WrongIssuer.to_string(),
            "the token's issuer does not match ROSTER_JWT_ISSUER"
        );
    }

    #[test]
    fn exp_is_optional_but_enforced_with_leeway() {
        let fixture = hs_verifier();
        let token = hs(&with(payload(), "exp", json!(NOW)));
        assert!(check(&fixture, &token, NOW - 1).is_ok());
        assert!(
            check(&fixture, &token, NOW + 30).is_ok(),
            "within the 60 s leeway"
        );
        assert!(check(&fixture, &token, NOW + 59).is_ok());
        assert_eq!(check(&fixture, &token, NOW + 60), Err(AuthError::Expired));
        assert_eq!(
            check(&fixture, &token, NOW + 3600).unwrap_err().to_string(),
            "the token has expired"
        );
        let fractional = hs(&with(payload(), "exp", json!(NOW as f64 + 0.5)));
        assert_eq!(
            check(&fixture, &fractional, NOW + 30).unwrap().exp,
            Some(NOW)
        );
        let text = hs(&with(payload(), "exp", json!("tomorrow")));
        assert_eq!(
            check(&fixture, &text, NOW),
            Err(AuthError::InvalidClaim("exp"))
        );
        assert!(
            check(&fixture, &hs(&payload()), i64::MAX).is_ok(),
            "no exp: no expiry"
        );
    }

    #[test]
    fn a_zero_leeway_is_exact() {
        let mut strict = settings(Some(SECRET), None, &[]);
        strict.leeway_seconds = 0;
        let verifier = Verifier::new(&strict).unwrap();
        let token = hs(&with(payload(), "exp", json!(NOW)));
        assert!(verifier.verify(&token, NOW - 1).is_ok());
        assert_eq!(verifier.verify(&token, NOW), Err(AuthError::Expired));
    }

    #[test]
    fn nbf_and_iat_in_the_future_are_refused() {
        let fixture = hs_verifier();
        let nbf = hs(&with(payload(), "nbf", json!(NOW + 120)));
        assert_eq!(check(&fixture, &nbf, NOW), Err(AuthError::NotYetValid));
        assert!(check(&fixture, &nbf, NOW + 60).is_ok(), "within the leeway");
        let iat = hs(&with(payload(), "iat", json!(NOW + 120)));
        assert_eq!(check(&fixture, &iat, NOW), Err(AuthError::IssuedInFuture));
        assert!(check(&fixture, &iat, NOW + 60).is_ok());
        let no_iat = hs(&without(payload(), "iat"));
        assert_eq!(
            check(&fixture, &no_iat, NOW),
            Err(AuthError::MissingClaim("iat"))
        );
    }

    #[test]
    fn a_remembered_token_is_held_to_its_time_window() {
        let fixture = hs_verifier();
        let token = hs(&with(
            with(payload(), "nbf", json!(NOW + 120)),
            "exp",
            json!(NOW + 600),
        ));
        // Verified (and remembered) inside its window, then asked about outside it.
        assert!(check(&fixture, &token, NOW + 300).is_ok());
        assert!(check(&fixture, &token, NOW + 300).is_ok(), "remembered");
        assert_eq!(check(&fixture, &token, NOW), Err(AuthError::NotYetValid));
        assert!(
            check(&fixture, &token, NOW + 60).is_ok(),
            "nbf within the leeway"
        );
        assert!(
            check(&fixture, &token, NOW + 659).is_ok(),
            "exp within the leeway"
        );
        assert_eq!(check(&fixture, &token, NOW + 660), Err(AuthError::Expired));
    }

    #[test]
    fn a_remembered_token_does_not_vouch_for_an_altered_copy() {
        let fixture = hs_verifier();
        let token = hs(&payload());
        let claims = check(&fixture, &token, NOW).unwrap();
        assert_eq!(check(&fixture, &token, NOW), Ok(claims));
        // Another signature, and the same header and payload under another key.
        let (message, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        let altered = format!("{message}.{flipped}{}", &signature[1..]);
        assert_eq!(check(&fixture, &altered, NOW), Err(AuthError::BadSignature));
        let other_key = hs_with(b"another hs256 secret of 32+ bytes", &payload());
        assert_eq!(
            check(&fixture, &other_key, NOW),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn the_memory_of_verified_tokens_is_bounded() {
        let fixture = hs_verifier();
        for i in 0..MAX_REMEMBERED_TOKENS + 10 {
            let token = hs(&with(payload(), "jti", json!(format!("jti-{i}"))));
            assert_eq!(
                check(&fixture, &token, NOW).unwrap().jti,
                format!("jti-{i}")
            );
        }
        let remembered = fixture.verifier.verified.read().unwrap().len();
        assert!(remembered <= MAX_REMEMBERED_TOKENS, "{remembered}");
        let long = hs(&with(
            payload(),
            "padding",
            json!("x".repeat(MAX_REMEMBERED_TOKEN_LEN)),
        ));
        assert!(check(&fixture, &long, NOW).is_ok());
        assert!(
            !fixture
                .verifier
                .verified
                .read()
                .unwrap()
                .contains_key(long.as_str()),
            "a long token is verified every time"
        );
    }

    #[test]
    fn roster_claims_are_required() {
        let fixture = hs_verifier();
        let verify = |claims: Value| check(&fixture, &hs(&claims), NOW);
        for name in ["org", "role", "jti"] {
            let err = verify(without(payload(), name)).unwrap_err();
            assert_eq!(err, AuthError::MissingClaim(name));
            assert_eq!(
                err.to_string(),
                format!("the token is missing the `{name}` claim")
            );
        }
        assert_eq!(
            verify(with(payload(), "org", json!(""))),
            Err(AuthError::InvalidClaim("org"))
        );
        assert_eq!(
            verify(with(payload(), "jti", json!(""))),
            Err(AuthError::InvalidClaim("jti"))
        );
        assert_eq!(
            verify(with(payload(), "org", json!(1))),
            Err(AuthError::InvalidClaim("org"))
        );
        assert_eq!(
            verify(with(payload(), "sub", json!(""))),
            Err(AuthError::InvalidClaim("sub"))
        );
        assert_eq!(
            verify(with(payload(), "sub", json!(9))),
            Err(AuthError::InvalidClaim("sub"))
        );
        assert_eq!(
            verify(with(payload(), "sub", json!("u-7")))
                .unwrap()
                .sub
                .as_deref(),
            Some("u-7")
        );
    }

    #[test]
    fn an_unknown_role_is_refused() {
        let fixture = hs_verifier();
        for role in [json!("root"), json!("Admin"), json!(""), json!(["admin"])] {
            let token = hs(&with(payload(), "role", role.clone()));
            let err = check(&fixture, &token, NOW).unwrap_err();
            assert!(
                matches!(
                    err,
                    AuthError::UnknownRole | AuthError::InvalidClaim("role")
                ),
                "{role}: {err}"
            );
        }
        let admin = hs(&with(payload(), "role", json!("admin")));
        assert_eq!(check(&fixture, &admin, NOW).unwrap().role, Role::Admin);
    }

    #[test]
    fn verifier_configuration_mistakes_are_caught_at_start() {
        let new = |s: JwtSettings| Verifier::new(&s).map(|_| ());
        assert!(matches!(
            new(settings(None, None, &[])),
            Err(KeyError::NoKeyConfigured)
        ));
        let err = new(settings(Some("short"), None, &[])).unwrap_err();
        assert!(matches!(err, KeyError::SecretTooShort { len: 5 }));
        assert!(err.to_string().contains("at least 32 characters"), "{err}");
        assert!(matches!(
            new(settings(Some(SECRET), None, &[Algorithm::RS256])),
            Err(KeyError::AlgorithmWithoutKey(Algorithm::RS256))
        ));
        assert!(matches!(
            new(settings(Some(SECRET), None, &[Algorithm::EdDSA])),
            Err(KeyError::UnsupportedAlgorithm(Algorithm::EdDSA))
        ));
        let missing = Path::new("/nonexistent/roster/keys.pem");
        let err = new(settings(None, Some(missing), &[])).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/roster/keys.pem"),
            "{err}"
        );

        let fixture = verifier(Some(SECRET), Some(RSA_PUBLIC), &[]);
        let debug = format!("{:?}", fixture.verifier);
        assert!(
            debug.contains("redacted") && !debug.contains(SECRET),
            "{debug}"
        );
    }

    #[test]
    fn an_explicit_allow_list_is_honoured() {
        let fixture = verifier(None, Some(RSA_PUBLIC), &[Algorithm::PS256]);
        let key = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
        let ps = forge(&json!({"alg": "PS256"}), &payload(), Algorithm::PS256, &key);
        assert!(check(&fixture, &ps, NOW).is_ok());
        assert_eq!(
            check(&fixture, &rs(RSA_PRIVATE, None, &payload()), NOW),
            Err(AuthError::AlgorithmNotAllowed("RS256".into()))
        );
    }
}

//! Key material for tokens: the HS256 shared [`Secret`] (from configuration, or generated once
//! and kept beside the database by [`load_or_create_secret`]) and the public keys of other
//! issuers ([`PublicKeys`]: PEM or JWKS, RSA or EC), plus [`KeyError`] for everything that can
//! go wrong while loading them. No signing or verifying happens here; that is `token`.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde_json::Value;

/// The shortest HS256 secret roster accepts, in bytes: RFC 7518 §3.2 requires a key at least as
/// long as the hash output (256 bits).
pub const MIN_SECRET_LEN: usize = 32;

/// The shortest RSA modulus roster accepts, in bits (NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;

/// The HS256 shared secret. Its bytes never appear in `Debug` output and it has no `Display`
/// (nor `PartialEq`: comparing secrets with `==` would not be constant-time).
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// The secret exactly as configured (`ROSTER_JWT_SECRET`): its UTF-8 bytes, not decoded.
    /// The length is checked where the secret is used ([`Secret::check_length`]).
    pub fn from_config(s: &str) -> Secret {
        Secret(s.as_bytes().to_vec())
    }

    /// A secret from raw bytes.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(bytes.into())
    }

    /// A fresh secret of [`MIN_SECRET_LEN`] random bytes from the operating system.
    pub fn generate() -> Result<Secret, KeyError> {
        let mut bytes = vec![0u8; MIN_SECRET_LEN];
        getrandom::fill(&mut bytes).map_err(KeyError::Random)?;
        Ok(Secret(bytes))
    }

    /// The secret's bytes, for handing to the HMAC implementation. Never log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Refuses a secret shorter than [`MIN_SECRET_LEN`] bytes: a short HMAC key can be brute-forced
    /// offline from a single token.
    pub fn check_length(&self) -> Result<(), KeyError> {
        if self.0.len() < MIN_SECRET_LEN {
            return Err(KeyError::SecretTooShort { len: self.0.len() });
        }
        Ok(())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(**redacted**)")
    }
}

/// Why key material could not be loaded. Messages name the file and say what to do; they never
/// contain key bytes.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A key or secret file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The generated secret could not be written.
    #[error("cannot write the JWT secret file {}: {source}", path.display())]
    Unwritable {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The stored secret file may be read (or replaced) by other users: anyone who can read it can
    /// sign admin tokens for every org.
    #[error(
        "the JWT secret file {} has mode {mode:04o}: other users can read or change it, and \
         whoever reads it can sign tokens for every org; run `chmod 600 {}` (and rotate the \
         secret if others may have read it)",
        path.display(),
        path.display()
    )]
    SharedSecretFile {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The stored secret file is not what [`load_or_create_secret`] writes.
    #[error(
        "{} does not hold a JWT secret (base64url text of at least 32 bytes); delete it to have a \
         new one generated, which invalidates every token signed with the old one",
        path.display()
    )]
    BadSecretFile {
        /// The file.
        path: PathBuf,
    },
    /// The shared secret is too short to be safe.
    #[error(
        "the JWT secret is {len} bytes long; set ROSTER_JWT_SECRET to at least 32 characters \
         (for example the output of `openssl rand -base64 32`)"
    )]
    SecretTooShort {
        /// Its length in bytes.
        len: usize,
    },
    /// The operating system could not provide random bytes.
    #[error("the operating system's random number generator failed: {0}")]
    Random(getrandom::Error),
    /// A PEM file that does not parse as public keys.
    #[error("{}: {reason}", path.display())]
    BadPem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A JWKS document (RFC 7517 §5) that does not parse.
    #[error("{}: {reason}", path.display())]
    BadJwks {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The public key file contains private or symmetric key material.
    #[error(
        "{} contains private or symmetric key material; ROSTER_JWT_PUBLIC_KEYS must name a file of \
         public keys only (and the file containing secrets should be deleted or protected)",
        path.display()
    )]
    SecretMaterial {
        /// The file.
        path: PathBuf,
    },
    /// A key type roster cannot verify with.
    #[error("{}: {what} is not supported; use RSA (2048 bits or more) or EC P-256/P-384 public keys", path.display())]
    UnsupportedKey {
        /// The file.
        path: PathBuf,
        /// What was found.
        what: String,
    },
    /// The public key file is neither PEM nor JWKS, or holds no usable key.
    #[error(
        "{} holds no usable public key; give PEM `PUBLIC KEY` blocks or a JWKS document",
        path.display()
    )]
    NoPublicKeys {
        /// The file.
        path: PathBuf,
    },
    /// Neither a secret nor public keys.
    #[error("no JWT key is configured: set ROSTER_JWT_SECRET or ROSTER_JWT_PUBLIC_KEYS")]
    NoKeyConfigured,
    /// The allow-list names an algorithm roster does not verify.
    #[error(
        "the JWT algorithm {0:?} is not supported; roster verifies HS256/384/512, RS256/384/512, \
         PS256/384/512, ES256 and ES384"
    )]
    UnsupportedAlgorithm(Algorithm),
    /// The allow-list names an algorithm no configured key can verify.
    #[error(
        "the JWT algorithm {0:?} is allowed but no configured key can verify it: add a matching key \
         to ROSTER_JWT_SECRET / ROSTER_JWT_PUBLIC_KEYS or remove the algorithm"
    )]
    AlgorithmWithoutKey(Algorithm),
}

/// Reads the HS256 secret from `path`, or generates one and stores it there with mode 0600.
///
/// The file holds base64url text (no padding). Creation is atomic: the secret is written to a
/// temporary file beside `path` and hard-linked into place, which fails if `path` already exists
/// (the same guarantee as `create_new`), so two processes racing at first start agree: the loser
/// discards its secret and reads the winner's, and nobody ever reads a half-written file.
/// The parent directory must exist.
pub fn load_or_create_secret(path: &Path) -> Result<Secret, KeyError> {
    match read_secret(path) {
        Err(KeyError::Unreadable { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    let secret = Secret::generate()?;
    let mut text = URL_SAFE_NO_PAD.encode(secret.expose());
    text.push('\n');

    let tmp = temp_path_beside(path);
    let unwritable = |source| KeyError::Unwritable {
        path: path.to_path_buf(),
        source,
    };
    write_private_file(&tmp, text.as_bytes()).map_err(|source| {
        let _ = fs::remove_file(&tmp);
        unwritable(source)
    })?;
    let linked = fs::hard_link(&tmp, path);
    // The temporary name is only a staging area; failing to remove it leaks a file, not a secret
    // that anyone uses.
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a new JWT secret");
            Ok(secret)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read_secret(path),
        Err(source) => Err(unwritable(source)),
    }
}

fn read_secret(path: &Path) -> Result<Secret, KeyError> {
    let unreadable = |source| KeyError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let mut file = fs::File::open(path).map_err(unreadable)?;
    // Checked on the open file, so a file swapped in after the check is not the one read.
    refuse_if_shared(path, &file)?;
    let mut text = String::new();
    io::Read::read_to_string(&mut file, &mut text).map_err(unreadable)?;
    let bad = || KeyError::BadSecretFile {
        path: path.to_path_buf(),
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .map_err(|_| bad())?;
    let secret = Secret(bytes);
    secret.check_length().map_err(|_| bad())?;
    Ok(secret)
}

pub(crate) fn temp_path_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()))
}

pub(crate) fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Refuses a secret file with any group or other permission bit: readable means anyone on the
/// host can mint tokens, writable means anyone can replace the key.
#[cfg(unix)]
fn refuse_if_shared(path: &Path, file: &fs::File) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file
        .metadata()
        .map_err(|source| KeyError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?
        .permissions()
        .mode()
        & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyError::SharedSecretFile {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_if_shared(_path: &Path, _file: &fs::File) -> Result<(), KeyError> {
    Ok(())
}

/// The kind of a public key, which decides the algorithms it may verify (RFC 7518 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKeyKind {
    /// RSA: RS256/384/512 and PS256/384/512.
    Rsa,
    /// EC on P-256: ES256 only.
    EcP256,
    /// EC on P-384: ES384 only.
    EcP384,
}

impl PublicKeyKind {
    /// The algorithm used for this key when the allow-list is left empty.
    pub fn default_algorithm(self) -> Algorithm {
        match self {
            PublicKeyKind::Rsa => Algorithm::RS256,
            PublicKeyKind::EcP256 => Algorithm::ES256,
            PublicKeyKind::EcP384 => Algorithm::ES384,
        }
    }

    fn accepts(self, alg: Algorithm) -> bool {
        match self {
            PublicKeyKind::Rsa => alg.family() == AlgorithmFamily::Rsa,
            PublicKeyKind::EcP256 => alg == Algorithm::ES256,
            PublicKeyKind::EcP384 => alg == Algorithm::ES384,
        }
    }
}

/// One asymmetric verification key.
#[derive(Clone)]
pub struct PublicKey {
    /// The JWK `kid` (RFC 7517 §4.5); `None` for PEM keys.
    pub kid: Option<String>,
    /// RSA or EC, and which curve.
    pub kind: PublicKeyKind,
    /// The JWK `alg` (RFC 7517 §4.4), which restricts the key to that one algorithm.
    pub alg: Option<Algorithm>,
    key: DecodingKey,
}

impl PublicKey {
    /// Whether this key may verify a token signed with `alg`: same family and curve, and the
    /// JWK's own `alg` if it names one. An HMAC algorithm never fits a public key.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        self.kind.accepts(alg) && self.alg.is_none_or(|a| a == alg)
    }

    /// The algorithm this key is used with when the allow-list is left empty.
    pub fn default_algorithm(&self) -> Algorithm {
        self.alg.unwrap_or(self.kind.default_algorithm())
    }

    /// The key in the form jsonwebtoken verifies with.
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Where a set of public keys came from; it decides how a token without `kid` finds its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// PEM blocks: no key ids, every key of the right kind is tried.
    Pem,
    /// A JWKS document: keys are picked by `kid`.
    Jwks,
}

/// The public keys of `ROSTER_JWT_PUBLIC_KEYS`.
#[derive(Debug, Clone)]
pub struct PublicKeys {
    /// The keys, in file order.
    pub keys: Vec<PublicKey>,
    /// PEM or JWKS.
    pub source: KeySource,
}

impl PublicKeys {
    /// Loads `path`: a JWKS JSON document (RFC 7517 §5) when it starts with `{`, otherwise one or
    /// more PEM `PUBLIC KEY` / `RSA PUBLIC KEY` blocks. Private keys, symmetric JWKs and
    /// certificates are refused rather than guessed at; convert a certificate with
    /// `openssl x509 -in cert.pem -pubkey -noout`.
    pub fn load(path: &Path) -> Result<PublicKeys, KeyError> {
        let text = fs::read_to_string(path).map_err(|source| KeyError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        let keys = if text.trim_start().starts_with('{') {
            PublicKeys {
                keys: parse_jwks(path, &text)?,
                source: KeySource::Jwks,
            }
        } else {
            PublicKeys {
                keys: parse_pem(path, &text)?,
                source: KeySource::Pem,
            }
        };
        if keys.keys.is_empty() {
            return Err(KeyError::NoPublicKeys {
                path: path.to_path_buf(),
            });
        }
        Ok(keys)
    }
}

fn parse_pem(path: &Path, text: &str) -> Result<Vec<PublicKey>, KeyError> {
    let bad = |reason: String| KeyError::BadPem {
        path: path.to_path_buf(),
        reason,
    };
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let label_end = after
            .find("-----")
            .ok_or_else(|| bad("a PEM BEGIN line is cut off".into()))?;
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let end = after
            .find(&end_marker)
            .ok_or_else(|| bad(format!("the PEM block `{label}` has no END line")))?;
        let block_len = "-----BEGIN ".len() + end + end_marker.len();
        let block = &rest[start..start + block_len];
        rest = &rest[start + block_len..];

        let number = keys.len() + 1;
        let key = match label {
            l if l.contains("PRIVATE") => {
                return Err(KeyError::SecretMaterial {
                    path: path.to_path_buf(),
                });
            }
            "CERTIFICATE" => {
                return Err(KeyError::UnsupportedKey {
                    path: path.to_path_buf(),
                    what: "a certificate (extract its key with `openssl x509 -pubkey -noout`)"
                        .into(),
                });
            }
            "PUBLIC KEY" | "RSA PUBLIC KEY" => pem_public_key(path, block, number)?,
            other => return Err(bad(format!("unexpected PEM block `{other}`"))),
        };
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(KeyError::NoPublicKeys {
            path: path.to_path_buf(),
        });
    }
    Ok(keys)
}

fn pem_public_key(path: &Path, block: &str, number: usize) -> Result<PublicKey, KeyError> {
    if let Ok(key) = DecodingKey::from_rsa_pem(block.as_bytes()) {
        // Decoding the components also proves the DER is a well-formed RSA key.
        let modulus = match Jwk::from_decoding_key(&key, None).map(|jwk| jwk.algorithm) {
            Ok(AlgorithmParameters::RSA(rsa)) => URL_SAFE_NO_PAD.decode(rsa.n).ok(),
            _ => None,
        };
        let Some(modulus) = modulus else {
            return Err(KeyError::BadPem {
                path: path.to_path_buf(),
                reason: format!("public key {number} is not a valid RSA key"),
            });
        };
        check_rsa_size(path, &modulus, number)?;
        return Ok(PublicKey {
            kid: None,
            kind: PublicKeyKind::Rsa,
            alg: None,
            key,
        });
    }
    if let Ok(key) = DecodingKey::from_ec_pem(block.as_bytes()) {
        let kind = match key.try_get_as_bytes().map(<[u8]>::len) {
            Ok(65) => PublicKeyKind::EcP256,
            Ok(97) => PublicKeyKind::EcP384,
            _ => {
                return Err(KeyError::UnsupportedKey {
                    path: path.to_path_buf(),
                    what: format!("public key {number} (an EC key on another curve)"),
                });
            }
        };
        return Ok(PublicKey {
            kid: None,
            kind,
            alg: None,
            key,
        });
    }
    if DecodingKey::from_ed_pem(block.as_bytes()).is_ok() {
        return Err(KeyError::UnsupportedKey {
            path: path.to_path_buf(),
            what: format!("public key {number} (an EdDSA key)"),
        });
    }
    Err(KeyError::BadPem {
        path: path.to_path_buf(),
        reason: format!("public key {number} is not a valid RSA or EC public key"),
    })
}

fn check_rsa_size(path: &Path, modulus: &[u8], number: usize) -> Result<(), KeyError> {
    let significant: &[u8] = match modulus.iter().position(|b| *b != 0) {
        Some(first) => &modulus[first..],
        None => &[],
    };
    let bits = match significant.first() {
        Some(top) => (significant.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
        None => 0,
    };
    if bits < MIN_RSA_BITS {
        return Err(KeyError::UnsupportedKey {
            path: path.to_path_buf(),
            what: format!("key {number} (an RSA key of {bits} bits)"),
        });
    }
    Ok(())
}

/// Parses a JWKS document. Keys not meant for signatures (`use` other than `sig`, encryption
/// `alg`s) and key types roster does not verify are skipped with a warning, because IdPs publish
/// them side by side with signing keys; anything malformed, private or symmetric is an error.
fn parse_jwks(path: &Path, text: &str) -> Result<Vec<PublicKey>, KeyError> {
    let bad = |reason: String| KeyError::BadJwks {
        path: path.to_path_buf(),
        reason,
    };
    let doc: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON ({e})")))?;
    let entries = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("a JWKS document needs a `keys` array (RFC 7517 §5)".into()))?;

    let mut keys: Vec<PublicKey> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let number = index + 1;
        let Some(object) = entry.as_object() else {
            return Err(bad(format!("key {number} is not a JSON object")));
        };
        let text_field = |name: &str| -> Result<Option<&str>, KeyError> {
            match object.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(bad(format!("key {number}: `{name}` must be a string"))),
            }
        };
        // RFC 7518 §6.2.2 (`d`), §6.3.2 (`d`, `p`, `q`, ...), §6.4.1 (`k`).
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|f| object.contains_key(*f))
        {
            return Err(KeyError::SecretMaterial {
                path: path.to_path_buf(),
            });
        }
        let kid = text_field("kid")?.map(str::to_owned);
        if let Some(usage) = text_field("use")?
            && usage != "sig"
        {
            tracing::warn!(path = %path.display(), key = number, usage, "skipping a JWK not meant for signatures");
            continue;
        }
        let alg = match text_field("alg")? {
            None => None,
            Some(name) => match name.parse::<Algorithm>() {
                Ok(alg) => Some(alg),
                Err(_) => {
                    tracing::warn!(path = %path.display(), key = number, alg = name, "skipping a JWK whose `alg` roster does not verify with");
                    continue;
                }
            },
        };
        let b64 = |name: &str| -> Result<Vec<u8>, KeyError> {
            let value = text_field(name)?
                .ok_or_else(|| bad(format!("key {number}: `{name}` is missing")))?;
            URL_SAFE_NO_PAD
                .decode(value)
                .map_err(|_| bad(format!("key {number}: `{name}` is not base64url")))
        };
        let (kind, key) = match text_field("kty")? {
            Some("RSA") => {
                let n = b64("n")?;
                let e = b64("e")?;
                check_rsa_size(path, &n, number)?;
                (
                    PublicKeyKind::Rsa,
                    DecodingKey::from_rsa_raw_components(&n, &e),
                )
            }
            Some("EC") => {
                let (kind, size) = match text_field("crv")? {
                    Some("P-256") => (PublicKeyKind::EcP256, 32),
                    Some("P-384") => (PublicKeyKind::EcP384, 48),
                    other => {
                        let curve = other.unwrap_or("missing");
                        tracing::warn!(path = %path.display(), key = number, curve, "skipping an EC JWK on an unsupported curve");
                        continue;
                    }
                };
                let (x, y) = (b64("x")?, b64("y")?);
                if x.len() != size || y.len() != size {
                    return Err(bad(format!(
                        "key {number}: `x` and `y` must be {size} bytes each"
                    )));
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                (kind, DecodingKey::from_ec_der(&point))
            }
            Some("oct") => {
                return Err(KeyError::SecretMaterial {
                    path: path.to_path_buf(),
                });
            }
            Some(other) => {
                tracing::warn!(path = %path.display(), key = number, kty = other, "skipping a JWK of an unsupported key type");
                continue;
            }
            None => return Err(bad(format!("key {number}: `kty` is missing"))),
        };
        if let Some(alg) = alg
            && !kind.accepts(alg)
        {
            return Err(bad(format!(
                "key {number}: `alg` {alg:?} does not fit its key type"
            )));
        }
        if let Some(kid) = &kid
            && keys.iter().any(|k| k.kid.as_ref() == Some(kid))
        {
            return Err(bad(format!(
                "key {number}: the `kid` {kid:?} is used twice"
            )));
        }
        keys.push(PublicKey {
            kid,
            kind,
            alg,
            key,
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_PUBLIC: &str = include_str!("../../tests/fixtures/keys/rsa_public.pem");
    const RSA_PRIVATE: &str = include_str!("../../tests/fixtures/keys/rsa_private.pem");
    const EC_PUBLIC: &str = include_str!("../../tests/fixtures/keys/ec_public.pem");
    const JWKS: &str = include_str!("../../tests/fixtures/keys/jwks.json");

    fn write(dir: &tempfile::TempDir, name: &str, contents: &str) -> PathBuf {
        let path = dir.path().join(name);
        fs::write(&path, contents).unwrap();
        // Owner-only, as a secret file must be (the umask would leave it readable by others).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        }
        path
    }

    #[test]
    fn debug_of_secret_redacts() {
        let secret = Secret::from_config("correct horse battery staple, 32+ bytes");
        assert_eq!(format!("{secret:?}"), "Secret(**redacted**)");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(Secret(**redacted**))");
    }

    #[test]
    fn from_config_keeps_the_utf8_bytes_and_length_is_checked() {
        assert_eq!(Secret::from_config("abc").expose(), b"abc");
        assert!(matches!(
            Secret::from_config("too short").check_length(),
            Err(KeyError::SecretTooShort { len: 9 })
        ));
        assert!(Secret::from_config(&"x".repeat(32)).check_length().is_ok());
    }

    #[test]
    fn generated_secrets_are_32_random_bytes() {
        let (a, b) = (Secret::generate().unwrap(), Secret::generate().unwrap());
        assert_eq!(a.expose().len(), MIN_SECRET_LEN);
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn load_or_create_secret_creates_a_private_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.db.jwt-secret");
        let first = load_or_create_secret(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let stored = fs::read_to_string(&path).unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(stored.trim()).unwrap(),
            first.expose()
        );

        let second = load_or_create_secret(&path).unwrap();
        assert_eq!(first.expose(), second.expose());
        // Only the secret file is left behind: the staging file is gone.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn racing_creators_agree_on_one_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        let secrets: Vec<Secret> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| load_or_create_secret(&path).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(secrets.iter().all(|s| s.expose() == secrets[0].expose()));
    }

    #[test]
    fn a_corrupt_or_short_secret_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "secret", "not base64 !!\n");
        assert!(matches!(
            load_or_create_secret(&path),
            Err(KeyError::BadSecretFile { .. })
        ));
        let path = write(&dir, "short", &URL_SAFE_NO_PAD.encode([7u8; 16]));
        assert!(matches!(
            load_or_create_secret(&path),
            Err(KeyError::BadSecretFile { .. })
        ));
        assert_eq!(
            fs::read_to_string(dir.path().join("short")).unwrap().len(),
            22
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_file_other_users_can_read_or_write_is_refused_with_the_chmod_to_run() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.db.jwt-secret");
        load_or_create_secret(&path).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o666] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let err = load_or_create_secret(&path).unwrap_err();
            assert!(
                matches!(err, KeyError::SharedSecretFile { mode: m, .. } if m == mode),
                "{mode:o}: {err}"
            );
            let message = err.to_string();
            assert!(
                message.contains(&format!("chmod 600 {}", path.display())),
                "{message}"
            );
        }
        // Owner-only modes stay accepted, read-only included.
        for mode in [0o600, 0o400] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            load_or_create_secret(&path).unwrap();
        }
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("secret");
        let err = load_or_create_secret(&path).unwrap_err();
        assert!(matches!(err, KeyError::Unwritable { .. }));
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn pem_files_may_hold_several_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "keys.pem",
            &format!("# comment\n{RSA_PUBLIC}\n{EC_PUBLIC}"),
        );
        let keys = PublicKeys::load(&path).unwrap();
        assert_eq!(keys.source, KeySource::Pem);
        let kinds: Vec<_> = keys.keys.iter().map(|k| k.kind).collect();
        assert_eq!(kinds, [PublicKeyKind::Rsa, PublicKeyKind::EcP256]);
        assert!(keys.keys[0].accepts(Algorithm::RS256));
        assert!(!keys.keys[0].accepts(Algorithm::HS256));
        assert!(!keys.keys[1].accepts(Algorithm::ES384));
    }

    #[test]
    fn jwks_keys_keep_their_kid_and_alg() {
        let dir = tempfile::tempdir().unwrap();
        let keys = PublicKeys::load(&write(&dir, "jwks.json", JWKS)).unwrap();
        assert_eq!(keys.source, KeySource::Jwks);
        let kids: Vec<_> = keys
            .keys
            .iter()
            .map(|k| k.kid.as_deref().unwrap())
            .collect();
        assert_eq!(kids, ["rsa-1", "rsa-2", "ec-1"]);
        assert!(
            !keys.keys[0].accepts(Algorithm::RS384),
            "the JWK says RS256"
        );
    }

    #[test]
    fn private_keys_are_refused_in_the_public_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "keys.pem", RSA_PRIVATE);
        assert!(matches!(
            PublicKeys::load(&path),
            Err(KeyError::SecretMaterial { .. })
        ));
        let jwks = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#;
        let path = write(&dir, "oct.json", jwks);
        assert!(matches!(
            PublicKeys::load(&path),
            Err(KeyError::SecretMaterial { .. })
        ));
    }

    #[test]
    fn bad_files_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("empty.pem", ""),
            (
                "garbage.pem",
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            ),
            ("cut.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n"),
            ("bad.json", "{\"keys\": 3}"),
            (
                "badkey.json",
                r#"{"keys":[{"kty":"RSA","n":"!!","e":"AQAB"}]}"#,
            ),
            (
                "onlyenc.json",
                r#"{"keys":[{"kty":"RSA","use":"enc","n":"AA","e":"AQAB"}]}"#,
            ),
        ];
        for (name, contents) in cases {
            let path = write(&dir, name, contents);
            let err = PublicKeys::load(&path).unwrap_err();
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
        let err = PublicKeys::load(&dir.path().join("absent.pem")).unwrap_err();
        assert!(matches!(err, KeyError::Unreadable { .. }), "{err}");
    }

    #[test]
    fn small_rsa_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let n = URL_SAFE_NO_PAD.encode([0xffu8; 128]);
        let path = write(
            &dir,
            "small.json",
            &format!(r#"{{"keys":[{{"kty":"RSA","n":"{n}","e":"AQAB"}}]}}"#),
        );
        let err = PublicKeys::load(&path).unwrap_err();
        assert!(err.to_string().contains("1024 bits"), "{err}");
    }
}

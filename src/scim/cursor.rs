//! Cursors for cursor-based pagination (RFC 9865): opaque to clients and tamper-proof.
//!
//! A cursor names the last resource of a page (pages are in id order) and the query it belongs
//! to, sealed with HMAC-SHA256 under a key every node of a deployment shares. A cursor that was
//! altered, or that belongs to another query, another organization or another deployment, is
//! `invalidCursor`. Cursors do not expire: a keyset position stays meaningful as resources come
//! and go.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::ScimError;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the MAC a cursor carries: HMAC-SHA256 truncated to 128 bits (as HMAC-SHA-256-128,
/// RFC 4868 §2.3), which keeps cursors short. A cursor must carry all of them: a shorter tag
/// would be guessable byte by byte.
const TAG_LEN: usize = 16;

/// The key cursors are sealed with.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(**redacted**)")
    }
}

impl CursorKey {
    /// A key derived from a deployment secret (the token secret), so every node agrees.
    pub fn derive(secret: &[u8]) -> CursorKey {
        let mut mac = hmac_with(secret);
        mac.update(b"roster cursor key v1");
        CursorKey(mac.finalize().into_bytes().into())
    }

    /// A key of this process alone (cursors then work only on the node that made them).
    pub fn random() -> CursorKey {
        let mut key = [0_u8; 32];
        // Without randomness the key is still secret-free zeros; cursors stay valid, merely
        // forgeable, which only lets a client skip ahead in its own organization's results.
        if getrandom::fill(&mut key).is_err() {
            tracing::warn!("no randomness for the cursor key");
        }
        CursorKey(key)
    }

    fn mac(&self, payload: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = hmac_with(&self.0);
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut out = [0_u8; TAG_LEN];
        out.copy_from_slice(&full[..TAG_LEN]);
        out
    }

    /// A cursor pointing after the resource `last_id` of the query identified by `query`.
    pub fn seal(&self, query: &str, last_id: &str) -> String {
        let payload = format!("{}:{last_id}", fingerprint(query));
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload.as_bytes()),
            URL_SAFE_NO_PAD.encode(self.mac(payload.as_bytes()))
        )
    }

    /// The resource id a cursor points after, if it was sealed by this key for `query`.
    pub fn open(&self, query: &str, cursor: &str) -> Result<String, ScimError> {
        let invalid = || {
            ScimError::invalid_cursor(
                "the cursor is not one this server returned for this query; start again with an empty cursor",
            )
        };
        let (payload, tag) = cursor.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        // `verify_truncated_left` accepts any non-empty prefix of the MAC, down to one byte:
        // only a tag of the full length is compared (in constant time, by `hmac`).
        if tag.len() != TAG_LEN {
            return Err(invalid());
        }
        let mut mac = hmac_with(&self.0);
        mac.update(&payload);
        mac.verify_truncated_left(&tag).map_err(|_| invalid())?;
        let payload = String::from_utf8(payload).map_err(|_| invalid())?;
        let (print, last_id) = payload.split_once(':').ok_or_else(invalid)?;
        if print != fingerprint(query) {
            return Err(invalid());
        }
        Ok(last_id.to_owned())
    }
}

/// HMAC-SHA256 keyed with `key`. HMAC takes keys of any length, so this cannot fail.
fn hmac_with(key: &[u8]) -> HmacSha256 {
    match <HmacSha256 as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
    }
}

fn fingerprint(query: &str) -> String {
    let digest = Sha256::digest(query.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let key = CursorKey::derive(b"a secret of the deployment, long enough");
        let cursor = key.seal("org=a filter=x", "01a2");
        assert_eq!(key.open("org=a filter=x", &cursor), Ok("01a2".to_owned()));
        // Another query, another key, a tampered payload or tag: all refused.
        assert!(key.open("org=a filter=y", &cursor).is_err());
        assert!(
            CursorKey::derive(b"another deployment")
                .open("org=a filter=x", &cursor)
                .is_err()
        );
        let (payload, tag) = cursor.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(b"0000000000000000:zzzz");
        assert!(
            key.open("org=a filter=x", &format!("{forged}.{tag}"))
                .is_err()
        );
        assert!(
            key.open("org=a filter=x", &format!("{payload}.AAAA"))
                .is_err()
        );
        assert!(key.open("org=a filter=x", "garbage").is_err());
        // The tag's first bytes alone are not enough, however right they are.
        let tag_bytes = URL_SAFE_NO_PAD.decode(tag).unwrap();
        assert_eq!(tag_bytes.len(), TAG_LEN);
        for len in [1, 8, TAG_LEN - 1] {
            let short = URL_SAFE_NO_PAD.encode(&tag_bytes[..len]);
            assert!(
                key.open("org=a filter=x", &format!("{payload}.{short}"))
                    .is_err(),
                "a {len}-byte tag is refused"
            );
        }
        let long = URL_SAFE_NO_PAD.encode([tag_bytes.as_slice(), &[0]].concat());
        assert!(
            key.open("org=a filter=x", &format!("{payload}.{long}"))
                .is_err()
        );
        assert_eq!(
            key.open("q", "x.y").unwrap_err().scim_type(),
            Some(crate::scim::ScimType::InvalidCursor)
        );
    }
}

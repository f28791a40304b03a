//! roster's Security Event Token signing key (docs/events.md, "Keys"): where it comes from.
//!
//! 1. `ROSTER_EVENTS_SIGNING_KEY_FILE`, on either backend: a PKCS#8 PEM EC P-256 private key
//!    the operator made and distributes to every node.
//! 2. Else, on SQLite (one node): the file `<database>.events-key` beside the database,
//!    generated at first start with mode 0600, like the JWT secret beside it.
//! 3. Else (PostgreSQL, or an SQLite database without a file): generated at first start and
//!    kept in the database's `settings` table, so that every node on the database signs with
//!    the same key without configuration. It is as protected as the webhook secrets already in
//!    the database; an operator who wants it elsewhere configures the file.

use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::auth::keys::{temp_path_beside, write_private_file};
use crate::config::Settings;
use crate::events::set::SetSigner;
use crate::store::{self, Store};

/// Loads (or generates and keeps) the SET signing key for `settings`, on `store`'s database.
pub fn load(store: &Store, settings: &Settings) -> anyhow::Result<SetSigner> {
    if let Some(path) = &settings.events.signing_key_file {
        let pem = read_private(path)?;
        return SetSigner::from_pem(pem.as_bytes())
            .with_context(|| format!("ROSTER_EVENTS_SIGNING_KEY_FILE {}", path.display()));
    }
    match store::sqlite_path(&settings.database_url) {
        Some(db) if !db.is_empty() && db != ":memory:" && !db.starts_with("file:") => {
            load_or_create_file(&PathBuf::from(format!("{db}.events-key")))
        }
        _ => in_database(store),
    }
}

fn in_database(store: &Store) -> anyhow::Result<SetSigner> {
    let candidate = SetSigner::generate_pem()?;
    let mut conn = store.conn().context("reading the event signing key")?;
    let pem = store::events::signing_key(&mut conn, &candidate)
        .context("reading or storing the event signing key")?;
    if pem == candidate {
        tracing::info!("generated the event signing key (kept in the database)");
    }
    SetSigner::from_pem(pem.as_bytes()).context("the event signing key in the settings table")
}

/// Reads the key at `path`, or generates one there (mode 0600), atomically: written beside and
/// hard-linked into place, so two processes starting at once agree on one key.
fn load_or_create_file(path: &Path) -> anyhow::Result<SetSigner> {
    match read_private(path) {
        Ok(pem) => {
            return SetSigner::from_pem(pem.as_bytes())
                .with_context(|| format!("the event signing key {}", path.display()));
        }
        Err(e)
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::NotFound) => {}
        Err(e) => return Err(e),
    }
    let pem = SetSigner::generate_pem()?;
    let tmp = temp_path_beside(path);
    let written = write_private_file(&tmp, pem.as_bytes());
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing the event signing key {}", path.display()));
    }
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated the event signing key");
            Ok(SetSigner::from_pem(pem.as_bytes())?)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let pem = read_private(path)?;
            Ok(SetSigner::from_pem(pem.as_bytes())?)
        }
        Err(e) => {
            Err(e).with_context(|| format!("writing the event signing key {}", path.display()))
        }
    }
}

/// The text of a private key file, refused when other users may read or change it. A missing
/// file is an `io::Error` of kind `NotFound` (the caller may generate one).
fn read_private(path: &Path) -> anyhow::Result<String> {
    let mut file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(e.into()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata()?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "the event signing key {} has mode {mode:04o}: other users can read or change it, \
                 and whoever reads it can sign events as this server; run `chmod 600 {}` (and \
                 replace the key if others may have read it)",
                path.display(),
                path.display()
            );
        }
    }
    let mut pem = String::new();
    file.read_to_string(&mut pem)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(pem)
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_key_file_is_generated_once_owner_only_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.db.events-key");
        let first = load_or_create_file(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = load_or_create_file(&path).unwrap();
        assert_eq!(first.kid(), again.kid(), "the same key on the next start");
    }

    #[test]
    fn a_shared_or_bad_key_file_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        fs::write(&path, SetSigner::generate_pem().unwrap()).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create_file(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        fs::write(
            &path,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let err = format!("{:#}", load_or_create_file(&path).unwrap_err());
        assert!(err.contains("P-256"), "{err}");
    }
}

//! The SQLite database file, created owner-only before SQLite opens it.
//!
//! SQLite creates a missing database with mode 0644 (less the umask): every local user could
//! read every org's users. Its unix VFS gives the `-wal` and `-shm` files the permission bits of
//! the database file, so creating the main file 0600 first makes all three private.

use std::fs::OpenOptions;
use std::io;
use std::path::Path;

use super::StoreError;

/// Creates the SQLite database at `path` as an empty file with mode 0600 when it does not
/// exist yet. An existing file is left as it is (its owner chose its mode), with a warning
/// when other users may read it. In-memory and `file:` URI databases are left to SQLite.
pub fn create_private(path: &str) -> Result<(), StoreError> {
    if path.is_empty() || path == ":memory:" || path.starts_with("file:") {
        return Ok(());
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            warn_if_shared(Path::new(path));
            Ok(())
        }
        Err(e) => Err(StoreError::Task(format!(
            "cannot create the SQLite database {path}: {e}"
        ))),
    }
}

#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:04o}", meta.permissions().mode() & 0o7777),
            "the SQLite database is readable by other users; run `chmod 600` on it and on its -wal and -shm files"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path) {}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    use diesel::RunQueryDsl;

    use crate::store::Store;

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_database_and_its_wal_and_shm_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("roster.db");
        let store = Store::open(db.to_str().unwrap(), 2, Duration::from_secs(5)).unwrap();
        store.migrate().unwrap();
        // A write, so that the WAL holds something and both side files exist while the pool
        // keeps connections open (the last close checkpoints and removes them).
        let mut conn = store.conn().unwrap();
        diesel::sql_query(
            "INSERT INTO orgs (id, name, created_at) VALUES ('acme', 'Acme', '2026-11-29 00:00:00')",
        )
        .execute(&mut *conn)
        .unwrap();
        for name in ["roster.db", "roster.db-wal", "roster.db-shm"] {
            let path = dir.path().join(name);
            assert!(path.exists(), "{name} is missing");
            assert_eq!(mode(&path), 0o600, "{name}");
        }
    }

    #[test]
    fn an_existing_database_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("roster.db");
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
        super::create_private(db.to_str().unwrap()).unwrap();
        assert_eq!(mode(&db), 0o640);
    }

    #[test]
    fn a_missing_directory_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("nope").join("roster.db");
        let err = super::create_private(db.to_str().unwrap()).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}

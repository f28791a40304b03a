//! File permissions on SQLite (the embedded default): the database, its `-wal` and `-shm` are
//! created owner-only, and a JWT secret file other users can read stops the start. Files only
//! exist with SQLite, so these tests have no PostgreSQL half.

use std::os::unix::fs::PermissionsExt;

use roster::startup::Application;

use crate::helpers::*;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_and_its_wal_and_shm_are_owner_only() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // A write through the server, so the WAL holds it while the server's connections are open.
    app.create_user("files@example.com").await;
    let db = std::path::PathBuf::from(&app.settings.database_url);
    for suffix in ["", "-wal", "-shm"] {
        let path = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        assert!(path.exists(), "{} is missing", path.display());
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}

#[test]
fn a_secret_file_others_can_read_stops_the_start_with_the_chmod_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("roster.db");
    let mut settings = settings(db.to_str().unwrap());
    settings.jwt_secret = None;
    // The first start generates the secret, owner-only.
    let secret = dir.path().join("roster.db.jwt-secret");
    drop(Application::build(&settings).unwrap());
    assert_eq!(mode(&secret), 0o600);

    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let Err(err) = Application::build(&settings) else {
        panic!("a world-readable secret file was used");
    };
    let message = format!("{err:#}");
    assert!(
        message.contains(&format!("chmod 600 {}", secret.display())),
        "{message}"
    );
}

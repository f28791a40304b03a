//! Rebuilds roster when a migration is added or changed: `embed_migrations!` (src/store/mod.rs)
//! reads `migrations/` at compile time, and Cargo does not know to look there by itself (the
//! remedy diesel_migrations' documentation gives).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

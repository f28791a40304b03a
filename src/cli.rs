//! The `roster` command line (docs/architecture.md §1): `serve` (the default), `migrate`, `org create`,
//! `token create`, `token revoke`.
//!
//! Commands other than `serve` open the database beside a server that may be running: on
//! SQLite they meet its write lock, and wait for it (up to `ROSTER_CLI_LOCK_WAIT`) rather than
//! fail with "database is locked": a revocation must not lose to the writes of the token it
//! revokes.

use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::auth::{Role, Signer};
use crate::clock;
use crate::config::Settings;
use crate::ids::{OrgId, UserId};
use crate::startup::{self, Application};
use crate::store::{orgs, tokens, unique_violation, users};

/// roster: the SCIM 2.0 system of record that Okta and Entra ID provision into.
#[derive(Debug, Parser)]
#[command(name = "roster", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the SCIM and admin APIs (the default).
    Serve,
    /// Apply pending database migrations and exit (serve also does this at start).
    Migrate,
    /// Manage organizations (tenants).
    #[command(subcommand)]
    Org(OrgCommand),
    /// Mint and revoke bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `roster org …`
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization. Its slug is what tokens carry in their `org` claim.
    Create {
        /// Lowercase letters, digits and '-', e.g. `acme`.
        slug: String,
        /// Display name (defaults to the slug).
        #[arg(long)]
        name: Option<String>,
    },
}

/// `roster token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a new HS256 token, e.g. to paste into Okta or Entra ID as the API token.
    Create {
        /// The organization the token acts in.
        #[arg(long, default_value = "default")]
        org: String,
        /// `provisioner` for an IdP connector, `admin` for an org admin.
        #[arg(long)]
        role: Role,
        /// The roster user id the token acts as; refused while that user is deactivated.
        #[arg(long)]
        sub: Option<String>,
        /// Lifetime such as `90d` or `12h`; without it the token does not expire (what IdP
        /// connectors expect). Revoke it with `roster token revoke`.
        #[arg(long, value_parser = humantime::parse_duration)]
        ttl: Option<Duration>,
    },
    /// Refuse a token from the next request on, on every node.
    Revoke {
        /// The token's `jti`, printed by `token create`.
        jti: String,
    },
}

/// Runs the command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&settings),
        Command::Migrate => {
            open_store(&settings)?;
            eprintln!("database is up to date");
            Ok(())
        }
        Command::Org(OrgCommand::Create { slug, name }) => {
            let org = OrgId::parse(&slug).map_err(anyhow::Error::msg)?;
            let store = open_store(&settings)?;
            let mut conn = store.conn()?;
            match orgs::create(
                &mut conn,
                &org,
                name.as_deref().unwrap_or(&slug),
                clock::now(),
            ) {
                Ok(()) => {
                    eprintln!("created organization '{org}'");
                    Ok(())
                }
                Err(e) if unique_violation(&e).is_some() => {
                    anyhow::bail!("organization '{org}' already exists")
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Token(TokenCommand::Create {
            org,
            role,
            sub,
            ttl,
        }) => {
            let org = OrgId::parse(&org).map_err(anyhow::Error::msg)?;
            let store = open_store(&settings)?;
            let mut conn = store.conn()?;
            if !orgs::exists(&mut conn, &org)? {
                anyhow::bail!(
                    "organization '{org}' does not exist: create it with `roster org create {org}`"
                );
            }
            if let Some(sub) = &sub {
                let id = UserId::parse(sub)
                    .with_context(|| format!("'{sub}' is not a roster user id"))?;
                if users::find(&mut conn, &org, &id)?.is_none() {
                    anyhow::bail!("organization '{org}' has no user with id '{sub}'");
                }
            }
            let secret = settings
                .resolve_secret()?
                .context("token create signs with the HS256 secret: set ROSTER_JWT_SECRET")?;
            let signer = Signer::new(&secret, &settings.jwt_issuer, &settings.jwt_audience);
            let (token, claims) =
                signer.issue(org.as_str(), role, sub.as_deref(), ttl, clock::unix_now())?;
            println!("{token}");
            eprintln!(
                "jti={} org={} role={} expires={}",
                claims.jti,
                claims.org,
                claims.role,
                claims
                    .exp
                    .map_or_else(|| "never".to_owned(), |e| e.to_string())
            );
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { jti }) => {
            if revoke_token(&settings, &jti)? {
                eprintln!("revoked token {jti}");
            } else {
                eprintln!("token {jti} was already revoked");
            }
            Ok(())
        }
    }
}

/// `roster token revoke <jti>`: `true` when the token is now revoked, `false` when it already
/// was. Waits for a running server's write lock (see the module documentation).
pub fn revoke_token(settings: &Settings, jti: &str) -> anyhow::Result<bool> {
    let store = open_store(settings)?;
    let mut conn = store.conn()?;
    tokens::revoke(&mut conn, jti, clock::now()).with_context(|| {
        format!(
            "revoking token {jti} (if the database stayed locked, a server held its write lock \
             longer than ROSTER_CLI_LOCK_WAIT={}; retry)",
            humantime::format_duration(settings.cli_lock_wait)
        )
    })
}

/// The store of a CLI command: one connection, waiting for a server's write lock.
pub fn open_store(settings: &Settings) -> anyhow::Result<crate::store::Store> {
    startup::open_store_with(settings, &settings.cli_store_options())
}

fn serve(settings: &Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async {
        let app = Application::build(settings)?;
        tracing::info!(port = app.port(), metrics_port = app.metrics_port(), backend = ?settings.backend(), "roster is listening");
        let shutdown = app.shutdown();
        actix_web::rt::spawn(async move {
            if let Err(e) = crate::shutdown::on_signals(shutdown).await {
                tracing::error!(error = %e, "cannot listen for SIGTERM/SIGINT");
            }
        });
        app.run_until_stopped().await?;
        Ok(())
    })
}

//! The `roster` command line (docs/architecture.md §1): `serve` (the default), `migrate`, `org create`,
//! `token create`, `token revoke`, `console-link`.
//!
//! Commands other than `serve` open the database beside a server that may be running: on
//! SQLite they meet its write lock, and wait for it (up to `ROSTER_CLI_LOCK_WAIT`) rather than
//! fail with "database is locked": a revocation must not lose to the writes of the token it
//! revokes.
//!
//! Like the HTTP handlers, the commands parse and call `provisioning` (its `operator` use
//! cases), which writes each change with its audit event (channel `cli`); this module never
//! names `store` (docs/architecture.md §2).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::auth::{Role, Signer};
use crate::config::Settings;
use crate::ids::{OrgId, UserId};
use crate::provisioning::console;
use crate::provisioning::operator;
use crate::provisioning::tokens::{self, TokenRequest};
use crate::provisioning::{Actor, Store};
use crate::startup::{self, Application};

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
    /// Purge deleted users for good (their data, and their names in the audit and event
    /// records kept): those deleted longer ago than the org's retention (or `--retention-days`), or with `--now` all of
    /// them (a right-to-erasure request), or with `--user` one. Recorded in the org's audit log.
    Purge {
        /// The organization whose deleted users are purged.
        #[arg(long)]
        org: String,
        /// Purge every deleted user of the org now, however recently deleted.
        #[arg(long, conflicts_with = "user")]
        now: bool,
        /// Purge this deleted user only, now.
        #[arg(long)]
        user: Option<String>,
        /// Without `--now` or `--user`: purge the users deleted longer ago than this, instead
        /// of the org's retention (`/admin/v1/deleted-user-retention`, 30 days by default).
        #[arg(long, value_parser = clap::value_parser!(i64).range(0..=36_500))]
        retention_days: Option<i64>,
    },
    /// Print a one-time link that signs in to the admin console as the org's admin.
    ConsoleLink {
        /// The organization to administer.
        #[arg(long, default_value = "default")]
        org: String,
        /// How long the link stays valid (at most 24h); it works once.
        #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
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
        /// What the org's admin sees it called in `GET /admin/v1/tokens`.
        #[arg(long)]
        name: Option<String>,
    },
    /// Refuse a token from the next request on, on every node; recorded in the org's audit log.
    Revoke {
        /// The token's `jti`, printed by `token create`.
        jti: String,
        /// The organization the token acts in: the revocation is recorded in its audit log
        /// (the token is refused whatever the org).
        #[arg(long, default_value = "default")]
        org: String,
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
            operator::create_org(&store, &org, name.as_deref().unwrap_or(&slug))?;
            eprintln!("created organization '{org}'");
            Ok(())
        }
        Command::Token(TokenCommand::Create {
            org,
            role,
            sub,
            ttl,
            name,
        }) => {
            let org = OrgId::parse(&org).map_err(anyhow::Error::msg)?;
            let subject = sub
                .map(|sub| {
                    UserId::parse(&sub).with_context(|| format!("'{sub}' is not a roster user id"))
                })
                .transpose()?;
            let store = open_store(&settings)?;
            let secret = settings
                .resolve_secret()?
                .context("token create signs with the HS256 secret: set ROSTER_JWT_SECRET")?;
            let signer = Arc::new(Signer::new(
                &secret,
                &settings.jwt_issuer,
                &settings.jwt_audience,
            ));
            let actor = Actor::operator(org.clone());
            let request = TokenRequest {
                name: name.unwrap_or_else(|| format!("{role} token (cli)")),
                role,
                subject,
                ttl,
            };
            let minted = actix_web::rt::System::new()
                .block_on(tokens::create(&store, &signer, &actor, request))
                .map_err(|e| anyhow::anyhow!("{}", e.detail()))?;
            println!("{}", minted.token);
            let view = minted.view;
            eprintln!(
                "jti={} org={} role={} name={:?} expires={}",
                view.jti,
                view.org,
                view.role,
                view.name,
                view.expires_at
                    .map_or_else(|| "never".to_owned(), |e| e.timestamp().to_string())
            );
            Ok(())
        }
        Command::ConsoleLink { org, ttl } => {
            let (url, link) = console_link(&settings, &org, ttl)?;
            println!("{url}");
            eprintln!(
                "one-time link for organization '{org}', valid until {} (jti={}; `roster token \
                 revoke {}` ends the session it opens)",
                link.expires_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                link.jti,
                link.jti
            );
            Ok(())
        }
        Command::Purge {
            org,
            now,
            user,
            retention_days,
        } => {
            let org = OrgId::parse(&org).map_err(anyhow::Error::msg)?;
            let scope = match (now, user) {
                (_, Some(user)) => operator::PurgeScope::User(user),
                (true, None) => operator::PurgeScope::All,
                (false, None) => match retention_days {
                    Some(days) => operator::PurgeScope::OlderThan(chrono::Duration::days(days)),
                    None => operator::PurgeScope::OrgRetention,
                },
            };
            let store = open_store(&settings)?;
            let purged = operator::purge_deleted_users(&store, &org, &scope, crate::clock::now())?;
            eprintln!(
                "purged {} deleted user(s) of organization '{org}'",
                purged.len()
            );
            for id in purged {
                println!("{id}");
            }
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { jti, org }) => {
            if revoke_token(&settings, &org, &jti)? {
                eprintln!("revoked token {jti}");
            } else {
                eprintln!("token {jti} was already revoked");
            }
            Ok(())
        }
    }
}

/// `roster token revoke <jti> --org <org>`: `true` when the token is now revoked, `false` when
/// it already was. The revocation is recorded in `org`'s audit log (channel `cli`), which must
/// exist. Waits for a running server's write lock (see the module documentation).
pub fn revoke_token(settings: &Settings, org: &str, jti: &str) -> anyhow::Result<bool> {
    let org = OrgId::parse(org).map_err(anyhow::Error::msg)?;
    let store = open_store(settings)?;
    actix_web::rt::System::new()
        .block_on(tokens::revoke_by_operator(&store, &org, jti))
        .map_err(|e| anyhow::anyhow!("{}", e.detail()))
        .with_context(|| {
            format!(
                "revoking token {jti} (if the database stayed locked, a server held its write lock \
             longer than ROSTER_CLI_LOCK_WAIT={}; retry)",
                humantime::format_duration(settings.cli_lock_wait)
            )
        })
}

/// `roster console-link`: makes a one-time sign-in link for `org` valid for `ttl`, and returns
/// its URL (on `ROSTER_BASE_URL`'s origin, else the bind address) with the link.
pub fn console_link(
    settings: &Settings,
    org: &str,
    ttl: Duration,
) -> anyhow::Result<(String, console::Link)> {
    let org = OrgId::parse(org).map_err(anyhow::Error::msg)?;
    let store = open_store(settings)?;
    let link = actix_web::rt::System::new()
        .block_on(console::create_link(&store, &org, ttl))
        .map_err(|e| anyhow::anyhow!("{}", e.detail()))?;
    let url = format!("{}/admin/link#{}", console_origin(settings), link.secret);
    Ok((url, link))
}

/// Where the console is reached: `ROSTER_BASE_URL` without its path (it names the SCIM base,
/// such as `https://roster.example.com/scim/v2`), else `http://` and the bind address.
pub fn console_origin(settings: &Settings) -> String {
    match &settings.base_url {
        Some(base) => {
            let base = base.trim_end_matches('/');
            let base = base.strip_suffix("/scim/v2").unwrap_or(base);
            base.to_owned()
        }
        None => {
            let bind = settings.bind.replace("0.0.0.0", "127.0.0.1");
            format!("http://{bind}")
        }
    }
}

/// The store of a CLI command: one connection, waiting for a server's write lock.
pub fn open_store(settings: &Settings) -> anyhow::Result<Store> {
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

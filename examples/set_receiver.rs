//! A receiver of roster's Security Event Tokens (docs/events.md, "The set format"): verifies
//! each SET against roster's `/.well-known/jwks.json`, its `iss` and `aud`, and prints it.
//!
//! ```sh
//! cargo run --example set_receiver -- http://127.0.0.1:8080 http://127.0.0.1:9001/
//! ```
//!
//! The first argument is roster's address, the second this receiver's URL, which is the `aud`
//! of the SETs of a subscription made without an `audience` (and where it listens). Start
//! roster with `ROSTER_EVENTS_ALLOW_INSECURE=true`, subscribe the URL with `"format": "set"`,
//! and deactivate a user: the receiver prints `urn:ietf:params:scim:event:prov:deactivate`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::Mutex;

use actix_web::{App, HttpResponse, HttpServer, web};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

struct Receiver {
    roster: String,
    audience: String,
    issuer: String,
    /// `jti`s already handled: delivery is at least once.
    seen: Mutex<HashSet<String>>,
}

async fn receive(receiver: web::Data<Receiver>, body: web::Bytes) -> HttpResponse {
    let refuse = |err: &str, description: String| {
        HttpResponse::BadRequest().json(json!({"err": err, "description": description}))
    };
    let Ok(token) = std::str::from_utf8(&body) else {
        return refuse("invalid_request", "not a SET".to_owned());
    };
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return refuse("invalid_request", "not a JWS".to_owned());
    };
    // Fetched on every SET for brevity; a real receiver caches it and refetches on an unknown kid.
    let jwks: JwkSet =
        match reqwest::get(format!("{}/.well-known/jwks.json", receiver.roster)).await {
            Ok(response) => response.json().await.unwrap(),
            Err(e) => return HttpResponse::ServiceUnavailable().body(e.to_string()),
        };
    let Some(jwk) = header.kid.as_deref().and_then(|kid| jwks.find(kid)) else {
        return refuse("invalid_key", "unknown kid".to_owned());
    };
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[&receiver.issuer]);
    validation.set_audience(&[&receiver.audience]);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let claims = match jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    ) {
        Ok(data) => data.claims,
        Err(e) => return refuse("invalid_request", e.to_string()),
    };
    let jti = claims["jti"].as_str().unwrap_or_default().to_owned();
    if receiver.seen.lock().unwrap().insert(jti) {
        for (uri, payload) in claims["events"].as_object().into_iter().flatten() {
            println!("{uri} {} {payload}", claims["sub_id"]);
        }
    }
    HttpResponse::Accepted().finish()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let roster = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let audience = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:9001/".to_owned());
    // ROSTER_EVENTS_ISSUER, else ROSTER_BASE_URL, else "roster".
    let issuer = std::env::var("ROSTER_EVENTS_ISSUER").unwrap_or_else(|_| "roster".to_owned());
    let listen = audience
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let receiver = web::Data::new(Receiver {
        roster: roster.trim_end_matches('/').to_owned(),
        audience,
        issuer,
        seen: Mutex::default(),
    });
    println!("listening on {listen}");
    HttpServer::new(move || {
        App::new()
            .app_data(receiver.clone())
            .default_service(web::post().to(receive))
    })
    .workers(1)
    .bind(listen)?
    .run()
    .await
}

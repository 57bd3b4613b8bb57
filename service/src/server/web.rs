//! The web pages beside the API (`healthcode serve --web DIR`): the citizen's page and the
//! checkpoint's page (built from `web/`), the policy bundle they load (`/bundle/`), and
//! `/app-config.json`, which tells them the registry key and the witnesses a checkpoint trusts.
//!
//! Serving the pages from the registry's own origin spares them CORS. The trust anchors come
//! from this server's configuration, which is the deployment's: an operator who serves pages
//! with other keys could as well serve other pages, so whoever installs the pages trusts their
//! origin (as with any web app); the checkpoint still accepts heads only under the witnesses'
//! cosignatures.

use super::App;
use axum::http::header;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use tower_http::services::ServeDir;

/// Where the pages are and what they are told.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// The built pages (`web/dist`, from `scripts/web-build.sh`).
    pub dir: PathBuf,
    /// The policy bundle (`healthcode setup`), served at `/bundle/`.
    pub bundle: PathBuf,
    /// How many of the registry's witnesses a checkpoint page requires (default: a majority).
    pub quorum: Option<usize>,
}

/// `/app-config.json`.
#[derive(Serialize)]
pub struct AppConfig {
    /// The registry's public key (hex).
    pub registry_key: String,
    /// The registry service's URL as the pages see it: "" for this origin.
    pub registry_url: String,
    /// Where the policy bundle's files are.
    pub bundle_url: String,
    /// The witnesses' cosignature keys (C2SP vkeys), and how many of them must have cosigned.
    pub witness_keys: Vec<String>,
    pub quorum: usize,
}

pub fn app_config(app: &App, quorum: Option<usize>) -> AppConfig {
    let witness_keys: Vec<String> = app.witnesses.iter().map(|w| w.vkey.clone()).collect();
    let quorum = quorum.unwrap_or(witness_keys.len() / 2 + 1).min(witness_keys.len().max(1));
    AppConfig {
        registry_key: hex::encode(app.registry_key.as_bytes()),
        registry_url: String::new(),
        bundle_url: "/bundle/".into(),
        witness_keys,
        quorum,
    }
}

/// Adds the pages to the API's routes: the API's paths win, anything else is a file of `dir`
/// (and `/` its `index.html`).
pub fn add_pages(routes: Router<Arc<App>>, web: &WebConfig, app: &App) -> Router<Arc<App>> {
    let config = serde_json::to_vec_pretty(&app_config(app, web.quorum)).unwrap_or_default();
    routes
        .route(
            "/app-config.json",
            get(move || {
                let config = config.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-cache")],
                        config,
                    )
                }
            }),
        )
        .nest_service("/bundle", ServeDir::new(&web.bundle))
        .fallback_service(ServeDir::new(&web.dir))
}

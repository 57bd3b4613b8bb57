//! The router, the OpenAPI description, and the handlers everyone may call: health, metrics,
//! heads, the head log's checkpoint and tiles, and the submission of signed events and
//! retractions (authenticated by the signer's own signature on each).

use super::batcher::BatchError;
use super::error::{ApiError, ApiResult};
use super::{publisher, roles, App};
use crate::api::{self, path, BatchResponse, ErrorBody, Health, ProvenHead, RecentHeads, Verdict};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use healthcode_registry::receipt::Receipt;
use healthcode_registry::{CheckedEvent, Refusal, RegistryError, SignedEvent, SignedHead, SignedRetraction};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "healthcode registry",
        description = "Signed events in, witnesses and signed heads out; see docs/protocol.md"
    ),
    paths(
        healthz,
        openapi,
        submit_events,
        submit_retraction,
        head_latest,
        head_at,
        recent_heads,
        checkpoint,
        tile,
        roles::add_signer,
        roles::revoke_signer,
        roles::enrol,
        roles::add_auditor,
        roles::force_publish,
        roles::holder_witness,
        roles::holder_history,
        roles::auditor_entries
    ),
    components(schemas(
        ErrorBody,
        Verdict,
        BatchResponse,
        Health,
        RecentHeads,
        ProvenHead,
        api::AddSigner,
        api::RevokeSigner,
        api::Enrol,
        api::Enrolled,
        api::AddAuditor,
        api::Entries
    ))
)]
pub struct ApiDoc;

pub fn router(app: Arc<App>, timeout: Duration, web: Option<&super::web::WebConfig>) -> Router {
    let routes = Router::new()
        .route(path::HEALTHZ, get(healthz))
        .route(path::METRICS, get(metrics))
        .route(path::OPENAPI, get(openapi))
        .route(path::EVENTS, post(submit_events))
        .route(path::RETRACTIONS, post(submit_retraction))
        .route(path::HEAD_LATEST, get(head_latest))
        .route("/v1/heads/{epoch}", get(head_at))
        .route(path::HEADS, get(recent_heads))
        .route(path::CHECKPOINT, get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route(path::OPERATOR_SIGNERS, post(roles::add_signer))
        .route(path::OPERATOR_SIGNER_REVOKE, post(roles::revoke_signer))
        .route(path::OPERATOR_HOLDERS, post(roles::enrol))
        .route(path::OPERATOR_AUDITORS, post(roles::add_auditor))
        .route(path::OPERATOR_PUBLISH, post(roles::force_publish))
        .route(path::HOLDER_WITNESS, get(roles::holder_witness))
        .route(path::HOLDER_HISTORY, get(roles::holder_history))
        .route(path::AUDITOR_ENTRIES, get(roles::auditor_entries))
        // Unknown API paths answer in JSON even when the pages' files are the fallback.
        .route("/v1/{*rest}", any(not_found))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let routes = match web {
        Some(w) => super::web::add_pages(routes, w, &app),
        None => routes,
    };
    routes
        .layer(middleware::from_fn_with_state(app.clone(), count_requests))
        .layer(DefaultBodyLimit::max(api::MAX_BODY))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(CatchPanicLayer::custom(|_| ApiError::internal("a handler panicked").into_response()))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::new(404, "not_found", "no such route; see /openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(405, "method_not_allowed", "this route does not take that method; see /openapi.json")
}

/// Counts every answer by route template (never by concrete path: paths can carry ids).
async fn count_requests(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_string();
    let resp = next.run(req).await;
    let labels = super::metrics::RequestLabels { route, status: resp.status().as_u16() };
    app.metrics.requests.get_or_create(&labels).inc();
    resp
}

/// Runs registry work off the async workers.
pub async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&App) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || f(&app)).await.map_err(ApiError::internal)?
}

pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(ApiError::bad_json)
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
async fn healthz(State(app): State<Arc<App>>) -> Json<Health> {
    // Never waits for the registry's lock (a publish can hold it for a second): the epoch is the
    // head log's, the queue length the last one measured.
    let epoch = app.head_log.read().unwrap_or_else(|p| p.into_inner()).size().saturating_sub(1);
    Json(Health { status: "ok".into(), epoch, queue: app.metrics.queue.get().max(0) as u64 })
}

async fn metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.encode())
}

#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "This description")))]
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Up to this many events have their signatures checked on the async worker itself (~50 µs
/// each); larger batches go to the blocking pool.
const INLINE_CHECKS: usize = 16;

/// One signed event, or an array of them (at most `MAX_BATCH`).
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(Box<T>),
    Many(Vec<T>),
}

/// Submit signed events: one (answered 201 with its receipt, or its refusal's status) or an
/// array (answered 200 with a verdict per event, in order).
#[utoipa::path(post, path = "/v1/events", request_body(content = Object, description = "A signed event, or an array of them"),
    responses((status = 201, description = "Accepted: the inclusion receipt"), (status = 200, body = BatchResponse),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn submit_events(State(app): State<Arc<App>>, body: Bytes) -> ApiResult<Response> {
    let (events, single) = match parse::<OneOrMany<SignedEvent>>(&body)? {
        OneOrMany::One(e) => (vec![*e], true),
        OneOrMany::Many(v) => (v, false),
    };
    if events.is_empty() || events.len() > api::MAX_BATCH {
        return Err(ApiError::new(
            422,
            "batch_size",
            format!("a batch holds 1 to {} events", api::MAX_BATCH),
        ));
    }
    // Signatures are checked here, on the request's worker, so that many connections check in
    // parallel; badly signed events (anyone can send a thousand per request) are refused here and
    // never wait for the registry's writer, which applies the acceptance rules to the rest.
    let checked = if events.len() > INLINE_CHECKS {
        tokio::task::spawn_blocking(move || events.into_iter().map(CheckedEvent::check).collect())
            .await
            .map_err(ApiError::internal)?
    } else {
        events.into_iter().map(CheckedEvent::check).collect::<Vec<_>>()
    };
    let ids: Vec<[u8; 32]> = checked.iter().map(|e| e.event().event.id()).collect();
    let me = app.registry_key;
    let early: Vec<Option<Refusal>> = checked.iter().map(|e| signature_refusal(e, &me)).collect();
    let well_signed: Vec<CheckedEvent> =
        checked.into_iter().zip(&early).filter(|(_, r)| r.is_none()).map(|(e, _)| e).collect();
    let mut written = if well_signed.is_empty() {
        Vec::new()
    } else {
        app.batcher.submit(well_signed).await.map_err(|e| match e {
            BatchError::ClockBehind(why) => ApiError::new(503, "clock_behind", why),
            BatchError::Failed(why) => ApiError::internal(why),
        })?
    }
    .into_iter();
    let verdicts: Vec<_> = early
        .into_iter()
        .map(|r| match r {
            Some(r) => Ok((Err(r), 0)),
            None => written.next().ok_or("the writer answered fewer verdicts than events"),
        })
        .collect::<Result<_, _>>()
        .map_err(ApiError::internal)?;
    // Receipts are signed without the registry's lock.
    let results: Vec<Result<Receipt, Refusal>> =
        verdicts.into_iter().zip(ids).map(|((v, at), id)| v.map(|_| app.receipt(id, at))).collect();
    let accepted = results.iter().filter(|r| r.is_ok()).count() as u64;
    app.metrics.events_accepted.inc_by(accepted);
    app.metrics.events_refused.inc_by(results.len() as u64 - accepted);
    if single {
        return Ok(match results.into_iter().next() {
            Some(Ok(receipt)) => (StatusCode::CREATED, Json(receipt)).into_response(),
            Some(Err(r)) => ApiError::from(RegistryError::Refused(r)).into_response(),
            None => ApiError::internal("no verdict for a single event").into_response(),
        });
    }
    let results = results
        .into_iter()
        .map(|v| match v {
            Ok(receipt) => Verdict::Accepted(Box::new(receipt)),
            Err(r) => Verdict::Refused(ErrorBody::refusal(&r)),
        })
        .collect();
    Ok(Json(BatchResponse { results }).into_response())
}

/// The refusal the registry would give `e` before anything else (wrong registry, bad
/// signature), if any: what can be checked without the registry's lock.
/// The refusal the writer would give first for a badly signed event (same order as its checks).
fn signature_refusal(e: &CheckedEvent, registry: &ed25519_dalek::VerifyingKey) -> Option<Refusal> {
    if e.event().event.registry != *registry {
        Some(Refusal::WrongRegistry)
    } else if !e.signature_ok() {
        Some(Refusal::BadSignature)
    } else {
        None
    }
}

/// Submit a signed retraction of the signer's own event.
#[utoipa::path(post, path = "/v1/retractions", request_body(content = Object, description = "A signed retraction"),
    responses((status = 202, description = "Accepted"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn submit_retraction(State(app): State<Arc<App>>, body: Bytes) -> ApiResult<Response> {
    let r: SignedRetraction = parse(&body)?;
    blocking(&app, move |app| {
        // The clock is read under the registry's lock (see the batcher).
        let mut reg = app.registry();
        let now = (app.now)();
        reg.retract(&r, now).inspect_err(|_| {
            app.metrics.events_refused.inc();
        })?;
        app.metrics.events_accepted.inc();
        Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "accepted_at": now }))).into_response())
    })
    .await
}

#[utoipa::path(get, path = "/v1/heads/latest", responses((status = 200, description = "The latest signed head")))]
async fn head_latest(State(app): State<Arc<App>>) -> ApiResult<Json<SignedHead>> {
    blocking(&app, |app| Ok(Json(app.registry().head()?))).await
}

#[utoipa::path(get, path = "/v1/heads/{epoch}", params(("epoch" = u64, Path, description = "Epoch number")),
    responses((status = 200, description = "The signed head of that epoch"), (status = 404, body = ErrorBody)))]
async fn head_at(State(app): State<Arc<App>>, Path(epoch): Path<String>) -> ApiResult<Json<SignedHead>> {
    let epoch: u64 = epoch.parse().map_err(|_| ApiError::new(400, "bad_epoch", "the epoch is a number"))?;
    blocking(&app, move |app| Ok(Json(app.registry().head_at(epoch)?))).await
}

#[derive(Deserialize, utoipa::IntoParams)]
struct RecentQuery {
    /// How many heads (1 to 1000, default 16): the latest ones, or from `from` on.
    count: Option<u64>,
    /// The first epoch to return (default: the latest `count`): how auditors page through all.
    from: Option<u64>,
}

/// Heads with their inclusion proofs in the head log under the current checkpoint: the latest
/// ones (what a gate fetches to refresh its trusted heads) or a page from an epoch on.
#[utoipa::path(get, path = "/v1/heads", params(RecentQuery), responses((status = 200, body = RecentHeads), (status = 400, body = ErrorBody)))]
async fn recent_heads(
    State(app): State<Arc<App>>,
    Query(q): Query<RecentQuery>,
) -> ApiResult<Json<RecentHeads>> {
    let count = q.count.unwrap_or(16);
    if count == 0 || count > api::MAX_BATCH as u64 {
        return Err(ApiError::new(400, "bad_count", format!("count is 1 to {}", api::MAX_BATCH)));
    }
    blocking(&app, move |app| {
        let checkpoint = app.checkpoint.read().unwrap_or_else(|p| p.into_inner()).clone();
        let log = app.head_log.read().unwrap_or_else(|p| p.into_inner());
        let size = publisher::note_size(&checkpoint).unwrap_or(0);
        let mut heads = Vec::new();
        let first = q.from.unwrap_or(size.saturating_sub(count));
        for epoch in first..first.saturating_add(count).min(size) {
            let head = app.registry().head_at(epoch)?;
            let proof = log.inclusion_proof(epoch, size).map_err(ApiError::internal)?;
            heads.push(ProvenHead { head, proof: proof.iter().map(hex::encode).collect() });
        }
        Ok(Json(RecentHeads {
            checkpoint: String::from_utf8_lossy(&checkpoint).into_owned(),
            checkpoint_size: size,
            heads,
        }))
    })
    .await
}

/// The head log's latest checkpoint (tlog-checkpoint, signed note) with its cosignatures.
#[utoipa::path(get, path = "/checkpoint", responses((status = 200, description = "Signed note", content_type = "text/plain")))]
async fn checkpoint(State(app): State<Arc<App>>) -> Response {
    let note = app.checkpoint.read().unwrap_or_else(|p| p.into_inner()).clone();
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], note)
        .into_response()
}

/// A tile of the head log (tlog-tiles): full tiles never change and may be cached forever.
#[utoipa::path(get, path = "/tile/{path}", params(("path" = String, Path, description = "tlog-tiles path, e.g. 0/000 or entries/000.p/5")),
    responses((status = 200, description = "Tile bytes", content_type = "application/octet-stream"), (status = 404, body = ErrorBody)))]
async fn tile(State(app): State<Arc<App>>, Path(rest): Path<String>) -> ApiResult<Response> {
    let path = format!("tile/{rest}");
    let bytes = app
        .head_log
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .tile(&path)
        .map_err(|e| ApiError::new(404, "no_such_tile", e))?;
    let cache = if path.contains(".p/") { "no-store" } else { "public, max-age=31536000, immutable" };
    let mut resp = bytes.into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(resp)
}

/// Forced publish, shared with the operator handler.
pub async fn publish_now(app: &Arc<App>) -> ApiResult<SignedHead> {
    blocking(app, |app| Ok(publisher::publish(app)?)).await
}

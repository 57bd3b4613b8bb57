//! The handlers that need a signed request (see [`crate::auth`]): the operator's actions, a
//! holder reading her own witness and history, an accredited auditor reading the full log.

use super::error::{ApiError, ApiResult};
use super::routes::{blocking, parse, publish_now};
use super::App;
use crate::api::{self, AddAuditor, AddSigner, Enrol, Enrolled, Entries, ErrorBody, RevokeSigner};
use crate::auth::{SignedRequest, Verified, KEY_HEADER, NONCE_HEADER, SIGNATURE_HEADER, TIME_HEADER};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ed25519_dalek::VerifyingKey;
use healthcode_registry::event::key_from_hex;
use healthcode_registry::{History, SignedHead, WitnessFile};
use serde::Deserialize;
use std::sync::Arc;

/// Who signed this request (signature and freshness checked), or 401. Not yet recorded as used:
/// the handler does that with [`first_use`] once the signer is known to be allowed, so that
/// requests signed by strangers' keys never fill the replay guard.
fn signer(app: &App, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> ApiResult<Verified> {
    let h = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let req = SignedRequest {
        key: h(KEY_HEADER),
        time: h(TIME_HEADER),
        nonce: h(NONCE_HEADER),
        signature: h(SIGNATURE_HEADER),
    };
    let pq = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    Ok(req.check(&app.registry_key, method.as_str(), pq, body, (app.now)())?)
}

/// Records an authorised request as used: 401 if it was used before.
fn first_use(app: &App, v: Verified) -> ApiResult<VerifyingKey> {
    Ok(v.first_use(&app.replay, (app.now)())?)
}

/// The operator's signature, or 401/403.
fn operator(app: &App, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> ApiResult<()> {
    let v = signer(app, method, uri, headers, body)?;
    match app.operator {
        Some(op) if op == v.key => first_use(app, v).map(|_| ()),
        Some(_) => Err(ApiError::forbidden("this request is not signed by the operator's key")),
        None => Err(ApiError::forbidden("this registry service was started without an operator key")),
    }
}

/// The body of a request the operator signed (signature, freshness, operator key and first use
/// checked before the handler runs, so no handler can forget to).
pub struct OperatorSigned(pub Bytes);

impl axum::extract::FromRequest<Arc<App>> for OperatorSigned {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, app: &Arc<App>) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, api::MAX_BODY).await.map_err(|_| {
            ApiError::new(413, "too_large", format!("a request body is at most {} bytes", api::MAX_BODY))
        })?;
        operator(app, &parts.method, &parts.uri, &parts.headers, &body)?;
        Ok(Self(body))
    }
}

fn key_arg(hex: &str, what: &str) -> ApiResult<VerifyingKey> {
    key_from_hex(hex).map_err(|e| ApiError::new(422, "bad_key", format!("{what}: {e}")))
}

/// Accredit a lab or tracer (operator).
#[utoipa::path(post, path = "/v1/operator/signers", request_body = AddSigner,
    responses((status = 201, description = "Accredited"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add_signer(
    State(app): State<Arc<App>>,
    OperatorSigned(body): OperatorSigned,
) -> ApiResult<Response> {
    let a: AddSigner = parse(&body)?;
    let key = key_arg(&a.key, "key")?;
    blocking(&app, move |app| {
        app.registry().add_signer(&a.name, a.role, key, a.accredited_from, (app.now)())?;
        Ok(StatusCode::CREATED.into_response())
    })
    .await
}

/// Revoke a lab or tracer (operator).
#[utoipa::path(post, path = "/v1/operator/signers/revoke", request_body = RevokeSigner,
    responses((status = 200, description = "Revoked"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_signer(
    State(app): State<Arc<App>>,
    OperatorSigned(body): OperatorSigned,
) -> ApiResult<Response> {
    let a: RevokeSigner = parse(&body)?;
    blocking(&app, move |app| {
        let info = app.registry().revoke_signer(&a.name, (app.now)())?;
        Ok(Json(info).into_response())
    })
    .await
}

/// Enrol a holder with her commitment and device key (operator).
#[utoipa::path(post, path = "/v1/operator/holders", request_body = Enrol,
    responses((status = 201, body = Enrolled), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn enrol(State(app): State<Arc<App>>, OperatorSigned(body): OperatorSigned) -> ApiResult<Response> {
    let a: Enrol = parse(&body)?;
    let commitment = healthcode_circuits::field::from_hex(&a.commitment)
        .map_err(|e| ApiError::new(422, "bad_commitment", format!("commitment: {e}")))?;
    let device = key_arg(&a.device_key, "device_key")?;
    blocking(&app, move |app| {
        let mut reg = app.registry();
        if reg.holder_by_device(&device)?.is_some() {
            return Err(ApiError::new(409, "duplicate_device", "this device key is already registered"));
        }
        let leaf_index = reg.enroll_with_device(commitment, device, (app.now)())?;
        Ok((StatusCode::CREATED, Json(Enrolled { leaf_index })).into_response())
    })
    .await
}

/// Accredit an auditor (operator); logged at the next publish.
#[utoipa::path(post, path = "/v1/operator/auditors", request_body = AddAuditor,
    responses((status = 201, description = "Accredited"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add_auditor(
    State(app): State<Arc<App>>,
    OperatorSigned(body): OperatorSigned,
) -> ApiResult<Response> {
    let a: AddAuditor = parse(&body)?;
    let key = key_arg(&a.key, "key")?;
    blocking(&app, move |app| {
        app.registry().add_auditor(&a.name, key, (app.now)())?;
        Ok(StatusCode::CREATED.into_response())
    })
    .await
}

/// Publish the queue now (operator), without waiting for the timer.
#[utoipa::path(post, path = "/v1/operator/publish", request_body(content = String, description = "Empty"),
    responses((status = 200, description = "The new signed head"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn force_publish(State(app): State<Arc<App>>, _: OperatorSigned) -> ApiResult<Json<SignedHead>> {
    Ok(Json(publish_now(&app).await?))
}

/// The leaf of the holder whose registered device signed the request, or 403.
fn holder(app: &App, key: &VerifyingKey) -> ApiResult<u32> {
    app.reader()
        .holder_by_device(key)?
        .ok_or_else(|| ApiError::forbidden("this key is not a registered holder device"))
}

/// The holder's witness as of the latest head (her device's signed request).
#[utoipa::path(get, path = "/v1/holder/witness",
    responses((status = 200, description = "Her witness file"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn holder_witness(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Json<WitnessFile>> {
    let v = signer(&app, &method, &uri, &headers, b"")?;
    blocking(&app, move |app| {
        let leaf = holder(app, &v.key)?;
        first_use(app, v)?;
        Ok(Json(app.reader().witness(leaf)?))
    })
    .await
}

/// The holder's own history: her events, who signed them, their inclusion proofs.
#[utoipa::path(get, path = "/v1/holder/history",
    responses((status = 200, description = "Her history"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn holder_history(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Json<History>> {
    let v = signer(&app, &method, &uri, &headers, b"")?;
    blocking(&app, move |app| {
        let leaf = holder(app, &v.key)?;
        first_use(app, v)?;
        Ok(Json(app.registry().history(leaf)?))
    })
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct EntriesQuery {
    /// First log index.
    start: u64,
    /// How many entries (1 to 1000).
    count: u64,
}

/// Full log entries, for accredited auditors only (the public sees the hashes and heads).
#[utoipa::path(get, path = "/v1/auditor/entries", params(EntriesQuery),
    responses((status = 200, body = Entries), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 400, body = ErrorBody)))]
pub async fn auditor_entries(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<EntriesQuery>,
) -> ApiResult<Json<Entries>> {
    let v = signer(&app, &method, &uri, &headers, b"")?;
    if q.count == 0 || q.count > api::MAX_BATCH as u64 {
        return Err(ApiError::new(400, "bad_count", format!("count is 1 to {}", api::MAX_BATCH)));
    }
    blocking(&app, move |app| {
        let reg = app.registry();
        if !reg.is_active_auditor(&v.key)? {
            return Err(ApiError::forbidden("this key is not an accredited auditor"));
        }
        first_use(app, v)?;
        let size = reg.head()?.log_size;
        let end = q.start.saturating_add(q.count).min(size);
        let entries = if q.start >= end { Vec::new() } else { reg.log_entries(q.start, end)? };
        Ok(Json(Entries { start: q.start, entries: entries.iter().map(hex::encode).collect() }))
    })
    .await
}

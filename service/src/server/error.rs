//! One error type for every handler: a status and an [`ErrorBody`], logged when it is the
//! server's fault (5xx) and never with a holder's data.

use crate::api::{refusal_status, ErrorBody};
use crate::auth::AuthError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use healthcode_registry::RegistryError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: u16, error: &str, reason: impl ToString) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self { status, body: ErrorBody::new(error, reason) }
    }

    pub fn bad_json(e: serde_json::Error) -> Self {
        Self::new(400, "malformed_json", format!("the body is not valid for this request: {e}"))
    }

    pub fn forbidden(reason: impl ToString) -> Self {
        Self::new(403, "forbidden", reason)
    }

    pub fn internal(what: impl std::fmt::Display) -> Self {
        tracing::error!(error = %what, "internal error");
        Self::new(500, "internal", "the registry could not complete the request; it is logged")
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        Self::new(401, "unauthenticated", e)
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match &e {
            RegistryError::Refused(r) => {
                Self { status: status(refusal_status(r)), body: ErrorBody::refusal(r) }
            }
            RegistryError::NoSuchSigner(_)
            | RegistryError::NoSuchAuditor(_)
            | RegistryError::NoSuchEpoch(_) => Self::new(404, "not_found", e),
            RegistryError::NotPublished(_) => Self::new(409, "not_published", e),
            RegistryError::ClockBehind { .. } => Self::new(503, "clock_behind", e),
            _ => Self::internal(e),
        }
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

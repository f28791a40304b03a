//! Why a request was not authenticated, and how that is answered (RFC 6750 §3): its own file
//! so that the extractors and the request log can both name it.

use actix_web::http::header;

use crate::scim::ScimError;

/// Why a request was not authenticated: the SCIM error, and whether a token was presented at
/// all. A refused token gets the RFC 6750 §3.1 challenge `error="invalid_token"`; a request
/// without one only learns the scheme (§3: no error code when credentials are missing).
#[derive(Debug)]
pub struct Rejection {
    pub error: ScimError,
    pub token_presented: bool,
}

impl Rejection {
    pub(super) fn without_token(error: ScimError) -> Rejection {
        Rejection {
            error,
            token_presented: false,
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl From<Rejection> for ScimError {
    fn from(r: Rejection) -> ScimError {
        r.error
    }
}

impl actix_web::ResponseError for Rejection {
    fn status_code(&self) -> actix_web::http::StatusCode {
        self.error.status_code()
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        let mut response = self.error.error_response();
        if self.token_presented && self.error.status() == 401 {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(
                    "Bearer realm=\"roster\", error=\"invalid_token\"",
                ),
            );
        }
        response
    }
}

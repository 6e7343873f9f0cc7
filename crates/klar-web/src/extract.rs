//! Extractors whose rejections are problem documents.

use crate::error::AppError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A JSON body: `Content-Type: application/json` required, unknown fields refused (by the
/// DTO's `deny_unknown_fields`), syntax errors named. Keeps the raw bytes for idempotency.
pub struct ApiJson<T> {
    pub value: T,
    pub raw: Bytes,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ctype = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mime = ctype.split(';').next().unwrap_or("").trim();
        if mime != "application/json"
            && !(mime.starts_with("application/") && mime.ends_with("+json"))
        {
            return Err(AppError::UnsupportedMediaType(
                "the body must be JSON (Content-Type: application/json)".into(),
            ));
        }
        let raw = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge("the body is larger than 1 MiB".into())
            } else {
                AppError::BadRequest("the body could not be read".into())
            }
        })?;
        let value = parse_json(&raw)?;
        Ok(ApiJson { value, raw })
    }
}

/// Parses JSON into a DTO; the error names the place and the problem but never echoes
/// a submitted value.
pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(raw).map_err(|e| {
        use serde_json::error::Category;
        let msg = e.to_string();
        let what = match e.classify() {
            Category::Syntax | Category::Eof => "the body is not valid JSON".to_string(),
            Category::Data => {
                // serde's message names unknown/missing fields and types; cut off anything
                // after a quoted value so submitted data is not echoed back.
                let cleaned = redact_values(&msg);
                format!("the body does not match the expected shape: {cleaned}")
            }
            Category::Io => "the body could not be read".to_string(),
        };
        AppError::BadRequest(what)
    })
}

fn redact_values(msg: &str) -> String {
    // serde_json writes e.g. `invalid type: string "abc", expected i64 at line 1 column 9`
    // and `unknown field `foo`, expected one of ...`. Field names are in backticks and kept;
    // values are in double quotes and replaced.
    let mut out = String::with_capacity(msg.len());
    let mut in_quote = false;
    for c in msg.chars() {
        if c == '"' {
            if !in_quote {
                out.push_str("\"…");
            } else {
                out.push('"');
            }
            in_quote = !in_quote;
        } else if !in_quote {
            out.push(c);
        }
    }
    out
}

/// Query parameters; unknown parameters are refused.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded_like(q).map(ApiQuery)
    }
}

fn serde_urlencoded_like<T: DeserializeOwned>(q: &str) -> Result<T, AppError> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{q}")
            .parse()
            .map_err(|_| AppError::BadRequest("malformed query".into()))?,
    )
    .map(|axum::extract::Query(v)| v)
    .map_err(|e| {
        AppError::BadRequest(format!(
            "invalid query parameters: {}",
            redact_values(&e.body_text())
        ))
    })
}

/// A path segment (an id). Anything that cannot be read as text is simply not found.
pub struct ApiPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ApiPath {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(s)| ApiPath(s))
            .map_err(|_| AppError::NotFound("no record with this id".into()))
    }
}

/// A submitted HTML form (`application/x-www-form-urlencoded`); a malformed one is a
/// problem document like every other error.
pub struct UiForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for UiForm<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Form::<T>::from_request(req, state)
            .await
            .map(|axum::extract::Form(v)| UiForm(v))
            .map_err(|e| match e.status() {
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType(
                    "the form must be sent as application/x-www-form-urlencoded".into(),
                ),
                axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                    AppError::PayloadTooLarge("the form is larger than 1 MiB".into())
                }
                _ => AppError::BadRequest(format!(
                    "the form could not be read: {}",
                    redact_values(&e.body_text())
                )),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submitted_values_are_not_echoed_in_errors() {
        let r = redact_values(r#"invalid type: string "erika@x.de", expected i64"#);
        assert!(!r.contains("erika"));
        assert!(r.contains("expected i64"));
    }
}

/// Who submitted a public web form, as evidence for the consent ledger (LAW.md table 2c):
/// the client address truncated to its network (IPv4 /24, IPv6 /48) and the user agent.
/// Stored only sealed under the person's key, never logged. Behind a reverse proxy on the
/// same machine the address is the last one the proxy appended to `X-Forwarded-For`.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub network: Option<String>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    pub fn from_parts(headers: &axum::http::HeaderMap, peer: Option<std::net::SocketAddr>) -> Self {
        let forwarded = || {
            headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok())
        };
        let ip = match peer.map(|p| p.ip()) {
            Some(ip) if ip.is_loopback() => forwarded().or(Some(ip)),
            other => other,
        };
        let user_agent = headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(300)
                    .collect::<String>()
            })
            .filter(|ua| !ua.is_empty());
        Self {
            network: ip.map(truncate_ip),
            user_agent,
        }
    }

    /// The evidence line: `what; ip=NETWORK; ua=AGENT`.
    pub fn evidence(&self, what: &str) -> String {
        let mut s = what.to_owned();
        if let Some(n) = &self.network {
            s.push_str(&format!("; ip={n}"));
        }
        if let Some(ua) = &self.user_agent {
            s.push_str(&format!("; ua={ua}"));
        }
        s
    }
}

fn truncate_ip(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0);
        Ok(Self::from_parts(&parts.headers, peer))
    }
}

#[cfg(test)]
mod client_info_tests {
    use super::*;

    #[test]
    fn addresses_are_truncated_and_forwarded_ones_trusted_only_from_loopback() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "198.51.100.7, 203.0.113.9".parse().unwrap(),
        );
        h.insert(
            axum::http::header::USER_AGENT,
            "Mozilla/5.0\t Test".parse().unwrap(),
        );
        let local = ClientInfo::from_parts(&h, Some("127.0.0.1:4000".parse().unwrap()));
        assert_eq!(local.network.as_deref(), Some("203.0.113.0/24"));
        assert_eq!(local.user_agent.as_deref(), Some("Mozilla/5.0 Test"));
        let remote = ClientInfo::from_parts(&h, Some("192.0.2.44:4000".parse().unwrap()));
        assert_eq!(remote.network.as_deref(), Some("192.0.2.0/24"));
        let v6 = ClientInfo::from_parts(
            &axum::http::HeaderMap::new(),
            Some("[2001:db8:abcd:12::1]:443".parse().unwrap()),
        );
        assert_eq!(v6.network.as_deref(), Some("2001:db8:abcd::/48"));
        assert_eq!(v6.evidence("x"), "x; ip=2001:db8:abcd::/48");
    }
}

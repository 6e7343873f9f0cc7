//! Outbound mail through the installation's SMTP server (`KLAR_SMTP_URL`).
//!
//! Three forms of URL are accepted:
//!
//! - `smtps://[USER:PASS@]HOST[:PORT]`: implicit TLS from the first byte (port 465 by default);
//! - `smtp://[USER:PASS@]HOST[:PORT]?tls=starttls`: plain connect, then STARTTLS, which the
//!   server must offer, or nothing is sent (port 587 by default);
//! - `smtp://HOST[:PORT]`: plain SMTP, without credentials, only to a server on a loopback
//!   address (a local relay; port 25 by default).
//!
//! TLS is rustls with the Mozilla roots (`webpki-roots`); the server's certificate must match
//! HOST. Credentials are percent-decoded from the URL's userinfo (`%40` for `@`, `%3A` for
//! `:`). Any other scheme, option, path or fragment is refused. Error messages never repeat
//! any part of the URL, so a password cannot leak into a log through them.

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The configured URL was refused. The text is fixed: it never echoes the URL.
    #[error("the SMTP URL is not valid: {0}")]
    Url(&'static str),
    #[error("the message could not be built")]
    Build,
    #[error("the mail server did not accept the message")]
    Send,
}

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Security {
    /// Plain SMTP; allowed only to a loopback address and without credentials.
    Plain,
    /// `smtps://`: TLS from the first byte.
    ImplicitTls,
    /// `smtp://…?tls=starttls`: STARTTLS is required before anything else is sent.
    StartTls,
}

/// A parsed `KLAR_SMTP_URL`. Its `Debug` leaves the credentials out.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SmtpRoute {
    pub(crate) security: Security,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// User and password, percent-decoded.
    pub(crate) credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SmtpRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpRoute")
            .field("security", &self.security)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("credentials", &self.credentials.as_ref().map(|_| ".."))
            .finish()
    }
}

fn decode(s: &str) -> Result<String, MailError> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| MailError::Url("the credentials are not valid UTF-8 after percent-decoding"))
}

impl SmtpRoute {
    pub(crate) fn parse(raw: &str) -> Result<SmtpRoute, MailError> {
        const SCHEMES: &str = "use smtps://HOST, smtp://HOST?tls=starttls, or smtp://HOST:PORT for a relay on a loopback address";
        let url = url::Url::parse(raw.trim()).map_err(|_| MailError::Url(SCHEMES))?;
        let mut security = match url.scheme() {
            "smtps" => Security::ImplicitTls,
            "smtp" => Security::Plain,
            _ => return Err(MailError::Url(SCHEMES)),
        };
        if url.cannot_be_a_base() {
            return Err(MailError::Url(SCHEMES));
        }
        if !matches!(url.path(), "" | "/") {
            return Err(MailError::Url("the SMTP URL takes no path"));
        }
        if url.fragment().is_some() {
            return Err(MailError::Url("the SMTP URL takes no fragment"));
        }
        if let Some(query) = url.query() {
            // The one option there is; its name and value are never echoed (a mistyped URL
            // may carry a secret in the wrong place).
            let starttls = security == Security::Plain
                && url
                    .query_pairs()
                    .all(|(k, v)| k == "tls" && v.eq_ignore_ascii_case("starttls"))
                && !query.is_empty();
            if !starttls {
                return Err(MailError::Url(
                    "unknown option: the only option is tls=starttls, and only with smtp://",
                ));
            }
            security = Security::StartTls;
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            _ => return Err(MailError::Url("the SMTP URL names no host")),
        };
        let port = match url.port() {
            Some(0) => return Err(MailError::Url("the port must be between 1 and 65535")),
            Some(p) => p,
            None => match security {
                Security::Plain => 25,
                Security::ImplicitTls => 465,
                Security::StartTls => 587,
            },
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, Some(pass)) if !user.is_empty() && !pass.is_empty() => {
                Some((decode(user)?, decode(pass)?))
            }
            _ => {
                return Err(MailError::Url(
                    "credentials need both a user and a password (USER:PASS@HOST)",
                ));
            }
        };
        if security == Security::Plain {
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(MailError::Url(
                    "plain SMTP is allowed only to a loopback address; use smtps:// or smtp://…?tls=starttls",
                ));
            }
            if credentials.is_some() {
                return Err(MailError::Url(
                    "credentials are sent only over TLS; use smtps:// or smtp://…?tls=starttls",
                ));
            }
        }
        Ok(SmtpRoute {
            security,
            host,
            port,
            credentials,
        })
    }
}

/// Connections to the mail server kept open at most (campaign mails in flight).
pub const MAX_CONNECTIONS: u32 = 32;

pub struct Mailer {
    builder: lettre::transport::smtp::AsyncSmtpTransportBuilder,
    /// Built on first use, inside the runtime: its connection pool runs as a task.
    transport: std::sync::OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mailer(..)")
    }
}

impl Mailer {
    /// A mailer for `url` (see the module documentation for its forms). `from` is the
    /// sender address.
    pub fn from_url(url: &str, from: &str) -> Result<Mailer, MailError> {
        let route = SmtpRoute::parse(url)?;
        let from: Mailbox = from
            .parse()
            .map_err(|_| MailError::Url("KLAR_MAIL_FROM is not an email address"))?;
        let builder = match route.security {
            Security::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&route.host),
            Security::ImplicitTls => AsyncSmtpTransport::<Tokio1Executor>::relay(&route.host)
                .map_err(|_| MailError::Url("TLS cannot be set up for this host"))?,
            Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&route.host)
                .map_err(|_| MailError::Url("TLS cannot be set up for this host"))?,
        };
        let mut builder = builder
            .port(route.port)
            .pool_config(lettre::transport::smtp::PoolConfig::new().max_size(MAX_CONNECTIONS));
        if let Some((user, pass)) = route.credentials {
            builder = builder.credentials(Credentials::new(user, pass));
        }
        Ok(Mailer {
            builder,
            transport: std::sync::OnceLock::new(),
            from,
        })
    }

    fn transport(&self) -> &AsyncSmtpTransport<Tokio1Executor> {
        self.transport.get_or_init(|| self.builder.clone().build())
    }

    /// Sends a plain-text message.
    pub async fn send_text(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|_| MailError::Build)?;
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|_| MailError::Build)?;
        self.transport().send(msg).await.map(|_| ()).map_err(|e| {
            // The server's reply may echo the address: log only what kind of failure it was.
            tracing::warn!(
                permanent = e.is_permanent(),
                transient = e.is_transient(),
                "mail not sent"
            );
            MailError::Send
        })
    }
}

/// Why a message was not sent: worth another try later, or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFailure {
    /// The server refused it for good (5xx), or the message could not be built.
    Permanent,
    /// A 4xx answer, a timeout or a broken connection.
    Temporary,
}

/// A marketing mail: text and HTML alternatives and the RFC 8058 headers.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub to: String,
    /// The display name of the sender (the controller), beside `KLAR_MAIL_FROM`.
    pub from_name: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The value of `List-Unsubscribe` (`<https://…>, <mailto:…>`); with it goes
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
    pub list_unsubscribe: Option<String>,
    /// `<…@…>`: the same for every attempt of one (campaign, person) pair.
    pub message_id: Option<String>,
}

const LIST_UNSUBSCRIBE: HeaderName = HeaderName::new_from_ascii_str("List-Unsubscribe");
const LIST_UNSUBSCRIBE_POST: HeaderName = HeaderName::new_from_ascii_str("List-Unsubscribe-Post");

impl Mailer {
    /// The sender address (`KLAR_MAIL_FROM`).
    pub fn from_address(&self) -> String {
        self.from.email.to_string()
    }

    /// Sends a marketing mail.
    pub async fn send_mail(&self, m: &OutgoingMail) -> Result<(), SendFailure> {
        let to: Mailbox = m.to.parse().map_err(|_| SendFailure::Permanent)?;
        let from = Mailbox::new(m.from_name.clone(), self.from.email.clone());
        let mut b = Message::builder()
            .from(from)
            .to(to)
            .subject(m.subject.clone())
            .message_id(m.message_id.clone());
        if let Some(lu) = &m.list_unsubscribe {
            b = b
                .raw_header(HeaderValue::new(LIST_UNSUBSCRIBE, lu.clone()))
                .raw_header(HeaderValue::new(
                    LIST_UNSUBSCRIBE_POST,
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        let msg = b
            .multipart(MultiPart::alternative_plain_html(
                m.text.clone(),
                m.html.clone(),
            ))
            .map_err(|_| SendFailure::Permanent)?;
        self.transport().send(msg).await.map(|_| ()).map_err(|e| {
            // The reply may echo the address: log only the kind of failure.
            tracing::warn!(
                permanent = e.is_permanent(),
                transient = e.is_transient(),
                "campaign mail not sent"
            );
            if e.is_permanent() {
                SendFailure::Permanent
            } else {
                SendFailure::Temporary
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{MailError, Mailer, Security, SmtpRoute};

    fn route(url: &str) -> SmtpRoute {
        match SmtpRoute::parse(url) {
            Ok(r) => r,
            Err(e) => panic!("{url} refused: {e}"),
        }
    }

    fn refused(url: &str) -> String {
        match SmtpRoute::parse(url) {
            Ok(r) => panic!("{url} accepted: {r:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn plain_smtp_to_a_loopback_relay_is_accepted_with_port_25_by_default() {
        for (url, host, port) in [
            ("smtp://127.0.0.1:2525", "127.0.0.1", 2525),
            ("smtp://localhost", "localhost", 25),
            ("smtp://LOCALHOST:25/", "localhost", 25),
            ("smtp://127.8.9.10", "127.8.9.10", 25),
            ("smtp://[::1]:1025", "::1", 1025),
        ] {
            let r = route(url);
            assert_eq!(
                (
                    r.security,
                    r.host.to_ascii_lowercase().as_str(),
                    r.port,
                    r.credentials
                ),
                (Security::Plain, host, port, None),
                "{url}"
            );
        }
    }

    #[test]
    fn plain_smtp_to_any_other_host_is_refused() {
        for url in [
            "smtp://mail.example.com:25",
            "smtp://192.0.2.7",
            "smtp://[2001:db8::1]:25",
            "smtp://localhost.example.com",
        ] {
            assert!(refused(url).contains("loopback"), "{url}");
        }
    }

    #[test]
    fn smtps_is_implicit_tls_on_port_465_by_default() {
        let r = route("smtps://mail.example.com");
        assert_eq!(
            (r.security, r.host.as_str(), r.port, r.credentials),
            (Security::ImplicitTls, "mail.example.com", 465, None)
        );
        assert_eq!(route("smtps://mail.example.com:2465").port, 2465);
    }

    #[test]
    fn starttls_is_required_by_the_option_and_defaults_to_port_587() {
        let r = route("smtp://mail.example.com?tls=starttls");
        assert_eq!(
            (r.security, r.host.as_str(), r.port),
            (Security::StartTls, "mail.example.com", 587)
        );
        let r = route("smtp://mail.example.com:25/?tls=STARTTLS");
        assert_eq!((r.security, r.port), (Security::StartTls, 25));
    }

    #[test]
    fn credentials_are_taken_from_the_userinfo_and_percent_decoded() {
        let r = route("smtps://klar%40firma.example:p%40ss%3Aw%2Frd%25@mail.example.com");
        assert_eq!(
            r.credentials,
            Some(("klar@firma.example".to_string(), "p@ss:w/rd%".to_string()))
        );
        let r = route("smtp://apikey:s3cr%C3%A9t@smtp.example.com:587?tls=starttls");
        assert_eq!(
            r.credentials,
            Some(("apikey".to_string(), "s3crét".to_string()))
        );
    }

    #[test]
    fn malformed_urls_unknown_options_and_half_credentials_are_refused() {
        for (url, why) in [
            ("", "smtps://"),
            ("mail.example.com:25", "smtps://"),
            ("http://mail.example.com", "smtps://"),
            ("smtp:mail.example.com", "smtps://"),
            ("smtp://mail.example.com?tls=required", "unknown option"),
            (
                "smtp://mail.example.com?tls=starttls&pool=1",
                "unknown option",
            ),
            ("smtp://127.0.0.1:25?", "unknown option"),
            ("smtps://mail.example.com?tls=starttls", "unknown option"),
            ("smtp://127.0.0.1:25?timeout=5", "unknown option"),
            ("smtps://mail.example.com/relay", "no path"),
            ("smtps://mail.example.com#x", "no fragment"),
            ("smtps://mail.example.com:0", "port"),
            ("smtps://mail.example.com:70000", "smtps://"),
            ("smtps://mail.example.com:abc", "smtps://"),
            (
                "smtps://user@mail.example.com",
                "both a user and a password",
            ),
            (
                "smtps://:pass@mail.example.com",
                "both a user and a password",
            ),
            (
                "smtps://user:@mail.example.com",
                "both a user and a password",
            ),
            ("smtps://u:%FF%FE@mail.example.com", "UTF-8"),
            ("smtp://u:p@127.0.0.1:25", "only over TLS"),
            ("smtps://", "no host"),
        ] {
            let e = refused(url);
            assert!(e.contains(why), "{url}: {e}");
        }
    }

    #[test]
    fn no_error_and_no_debug_output_repeats_the_credentials() {
        let secret = "Geheim-Passwort-4711";
        for url in [
            format!("smtp://postmeister:{secret}@mail.example.com:25"),
            format!("smtp://postmeister:{secret}@127.0.0.1:25"),
            format!("smtps://postmeister:{secret}@mail.example.com/x"),
            format!("smtps://postmeister:{secret}@mail.example.com?tls=starttls"),
            format!("smtps://postmeister:{secret}@mail.example.com#frag"),
            format!("smtps://postmeister:{secret}@mail.example.com:99999"),
            format!("smtps://postmeister:{secret}@mail.example.com?password={secret}"),
            format!("ftp://postmeister:{secret}@mail.example.com"),
        ] {
            let e = refused(&url);
            assert!(!e.contains(secret) && !e.contains("postmeister"), "{e}");
            assert!(!format!("{:?}", SmtpRoute::parse(&url)).contains(secret));
        }
        let ok = format!("smtps://postmeister:{secret}@mail.example.com");
        assert!(!format!("{:?}", route(&ok)).contains(secret));
        let m = Mailer::from_url(&ok, "klar@firma.example").unwrap();
        assert_eq!(format!("{m:?}"), "Mailer(..)");
    }

    #[test]
    fn every_accepted_form_builds_a_mailer_and_a_bad_sender_is_refused() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtps://u:p@mail.example.com",
            "smtp://u:p@mail.example.com?tls=starttls",
            "smtps://[2001:db8::25]",
        ] {
            assert!(Mailer::from_url(url, "klar@firma.example").is_ok(), "{url}");
        }
        assert!(matches!(
            Mailer::from_url("smtps://mail.example.com", "kein Absender"),
            Err(MailError::Url(m)) if m.contains("KLAR_MAIL_FROM")
        ));
    }
}

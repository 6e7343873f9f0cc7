//! Outbound mail through the installation's SMTP server (`KLAR_SMTP_URL`).
//! This build speaks plain SMTP, which Klar allows only to a server on a loopback
//! address (a local relay); TLS transports follow.

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the SMTP URL is not valid: {0}")]
    Url(String),
    #[error("the message could not be built")]
    Build,
    #[error("the mail server did not accept the message")]
    Send,
}

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mailer(..)")
    }
}

impl Mailer {
    /// `smtp://host:port` (plain, loopback only). `from` is the sender address.
    pub fn from_url(url: &str, from: &str) -> Result<Mailer, MailError> {
        let rest = url
            .strip_prefix("smtp://")
            .ok_or_else(|| MailError::Url("use smtp://HOST:PORT for a relay on this machine; TLS transports are not supported yet".into()))?;
        if rest.contains('?') || rest.contains('@') {
            return Err(MailError::Url(
                "options and credentials are not supported yet".into(),
            ));
        }
        let (host, port) = rest
            .trim_end_matches('/')
            .rsplit_once(':')
            .unwrap_or((rest, "25"));
        let port: u16 = port
            .parse()
            .map_err(|_| MailError::Url("the port is not a number".into()))?;
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return Err(MailError::Url(
                "plain SMTP is allowed only to a loopback address".into(),
            ));
        }
        let from: Mailbox = from
            .parse()
            .map_err(|_| MailError::Url("KLAR_MAIL_FROM is not an email address".into()))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .build();
        Ok(Mailer { transport, from })
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
        self.transport.send(msg).await.map(|_| ()).map_err(|e| {
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

//! The mail transports against a real SMTP server on loopback that speaks no TLS: a TLS
//! route must send nothing to it rather than fall back to plain text.

use crate::support::smtp::SmtpSink;
use klar_web::mail::{MailError, Mailer};
use std::time::Duration;

async fn send(mailer: &Mailer) -> Result<(), MailError> {
    tokio::time::timeout(
        Duration::from_secs(30),
        mailer.send_text("person@kunde.example", "Betreff", "Text".into()),
    )
    .await
    .expect("the mail server answered in time")
}

#[tokio::test]
async fn plain_smtp_to_a_loopback_relay_delivers_the_message() {
    let sink = SmtpSink::start().await;
    let m = Mailer::from_url(&sink.url(), "klar@firma.example").unwrap();
    send(&m).await.unwrap();
    assert_eq!(sink.all().len(), 1);
    assert_eq!(sink.all()[0].to, vec!["person@kunde.example"]);
}

#[tokio::test]
async fn a_starttls_route_sends_nothing_to_a_server_that_does_not_offer_starttls() {
    let sink = SmtpSink::start().await;
    let url = format!("smtp://klar:geheim@{}?tls=starttls", sink.addr);
    let m = Mailer::from_url(&url, "klar@firma.example").unwrap();
    assert!(matches!(send(&m).await, Err(MailError::Send)));
    assert!(sink.all().is_empty(), "no message went out in plain text");
}

#[tokio::test]
async fn an_smtps_route_insists_on_tls_from_the_first_byte() {
    let sink = SmtpSink::start().await;
    let url = format!("smtps://klar:geheim@{}", sink.addr);
    let m = Mailer::from_url(&url, "klar@firma.example").unwrap();
    assert!(matches!(send(&m).await, Err(MailError::Send)));
    assert!(sink.all().is_empty(), "no message went out in plain text");
}

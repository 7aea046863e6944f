//! Email: the run's message as a plain-text mail, sent over SMTP with lettre's blocking
//! client, encrypted with STARTTLS or implicit TLS (never a fallback to plain text when
//! TLS was asked for) and logged in with the configured user.

use std::io::ErrorKind;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message as Mail};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls as Protection, TlsParameters};
use lettre::{SmtpTransport, Transport};

use super::delivery::CONNECT_TIMEOUT;
use super::message::Message;
use crate::config::notify::{Email, Tls};

/// The mail for `message` from and to the configured addresses (checked when the
/// configuration was read, so an error here is one of lettre's builder).
pub fn compose(email: &Email, message: &Message) -> Result<Mail, String> {
    let mailbox = |address: &str| {
        address
            .parse::<Mailbox>()
            .map_err(|e| format!("address {address:?}: {e}"))
    };
    let mut builder = Mail::builder()
        .from(mailbox(&email.from)?)
        .subject(message.title.clone())
        .header(ContentType::TEXT_PLAIN);
    for to in &email.to {
        builder = builder.to(mailbox(to)?);
    }
    builder
        .body(format!("{}\n", message.body))
        .map_err(|e| format!("cannot build the mail: {e}"))
}

/// One SMTP session within `budget`; the error says whether a retry may help (a
/// connection that failed or timed out, a temporary 4xx answer), never for a refused
/// login, certificate or a server without STARTTLS.
pub fn send(
    email: &Email,
    password: Option<&str>,
    message: &Message,
    budget: Duration,
) -> Result<(), (bool, String)> {
    let mail = compose(email, message).map_err(|e| (false, e))?;
    let timeout = CONNECT_TIMEOUT.min(budget);
    let transport = transport(email, password, timeout).map_err(|e| (false, e))?;
    transport
        .send(&mail)
        .map(drop)
        .map_err(|e| match io_kind(&e) {
            // A socket timeout reads "Resource temporarily unavailable" otherwise.
            Some(ErrorKind::TimedOut | ErrorKind::WouldBlock) => (
                true,
                format!(
                    "SMTP: timed out after {} ms without an answer",
                    timeout.as_millis()
                ),
            ),
            // rustls reports a refused handshake (an untrusted certificate) as invalid data:
            // no retry will change it.
            Some(ErrorKind::InvalidData) => (false, format!("SMTP: {e}")),
            _ => {
                let retry = !(e.is_permanent() || e.is_tls() || e.is_client() || e.is_response());
                (retry, format!("SMTP: {e}"))
            }
        })
}

/// The kind of the I/O error that caused `error`, if one did.
fn io_kind(error: &(dyn std::error::Error + 'static)) -> Option<ErrorKind> {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = e.source();
    }
    None
}

/// The transport for one session. lettre's `timeout` bounds the connection and each read
/// and write: the shorter of the connect timeout and what is left of the budget.
fn transport(
    email: &Email,
    password: Option<&str>,
    timeout: Duration,
) -> Result<SmtpTransport, String> {
    let protection = match email.tls {
        Tls::None => Protection::None,
        Tls::Starttls => Protection::Required(parameters(email)?),
        Tls::Implicit => Protection::Wrapper(parameters(email)?),
    };
    let mut builder = SmtpTransport::builder_dangerous(email.host.as_str())
        .port(email.port)
        .tls(protection)
        .timeout(Some(timeout));
    if let (Some(user), Some(password)) = (&email.username, password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.to_string()));
    }
    Ok(builder.build())
}

/// TLS for `email.host`: the public roots, and the configured CA file's certificates.
fn parameters(email: &Email) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(email.host.clone());
    if let Some(path) = &email.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("ca_file: cannot read {}: {e}", path.display()))?;
        let certificate =
            Certificate::from_pem(&pem).map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder
        .build()
        .map_err(|e| format!("TLS setup for {}: {e}", email.host))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::notify::message::Severity;

    #[test]
    fn the_mail_carries_title_body_and_every_recipient() {
        let email = Email {
            host: "smtp.example.com".into(),
            port: 587,
            tls: Tls::Starttls,
            username: None,
            password: None,
            from: "dum <dum@example.com>".into(),
            to: vec!["a@example.com".into(), "B <b@example.org>".into()],
            ca_file: None,
        };
        let message = Message {
            title: "dum on box: 1 update available".into(),
            body: "app: 1.0 → 1.1 available".into(),
            severity: Severity::Info,
        };
        let mail = compose(&email, &message).unwrap();
        let text = String::from_utf8(mail.formatted()).unwrap();
        for want in [
            "From: dum <dum@example.com>",
            "To: a@example.com, B <b@example.org>",
            "Subject: dum on box: 1 update available",
            "Content-Type: text/plain; charset=utf-8",
        ] {
            assert!(text.contains(want), "{want:?} missing:\n{text}");
        }
        let envelope = mail.envelope();
        assert_eq!(envelope.to().len(), 2);
        assert_eq!(envelope.from().unwrap().to_string(), "dum@example.com");
    }
}

//! Email notifications against a real SMTP server (`tests/fixtures/smtp_receiver.py`,
//! aiosmtpd): STARTTLS and implicit TLS with a login, certificates checked against the
//! configured CA, and the failures that must stay warnings: a wrong password, a server
//! that offers no STARTTLS (refused, never a login in clear), an unknown certificate, a
//! dead server.

use crate::harness::{Dum, Watched, fixture, run, temp_dir};
use crate::notify::{dead_port, entry, pending, wait_for_port};
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const USER: &str = "dum-mailer";
const PASSWORD: &str = "smtp-secret-password-11";

/// The Python that has aiosmtpd: the one on PATH, else Debian's (python3-aiosmtpd
/// installs for it; a pyenv or venv python3 earlier on PATH lacks it).
fn python() -> &'static str {
    ["python3", "/usr/bin/python3"]
        .into_iter()
        .find(|python| {
            Command::new(python)
                .args(["-c", "import aiosmtpd"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("no python3 with aiosmtpd: install python3-aiosmtpd (scripts/test does)")
}

/// A CA and a certificate it signed for 127.0.0.1, made with the openssl CLI.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Pki {
    fn new(dir: &Path) -> Pki {
        let path = |name: &str| dir.join(name);
        let openssl = |args: &[&str]| {
            run(Command::new("openssl").current_dir(dir).args(args));
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            &[
                &["req", "-x509"][..],
                &ec,
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=dum-test-ca",
                ],
            ]
            .concat(),
        );
        openssl(
            &[
                &["req"][..],
                &ec,
                &[
                    "-keyout",
                    "key.pem",
                    "-out",
                    "req.csr",
                    "-subj",
                    "/CN=127.0.0.1",
                ],
            ]
            .concat(),
        );
        fs::write(
            path("ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "req.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "ext",
        ]);
        Pki {
            ca: path("ca.pem"),
            cert: path("cert.pem"),
            key: path("key.pem"),
        }
    }
}

/// The SMTP fixture in one `mode` (plain, starttls, tls), killed on drop.
struct Smtp {
    dir: tempfile::TempDir,
    port: u16,
    _process: Watched,
}

impl Smtp {
    fn start(mode: &str, pki: &Pki) -> Smtp {
        let dir = temp_dir("dum-test-smtp-");
        let port_file = dir.path().join("port");
        let log = dir.path().join("server.log");
        let events = dir.path().join("events.jsonl");
        fs::write(&events, "").unwrap();
        let mut cmd = Command::new(python());
        cmd.arg(fixture("smtp_receiver.py"))
            .args(["--mode", mode, "--user", USER, "--password", PASSWORD])
            .arg("--port-file")
            .arg(&port_file)
            .arg("--log")
            .arg(&events)
            .arg("--cert")
            .arg(&pki.cert)
            .arg("--key")
            .arg(&pki.key);
        let mut process = Watched::spawn(cmd, &log, None);
        let port = wait_for_port(&port_file, &log, &mut process, "SMTP receiver");
        Smtp {
            dir,
            port,
            _process: process,
        }
    }

    /// Connections (`"connect"`), logins (`"auth"`) or messages (`"mail"`) so far.
    fn events(&self, kind: &str) -> Vec<Value> {
        fs::read_to_string(self.dir.path().join("events.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["event"] == kind)
            .collect()
    }

    /// An email target for this server.
    fn target(&self, tls: &str, ca: Option<&Path>) -> Value {
        let mut target = json!({
            "type": "email", "host": "127.0.0.1", "port": self.port, "tls": tls,
            "username": USER, "password_env": "DUM_TEST_SMTP_PASSWORD",
            "from": "dum <dum@example.test>", "to": ["ops@example.test", "Admin <admin@example.test>"],
        });
        if let Some(ca) = ca {
            target["ca_file"] = json!(ca);
        }
        target
    }
}

fn assert_no_password(out: &crate::harness::Output) {
    assert!(
        !out.stderr.contains(PASSWORD),
        "stderr shows the password:\n{out:?}"
    );
    assert!(
        !out.stdout.contains(PASSWORD),
        "stdout shows the password:\n{out:?}"
    );
}

#[test]
fn email_goes_out_over_starttls_and_implicit_tls_after_a_login_once_per_version() {
    let pki_dir = temp_dir("dum-test-pki-");
    let pki = Pki::new(pki_dir.path());
    for mode in ["starttls", "tls"] {
        let smtp = Smtp::start(mode, &pki);
        let (image, _v2, c) = pending(&format!("notify-mail-{mode}"));
        let dum = Dum::new()
            .env("DUM_TEST_SMTP_PASSWORD", PASSWORD)
            .env("LOG_LEVEL", "trace")
            .config_json(json!({
                "images": [entry(&image)],
                "notify": [smtp.target(mode, Some(&pki.ca))],
            }));
        let out = dum.run(&["check", "--format", "json"]);
        out.assert_code(100);
        assert_no_password(&out);
        let n = &out.json()["notifications"];
        assert_eq!(
            n,
            &json!([{"target": format!("email 127.0.0.1:{}", smtp.port), "events": ["update_available"],
                     "ok": true, "error": null}]),
            "{mode}"
        );
        let logins = smtp.events("auth");
        assert_eq!(logins.len(), 1, "{mode}: {logins:#?}");
        assert_eq!(logins[0]["login"], USER);
        assert_eq!(logins[0]["ok"], true);
        assert_eq!(logins[0]["tls"], true, "{mode}: logged in without TLS");
        let mails = smtp.events("mail");
        assert_eq!(mails.len(), 1, "{mode}: {mails:#?}");
        let mail = &mails[0];
        assert_eq!(mail["tls"], true, "{mode}");
        assert_eq!(mail["authenticated"], true, "{mode}");
        assert_eq!(mail["mail_from"], "dum@example.test");
        assert_eq!(
            mail["rcpt_tos"],
            json!(["ops@example.test", "admin@example.test"])
        );
        let data = mail["data"].as_str().unwrap();
        for want in [
            "From: dum <dum@example.test>",
            "To: ops@example.test, Admin <admin@example.test>",
            "Subject: dum on ",
            ": 1 update available",
            "Content-Type: text/plain; charset=utf-8",
        ] {
            assert!(data.contains(want), "{mode}: {want:?} missing:\n{data}");
        }
        assert!(
            data.contains(c.name()),
            "{mode}: the container is not named:\n{data}"
        );

        // Once per version, as for every target.
        let again = dum.run(&["check", "--format", "json"]);
        again.assert_code(100);
        assert_eq!(again.json()["notifications"], json!([]), "{mode}");
        assert_eq!(smtp.events("mail").len(), 1, "{mode}");
    }
}

#[test]
fn email_failures_are_warnings_and_credentials_never_travel_in_clear() {
    let pki_dir = temp_dir("dum-test-pki-");
    let pki = Pki::new(pki_dir.path());
    let starttls = Smtp::start("starttls", &pki);
    let plain = Smtp::start("plain", &pki);
    let (_listener, dead_url) = dead_port();
    let dead_port: u16 = dead_url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/never")
        .parse()
        .unwrap();
    let (image, _v2, _c) = pending("notify-mail-failures");
    let mut wrong_password = starttls.target("starttls", Some(&pki.ca));
    wrong_password["password_env"] = json!("DUM_TEST_WRONG_PASSWORD");
    let mut dead = plain.target("tls", Some(&pki.ca));
    dead["port"] = json!(dead_port);
    let dum = Dum::new()
        .env("DUM_TEST_SMTP_PASSWORD", PASSWORD)
        .env("DUM_TEST_WRONG_PASSWORD", "not-the-password")
        .env("LOG_LEVEL", "trace")
        .config_json(json!({
            "images": [entry(&image)],
            "notify": [
                wrong_password,
                // The server offers no STARTTLS (and would take a login in clear).
                plain.target("starttls", Some(&pki.ca)),
                // The certificate's CA is not trusted.
                {"type": "email", "host": "127.0.0.1", "port": starttls.port, "from": "d@example.test",
                 "to": ["o@example.test"], "username": USER, "password_env": "DUM_TEST_SMTP_PASSWORD"},
                dead,
            ],
        }));
    let started = Instant::now();
    let out = dum.run(&["check", "--format", "json"]);
    let elapsed = started.elapsed();
    out.assert_code(100);
    assert_no_password(&out);
    assert!(
        elapsed < Duration::from_secs(25),
        "took {elapsed:?}: {out:?}"
    );
    let n = out.json()["notifications"].clone();
    let error = |port: u16, nth: usize| -> String {
        let matching: Vec<&Value> = n
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["target"] == format!("email 127.0.0.1:{port}"))
            .collect();
        assert_eq!(matching[nth]["ok"], false, "{n:#}");
        matching[nth]["error"].as_str().unwrap().to_string()
    };
    let refused = error(starttls.port, 0);
    assert!(refused.contains("535"), "{refused}");
    let untrusted = error(starttls.port, 1);
    assert!(
        untrusted.to_lowercase().contains("certificate"),
        "{untrusted}"
    );
    let no_starttls = error(plain.port, 0);
    assert!(no_starttls.contains("STARTTLS"), "{no_starttls}");
    let timed_out = error(dead_port, 0);
    assert!(
        timed_out.to_lowercase().contains("timed out") || timed_out.contains("timeout"),
        "{timed_out}"
    );
    out.assert_stderr_contains(&format!(
        "notification to email 127.0.0.1:{} failed: SMTP: permanent error (535)",
        starttls.port
    ));

    let logins = starttls.events("auth");
    assert_eq!(
        logins.len(),
        1,
        "a refused login is not retried: {logins:#?}"
    );
    assert_eq!(logins[0]["ok"], false);
    assert!(starttls.events("mail").is_empty());
    assert_eq!(
        starttls.events("connect").len(),
        2,
        "neither a refused login nor an untrusted certificate is retried"
    );
    assert_eq!(
        plain.events("connect").len(),
        1,
        "a server without STARTTLS is not retried"
    );
    assert!(plain.events("auth").is_empty(), "logged in without TLS");
    assert!(plain.events("mail").is_empty(), "mailed without TLS");
}

//! The `klar` binary as an operator uses it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn klar(data: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_klar"));
    c.env("KLAR_DATA_DIR", data)
        .env_remove("KLAR_DATABASE_URL")
        .env_remove("KLAR_MASTER_KEY_FILE")
        .env("KLAR_LOG", "warn");
    c
}

fn free_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_healthy(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ok = Command::new(env!("CARGO_BIN_EXE_klar"))
            .args(["healthcheck", "--addr", addr])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        if ok {
            return;
        }
        assert!(Instant::now() < deadline, "server did not become healthy");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn user_add_and_token_create_work_as_the_contract_says() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = klar(dir.path())
        .args([
            "user",
            "add",
            "--email",
            "Erika@Staff.example",
            "--role",
            "sales",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Correct-Horse-Battery-9\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());

    let out = klar(dir.path())
        .args([
            "user",
            "add",
            "--email",
            "max@staff.example",
            "--role",
            "viewer",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("one-time password: "), "{text}");

    let out = klar(dir.path())
        .args([
            "user",
            "add",
            "--email",
            "x@staff.example",
            "--role",
            "root",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a role"));
    let dup = klar(dir.path())
        .args([
            "user",
            "add",
            "--email",
            "erika@staff.example",
            "--role",
            "sales",
        ])
        .output()
        .unwrap();
    assert!(!dup.status.success(), "one account per email");

    let out = klar(dir.path())
        .args(["token", "create", "--user", "erika@staff.example"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap();
    assert_eq!(token.trim().lines().count(), 1);
    assert!(token.trim().starts_with("klar_") && !token.trim().contains(' '));
}

#[test]
fn serve_refuses_an_existing_database_without_its_master_key() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        klar(dir.path())
            .args(["user", "list"])
            .status()
            .unwrap()
            .success()
    );
    std::fs::remove_file(dir.path().join("master.key")).unwrap();
    let out = klar(dir.path())
        .args(["serve", "--addr", &free_addr()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("master key is missing"), "{err}");
    assert!(!dir.path().join("master.key").exists());
}

#[test]
fn serve_demo_fills_an_empty_database_with_a_realistic_crm() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let child = klar(dir.path())
        .args(["serve", "--demo", "--addr", &addr])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let server = Server(child);
    wait_healthy(&addr);
    drop(server);
    let store = klar_store::Store::open(
        &klar_store::StoreConfig::new(dir.path()),
        std::sync::Arc::new(klar_domain::clock::SystemClock),
    )
    .unwrap();
    assert!(store.count_persons().unwrap() >= 200);
    assert!(store.count_organizations().unwrap() >= 50);
    assert!(store.count_deals().unwrap() >= 100);
    assert!(store.count_activities().unwrap() >= 1000);
    let stages: std::collections::BTreeSet<String> = store
        .pipeline_totals()
        .unwrap()
        .into_iter()
        .map(|t| t.stage)
        .collect();
    assert!(stages.len() >= 5, "deals in several stages: {stages:?}");
    let users = store.list_users().unwrap();
    assert!(
        users
            .iter()
            .any(|u| u.role == klar_domain::role::Role::Sales)
    );
    drop(store);
    // A second start adds nothing.
    let addr = free_addr();
    let server = Server(
        klar(dir.path())
            .args(["serve", "--demo", "--addr", &addr])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_healthy(&addr);
    drop(server);
    let store = klar_store::Store::open(
        &klar_store::StoreConfig::new(dir.path()),
        std::sync::Arc::new(klar_domain::clock::SystemClock),
    )
    .unwrap();
    assert!(store.count_persons().unwrap() < 300);
}

#[test]
fn ropa_prints_the_record_as_json_and_markdown_from_the_live_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let out = klar(dir.path())
        .args(["ropa", "--format", "json"])
        .env("KLAR_SMTP_URL", "smtps://mail.muster.example")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = v["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["purpose"].as_str().unwrap())
        .collect();
    for k in [
        "contract",
        "newsletter",
        "phone_marketing",
        "legal_retention",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    assert!(v["measures"].to_string().contains("TLS"));
    assert!(v["missing"].to_string().contains("controller.name"));

    let out = klar(dir.path())
        .args(["ropa", "--format", "md"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.starts_with("# Verzeichnis von Verarbeitungstätigkeiten"));
    assert!(md.contains("Art. 6(1)(a) GDPR"));

    let out = klar(dir.path())
        .args(["ropa", "--format", "pdf"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn serve_refuses_a_double_opt_in_expiry_outside_one_to_365_days() {
    let dir = tempfile::tempdir().unwrap();
    for days in ["0", "366", "dreißig"] {
        let out = klar(dir.path())
            .args(["serve", "--addr", &free_addr()])
            .env("KLAR_DOI_EXPIRY_DAYS", days)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{days} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("doi-expiry-days"), "{err}");
    }
}

#[test]
fn serve_refuses_a_plain_smtp_url_to_a_remote_host_without_showing_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = klar(dir.path())
        .args(["serve", "--addr", &free_addr()])
        .env(
            "KLAR_SMTP_URL",
            "smtp://klar:Streng-Geheim-99@mail.example.com:25",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("KLAR_SMTP_URL") && err.contains("loopback"),
        "{err}"
    );
    assert!(!err.contains("Streng-Geheim-99"), "{err}");
}

#[test]
fn serve_starts_with_a_tls_mail_route_and_a_configured_double_opt_in_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let _server = Server(
        klar(dir.path())
            .args(["serve", "--addr", &addr, "--doi-expiry-days", "7"])
            .env(
                "KLAR_SMTP_URL",
                "smtp://klar%40firma.example:geheim@mail.example.com?tls=starttls",
            )
            .spawn()
            .unwrap(),
    );
    wait_healthy(&addr);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn verify(data: &std::path::Path) -> (bool, String, String) {
    let out = klar(data).args(["audit", "verify"]).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn tamper(data: &std::path::Path, sql: &str) {
    let c = rusqlite::Connection::open(data.join("klar.db")).unwrap();
    c.execute_batch(sql).unwrap();
}

#[test]
fn audit_verify_names_the_first_changed_removed_or_reordered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = klar(&data)
        .args(["seed", "--persons", "8"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ok, stdout, _) = verify(&data);
    assert!(ok, "{stdout}");
    assert!(stdout.contains("audit trail intact"), "{stdout}");
    let out = klar(&data).args(["audit", "checkpoint"]).output().unwrap();
    assert!(out.status.success());
    let (ok, stdout, _) = verify(&data);
    assert!(ok && stdout.contains("1 signed checkpoints"), "{stdout}");

    let cases = [
        (
            "changed",
            "UPDATE audit_log SET action = 'person.read' WHERE seq = 3",
            "entry 3 was changed",
        ),
        (
            "removed",
            "DELETE FROM audit_log WHERE seq = 4",
            "entry 4 is missing",
        ),
        (
            "reordered",
            "UPDATE audit_log SET seq = -5 WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = 6; UPDATE audit_log SET seq = 6 WHERE seq = -5",
            "entry 5",
        ),
        (
            "truncated",
            "DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)",
            "missing",
        ),
        (
            "rewritten",
            "UPDATE audit_checkpoints SET head_hash = zeroblob(32)",
            "not signed by this installation",
        ),
    ];
    for (what, sql, expect) in cases {
        let copy = dir.path().join(what);
        copy_dir(&data, &copy);
        tamper(&copy, sql);
        let (ok, _, stderr) = verify(&copy);
        assert!(!ok, "{what} went unnoticed");
        assert!(stderr.contains(expect), "{what}: {stderr}");
    }

    // A period exports as JSON lines with hashes, and the public key verifies elsewhere.
    let out = klar(&data).args(["audit", "export"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().filter(|l| l["type"] == "entry").count() >= 8);
    assert_eq!(lines.last().unwrap()["type"], "checkpoint");
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
    let key = klar(&data).args(["audit", "public-key"]).output().unwrap();
    assert_eq!(
        String::from_utf8(key.stdout).unwrap().trim(),
        lines.last().unwrap()["public_key"]
    );
}

#[test]
fn a_backup_shows_nothing_readable_and_a_restore_does_not_bring_back_an_erased_person() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(
        klar(&data)
            .args(["seed", "--persons", "12"])
            .status()
            .unwrap()
            .success()
    );
    printf_user(&data, "dsb@staff.example", "privacy_officer");
    let token = String::from_utf8(
        klar(&data)
            .args(["token", "create", "--user", "dsb@staff.example"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();

    // A person to erase after the backup, and one to keep.
    let addr = free_addr();
    let server = Server(
        klar(&data)
            .args(["serve", "--addr", &addr])
            .spawn()
            .unwrap(),
    );
    wait_healthy(&addr);
    let http = reqwest::blocking::Client::new();
    let mk = |name: &str| -> String {
        let r: serde_json::Value = http
            .post(format!("http://{addr}/api/v1/persons"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"first_name": "Zenzi", "last_name": name, "email": format!("{name}@kunde.example")}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        r["id"].as_str().unwrap().to_string()
    };
    let gone = mk("Vergessenwerden");
    let kept = mk("Bleibtda");
    // The backup is taken while the server runs.
    let file = dir.path().join("b.klarbak");
    let out = klar(&data)
        .args(["backup", "create", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        file.display().to_string()
    );
    let bytes = std::fs::read(&file).unwrap();
    assert!(
        !bytes.windows(15).any(|w| w == b"SQLite format 3"),
        "no SQLite header"
    );
    assert!(
        !bytes.windows(15).any(|w| w == b"Vergessenwerden"),
        "no plaintext"
    );
    let r = http
        .delete(format!("http://{addr}/api/v1/persons/{gone}"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    drop(server);

    assert!(
        klar(&data)
            .args(["backup", "verify"])
            .arg(&file)
            .status()
            .unwrap()
            .success()
    );
    let out = klar(&data)
        .args(["backup", "restore"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 erasure(s)"));

    let server = Server(
        klar(&data)
            .args(["serve", "--addr", &addr])
            .spawn()
            .unwrap(),
    );
    wait_healthy(&addr);
    let get = |id: &str| {
        http.get(format!("http://{addr}/api/v1/persons/{id}"))
            .bearer_auth(&token)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(get(&gone), 404, "the erased person stays erased");
    assert_eq!(get(&kept), 200, "everyone else is back");
    drop(server);
    assert!(
        klar(&data)
            .args(["audit", "verify"])
            .status()
            .unwrap()
            .success()
    );

    // Damaged, truncated and foreign backups are refused and the data dir is untouched.
    let before = std::fs::read(data.join("klar.db")).unwrap();
    let mut damaged = bytes.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x55;
    let truncated = bytes[..bytes.len() - 100].to_vec();
    let other = dir.path().join("other");
    assert!(
        klar(&other)
            .args(["seed", "--persons", "1"])
            .status()
            .unwrap()
            .success()
    );
    let foreign = dir.path().join("foreign.klarbak");
    assert!(
        klar(&other)
            .args(["backup", "create", "--out"])
            .arg(&foreign)
            .status()
            .unwrap()
            .success()
    );
    for (name, content, expect) in [
        ("damaged", damaged, "damaged"),
        ("truncated", truncated, "truncated"),
        (
            "foreign",
            std::fs::read(&foreign).unwrap(),
            "another installation",
        ),
        (
            "nonsense",
            b"SQLite format 3\0 not a backup".to_vec(),
            "not a Klar backup",
        ),
    ] {
        let f = dir.path().join(format!("{name}.klarbak"));
        std::fs::write(&f, content).unwrap();
        let out = klar(&data)
            .args(["backup", "restore"])
            .arg(&f)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{name}: {err}");
    }
    assert_eq!(
        std::fs::read(data.join("klar.db")).unwrap(),
        before,
        "the data dir is untouched"
    );
}

fn printf_user(data: &std::path::Path, email: &str, role: &str) {
    let mut child = klar(data)
        .args([
            "user",
            "add",
            "--email",
            email,
            "--role",
            role,
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Correct-Horse-Battery-9\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn serve_takes_a_scheduled_backup_at_start_when_none_is_recent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let addr = free_addr();
    let server = Server(
        klar(&data)
            .args(["serve", "--addr", &addr, "--backup-keep", "3"])
            .spawn()
            .unwrap(),
    );
    wait_healthy(&addr);
    let backups = data.join("backups");
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = || {
        std::fs::read_dir(&backups).ok().and_then(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|x| x == "klarbak"))
        })
    };
    let file = loop {
        if let Some(f) = done() {
            break f;
        }
        assert!(Instant::now() < deadline, "no scheduled backup appeared");
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(server);
    assert!(
        klar(&data)
            .args(["backup", "verify"])
            .arg(&file)
            .status()
            .unwrap()
            .success()
    );

    // Switched off, none is taken.
    let other = dir.path().join("off");
    let addr = free_addr();
    let server = Server(
        klar(&other)
            .args(["serve", "--addr", &addr, "--backup-interval-hours", "0"])
            .spawn()
            .unwrap(),
    );
    wait_healthy(&addr);
    std::thread::sleep(Duration::from_millis(300));
    drop(server);
    assert!(!other.join("backups").exists());
}

/// Crash safety: the server is killed (SIGKILL) again and again while it takes writes; each
/// time the database opens, passes `PRAGMA integrity_check` and `klar audit verify`, and every
/// person whose creation was acknowledged (201) is still there.
#[test]
fn a_server_killed_under_load_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    printf_user(&data, "vertrieb@staff.example", "sales");
    let token = String::from_utf8(
        klar(&data)
            .args(["token", "create", "--user", "vertrieb@staff.example"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..4 {
        let addr = free_addr();
        let mut child = klar(&data)
            .args(["serve", "--addr", &addr, "--backup-interval-hours", "0"])
            .spawn()
            .unwrap();
        wait_healthy(&addr);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (addr, token, stop) = (addr.clone(), token.clone(), stop.clone());
                std::thread::spawn(move || {
                    let http = reqwest::blocking::Client::builder()
                        .timeout(Duration::from_secs(5))
                        .build()
                        .unwrap();
                    let mut ok = Vec::new();
                    let mut i = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        i += 1;
                        let r = http
                            .post(format!("http://{addr}/api/v1/persons"))
                            .bearer_auth(&token)
                            .json(&serde_json::json!({"last_name": format!("Last{round}x{w}x{i}"), "email": format!("r{round}w{w}i{i}@kunde.example")}))
                            .send();
                        match r {
                            Ok(r) if r.status() == 201 => {
                                let v: serde_json::Value = r.json().unwrap();
                                ok.push(v["id"].as_str().unwrap().to_string());
                            }
                            _ => break,
                        }
                    }
                    ok
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(400 + 150 * round as u64));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in writers {
            acknowledged.extend(w.join().unwrap());
        }
        let c = rusqlite::Connection::open(data.join("klar.db")).unwrap();
        let check: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "round {round}");
        drop(c);
        let out = klar(&data).args(["audit", "verify"]).output().unwrap();
        assert!(
            out.status.success(),
            "round {round}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        acknowledged.len() > 20,
        "the load was real: {}",
        acknowledged.len()
    );
    let c = rusqlite::Connection::open(data.join("klar.db")).unwrap();
    for id in &acknowledged {
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM persons WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 1, "acknowledged person {id} was lost");
    }
}

/// `klar user add --password-stdin` with the given password; returns (success, stderr).
fn add_with_password(data: &std::path::Path, email: &str, password: &str) -> (bool, String) {
    let mut child = klar(data)
        .args([
            "user",
            "add",
            "--email",
            email,
            "--role",
            "sales",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn user_add_refuses_short_and_common_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, err) = add_with_password(dir.path(), "a@staff.example", "elf-Zeichen");
    assert!(!ok);
    assert!(err.contains("at least 12 characters"), "{err}");
    let (ok, err) = add_with_password(dir.path(), "a@staff.example", "QWERTY123456");
    assert!(!ok);
    assert!(err.contains("commonly used password"), "{err}");
    assert!(!err.contains("QWERTY"), "the password is not echoed: {err}");
    let (ok, _) = add_with_password(dir.path(), "a@staff.example", "Correct-Horse-Battery-9");
    assert!(ok);
}

#[test]
fn user_reset_totp_says_whether_there_was_an_authenticator() {
    let dir = tempfile::tempdir().unwrap();
    printf_user(dir.path(), "admin@staff.example", "admin");
    let out = klar(dir.path())
        .args(["user", "reset-totp", "--email", "admin@staff.example"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no authenticator was set up"),
        "{out:?}"
    );
    let out = klar(dir.path())
        .args(["user", "reset-totp", "--email", "nobody@staff.example"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn serve_refuses_an_unknown_role_in_klar_totp_roles() {
    let dir = tempfile::tempdir().unwrap();
    let out = klar(dir.path())
        .args(["serve", "--addr", &free_addr()])
        .env("KLAR_TOTP_ROLES", "sales,root")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("KLAR_TOTP_ROLES"),
        "{out:?}"
    );
}

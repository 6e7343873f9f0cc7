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
    // The demo is ready for a campaign: a marketer's preview finds lawful recipients and
    // nothing blocks a send but the missing mail route.
    let marketing = token_for(dir.path(), "marketing@demo.example");
    let http = reqwest::blocking::Client::new();
    let (st, c) = call(
        &http,
        "POST",
        format!("http://{addr}/api/v1/campaigns"),
        &marketing,
        Some(serde_json::json!({
        "name": "Demo", "purpose": "newsletter", "subject": "Hallo {{first_name}}", "body": "Neues", "segment": {"all": true}})),
    );
    assert_eq!(st, 201, "{c}");
    let (st, pv) = call(
        &http,
        "POST",
        format!(
            "http://{addr}/api/v1/campaigns/{}/preview",
            c["id"].as_str().unwrap()
        ),
        &marketing,
        None,
    );
    assert_eq!(st, 200);
    assert!(pv["eligible"].as_i64().unwrap() >= 20, "{pv}");
    assert!(pv["blocked"].is_null(), "{pv}");
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
fn serve_refuses_a_retention_period_that_is_negative_or_absurd() {
    let dir = tempfile::tempdir().unwrap();
    for (var, months) in [
        ("KLAR_LEAD_INACTIVITY_MONTHS", "-3"),
        ("KLAR_CONSENT_PROOF_MONTHS", "5000"),
    ] {
        let out = klar(dir.path())
            .args(["serve", "--addr", &free_addr()])
            .env(var, months)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{var}={months} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("months") && err.contains("retention period"),
            "{err}"
        );
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

/// `n` clients that create persons until `stop` is set or the server stops answering; each
/// returns the ids of the persons the server acknowledged with 201.
fn person_writers(
    addr: &str,
    token: &str,
    n: usize,
    tag: &str,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<String>>> {
    (0..n)
        .map(|w| {
            let (addr, token, stop, tag) = (addr.to_string(), token.to_string(), stop.clone(), tag.to_string());
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
                        .json(&serde_json::json!({"last_name": format!("Last{tag}x{w}x{i}"), "email": format!("{tag}w{w}i{i}@kunde.example")}))
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
        .collect()
}

fn printf_user(data: &std::path::Path, email: &str, role: &str) {
    let (ok, err) = add_with_password(data, email, role, "Correct-Horse-Battery-9");
    assert!(ok, "{err}");
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
        let writers = person_writers(&addr, &token, 4, &format!("r{round}"), &stop);
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

/// `klar user add --password-stdin` with the given role and password; returns
/// (success, stderr).
fn add_with_password(
    data: &std::path::Path,
    email: &str,
    role: &str,
    password: &str,
) -> (bool, String) {
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
    let (ok, err) = add_with_password(dir.path(), "a@staff.example", "sales", "elf-Zeichen");
    assert!(!ok);
    assert!(err.contains("at least 12 characters"), "{err}");
    let (ok, err) = add_with_password(dir.path(), "a@staff.example", "sales", "QWERTY123456");
    assert!(!ok);
    assert!(err.contains("commonly used password"), "{err}");
    assert!(!err.contains("QWERTY"), "the password is not echoed: {err}");
    let (ok, _) = add_with_password(
        dir.path(),
        "a@staff.example",
        "sales",
        "Correct-Horse-Battery-9",
    );
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

fn run_ok(data: &std::path::Path, args: &[&str]) -> String {
    let out = klar(data).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "klar {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn token_for(data: &std::path::Path, email: &str) -> String {
    run_ok(data, &["token", "create", "--user", email])
        .trim()
        .to_string()
}

/// Every person the API lists, page by page (each one decrypted by the server).
fn all_person_ids(http: &reqwest::blocking::Client, addr: &str, token: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("http://{addr}/api/v1/persons?limit=200");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let r = http.get(url).bearer_auth(token).send().unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().unwrap();
        for p in v["items"].as_array().unwrap() {
            ids.push(p["id"].as_str().unwrap().to_string());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return ids,
        }
    }
}

/// `generation N: K data key(s)` lines of `klar keys status`, as (N, K).
fn keys_by_generation(status: &str) -> Vec<(u32, u64)> {
    status
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("generation ")?;
            let (g, rest) = rest.split_once(": ")?;
            let (n, _) = rest.split_once(" data key(s)")?;
            Some((g.parse().ok()?, n.parse().ok()?))
        })
        .collect()
}

/// Key rotation without downtime: while clients create and read persons, `klar keys rotate`
/// (twice) re-wraps every data key; nothing fails, every person stays readable, the email
/// search still finds her, the audit trail verifies, and after destroying the old generation
/// and restarting, everything is still readable.
#[test]
fn keys_rotate_while_the_server_serves_readers_and_writers_and_the_old_generation_can_be_destroyed()
{
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // More persons than one re-wrapping batch.
    run_ok(&data, &["seed", "--persons", "300"]);
    printf_user(&data, "vertrieb@staff.example", "sales");
    let token = token_for(&data, "vertrieb@staff.example");
    let addr = free_addr();
    let server = Server(
        klar(&data)
            .args(["serve", "--addr", &addr, "--backup-interval-hours", "0"])
            .spawn()
            .unwrap(),
    );
    wait_healthy(&addr);
    let http = reqwest::blocking::Client::new();
    let seeded = all_person_ids(&http, &addr, &token);
    assert_eq!(seeded.len(), 300);
    let r: serde_json::Value = http
        .post(format!("http://{addr}/api/v1/persons"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"first_name": "Rosa", "last_name": "Rotation", "email": "rosa.rotation@kunde.example"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let rosa = r["id"].as_str().unwrap().to_string();

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seeded = std::sync::Arc::new(seeded);
    let clients: Vec<_> = (0..3)
        .map(|w| {
            let (addr, token, stop, acked, seeded) = (
                addr.clone(),
                token.clone(),
                stop.clone(),
                acked.clone(),
                seeded.clone(),
            );
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                let (mut created, mut failures) = (Vec::new(), Vec::new());
                let mut i = 0usize;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i += 1;
                    let r = http
                        .post(format!("http://{addr}/api/v1/persons"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({"last_name": format!("Neu{w}x{i}"), "email": format!("w{w}i{i}@kunde.example")}))
                        .send()
                        .unwrap();
                    if r.status() != 201 {
                        failures.push(format!("create: {}", r.status()));
                        continue;
                    }
                    let id = r.json::<serde_json::Value>().unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    for read in [&id, &seeded[(w * 97 + i * 13) % seeded.len()]] {
                        let s = http
                            .get(format!("http://{addr}/api/v1/persons/{read}"))
                            .bearer_auth(&token)
                            .send()
                            .unwrap()
                            .status();
                        if s != 200 {
                            failures.push(format!("read: {s}"));
                        }
                    }
                    created.push(id);
                }
                (created, failures)
            })
        })
        .collect();
    let wait_for_more = |n: usize| {
        let target = acked.load(std::sync::atomic::Ordering::Relaxed) + n;
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked.load(std::sync::atomic::Ordering::Relaxed) < target {
            assert!(Instant::now() < deadline, "the clients stalled");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    // Persons acknowledged while a rotation ran: the rotation overlapped the load.
    let mut overlapped = 0;
    let mut rotate = |expect: &str| {
        let during = acked.load(std::sync::atomic::Ordering::Relaxed);
        let out = run_ok(&data, &["keys", "rotate"]);
        overlapped += acked.load(std::sync::atomic::Ordering::Relaxed) - during;
        assert!(out.contains(expect), "{out}");
        assert!(out.contains("no data was re-encrypted"), "{out}");
    };
    wait_for_more(10);
    rotate("generation 2 is current (was 1)");
    wait_for_more(10);
    rotate("generation 3 is current (was 2)");
    wait_for_more(10);
    assert!(overlapped > 0, "no person was created while a rotation ran");
    eprintln!("persons created while the rotations ran: {overlapped}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut created = Vec::new();
    for c in clients {
        let (ids, failures) = c.join().unwrap();
        assert!(
            failures.is_empty(),
            "requests failed during rotation: {failures:?}"
        );
        created.extend(ids);
    }

    let status = run_ok(&data, &["keys", "status"]);
    assert!(
        status.contains("current key-encryption key generation: 3"),
        "{status}"
    );
    let counts = keys_by_generation(&status);
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    assert_eq!(total as usize, 301 + created.len(), "{status}");
    assert!(
        counts.iter().all(|(g, n)| *g == 3 || *n == 0),
        "no key of an old generation is left: {status}"
    );
    let listed = all_person_ids(&http, &addr, &token);
    assert_eq!(listed.len(), 301 + created.len());
    let found: serde_json::Value = http
        .get(format!(
            "http://{addr}/api/v1/persons?q=rosa.rotation%40kunde.example"
        ))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        found["items"][0]["id"],
        rosa.as_str(),
        "blind index unchanged"
    );
    assert!(run_ok(&data, &["audit", "verify"]).contains("audit trail intact"));

    let out = run_ok(&data, &["keys", "destroy-old"]);
    assert!(
        out.contains("destroyed key-encryption key generation 2"),
        "{out}"
    );
    assert!(
        out.contains("generation 1 is derived from the master key"),
        "{out}"
    );
    assert!(!data.join("kek-2.key").exists());
    assert!(data.join("kek-3.key").exists());
    let status = run_ok(&data, &["keys", "status"]);
    assert!(
        status.contains("kek-2.key: destroyed") && status.contains("kek-3.key: present"),
        "{status}"
    );
    drop(server);

    let server = Server(
        klar(&data)
            .args(["serve", "--addr", &addr, "--backup-interval-hours", "0"])
            .spawn()
            .unwrap(),
    );
    wait_healthy(&addr);
    assert_eq!(
        all_person_ids(&http, &addr, &token).len(),
        301 + created.len()
    );
    for id in created.iter().chain(seeded.iter().take(20)) {
        let s = http
            .get(format!("http://{addr}/api/v1/persons/{id}"))
            .bearer_auth(&token)
            .send()
            .unwrap()
            .status();
        assert_eq!(s, 200, "person {id} after the restart");
    }
    drop(server);
    let out = klar(&data).args(["audit", "export"]).output().unwrap();
    let trail = String::from_utf8(out.stdout).unwrap();
    assert_eq!(trail.matches("\"key.rotate\"").count(), 2);
    assert_eq!(trail.matches("\"key.destroy\"").count(), 1);

    // Without the current generation's file Klar does not start, and says which file.
    std::fs::rename(data.join("kek-3.key"), dir.path().join("kek-3.key")).unwrap();
    let out = klar(&data)
        .args(["serve", "--addr", &free_addr()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("current key-encryption key (generation 3) is missing")
            && err.contains("kek-3.key"),
        "{err}"
    );
}

/// Every file directly in `dir` with its bytes.
fn dir_bytes(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn persons_readable(data: &std::path::Path) -> usize {
    let store = klar_store::Store::open(
        &klar_store::StoreConfig::new(data),
        std::sync::Arc::new(klar_domain::clock::SystemClock),
    )
    .unwrap();
    let page = store
        .list_persons(&klar_store::persons::PersonFilter {
            limit: 200,
            ..Default::default()
        })
        .unwrap();
    page.items.len()
}

/// A backup names the key-encryption key generation its data keys need; a restore refuses,
/// without touching the data dir, when that generation was destroyed, and works while it
/// exists; generation 1 (from the master key) never goes away.
#[test]
fn a_backup_states_its_key_generation_and_is_refused_once_that_generation_is_destroyed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run_ok(&data, &["seed", "--persons", "12"]);
    let backup = |name: &str| {
        let f = dir.path().join(name);
        let mut args = vec!["backup", "create", "--out"];
        let path = f.to_str().unwrap().to_string();
        args.push(&path);
        run_ok(&data, &args);
        f
    };
    let b1 = backup("gen1.klarbak");
    let out = run_ok(&data, &["backup", "verify", b1.to_str().unwrap()]);
    assert!(
        out.contains("format 2") && out.contains("generation 1 (id "),
        "{out}"
    );
    assert!(out.contains("derived from the master key"), "{out}");

    run_ok(&data, &["keys", "rotate"]);
    let b2 = backup("gen2.klarbak");
    let out = run_ok(&data, &["backup", "verify", b2.to_str().unwrap()]);
    assert!(out.contains("generation 2 (id "), "{out}");
    assert!(!out.contains("generation 1 (id "), "{out}");
    run_ok(&data, &["keys", "rotate"]);

    // Before the old file is destroyed, the generation-2 backup restores (in a copy).
    let copy = dir.path().join("copy");
    copy_dir(&data, &copy);
    let out = run_ok(&copy, &["backup", "restore", b2.to_str().unwrap()]);
    assert!(out.contains("restored"), "{out}");
    assert_eq!(persons_readable(&copy), 12);
    assert!(
        run_ok(&copy, &["keys", "status"]).contains("current key-encryption key generation: 2")
    );

    run_ok(&data, &["keys", "destroy-old"]);
    assert!(!data.join("kek-2.key").exists());
    let out = klar(&data)
        .args(["backup", "verify"])
        .arg(&b2)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("generation 2") && text.contains("MISSING"),
        "{text}"
    );

    let before = dir_bytes(&data);
    let out = klar(&data)
        .args(["backup", "restore"])
        .arg(&b2)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a backup without its key restored");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("key-encryption key generation 2")
            && err.contains("kek-2.key")
            && err.contains("Nothing was changed"),
        "{err}"
    );
    assert_eq!(
        dir_bytes(&data),
        before,
        "the data dir is byte-for-byte unchanged"
    );

    // A backup taken after the rotation restores, and so does one from generation 1.
    let b3 = backup("gen3.klarbak");
    let out = run_ok(&data, &["backup", "verify", b3.to_str().unwrap()]);
    assert!(out.contains("generation 3 (id "), "{out}");
    run_ok(&data, &["backup", "restore", b3.to_str().unwrap()]);
    assert_eq!(persons_readable(&data), 12);
    run_ok(&data, &["backup", "restore", b1.to_str().unwrap()]);
    assert_eq!(persons_readable(&data), 12);
    assert!(run_ok(&data, &["audit", "verify"]).contains("audit trail intact"));
}

/// Crash safety of backups: `klar backup create` is killed (SIGKILL) at different points
/// (taking the snapshot, sealing it) while the server takes writes. No finished-looking
/// backup appears; the database opens, passes `PRAGMA integrity_check` and `klar audit
/// verify`, and holds every acknowledged write; the next backup removes the leftovers and
/// verifies.
#[test]
fn a_backup_killed_midway_leaves_an_intact_database_and_the_next_backup_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out_dir = dir.path().join("backups");
    std::fs::create_dir_all(&out_dir).unwrap();
    // Big enough that snapshot and sealing take a moment.
    run_ok(&data, &["seed", "--persons", "800"]);
    printf_user(&data, "vertrieb@staff.example", "sales");
    let token = token_for(&data, "vertrieb@staff.example");
    let addr = free_addr();
    let mut server = klar(&data)
        .args(["serve", "--addr", &addr, "--backup-interval-hours", "0"])
        .spawn()
        .unwrap();
    wait_healthy(&addr);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers = person_writers(&addr, &token, 2, "b", &stop);

    let names = |d: &std::path::Path| -> Vec<String> {
        std::fs::read_dir(d)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect()
    };
    let largest = |d: &std::path::Path, is: &dyn Fn(&str) -> bool| -> u64 {
        std::fs::read_dir(d)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| is(&e.file_name().to_string_lossy()))
            .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
            .max()
            .unwrap_or(0)
    };
    let snapshot = |n: &str| n.starts_with(".backup-") && n.contains(".db");
    let partial = |n: &str| n.ends_with(".partial");
    // Kill points: the snapshot copy is being written, is past its first megabyte, sealing has
    // begun, sealing is past its second megabyte. A point counts only for files of this run.
    type KillPoint<'a> = (&'a str, &'a dyn Fn(&str) -> bool, &'a std::path::Path, u64);
    let points: [KillPoint<'_>; 4] = [
        ("snapshot begun", &snapshot, &data, 0),
        ("snapshot 1 MiB", &snapshot, &data, 1 << 20),
        ("sealing begun", &partial, &out_dir, 0),
        ("sealing 2 MiB", &partial, &out_dir, 2 << 20),
    ];
    let mut interrupted = 0;
    for (round, (what, is, place, past)) in points.iter().enumerate() {
        let out = out_dir.join(format!("killed-{round}.klarbak"));
        let before: Vec<String> = names(place).into_iter().filter(|n| is(n)).collect();
        let fresh = |n: &str| is(n) && !before.iter().any(|b| b == n);
        let mut child = klar(&data)
            .args(["backup", "create", "--out"])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let finished = loop {
            if names(place).iter().any(|n| fresh(n)) && largest(place, &fresh) > *past {
                break false;
            }
            if child.try_wait().unwrap().is_some() {
                break true;
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if !finished && !out.exists() {
            interrupted += 1;
        }
        eprintln!("round {round} ({what}): finished before the kill point: {finished}");
    }
    assert!(
        interrupted >= 3,
        "most kills hit a backup mid-way: {interrupted}"
    );
    assert!(
        !names(&out_dir).iter().any(|n| n.ends_with(".klarbak")),
        "no finished-looking backup from a killed run: {:?}",
        names(&out_dir)
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.extend(w.join().unwrap());
    }
    assert!(!acknowledged.is_empty());
    server.kill().unwrap();
    server.wait().unwrap();

    let c = rusqlite::Connection::open(data.join("klar.db")).unwrap();
    let check: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    for id in &acknowledged {
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM persons WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 1, "acknowledged person {id} was lost");
    }
    drop(c);
    assert!(run_ok(&data, &["audit", "verify"]).contains("audit trail intact"));

    let file = out_dir.join("after.klarbak");
    run_ok(
        &data,
        &["backup", "create", "--out", file.to_str().unwrap()],
    );
    let out = run_ok(&data, &["backup", "verify", file.to_str().unwrap()]);
    assert!(out.contains("backup intact"), "{out}");
    assert_eq!(
        names(&out_dir),
        vec!["after.klarbak".to_string()],
        "partials removed"
    );
    assert!(
        !names(&data).iter().any(|n| n.starts_with(".backup-")),
        "no snapshot copy left in the data dir: {:?}",
        names(&data)
    );
}

#[path = "../../klar-web/tests/support/smtp.rs"]
mod smtp;

fn call(
    http: &reqwest::blocking::Client,
    method: &str,
    url: String,
    token: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut r = http
        .request(method.parse().unwrap(), url)
        .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(serde_json::Value::Null))
}

#[test]
fn a_server_killed_mid_send_completes_the_campaign_after_restart_without_duplicates() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sink = rt.block_on(smtp::SmtpSink::start());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    printf_user(&data, "vertrieb@staff.example", "sales");
    printf_user(&data, "werbung@staff.example", "marketing");
    printf_user(&data, "dsb@staff.example", "privacy_officer");
    let (sales, marketing, officer) = (
        token_for(&data, "vertrieb@staff.example"),
        token_for(&data, "werbung@staff.example"),
        token_for(&data, "dsb@staff.example"),
    );
    let serve = |addr: &str| {
        klar(&data)
            .args([
                "serve",
                "--addr",
                addr,
                "--backup-interval-hours",
                "0",
                "--smtp-url",
                &sink.url(),
                "--mail-rate",
                "40",
            ])
            .spawn()
            .unwrap()
    };
    let addr = free_addr();
    let mut child = serve(&addr);
    wait_healthy(&addr);
    let http = reqwest::blocking::Client::new();
    let base = format!("http://{addr}");
    let (st, _) = call(
        &http,
        "PUT",
        format!("{base}/api/v1/settings/installation"),
        &officer,
        Some(serde_json::json!({
        "controller": {"name": "Muster GmbH", "address": "Hauptstr. 1\n10115 Berlin", "email": "info@muster.example", "phone": ""},
        "dpo": {"name": "", "email": ""}, "imprint": "HRB 1", "measures_text": ""})),
    );
    assert_eq!(st, 200);
    let (st, _) = call(
        &http,
        "POST",
        format!("{base}/api/v1/processors"),
        &officer,
        Some(serde_json::json!({
        "name": "Versand GmbH", "role": "processor", "contract_signed_at": "2026-01-15", "purposes": ["newsletter"],
        "data_categories": ["contact"], "country": "DE", "services": ["email_delivery"]})),
    );
    assert_eq!(st, 201);
    // 120 persons with a newsletter consent confirmed through the double opt-in link.
    const N: usize = 120;
    for i in 0..N {
        let (st, p) = call(
            &http,
            "POST",
            format!("{base}/api/v1/persons"),
            &sales,
            Some(serde_json::json!({
            "last_name": format!("Empf{i}"), "email": format!("e{i}@kunde.example"), "tags": ["k"]})),
        );
        assert_eq!(st, 201, "{p}");
        let id = p["id"].as_str().unwrap();
        let (st, _) = call(
            &http,
            "POST",
            format!("{base}/api/v1/persons/{id}/consents"),
            &sales,
            Some(serde_json::json!({
            "purpose": "newsletter", "channel": "email", "action": "grant", "wording_version": "newsletter-de-1", "evidence": "Formular"})),
        );
        assert_eq!(st, 201);
        let mail = sink.to(&format!("e{i}@kunde.example")).pop().unwrap();
        let text = mail.decoded();
        let token = text
            .split("token=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        let r = http
            .post(format!("{base}/consent/confirm"))
            .form(&[("token", token.as_str())])
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let (st, c) = call(
        &http,
        "POST",
        format!("{base}/api/v1/campaigns"),
        &marketing,
        Some(serde_json::json!({
        "name": "Absturz", "purpose": "newsletter", "subject": "Kampagne {{last_name}}", "body": "Hallo", "segment": {"tag": "k"}})),
    );
    assert_eq!(st, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let campaign_mails = |sink: &smtp::SmtpSink| {
        sink.all()
            .into_iter()
            .filter(|m| m.header("Subject").is_some_and(|s| s.contains("Kampagne")))
            .collect::<Vec<_>>()
    };
    let (st, _) = call(
        &http,
        "POST",
        format!("{base}/api/v1/campaigns/{id}/send"),
        &marketing,
        None,
    );
    assert_eq!(st, 202);
    let deadline = Instant::now() + Duration::from_secs(60);
    while campaign_mails(&sink).len() < 30 {
        assert!(Instant::now() < deadline, "the outbox did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL in the middle of the send
    child.wait().unwrap();
    let before = campaign_mails(&sink).len();
    assert!(before < N, "killed mid-send ({before} of {N} sent)");

    let addr = free_addr();
    let _server = Server(serve(&addr));
    wait_healthy(&addr);
    let base = format!("http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let report = loop {
        let (_, r) = call(
            &http,
            "GET",
            format!("{base}/api/v1/campaigns/{id}/report"),
            &marketing,
            None,
        );
        if r["queued"] == 0 && r["sending"] == 0 {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "the campaign did not complete: {r}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mails = campaign_mails(&sink);
    let mut per: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for m in &mails {
        *per.entry(m.to[0].clone()).or_default() += 1;
    }
    assert!(per.values().all(|n| *n == 1), "nobody gets the mail twice");
    let sent = report["sent"].as_u64().unwrap() as usize;
    let interrupted = report["interrupted"].as_u64().unwrap() as usize;
    assert_eq!(sent + interrupted, N, "{report}");
    assert!(
        interrupted <= 8,
        "at most the mails in flight are uncertain: {report}"
    );
    assert!(
        mails.len() >= sent && mails.len() <= sent + interrupted,
        "{report} vs {}",
        mails.len()
    );
    assert!(mails.len() > before, "the restarted server went on sending");
    drop(_server);
    let (ok, out, err) = verify(&data);
    assert!(ok, "audit verify: {out} {err}");
}

/// The retention fixture: one person for each class, each made at its own date through the
/// store with a clock set to that date. Returns (data dir guard, ids by role).
fn retention_fixture() -> (
    tempfile::TempDir,
    std::collections::HashMap<&'static str, String>,
) {
    use klar_domain::clock::ManualClock;
    use klar_domain::policy::{Channel, ConsentEvent, ConsentEventKind, ConsentSource};
    use klar_domain::records::{ActivityKind, ActivityText, PersonKind, PersonalData};
    use klar_store::activities::ActivityEdit;
    use klar_store::deals::DealEdit;
    use klar_store::persons::NewPerson;
    use klar_store::{Actor, Store, StoreConfig};
    let dir = tempfile::tempdir().unwrap();
    let at = |s: &str| -> jiff::Timestamp { s.parse().unwrap() };
    let clock = std::sync::Arc::new(ManualClock::new(at("2019-01-15T09:00:00Z")));
    let s = Store::open(&StoreConfig::new(dir.path()), clock.clone()).unwrap();
    let mut ids = std::collections::HashMap::new();
    let mut person = |role: &'static str, when: &str| {
        clock.set(at(when));
        let p = s
            .create_person(
                Actor::system(),
                NewPerson {
                    kind: PersonKind::Consumer,
                    organization_id: None,
                    owner_id: None,
                    source: None,
                    tags: vec![],
                    personal: PersonalData {
                        first_name: "Retenta".into(),
                        last_name: format!("Zz{role}"),
                        ..Default::default()
                    },
                },
            )
            .unwrap();
        ids.insert(role, p.id.to_string());
        p.id
    };
    let consent = |pid, purpose: &str, channel, kind, when: &str| {
        s.append_consent_event(
            Actor::system(),
            pid,
            1,
            &ConsentEvent {
                at: at(when),
                purpose: purpose.into(),
                channel,
                kind,
                source: ConsentSource::Staff,
                wording_version: format!("{purpose}-de-1"),
                evidence: (kind == ConsentEventKind::Grant).then(|| "signed form 17".into()),
            },
        )
        .unwrap();
    };
    let activity = |pid, kind, deal: Option<klar_domain::ids::DealId>, when: &str| {
        s.create_activity(
            Actor::system(),
            ActivityEdit {
                kind,
                person_id: Some(pid),
                organization_id: None,
                deal_id: deal,
                text: ActivityText {
                    subject: "Angebot".into(),
                    body: None,
                },
                purpose: None,
                occurred_at: at(when),
                due_date: None,
                done: true,
                owner_id: None,
            },
        )
        .unwrap();
    };
    let won = |pid, when: &str| {
        clock.set(at(when));
        let d = s
            .create_deal(
                Actor::system(),
                DealEdit {
                    title: "Auftrag".into(),
                    value_cents: 100_000,
                    currency: klar_domain::currency::Currency::parse("EUR").unwrap(),
                    stage: "won".into(),
                    person_id: Some(pid),
                    organization_id: None,
                    owner_id: None,
                    expected_close_date: None,
                    lost_reason: None,
                    custom: Default::default(),
                },
            )
            .unwrap();
        activity(pid, ActivityKind::Email, Some(d.id), when);
    };
    // Consent withdrawn in 2020: its proof ran out at the end of 2023.
    let p = person("withdrawn", "2019-02-01T10:00:00Z");
    consent(
        p,
        "profiling",
        Channel::Email,
        ConsentEventKind::Grant,
        "2019-02-01T10:00:00Z",
    );
    consent(
        p,
        "profiling",
        Channel::Email,
        ConsentEventKind::Withdraw,
        "2020-03-01T10:00:00Z",
    );
    // A lead whose last activity was in June 2023 (more than 24 months ago).
    let p = person("lead", "2023-06-01T10:00:00Z");
    activity(p, ActivityKind::Note, None, "2023-06-01T10:00:00Z");
    // A customer whose deal was won in April 2022: letters kept to 31 Dec 2028.
    let p = person("won_recent", "2022-01-10T10:00:00Z");
    won(p, "2022-04-01T10:00:00Z");
    // A customer whose deal was won in May 2019: letters kept to 31 Dec 2025, now over.
    let p = person("won_old", "2019-03-10T10:00:00Z");
    won(p, "2019-05-01T10:00:00Z");
    // A lead as stale as the other, but under a legal hold.
    let p = person("held", "2019-03-01T10:00:00Z");
    clock.set(at("2019-03-02T10:00:00Z"));
    s.place_legal_hold(Actor::system(), p, "Rechtsstreit Az. 1 O 23/19")
        .unwrap();
    // A consent to phone advertising in force since 2019: kept.
    let p = person("active", "2019-04-01T10:00:00Z");
    consent(
        p,
        "phone_marketing",
        Channel::Phone,
        ConsentEventKind::Grant,
        "2019-04-01T10:00:00Z",
    );
    s.audit_flush().unwrap();
    drop(s);
    (dir, ids)
}

fn count(data: &std::path::Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open(data.join("klar.db")).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn decisions(report: &str) -> std::collections::BTreeMap<String, String> {
    report
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?.to_string(), f.next()?.to_string()))
        })
        .collect()
}

#[test]
fn retention_run_as_of_erases_the_lapsed_restricts_the_statutory_and_spares_the_held() {
    let (dir, ids) = retention_fixture();
    let data = dir.path();
    let persons = "SELECT COUNT(*) FROM persons";
    // Dry run: the report, nothing changed.
    let dry = run_ok(
        data,
        &["retention", "run", "--as-of", "2026-11-30", "--dry-run"],
    );
    assert!(dry.contains("dry run: nothing changed"), "{dry}");
    let d = decisions(&dry);
    assert_eq!(d[&ids["withdrawn"]], "erase", "{dry}");
    assert_eq!(d[&ids["lead"]], "erase", "{dry}");
    assert_eq!(d[&ids["won_old"]], "erase", "{dry}");
    assert_eq!(d[&ids["won_recent"]], "restrict until 2028-12-31", "{dry}");
    assert_eq!(d[&ids["held"]], "legal_hold", "{dry}");
    assert!(!d.contains_key(&ids["active"]), "{dry}");
    assert!(
        dry.contains("§257 HGB"),
        "the legal reason is stated: {dry}"
    );
    assert!(dry.contains("Art. 5(1)(e), 17(1)(a) GDPR"), "{dry}");
    assert!(!dry.contains("Zz"), "no names in the report: {dry}");
    assert_eq!(count(data, persons), 6);
    assert_eq!(count(data, "SELECT COUNT(*) FROM restrictions"), 0);

    // Bad input: clear errors, nothing deleted.
    for (args, says) in [
        (vec!["--lead-inactivity-months", "-5"], "at least one month"),
        (
            vec!["--consent-proof-months", "99999"],
            "at most 1200 months",
        ),
        (
            vec!["--lead-inactivity-months", "zwei"],
            "whole number of months",
        ),
        (
            vec!["--as-of", "2018-06-01"],
            "before this installation's first data",
        ),
        (vec!["--as-of", "2026-13-01"], "YYYY-MM-DD"),
        (vec!["--as-of", "30.11.2026"], "YYYY-MM-DD"),
    ] {
        let out = klar(data)
            .args(["retention", "run"])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(count(data, persons), 6, "{args:?} deleted someone");
    }

    // The run itself.
    let run = run_ok(data, &["retention", "run", "--as-of", "2026-11-30"]);
    assert_eq!(decisions(&run), d, "the run does what the dry run said");
    assert_eq!(count(data, persons), 3);
    for gone in ["withdrawn", "lead", "won_old"] {
        assert_eq!(
            count(
                data,
                &format!(
                    "SELECT COUNT(*) FROM person_keys WHERE person_id = '{}'",
                    ids[gone]
                )
            ),
            0,
            "{gone}'s key is shredded"
        );
        assert_eq!(
            count(
                data,
                &format!(
                    "SELECT COUNT(*) FROM erasures WHERE person_id = '{}'",
                    ids[gone]
                )
            ),
            1
        );
    }
    let reason: String = rusqlite::Connection::open(data.join("klar.db"))
        .unwrap()
        .query_row(
            "SELECT reason FROM restrictions WHERE person_id = ?1",
            [&ids["won_recent"]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        reason,
        "retention: only statutory duty or proof until 2028-12-31"
    );
    // The letters of the old deal ran out with it: nothing of hers is left.
    assert_eq!(
        count(
            data,
            "SELECT COUNT(*) FROM activities WHERE person_id IS NULL"
        ),
        0
    );
    // Every decision is in the audit trail.
    assert_eq!(
        count(
            data,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'retention.decision'"
        ),
        5
    );
    // No plaintext: the names were sealed, and the erased records are gone from the file.
    let mut bytes = std::fs::read(data.join("klar.db")).unwrap();
    bytes.extend(std::fs::read(data.join("klar.db-wal")).unwrap_or_default());
    for gone in ["Zzwithdrawn", "Zzlead", "Zzwon_old"] {
        assert!(
            !bytes.windows(gone.len()).any(|w| w == gone.as_bytes()),
            "{gone}"
        );
    }
    // A second run on the same day changes nothing more.
    let again = run_ok(data, &["retention", "run", "--as-of", "2026-11-30"]);
    let d2 = decisions(&again);
    assert_eq!(d2.get(&ids["held"]).map(String::as_str), Some("legal_hold"));
    assert!(!d2.contains_key(&ids["won_recent"]), "{again}");

    // Within 90 days of the end of 2028 the restricted customer is on the warning list;
    // after it she is erased; the held and the consenting persons stay.
    let warn = run_ok(
        data,
        &["retention", "run", "--as-of", "2028-11-15", "--dry-run"],
    );
    assert!(
        warn.lines()
            .any(|l| l.starts_with(&ids["won_recent"]) && l.contains("erase after 2028-12-31")),
        "{warn}"
    );
    let later = run_ok(data, &["retention", "run", "--as-of", "2029-01-01"]);
    assert_eq!(decisions(&later)[&ids["won_recent"]], "erase", "{later}");
    assert_eq!(count(data, persons), 2);
    assert_eq!(
        count(
            data,
            &format!(
                "SELECT COUNT(*) FROM persons WHERE id IN ('{}', '{}')",
                ids["held"], ids["active"]
            )
        ),
        2
    );
}

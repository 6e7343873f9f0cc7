//! `klar`: the one binary. Configuration comes from flags, then `KLAR_*` environment
//! variables, then defaults (see README).

mod demo;

/// mimalloc instead of glibc's allocator: the request path allocates from both worker
/// threads, and glibc's arena locks showed up as contention in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use klar_domain::clock::SystemClock;
use klar_domain::role::Role;
use klar_store::{DatabaseUrl, Store, StoreConfig};
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "klar",
    version,
    about = "Klar: the CRM that is lawful by construction"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Global {
    /// Where the SQLite database, the master key and backups live.
    #[arg(
        long,
        env = "KLAR_DATA_DIR",
        default_value = "./klar-data",
        global = true
    )]
    data_dir: PathBuf,
    /// `sqlite://FILE` or `postgres://…`; default: klar.db in the data dir.
    #[arg(long, env = "KLAR_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// The master key file; default: master.key in the data dir.
    #[arg(long, env = "KLAR_MASTER_KEY_FILE", global = true)]
    master_key_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run migrations and serve HTTP.
    Serve(ServeArgs),
    /// Staff accounts.
    #[command(subcommand)]
    User(UserCmd),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Exit 0 if the server at --addr answers /healthz.
    Healthcheck {
        #[arg(long, env = "KLAR_ADDR", default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
    },
    /// The tamper-evident audit trail.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Encrypted backups that cannot bring back erased persons.
    #[command(subcommand)]
    Backup(BackupCmd),
    /// The key-encryption keys that wrap every person's data key (decision 0012).
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Print the record of processing activities (Art. 30(1) GDPR), generated from the
    /// live configuration.
    Ropa {
        /// `json` or `md` (Markdown, German).
        #[arg(long, default_value = "md", value_parser = ["json", "md"])]
        format: String,
        /// The mail server `klar serve` uses (reported among recipients and measures).
        #[arg(long, env = "KLAR_SMTP_URL")]
        smtp_url: Option<String>,
        /// Days an email grant waits for its confirmation (as `klar serve`).
        #[arg(long, env = "KLAR_DOI_EXPIRY_DAYS", default_value_t = 30)]
        doi_expiry_days: u32,
    },
    /// Storage limitation (LAW.md B.5): erase persons no purpose justifies any more,
    /// restrict those kept only for a statutory duty (decision 0015).
    #[command(subcommand)]
    Retention(RetentionCmd),
    /// Fill the database with generated demo data (for trials and benchmarks).
    Seed {
        /// Number of persons; organizations, deals and activities scale with it.
        #[arg(long, default_value_t = 240)]
        persons: usize,
    },
}

#[derive(Args)]
struct ServeArgs {
    #[arg(long, env = "KLAR_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Base of links in emails; default http://ADDR.
    #[arg(long, env = "KLAR_PUBLIC_URL")]
    public_url: Option<String>,
    /// Mail server: `smtps://[USER:PASS@]HOST[:465]`, `smtp://[USER:PASS@]HOST[:587]?tls=starttls`,
    /// or plain `smtp://HOST:PORT` to a loopback relay; without it, mail is refused.
    #[arg(long, env = "KLAR_SMTP_URL")]
    smtp_url: Option<String>,
    /// Sender address of the mails Klar sends.
    #[arg(long, env = "KLAR_MAIL_FROM", default_value = "klar@localhost")]
    mail_from: String,
    /// Days a double opt-in link stays valid; an email consent not confirmed by then lapses.
    #[arg(long, env = "KLAR_DOI_EXPIRY_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u16).range(1..=365))]
    doi_expiry_days: u16,
    /// Hours between scheduled backups (0: none). The first runs at start when the last one
    /// is older than this.
    #[arg(long, env = "KLAR_BACKUP_INTERVAL_HOURS", default_value_t = 24)]
    backup_interval_hours: u32,
    /// How many scheduled backups to keep.
    #[arg(long, env = "KLAR_BACKUP_KEEP", default_value_t = 7)]
    backup_keep: usize,
    /// Where scheduled backups go; default DATA_DIR/backups.
    #[arg(long, env = "KLAR_BACKUP_DIR")]
    backup_dir: Option<PathBuf>,
    /// Campaign mails per second at most (the outbox's rate limit).
    #[arg(long, env = "KLAR_MAIL_RATE", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    mail_rate: u32,
    /// Attempts of a campaign mail after temporary failures before it is marked failed.
    #[arg(long, env = "KLAR_MAIL_ATTEMPTS", default_value_t = 5,
          value_parser = clap::value_parser!(i64).range(1..=20))]
    mail_attempts: i64,
    /// Seconds before the first retry of a temporary failure; doubled for each further one.
    #[arg(long, env = "KLAR_MAIL_RETRY_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    mail_retry_seconds: u64,
    /// Minutes without a request after which a web session ends.
    #[arg(long, env = "KLAR_SESSION_IDLE_MINUTES", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=1440))]
    session_idle_minutes: u32,
    /// Hours after the login at which a web session ends, however active.
    #[arg(long, env = "KLAR_SESSION_MAX_HOURS", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(1..=720))]
    session_max_hours: u32,
    /// Further roles that must log in with a TOTP code, comma-separated (admin and
    /// privacy_officer always must).
    #[arg(long, env = "KLAR_TOTP_ROLES", value_delimiter = ',')]
    totp_roles: Vec<String>,
    /// Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed,
    /// comma-separated.
    #[arg(long, env = "KLAR_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Fill an empty database with realistic German demo data.
    #[arg(long)]
    demo: bool,
    #[command(flatten)]
    retention: RetentionPeriods,
}

#[derive(Subcommand)]
enum RetentionCmd {
    /// Apply the retention rules now (or at --as-of) and print what was (or would be)
    /// erased or restricted, each with its legal reason, and who is erased within 90 days.
    Run {
        /// Change nothing; print what would happen.
        #[arg(long)]
        dry_run: bool,
        /// Evaluate at the start of this day (YYYY-MM-DD, Europe/Berlin) instead of now.
        #[arg(long)]
        as_of: Option<String>,
        /// `text` or `json`.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
        #[command(flatten)]
        periods: RetentionPeriods,
    },
}

/// The periods the law leaves to the installation (decision 0015).
#[derive(Args, Clone)]
struct RetentionPeriods {
    /// Months a lead or contact is kept after her last activity (1 to 1200).
    #[arg(
        long,
        env = "KLAR_LEAD_INACTIVITY_MONTHS",
        default_value = "24",
        allow_hyphen_values = true
    )]
    lead_inactivity_months: String,
    /// Months the proof of a withdrawn consent is kept, from the end of the calendar year
    /// of the withdrawal (1 to 1200; default 36, the limitation of §195 BGB).
    #[arg(
        long,
        env = "KLAR_CONSENT_PROOF_MONTHS",
        default_value = "36",
        allow_hyphen_values = true
    )]
    consent_proof_months: String,
}

impl RetentionPeriods {
    fn config(&self) -> Result<klar_domain::retention::RetentionConfig> {
        use klar_domain::retention::{Period, RetentionConfig};
        Ok(RetentionConfig {
            lead_inactivity: Period::parse_months(&self.lead_inactivity_months)
                .map_err(|e| anyhow::anyhow!("--lead-inactivity-months: {e}"))?,
            consent_proof: Period::parse_months(&self.consent_proof_months)
                .map_err(|e| anyhow::anyhow!("--consent-proof-months: {e}"))?,
        })
    }
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a staff account.
    Add {
        #[arg(long)]
        email: String,
        /// admin, privacy_officer, sales, marketing or viewer.
        #[arg(long)]
        role: String,
        /// Read the password from the first line of stdin instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List staff accounts.
    List,
    /// Disable an account: its sessions end and its API tokens are revoked.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Remove an account's TOTP authenticator and recovery codes (lost device); its sessions
    /// end, and it enrols a new one at the next login.
    ResetTotp {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum BackupCmd {
    /// Write an encrypted, consistent backup while the server runs; prints its path.
    Create {
        /// Default: DATA_DIR/backups/klar-TIMESTAMP.klarbak.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check that a backup is complete, authentic and made with this installation's key.
    Verify { file: PathBuf },
    /// Restore a backup into the data dir (stop the server first); erasures made since the
    /// backup are applied again.
    Restore { file: PathBuf },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Make a new key-encryption key generation (a file beside the master key) and re-wrap
    /// every person's data key under it, while the server keeps running. Data is not
    /// re-encrypted.
    Rotate,
    /// The current generation, how many data keys each generation wraps, which files exist.
    Status,
    /// Destroy (overwrite and remove) the files of generations older than the current one;
    /// refused while any data key is still wrapped under one of them.
    DestroyOld,
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Walk the hash chain and the signed checkpoints; exit 0 if intact, otherwise non-zero
    /// naming the first entry that was changed, removed or reordered.
    Verify,
    /// Sign the current chain head now (also done every 10,000 entries and hourly by serve).
    Checkpoint,
    /// Entries of a period as JSON lines with their hashes, then the checkpoints inside it.
    Export {
        /// RFC 3339 instant or a date (YYYY-MM-DD, Europe/Berlin); entries at or after it.
        #[arg(long)]
        since: Option<String>,
        /// RFC 3339 instant or a date; entries before it.
        #[arg(long)]
        until: Option<String>,
    },
    /// The hex Ed25519 public key that verifies this installation's checkpoints.
    PublicKey,
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create an API token for a user; prints the token alone.
    Create {
        #[arg(long)]
        user: String,
    },
    /// Revoke every API token of a user.
    Revoke {
        #[arg(long)]
        user: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KLAR_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("klar: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn open_store(g: &Global) -> Result<Store> {
    let mut cfg = StoreConfig::new(&g.data_dir);
    cfg.database_url = g
        .database_url
        .as_deref()
        .map(DatabaseUrl::parse)
        .transpose()?;
    cfg.master_key_file = g.master_key_file.clone();
    Store::open(&cfg, Arc::new(SystemClock)).context("cannot open the data store")
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => serve(&cli.global, args),
        Command::User(UserCmd::Add {
            email,
            role,
            password_stdin,
        }) => {
            let store = open_store(&cli.global)?;
            let role = Role::parse(&role).map_err(|e| anyhow::anyhow!("--role {e}"))?;
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("cannot read the password from stdin")?;
                (line.trim_end_matches(['\n', '\r']).to_string(), false)
            } else {
                (
                    klar_crypto::new_token("", &mut rand::rngs::OsRng)[..20].to_string(),
                    true,
                )
            };
            check_password(&password)?;
            let hash = klar_crypto::hash_password(
                &password,
                klar_crypto::PasswordParams::default(),
                &mut rand::rngs::OsRng,
            )?;
            let user = store.create_user(&email, role, &hash)?;
            let mut out = std::io::stdout().lock();
            if generated {
                writeln!(
                    out,
                    "created {} ({}); one-time password: {password}",
                    user.email, user.role
                )?;
            } else {
                writeln!(out, "created {} ({})", user.email, user.role)?;
            }
            Ok(())
        }
        Command::User(UserCmd::List) => {
            let store = open_store(&cli.global)?;
            let mut out = std::io::stdout().lock();
            for u in store.list_users()? {
                writeln!(
                    out,
                    "{}\t{}\t{}",
                    u.email,
                    u.role,
                    if u.active { "active" } else { "disabled" }
                )?;
            }
            Ok(())
        }
        Command::Token(TokenCmd::Create { user }) => {
            let store = open_store(&cli.global)?;
            let u = store
                .user_by_email(&user)
                .map_err(|_| anyhow::anyhow!("no staff account with that email"))?;
            let token = store.create_token(u.id)?;
            writeln!(std::io::stdout().lock(), "{token}")?;
            Ok(())
        }
        Command::User(UserCmd::Disable { email }) => {
            let store = open_store(&cli.global)?;
            let u = store
                .user_by_email(&email)
                .map_err(|_| anyhow::anyhow!("no staff account with that email"))?;
            store.disable_user(u.id)?;
            writeln!(std::io::stdout().lock(), "disabled {}", u.email)?;
            Ok(())
        }
        Command::User(UserCmd::ResetTotp { email }) => {
            let store = open_store(&cli.global)?;
            let u = store
                .user_by_email(&email)
                .map_err(|_| anyhow::anyhow!("no staff account with that email"))?;
            let had = store.totp_reset(u.id, klar_store::audit::AuditActor::System)?;
            writeln!(
                std::io::stdout().lock(),
                "{} {}",
                if had {
                    "removed the authenticator of"
                } else {
                    "no authenticator was set up for"
                },
                u.email
            )?;
            Ok(())
        }
        Command::Token(TokenCmd::Revoke { user }) => {
            let store = open_store(&cli.global)?;
            let u = store
                .user_by_email(&user)
                .map_err(|_| anyhow::anyhow!("no staff account with that email"))?;
            let n = store.revoke_tokens(u.id)?;
            writeln!(
                std::io::stdout().lock(),
                "revoked {n} token(s) of {}",
                u.email
            )?;
            Ok(())
        }
        Command::Healthcheck { addr } => healthcheck(addr),
        Command::Audit(cmd) => audit(&cli.global, cmd),
        Command::Backup(cmd) => backup(&cli.global, cmd),
        Command::Keys(cmd) => keys(&cli.global, cmd),
        Command::Ropa {
            format,
            smtp_url,
            doi_expiry_days,
        } => {
            let store = open_store(&cli.global)?;
            let route = klar_domain::ropa::MailRoute::of_url(smtp_url.as_deref());
            let ropa = store.ropa(route, doi_expiry_days)?;
            store.audit(klar_store::audit::AuditEntry::new(
                klar_store::Actor::system(),
                klar_store::audit::AuditAction::RopaRead,
            ));
            let text = if format == "json" {
                serde_json::to_string_pretty(&ropa)?
            } else {
                ropa.to_markdown()
            };
            writeln!(std::io::stdout().lock(), "{text}")?;
            Ok(())
        }
        Command::Retention(RetentionCmd::Run {
            dry_run,
            as_of,
            format,
            periods,
        }) => retention_run(&cli.global, dry_run, as_of.as_deref(), &format, &periods),
        Command::Seed { persons } => {
            let store = open_store(&cli.global)?;
            demo::seed(&store, demo::sizes_for(persons), true)?;
            Ok(())
        }
    }
}

/// The password rules of `klar_domain::password` (12 characters, not a common password).
fn check_password(p: &str) -> Result<()> {
    if let Err(e) = klar_domain::password::check(p) {
        bail!("the password {e}");
    }
    Ok(())
}

fn healthcheck(addr: SocketAddr) -> Result<()> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
    write!(
        s,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    if buf.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        bail!("unhealthy")
    }
}

fn serve(g: &Global, args: ServeArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let store = open_store(g)?;
    let data_dir = g.data_dir.clone();
    if args.demo {
        if store.count_persons()? == 0 {
            demo::seed(&store, klar_domain::demo::DemoSizes::DEFAULT, false)?;
            demo::seed_privacy(&store)?;
        } else {
            tracing::info!("--demo: the database already holds persons; no demo data added");
        }
    }
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.addr));
    let mut config = klar_web::WebConfig::new(public_url.clone());
    config.secure_cookies = secure_cookies(&public_url);
    config.mail_route = klar_domain::ropa::MailRoute::of_url(args.smtp_url.as_deref());
    config.doi_expiry_days = args.doi_expiry_days;
    config.session_idle = jiff::SignedDuration::from_mins(i64::from(args.session_idle_minutes));
    config.session_max = jiff::SignedDuration::from_hours(i64::from(args.session_max_hours));
    let extra_roles = args
        .totp_roles
        .iter()
        .filter(|r| !r.trim().is_empty())
        .map(|r| Role::parse(r).map_err(|e| anyhow::anyhow!("KLAR_TOTP_ROLES: {e}")))
        .collect::<Result<Vec<_>>>()?;
    config.require_totp_for(&extra_roles);
    config.trusted_proxies = args.trusted_proxies.clone();
    let retention = args.retention.config()?;
    config.retention = retention;
    let mut state = klar_web::AppState::new(store.clone(), config);
    match &args.smtp_url {
        None => tracing::info!("no KLAR_SMTP_URL: sending mail will be refused"),
        Some(url) => {
            let mailer =
                klar_web::mail::Mailer::from_url(url, &args.mail_from).context("KLAR_SMTP_URL")?;
            state = state.with_mailer(mailer);
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        tracing::info!(addr = %args.addr, ms = started.elapsed().as_millis() as u64, "klar is ready");
        if args.demo {
            demo::print_demo_logins(&store)?;
        }
        tokio::spawn(lapse_job(store.clone()));
        tokio::spawn(retention_job(store.clone(), retention));
        tokio::spawn(klar_web::campaigns::run_outbox(
            state.clone(),
            klar_web::campaigns::OutboxConfig {
                rate_per_second: args.mail_rate,
                max_attempts: args.mail_attempts,
                first_retry: std::time::Duration::from_secs(args.mail_retry_seconds),
                ..klar_web::campaigns::OutboxConfig::default()
            },
        ));
        if args.backup_interval_hours > 0 {
            let dir = args.backup_dir.clone().unwrap_or_else(|| data_dir.join("backups"));
            tokio::spawn(backup_job(store.clone(), dir, args.backup_interval_hours, args.backup_keep));
        }
        let app = klar_web::app(state)
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// `klar retention run`: validates every input before anything changes.
fn retention_run(
    g: &Global,
    dry_run: bool,
    as_of: Option<&str>,
    format: &str,
    periods: &RetentionPeriods,
) -> Result<()> {
    let cfg = periods.config()?;
    let day = as_of
        .map(|s| {
            s.trim()
                .parse::<jiff::civil::Date>()
                .map_err(|_| anyhow::anyhow!("--as-of {s:?} is not a date of the form YYYY-MM-DD"))
        })
        .transpose()?;
    let store = open_store(g)?;
    let at = match day {
        Some(d) => d
            .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin")?)?
            .timestamp(),
        None => store.now(),
    };
    let report = store
        .run_retention(klar_store::Actor::system(), at, &cfg, dry_run)
        .map_err(|e| match e {
            klar_store::StoreError::Invalid(d) => anyhow::anyhow!("--as-of {d}"),
            e => anyhow::Error::new(e)
                .context("retention run failed; nothing after the failure was changed"),
        })?;
    let mut out = std::io::stdout().lock();
    if format == "json" {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(());
    }
    let berlin = jiff::tz::TimeZone::get("Europe/Berlin")?;
    let date = |t: jiff::Timestamp| t.to_zoned(berlin.clone()).date().to_string();
    writeln!(
        out,
        "retention run as of {}{}: {} person(s) affected, {} expired business letter(s)",
        date(report.as_of),
        if report.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        },
        report.entries.len(),
        report.expired_letters,
    )?;
    for e in &report.entries {
        let until = e
            .until
            .map(|u| format!(" until {}", date(u)))
            .unwrap_or_default();
        writeln!(
            out,
            "{}\t{}{}\t{}",
            e.person_id, e.decision, until, e.reason
        )?;
    }
    writeln!(
        out,
        "erased within {} days unless something changes: {}",
        klar_store::retention::WARN_DAYS,
        report.upcoming.len()
    )?;
    for u in &report.upcoming {
        writeln!(
            out,
            "{}\terase after {}{}",
            u.person_id,
            date(u.erase_after),
            if u.legal_hold { " (legal hold)" } else { "" }
        )?;
    }
    Ok(())
}

fn instant(s: &str) -> Result<jiff::Timestamp> {
    if let Ok(t) = s.trim().parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let d: jiff::civil::Date = s.trim().parse().map_err(|_| {
        anyhow::anyhow!("{s:?} is neither an RFC 3339 instant nor a date YYYY-MM-DD")
    })?;
    Ok(d.to_zoned(jiff::tz::TimeZone::get("Europe/Berlin")?)?
        .timestamp())
}

fn store_config(g: &Global) -> Result<StoreConfig> {
    let mut cfg = StoreConfig::new(&g.data_dir);
    cfg.database_url = g
        .database_url
        .as_deref()
        .map(DatabaseUrl::parse)
        .transpose()?;
    cfg.master_key_file = g.master_key_file.clone();
    Ok(cfg)
}

fn backup(g: &Global, cmd: BackupCmd) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match cmd {
        BackupCmd::Create { out: file } => {
            let store = open_store(g)?;
            let file = match file {
                Some(f) => f,
                None => {
                    let dir = g.data_dir.join("backups");
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                    let stamp = store.now().strftime("%Y%m%dT%H%M%SZ").to_string();
                    dir.join(format!("klar-{stamp}.klarbak"))
                }
            };
            let info = store.backup_to(&file)?;
            eprintln!("backed up {} bytes", info.bytes);
            writeln!(out, "{}", file.display())?;
            Ok(())
        }
        BackupCmd::Verify { file } => {
            let store = open_store(g)?;
            let info = klar_store::backup::open_backup(store.keys(), &file, &mut std::io::sink())?;
            writeln!(
                out,
                "backup intact: {} bytes of database, created {}, format {}",
                info.bytes, info.header.created_at, info.header.format
            )?;
            let needs = info.header.needs(store.keys());
            let avail = klar_store::keys::kek_availability(store.keys(), store.kek_dir(), &needs);
            writeln!(
                out,
                "needs the master key with key check {}…, and key-encryption key generation(s):",
                info.header.key_id.get(..16).unwrap_or(&info.header.key_id)
            )?;
            let mut usable = true;
            for (need, a) in &avail {
                use klar_store::keys::KekAvailability as A;
                let state = match a {
                    A::Derived => "derived from the master key".to_string(),
                    A::Present(p) => format!("{} (present)", p.display()),
                    A::Missing(p) => format!("{} MISSING", p.display()),
                    A::Different(p) => format!("{} holds ANOTHER key", p.display()),
                };
                usable &= a.is_usable();
                writeln!(
                    out,
                    "  generation {} (id {}): {state}",
                    need.generation, need.id
                )?;
            }
            if !usable {
                bail!(
                    "the backup is intact but cannot be restored here: a key-encryption key it needs is not at hand"
                );
            }
            Ok(())
        }
        BackupCmd::Restore { file } => {
            let cfg = store_config(g)?;
            let info = klar_store::backup::restore(&cfg, &file, Arc::new(SystemClock))?;
            writeln!(
                out,
                "restored the backup of {}; {} erasure(s) made since then applied again",
                info.backup.header.created_at, info.erasures_reapplied
            )?;
            Ok(())
        }
    }
}

fn keys(g: &Global, cmd: KeysCmd) -> Result<()> {
    let store = open_store(g)?;
    let mut out = std::io::stdout().lock();
    match cmd {
        KeysCmd::Rotate => {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "re-wrapping data keys {bar:40} {pos}/{len} ({per_sec}, {eta} left)",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let result = store.rotate_kek(klar_store::Actor::system(), &mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            });
            bar.finish_and_clear();
            store.audit_flush()?;
            let r = result.context("the rotation did not finish; run `klar keys rotate` again: it moves every key of an older generation")?;
            writeln!(
                out,
                "key-encryption key generation {} is current (was {}), in {}",
                r.to,
                r.from,
                r.file.display()
            )?;
            writeln!(
                out,
                "re-wrapped {} data key(s); no data was re-encrypted",
                r.rewrapped
            )?;
            writeln!(
                out,
                "back up {} with the master key (apart from the data backups); then `klar keys destroy-old` removes older generations",
                r.file.display()
            )?;
            Ok(())
        }
        KeysCmd::Status => {
            let s = store.key_status()?;
            writeln!(out, "current key-encryption key generation: {}", s.current)?;
            for kg in &s.generations {
                let place = match &kg.file {
                    None => "master key".to_string(),
                    Some(p) => p.display().to_string(),
                };
                writeln!(
                    out,
                    "generation {}: {} data key(s); {place}: {}",
                    kg.generation,
                    kg.keys,
                    kg.state.as_str()
                )?;
            }
            Ok(())
        }
        KeysCmd::DestroyOld => {
            let destroyed = store.destroy_old_keks(klar_store::Actor::system())?;
            store.audit_flush()?;
            if destroyed.is_empty() {
                writeln!(out, "no older key-encryption key file to destroy")?;
            }
            for g in &destroyed {
                writeln!(
                    out,
                    "destroyed key-encryption key generation {g} ({}); backups that need it can no longer be restored",
                    klar_store::keys::kek_file_name(*g)
                )?;
            }
            writeln!(
                out,
                "generation 1 is derived from the master key and cannot be destroyed on its own"
            )?;
            Ok(())
        }
    }
}

fn audit(g: &Global, cmd: AuditCmd) -> Result<()> {
    let store = open_store(g)?;
    let mut out = std::io::stdout().lock();
    match cmd {
        AuditCmd::Verify => {
            let r = store.verify_audit()?;
            match r.broken {
                None => {
                    writeln!(
                        out,
                        "audit trail intact: {} entries, {} signed checkpoints",
                        r.entries, r.checkpoints
                    )?;
                    Ok(())
                }
                Some((seq, why)) => bail!("audit trail broken at entry {seq}: {why}"),
            }
        }
        AuditCmd::Checkpoint => {
            match store.audit_checkpoint()? {
                Some(seq) => writeln!(out, "signed the chain head at entry {seq}")?,
                None => writeln!(out, "the audit trail is empty; nothing to sign")?,
            }
            Ok(())
        }
        AuditCmd::Export { since, until } => {
            let since = since.as_deref().map(instant).transpose()?;
            let until = until.as_deref().map(instant).transpose()?;
            let mut w = std::io::BufWriter::new(out);
            let n = store.export_audit(since, until, &mut w)?;
            w.flush()?;
            eprintln!("exported {n} entries");
            Ok(())
        }
        AuditCmd::PublicKey => {
            writeln!(out, "{}", store.audit_public_key())?;
            Ok(())
        }
    }
}

/// Scheduled backups: at start when the last one is older than the interval, then every
/// interval; the result goes where the admin page and `/metrics` read it.
async fn backup_job(store: Store, dir: PathBuf, hours: u32, keep: usize) {
    let period = std::time::Duration::from_secs(u64::from(hours) * 3600);
    let due_now = match store.last_backup() {
        Ok(Some(run)) => run
            .at
            .parse::<jiff::Timestamp>()
            .map(|at| store.now().duration_since(at).unsigned_abs() >= period)
            .unwrap_or(true),
        _ => true,
    };
    if !due_now {
        tokio::time::sleep(period).await;
    }
    loop {
        let (s, d) = (store.clone(), dir.clone());
        match tokio::task::spawn_blocking(move || s.scheduled_backup(&d, keep)).await {
            Ok(Ok(run)) if run.ok => tracing::info!(
                bytes = run.bytes,
                kept = run.kept,
                "scheduled backup written"
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "scheduled backup not recorded"),
            Err(_) => tracing::error!("scheduled backup stopped abnormally"),
        }
        tokio::time::sleep(period).await;
    }
}

/// The retention run, daily on the blocking pool (the first an hour after start, so that a
/// restart loop does not erase before an operator can look). Logs only counts.
async fn retention_job(store: Store, cfg: klar_domain::retention::RetentionConfig) {
    let day = std::time::Duration::from_secs(24 * 3600);
    let mut every = tokio::time::interval_at(
        tokio::time::Instant::now() + std::time::Duration::from_secs(3600),
        day,
    );
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let s = store.clone();
        let run = move || s.run_retention(klar_store::Actor::system(), s.now(), &cfg, false);
        match tokio::task::spawn_blocking(run).await {
            Ok(Ok(r)) => tracing::info!(
                affected = r.entries.len(),
                upcoming = r.upcoming.len(),
                expired_letters = r.expired_letters,
                "retention job done"
            ),
            Ok(Err(e)) => tracing::warn!(error = %e, "retention job failed; next run tomorrow"),
            Err(_) => tracing::warn!("retention job stopped abnormally; next run tomorrow"),
        }
    }
}

/// Records the lapse of unconfirmed double opt-ins: at start, then every hour, on the
/// blocking pool. Logs only counts.
async fn lapse_job(store: Store) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.lapse_unconfirmed_doi()).await {
            Ok(Ok(0)) => tracing::debug!("lapse job: no double opt-in lapsed"),
            Ok(Ok(n)) => tracing::info!(lapsed = n, "lapse job: unconfirmed double opt-ins lapsed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "lapse job failed; next run in an hour"),
            Err(_) => tracing::warn!("lapse job stopped abnormally; next run in an hour"),
        }
        // Sign the audit chain's head, so that removing recent entries is detected.
        let s = store.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || s.audit_checkpoint()).await {
            tracing::warn!(error = %e, "audit checkpoint failed; next in an hour");
        }
    }
}

/// Browsers drop `Secure` cookies on plain http, except on loopback addresses.
fn secure_cookies(public_url: &str) -> bool {
    match public_url.strip_prefix("http://") {
        None => true,
        Some(rest) => {
            let host = rest.split(['/', ':']).next().unwrap_or("");
            matches!(host, "localhost" | "127.0.0.1" | "[") || host.starts_with("127.")
        }
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

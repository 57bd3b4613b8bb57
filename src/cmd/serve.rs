//! `healthcode serve` (the registry service) and `healthcode witness` (a cosigning witness).

use crate::cmd::sign_event::write_secret;
use crate::output::{emit, read_file, CliError, CliResult};
use clap::{Args, Subcommand};
use healthcode_registry::event::key_from_hex;
use healthcode_registry::store::Location;
use healthcode_registry::{Registry, RegistryError};
use healthcode_service::server::web::WebConfig;
use healthcode_service::server::{self, ServeConfig, WitnessConfig};
use healthcode_service::witness::{self, WitnessKeyFile};
use healthcode_verifier::input::{MAX_JSON_BYTES, MAX_POLICY_BYTES};
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    /// The registry database: a SQLite file (created with --policy when it does not exist), or
    /// a PostgreSQL URL such as `postgresql://registry@db.internal/registry` (the database must
    /// exist; with --policy its tables are created the first time). Several `serve` processes
    /// may share one PostgreSQL database; point read-only ones at a replica.
    #[arg(long)]
    pub db: PathBuf,
    /// Create the registry with this policy if --db does not exist yet.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Publish an epoch every this many seconds (default: only when the operator asks).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub publish_every: Option<u64>,
    /// The operator's public key (64 hex digits, from `healthcode signer keygen`): requests
    /// signed by it may accredit signers and auditors, enrol holders and force a publish.
    #[arg(long)]
    pub operator_key: Option<String>,
    /// A witness to ask for cosignatures: URL=VKEY (repeat for each; VKEY from
    /// `healthcode witness keygen`).
    #[arg(long = "witness", value_name = "URL=VKEY")]
    pub witnesses: Vec<String>,
    /// Seconds a request may take before it is answered 408.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub request_timeout: u64,
    /// Log as JSON lines (for a log collector) instead of text.
    #[arg(long)]
    pub log_json: bool,
    /// Also serve the web pages built in DIR (`scripts/web-build.sh` makes web/dist): the
    /// citizen's page at / and the checkpoint's at /gate.html. Needs --bundle.
    #[arg(long, value_name = "DIR", requires = "bundle")]
    pub web: Option<PathBuf>,
    /// The policy bundle (`healthcode setup`) the pages load, served at /bundle/.
    #[arg(long, value_name = "DIR", requires = "web")]
    pub bundle: Option<PathBuf>,
    /// How many of the --witness witnesses the checkpoint page requires (default: a majority).
    #[arg(long, requires = "web", value_parser = clap::value_parser!(u64).range(1..=100))]
    pub web_quorum: Option<u64>,
    /// How many top levels of the holder tree to keep in memory (0–10). The tree lives in the
    /// database; each cached level saves one read per witness, and the k-th costs up to 4^(k-1)
    /// groups of four hashes: 8 levels take about 4 MiB, 10 about 70 MiB, whatever the number of
    /// holders.
    #[arg(long, default_value_t = healthcode_registry::registry::DEFAULT_CACHE_LEVELS as u8,
          value_parser = clap::value_parser!(u8).range(0..=10))]
    pub tree_cache_levels: u8,
}

#[derive(Subcommand)]
pub enum WitnessCmd {
    /// Make a witness key: its name is the key name in its cosignatures.
    Keygen {
        /// The witness's name (e.g. its host name).
        #[arg(long)]
        name: String,
        /// Where to write the key file (mode 0600; never overwritten).
        #[arg(short, long)]
        out: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run a tlog-witness: cosign the checkpoints of the configured logs, each only if it is
    /// consistent with the last one cosigned.
    Serve {
        /// The witness key file.
        #[arg(long)]
        key: PathBuf,
        /// Where the witness keeps the latest checkpoint it cosigned per log (created if missing).
        #[arg(long)]
        state: PathBuf,
        /// A log to witness: its checkpoint verifier key (repeat for each). A registry's is
        /// printed by `healthcode registry init` (`head_log_vkey`) and by `healthcode serve`.
        #[arg(long = "log", value_name = "VKEY", required = true)]
        logs: Vec<String>,
        /// Address and port to listen on (registries POST to /add-checkpoint).
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
    },
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(CliError::fail)
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

pub fn run_serve(a: ServeArgs) -> CliResult {
    init_logging(a.log_json);
    let web = match (a.web, a.bundle) {
        (Some(dir), Some(bundle)) => {
            for (what, d, file) in [("--web", &dir, "index.html"), ("--bundle", &bundle, "manifest.json")] {
                if !d.join(file).is_file() {
                    return Err(CliError::bad(format!("{what} {}: has no {file}", d.display())));
                }
                // Every file of these directories is served to anyone: the registry's
                // database holds its signing key.
                let secrets = [Some(("--db", &a.db)), a.tls_key.as_ref().map(|k| ("--tls-key", k))];
                for (name, secret) in secrets.into_iter().flatten() {
                    if inside(secret, d) {
                        return Err(CliError::bad(format!(
                            "{name} {} is inside {what} {}, which is served to anyone: keep it elsewhere",
                            secret.display(),
                            d.display()
                        )));
                    }
                }
            }
            if a.witnesses.is_empty() {
                return Err(CliError::bad(
                    "--web needs at least one --witness: the checkpoint page trusts the registry's \
                     heads only under witness cosignatures",
                ));
            }
            Some(WebConfig { dir, bundle, quorum: a.web_quorum.map(|q| q as usize) })
        }
        _ => None,
    };
    let on_server = matches!(Location::parse(&a.db), Location::Postgres(_));
    if on_server {
        // A database on a server is created by `--policy` the first time, opened after.
        if let Some(policy) = &a.policy {
            let src = read_file(policy, MAX_POLICY_BYTES)?;
            match Registry::init(&a.db, &src, crate::output::unix_now()) {
                Ok(reg) => eprintln!(
                    "created {} — registry key {}",
                    Location::parse(&a.db),
                    hex::encode(reg.public_key().as_bytes())
                ),
                Err(RegistryError::Exists(_)) => {}
                Err(e) => return Err(CliError::bad(e)),
            }
        }
    } else if !a.db.exists() {
        let Some(policy) = &a.policy else {
            return Err(CliError::bad(format!(
                "{} does not exist: pass --policy FILE to create it, or `healthcode registry init`",
                a.db.display()
            )));
        };
        let src = read_file(policy, MAX_POLICY_BYTES)?;
        let reg = Registry::init(&a.db, &src, crate::output::unix_now()).map_err(CliError::bad)?;
        eprintln!("created {} — registry key {}", a.db.display(), hex::encode(reg.public_key().as_bytes()));
    }
    let operator = a
        .operator_key
        .as_deref()
        .map(|k| key_from_hex(k).map_err(|e| CliError::bad(format!("--operator-key: {e}"))))
        .transpose()?;
    let witnesses = a
        .witnesses
        .iter()
        .map(|w| {
            let (url, vkey) = w
                .split_once('=')
                .ok_or_else(|| CliError::bad(format!("--witness {w}: expected URL=VKEY")))?;
            Ok(WitnessConfig { url: url.into(), vkey: vkey.into() })
        })
        .collect::<Result<Vec<_>, CliError>>()?;
    let config = ServeConfig {
        db: a.db,
        listen: a.listen,
        tls: a.tls_cert.zip(a.tls_key),
        publish_every: a.publish_every.map(Duration::from_secs),
        operator,
        witnesses,
        request_timeout: Duration::from_secs(a.request_timeout),
        tree_cache_levels: a.tree_cache_levels.into(),
        web,
    };
    runtime()?.block_on(server::serve(config, shutdown_signal())).map_err(|e| match e {
        server::ServeError::Registry { .. }
        | server::ServeError::Listen { .. }
        | server::ServeError::Tls(_) => CliError::bad(e),
        other => CliError::fail(other),
    })
}

pub fn run_witness(cmd: WitnessCmd) -> CliResult {
    match cmd {
        WitnessCmd::Keygen { name, out, json } => {
            if !signed_note::is_key_name_valid(&name) {
                return Err(CliError::bad("--name: a witness name is non-empty, without spaces or `+`"));
            }
            let kf = WitnessKeyFile::generate(&name);
            write_secret(&out, &serde_json::to_string_pretty(&kf).map_err(CliError::fail)?)?;
            emit(json, &json!({ "file": out, "vkey": kf.vkey }), || {
                format!("wrote {}\n  vkey  {}", out.display(), kf.vkey)
            })
        }
        WitnessCmd::Serve { key, state, logs, listen } => {
            init_logging(false);
            let kf: WitnessKeyFile = serde_json::from_str(&read_file(&key, MAX_JSON_BYTES)?)
                .map_err(|e| CliError::bad(format!("{}: not a witness key file: {e}", key.display())))?;
            let cosigner = kf.cosigner().map_err(|e| CliError::bad(format!("{}: {e}", key.display())))?;
            let config = witness::WitnessConfig { listen, state, logs };
            runtime()?.block_on(witness::serve(config, cosigner, shutdown_signal())).map_err(CliError::bad)
        }
    }
}

/// Whether `file` (which may not exist yet) is inside directory `dir`.
fn inside(file: &std::path::Path, dir: &std::path::Path) -> bool {
    let Ok(dir) = dir.canonicalize() else { return false };
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    match (parent.canonicalize(), file.file_name()) {
        (Ok(p), Some(name)) => p.join(name).starts_with(&dir),
        _ => false,
    }
}

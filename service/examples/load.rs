//! Load generator for the registry service, on loopback:
//!
//! ```text
//! cargo run --release -p healthcode-service --example load -- [--events N] [--batch B]
//!     [--witness-fetches N] [--reads N] [--concurrency C] [--batch-concurrency C] [--holders H] [--acks FILE]
//!     [--max-seconds S] [--publish-every S] [--url URL [--operator-secret HEX]]
//! ```
//!
//! Without `--url` it starts its own server (same process, its own runtime; `--publish-every`
//! for its timer) on a new registry in a temporary directory; with `--url` the server must take
//! the operator key of `--operator-secret` (default 32 bytes of 0x01). It measures, each phase
//! with `--concurrency` keep-alive connections (batches: `--batch-concurrency`): single-event
//! POSTs, batches of `--batch` events, holders' signed witness fetches, and public
//! checkpoint/tile reads — requests per second, events per second, latency p50/p99 — and prints
//! the machine's load average (`/proc/loadavg`) around each phase. Events and signed requests
//! are made before a phase starts, so signing is not measured. Every event must be accepted;
//! `--acks FILE` writes the id (hex) of every acknowledged event, one a line.
//!
//! The HTTP/1.1 client is a few lines over tokio's `TcpStream` (see `Conn`): hyper's client
//! features would change the features the test build compiles hyper with (see
//! `scripts/check-feature-unification.sh`), and a lean client leaves more of a small machine to
//! the server it shares it with.

use ed25519_dalek::SigningKey;
use healthcode_registry::event::{Event, Role};
use healthcode_registry::{HolderFile, Registry, SignedEvent};
use healthcode_service::api::{path, AddSigner, BatchResponse, Enrol, Verdict};
use healthcode_service::client::Client;
use healthcode_service::server::{self, unix_now, ServeConfig};
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const POLICY: &str = include_str!("../../policies/henan-2022.toml");

struct Args {
    events: usize,
    batch: usize,
    witness_fetches: usize,
    reads: usize,
    concurrency: usize,
    batch_concurrency: usize,
    holders: usize,
    acks: Option<std::path::PathBuf>,
    max_seconds: u64,
    publish_every: Option<u64>,
    url: Option<String>,
    operator_secret: [u8; 32],
}

const USAGE: &str =
    "usage: load [--events N] [--batch B] [--witness-fetches N] [--reads N] [--concurrency C] \
[--batch-concurrency C] [--holders H] [--acks FILE] [--max-seconds S] [--publish-every S] [--url URL [--operator-secret HEX]]";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        events: 20_000,
        batch: 100,
        witness_fetches: 20_000,
        reads: 200_000,
        concurrency: 64,
        batch_concurrency: 8,
        holders: 100,
        acks: None,
        max_seconds: 110,
        publish_every: None,
        url: None,
        operator_secret: [1; 32],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        let num = |v: String| v.parse::<usize>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--events" => a.events = num(value()?)?,
            "--batch" => a.batch = num(value()?)?.clamp(1, healthcode_service::client::MAX_BATCH),
            "--witness-fetches" => a.witness_fetches = num(value()?)?,
            "--reads" => a.reads = num(value()?)?,
            "--concurrency" => a.concurrency = num(value()?)?.max(1),
            "--batch-concurrency" => a.batch_concurrency = num(value()?)?.max(1),
            "--holders" => a.holders = num(value()?)?.max(1),
            "--acks" => a.acks = Some(value()?.into()),
            "--max-seconds" => a.max_seconds = num(value()?)?.clamp(5, 600) as u64,
            "--publish-every" => a.publish_every = Some(num(value()?)?.clamp(1, 3600) as u64),
            "--url" => a.url = Some(value()?.trim_end_matches('/').to_string()),
            "--operator-secret" => {
                let v = value()?;
                a.operator_secret = hex::decode(&v)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| format!("--operator-secret: 64 hex digits, not {v}"))?;
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(a)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(|_| "unknown".into(), |s| s.trim().to_string())
}

// ---- a minimal HTTP/1.1 keep-alive client ------------------------------------------------------

struct Conn {
    s: BufReader<TcpStream>,
    line: String,
}

impl Conn {
    async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Self { s: BufReader::new(s), line: String::new() })
    }

    /// Sends one complete request and reads the answer: (status, body, whether the server
    /// will close the connection).
    async fn request(&mut self, req: &[u8]) -> std::io::Result<(u16, Vec<u8>, bool)> {
        use std::io::{Error, ErrorKind};
        let bad = |what: &str| Error::new(ErrorKind::InvalidData, what.to_string());
        self.s.get_mut().write_all(req).await?;
        self.line.clear();
        if self.s.read_line(&mut self.line).await? == 0 {
            return Err(Error::new(ErrorKind::UnexpectedEof, "connection closed"));
        }
        let status: u16 =
            self.line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("status line"))?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        loop {
            self.line.clear();
            self.s.read_line(&mut self.line).await?;
            let l = self.line.trim_end();
            if l.is_empty() {
                break;
            }
            let Some((name, value)) = l.split_once(':') else { return Err(bad("header")) };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().map_err(|_| bad("content-length"))?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                self.line.clear();
                self.s.read_line(&mut self.line).await?;
                let size = usize::from_str_radix(self.line.trim_end().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| bad("chunk size"))?;
                if size == 0 {
                    self.line.clear();
                    self.s.read_line(&mut self.line).await?;
                    break;
                }
                let at = body.len();
                body.resize(at + size + 2, 0);
                self.s.read_exact(&mut body[at..]).await?;
                body.truncate(at + size);
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            self.s.read_exact(&mut body).await?;
        }
        Ok((status, body, close))
    }
}

fn get(pq: &str, headers: &[(String, String)]) -> Vec<u8> {
    let mut r = format!("GET {pq} HTTP/1.1\r\nhost: load\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r.into_bytes()
}

fn post_json(pq: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {pq} HTTP/1.1\r\nhost: load\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

// ---- phases -------------------------------------------------------------------------------------

/// What a phase's check makes of one answer: units done (events accepted, reads answered),
/// refusals (described), ids acknowledged.
#[derive(Default)]
struct Outcome {
    units: usize,
    refused: Vec<String>,
    acked: Vec<[u8; 32]>,
}

type Check = dyn Fn(usize, u16, &[u8]) -> Outcome + Send + Sync;

struct PhaseResult {
    requests: usize,
    units: usize,
    refused: Vec<String>,
    acked: Vec<[u8; 32]>,
    errors: Vec<String>,
    latencies: Vec<Duration>,
    wall: Duration,
}

fn pct(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((q * sorted.len() as f64) as usize).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Sends every request in `reqs` over `concurrency` connections (each takes the next unsent one).
async fn run_phase(
    addr: SocketAddr,
    reqs: Arc<Vec<Vec<u8>>>,
    concurrency: usize,
    deadline: Instant,
    check: Arc<Check>,
) -> PhaseResult {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.min(reqs.len()) {
        let (reqs, next, check) = (reqs.clone(), next.clone(), check.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = (Outcome::default(), 0usize, Vec::new(), Vec::new());
            let mut conn = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= reqs.len() || Instant::now() >= deadline {
                    break;
                }
                if conn.is_none() {
                    match Conn::open(addr).await {
                        Ok(c) => conn = Some(c),
                        Err(e) => {
                            out.3.push(format!("connect: {e}"));
                            break;
                        }
                    }
                }
                let t = Instant::now();
                let answer = conn.as_mut().expect("connected").request(&reqs[i]).await;
                let took = t.elapsed();
                match answer {
                    Ok((status, body, close)) => {
                        out.1 += 1;
                        out.2.push(took);
                        let o = check(i, status, &body);
                        out.0.units += o.units;
                        out.0.refused.extend(o.refused);
                        out.0.acked.extend(o.acked);
                        if close {
                            conn = None;
                        }
                    }
                    Err(e) => {
                        out.3.push(format!("request {i}: {e}"));
                        conn = None;
                    }
                }
            }
            out
        }));
    }
    let mut r = PhaseResult {
        requests: 0,
        units: 0,
        refused: Vec::new(),
        acked: Vec::new(),
        errors: Vec::new(),
        latencies: Vec::new(),
        wall: Duration::ZERO,
    };
    for t in tasks {
        let (o, n, lat, errs) = t.await.expect("a client task panicked");
        r.requests += n;
        r.units += o.units;
        r.refused.extend(o.refused);
        r.acked.extend(o.acked);
        r.latencies.extend(lat);
        r.errors.extend(errs);
    }
    r.wall = started.elapsed();
    r.latencies.sort();
    r
}

fn report(name: &str, unit: &str, goal: Option<f64>, r: &PhaseResult, load_before: &str) {
    let secs = r.wall.as_secs_f64().max(1e-9);
    let rate = r.units as f64 / secs;
    println!("== {name}");
    println!("   load before: {load_before}");
    println!("   load after:  {}", loadavg());
    println!(
        "   {} requests, {} {unit} in {:.2} s: {:.0} requests/s, {:.0} {unit}/s{}",
        r.requests,
        r.units,
        secs,
        r.requests as f64 / secs,
        rate,
        goal.map_or(String::new(), |g| format!(
            " (goal {g:.0}/s: {})",
            if rate >= g { "met" } else { "MISSED" }
        ))
    );
    println!(
        "   latency p50 {} p90 {} p99 {} max {}",
        ms(pct(&r.latencies, 0.50)),
        ms(pct(&r.latencies, 0.90)),
        ms(pct(&r.latencies, 0.99)),
        ms(r.latencies.last().copied().unwrap_or_default())
    );
    if !r.refused.is_empty() {
        println!(
            "   {} refused, e.g.: {}",
            r.refused.len(),
            r.refused.iter().take(5).cloned().collect::<Vec<_>>().join(" | ")
        );
    }
    if !r.errors.is_empty() {
        println!(
            "   {} errors, e.g.: {}",
            r.errors.len(),
            r.errors.iter().take(5).cloned().collect::<Vec<_>>().join(" | ")
        );
    }
}

fn describe_refusal(status: u16, body: &[u8]) -> String {
    format!("HTTP {status} {}", String::from_utf8_lossy(&body[..body.len().min(200)]))
}

// ---- setup --------------------------------------------------------------------------------------

/// A server in this process, on its own runtime and threads.
struct OwnServer {
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start_own(operator: &SigningKey, publish_every: Option<u64>) -> Result<(String, OwnServer), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = dir.path().join("registry.db");
    Registry::init(&db, POLICY, unix_now() - 10).map_err(|e| e.to_string())?;
    let config = ServeConfig {
        db,
        listen: "127.0.0.1:0".parse().expect("an address"),
        tls: None,
        publish_every: publish_every.map(Duration::from_secs),
        operator: Some(operator.verifying_key()),
        witnesses: vec![],
        request_timeout: Duration::from_secs(30),
        tree_cache_levels: healthcode_registry::registry::DEFAULT_CACHE_LEVELS,
        web: None,
    };
    let listener = TcpListener::bind(config.listen).map_err(|e| e.to_string())?;
    let url = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        // The CLI's runtime: one worker per core.
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
        if let Err(e) = rt.block_on(server::serve_on(config, listener, async {
            let _ = rx.await;
        })) {
            eprintln!("server: {e}");
        }
    });
    let server = OwnServer { _dir: dir, stop: Some(stop), thread: Some(thread) };
    for _ in 0..400 {
        if ureq::get(&format!("{url}{}", path::HEALTHZ)).call().is_ok() {
            return Ok((url, server));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Err(format!("{url} did not come up"))
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    // The hard limit: whatever happens, the run ends.
    let limit = Duration::from_secs(args.max_seconds);
    std::thread::spawn(move || {
        std::thread::sleep(limit + Duration::from_secs(15));
        eprintln!("load: hard time limit ({} s) reached; exiting", limit.as_secs() + 15);
        std::process::exit(3);
    });
    let t0 = Instant::now();
    let deadline = t0 + limit;
    match run(&args, deadline) {
        Ok(()) => println!("total {:.1} s", t0.elapsed().as_secs_f64()),
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(1);
        }
    }
}

fn run(args: &Args, deadline: Instant) -> Result<(), String> {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("load average at start: {} ({cores} cores)", loadavg());
    let operator = SigningKey::from_bytes(&args.operator_secret);
    let (url, _own) = match &args.url {
        Some(u) => (u.clone(), None),
        None => {
            let (u, s) = start_own(&operator, args.publish_every)?;
            println!("started a server in this process at {u} (temporary registry)");
            (u, Some(s))
        }
    };
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| format!("{url}: an http://IP:PORT URL is needed ({e})"))?;
    let client = Client::new(&url);
    let registry_key = client.latest_head().map_err(|e| e.to_string())?.registry;

    // Setup (not measured): a lab, holders with device keys, a first head.
    let t = Instant::now();
    let lab = SigningKey::generate(&mut rand::rngs::OsRng);
    client
        .add_signer(
            &operator,
            &AddSigner {
                name: format!("load-lab-{}", hex::encode(&lab.verifying_key().as_bytes()[..4])),
                role: Role::Lab,
                key: hex::encode(lab.verifying_key().as_bytes()),
                accredited_from: unix_now() - 3600,
            },
        )
        .map_err(|e| {
            format!(
                "accrediting the lab (is the server's operator key {}?): {e}",
                hex::encode(operator.verifying_key().as_bytes())
            )
        })?;
    let mut holders = Vec::new();
    for i in 0..args.holders {
        let h = HolderFile::generate(&format!("LOAD{i}-{}", rand::random::<u32>()));
        let device = h.device_key();
        let e = Enrol {
            commitment: healthcode_circuits::field::to_hex(&h.commitment),
            device_key: hex::encode(device.verifying_key().as_bytes()),
        };
        let leaf = client.enrol(&operator, &e).map_err(|e| format!("enrolling: {e}"))?.leaf_index;
        holders.push((device, leaf));
    }
    client.publish(&operator).map_err(|e| e.to_string())?;
    println!(
        "setup: lab accredited, {} holders enrolled, published, in {:.2} s",
        holders.len(),
        t.elapsed().as_secs_f64()
    );

    // Events, signed before the clock starts: distinct (holder, time) pairs, times 60 s and more
    // in the past (the policy accepts 30 days back).
    let t = Instant::now();
    let now = unix_now();
    let total = 2 * args.events;
    let events: Vec<SignedEvent> = (0..total)
        .map(|i| {
            let (_, leaf) = &holders[i % holders.len()];
            Event {
                registry: registry_key,
                holder: *leaf,
                kind: "positive_test".into(),
                time: now - 60 - (i / holders.len()) as u64,
                signer: lab.verifying_key(),
                index_case: None,
            }
            .sign(&lab)
        })
        .collect();
    let ids: Arc<Vec<[u8; 32]>> = Arc::new(events.iter().map(|e| e.event.id()).collect());
    let (single, batched) = events.split_at(args.events);
    let single_reqs: Vec<Vec<u8>> =
        single.iter().map(|e| post_json(path::EVENTS, &serde_json::to_vec(e).expect("json"))).collect();
    let batch_reqs: Vec<Vec<u8>> = batched
        .chunks(args.batch)
        .map(|c| post_json(path::EVENTS, &serde_json::to_vec(c).expect("json")))
        .collect();
    println!("signed and encoded {total} events in {:.2} s (not measured)", t.elapsed().as_secs_f64());

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let mut acked: Vec<[u8; 32]> = Vec::new();
    let mut refused_events = 0usize;
    let mut sent_events = 0usize;

    // 1. Single events.
    let before = loadavg();
    let ids1 = ids.clone();
    let check: Arc<Check> = Arc::new(move |i, status, body| {
        if status == 201 {
            Outcome { units: 1, refused: vec![], acked: vec![ids1[i]] }
        } else {
            Outcome { units: 0, refused: vec![describe_refusal(status, body)], acked: vec![] }
        }
    });
    let r = rt.block_on(run_phase(addr, Arc::new(single_reqs), args.concurrency, deadline, check));
    report(
        &format!("single-event POST {} ({} connections)", path::EVENTS, args.concurrency),
        "events",
        Some(5000.0),
        &r,
        &before,
    );
    sent_events += r.requests + r.errors.len();
    refused_events += r.refused.len();
    acked.extend(r.acked);

    // 2. Batches.
    let before = loadavg();
    let (ids2, offset, batch) = (ids.clone(), args.events, args.batch);
    let check: Arc<Check> = Arc::new(move |i, status, body| {
        let mut o = Outcome::default();
        if status != 200 {
            o.refused.push(describe_refusal(status, body));
            return o;
        }
        match serde_json::from_slice::<BatchResponse>(body) {
            Ok(b) => {
                for (k, v) in b.results.into_iter().enumerate() {
                    match v {
                        Verdict::Accepted(receipt) => {
                            let want = ids2[offset + i * batch + k];
                            if receipt.event != want {
                                o.refused.push(format!(
                                    "receipt for {} in place of {}",
                                    hex::encode(receipt.event),
                                    hex::encode(want)
                                ));
                            } else {
                                o.units += 1;
                                o.acked.push(want);
                            }
                        }
                        Verdict::Refused(e) => o.refused.push(format!("{}: {}", e.error, e.reason)),
                    }
                }
            }
            Err(e) => o.refused.push(format!("unreadable batch answer: {e}")),
        }
        o
    });
    let n_batch = batched.len();
    let r = rt.block_on(run_phase(addr, Arc::new(batch_reqs), args.batch_concurrency, deadline, check));
    report(
        &format!("batches of {} events ({} connections)", args.batch, args.batch_concurrency),
        "events",
        Some(5000.0),
        &r,
        &before,
    );
    let batch_sent = ((r.requests + r.errors.len()) * args.batch).min(n_batch);
    sent_events += batch_sent;
    refused_events += r.refused.len();
    acked.extend(r.acked);

    // Publish, so the witnesses carry the events (timed: the epoch's work is in the registry).
    let t = Instant::now();
    let head = client.publish(&operator).map_err(|e| e.to_string())?;
    println!(
        "== publish of {} queued events: {:.2} s (epoch {}, log size {})",
        acked.len(),
        t.elapsed().as_secs_f64(),
        head.epoch,
        head.log_size
    );

    // 3. Witness fetches, signed before the clock starts (signatures stay fresh for 120 s).
    let t = Instant::now();
    let witness_reqs: Vec<Vec<u8>> = (0..args.witness_fetches)
        .map(|i| {
            let (device, _) = &holders[i % holders.len()];
            let headers = healthcode_service::auth::sign(
                &registry_key,
                device,
                "GET",
                path::HOLDER_WITNESS,
                unix_now(),
                b"",
            );
            get(path::HOLDER_WITNESS, &headers)
        })
        .collect();
    println!(
        "signed {} witness requests in {:.2} s (not measured)",
        witness_reqs.len(),
        t.elapsed().as_secs_f64()
    );
    let before = loadavg();
    let check: Arc<Check> = Arc::new(|_, status, body| {
        if status == 200 && body.starts_with(b"{") {
            Outcome { units: 1, ..Default::default() }
        } else {
            Outcome { refused: vec![describe_refusal(status, body)], ..Default::default() }
        }
    });
    let r = rt.block_on(run_phase(addr, Arc::new(witness_reqs), args.concurrency, deadline, check));
    report(
        &format!("holder witness GET {} ({} connections)", path::HOLDER_WITNESS, args.concurrency),
        "witnesses",
        Some(5000.0),
        &r,
        &before,
    );

    // 4. Checkpoint and tile reads, alternating.
    let checkpoint = ureq::get(&format!("{url}{}", path::CHECKPOINT))
        .call()
        .map_err(|e| e.to_string())?
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    let size: u64 = checkpoint.lines().nth(1).and_then(|l| l.parse().ok()).ok_or("unreadable checkpoint")?;
    let tile = if size >= 256 { "/tile/0/000".to_string() } else { format!("/tile/0/000.p/{size}") };
    let read_reqs: Vec<Vec<u8>> =
        (0..args.reads).map(|i| get(if i % 2 == 0 { path::CHECKPOINT } else { &tile }, &[])).collect();
    let before = loadavg();
    let check: Arc<Check> = Arc::new(|_, status, body| {
        if status == 200 {
            Outcome { units: 1, ..Default::default() }
        } else {
            Outcome { refused: vec![describe_refusal(status, body)], ..Default::default() }
        }
    });
    let r = rt.block_on(run_phase(addr, Arc::new(read_reqs), args.concurrency, deadline, check));
    report(
        &format!("GET {} and {tile}, alternating ({} connections)", path::CHECKPOINT, args.concurrency),
        "reads",
        Some(20_000.0),
        &r,
        &before,
    );

    println!("load average at end: {}", loadavg());
    if let Some(file) = &args.acks {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(file).map_err(|e| format!("{}: {e}", file.display()))?,
        );
        for id in &acked {
            writeln!(f, "{}", hex::encode(id)).map_err(|e| e.to_string())?;
        }
        f.flush().map_err(|e| e.to_string())?;
        println!("wrote {} acknowledged event ids to {}", acked.len(), file.display());
    }
    println!("events: {sent_events} sent, {} accepted, {refused_events} refused", acked.len());
    if Instant::now() >= deadline {
        println!("(the time limit stopped a phase early: raise --max-seconds or lower the counts)");
    }
    if acked.len() != sent_events || refused_events != 0 {
        return Err(format!(
            "{} events sent but {} accepted ({refused_events} refused)",
            sent_events,
            acked.len()
        ));
    }
    Ok(())
}

//! Files: upload and download throughput of one file (100 MiB by default) through `quid
//! serve`, against copying the same bytes over a bare HTTP/1.1 connection on loopback in the
//! same run (hyper at both ends, the receiver writing a file it syncs once, the sender reading
//! one); and the server's memory while 20 uploads run at once, against the bytes they carry.

use super::ServerChild;
use crate::session::files::{Files, RequestBody as BareBody, file_body as file_frames};
use anyhow::Context;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

#[derive(Debug, Clone, clap::Args)]
pub struct FilesArgs {
    /// MiB in the file whose upload and download are timed
    #[arg(long, default_value_t = 100)]
    mib: u64,
    /// Uploads at once while the server's memory is watched
    #[arg(long, default_value_t = 20)]
    concurrent: usize,
    /// MiB in each of those uploads
    #[arg(long, default_value_t = 25)]
    concurrent_mib: u64,
    /// Append the results to docs/PERFORMANCE.md
    #[arg(long)]
    record: bool,
    #[command(flatten)]
    servers: super::servers::ServersArgs,
}

const MIB: u64 = 1024 * 1024;

pub async fn run(args: &FilesArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::ensure!(
        args.mib >= 1 && args.concurrent >= 1,
        "--mib and --concurrent must be at least 1"
    );
    println!(
        "files: {} MiB up and down, then {} uploads of {} MiB at once",
        args.mib, args.concurrent, args.concurrent_mib
    );
    let dir = tempfile::tempdir()?;
    let big = dir.path().join("payload.bin");
    let small = dir.path().join("each.bin");
    write_random(&big, args.mib * MIB).await?;
    write_random(&small, args.concurrent_mib * MIB).await?;

    let bare = bare_copy(&big, dir.path()).await?;
    let servers = args.servers.open(&dir.path().join("server.db"))?;
    let users = super::make_users(&servers.store, &servers.prefix("sender"), args.concurrent)?;
    let most = (args.mib.max(args.concurrent_mib) * MIB * 2).to_string();
    let quota = (args.mib.max(args.concurrent_mib) * MIB * 4).to_string();
    let nodes = servers.start(&["--max-file-bytes", &most, "--file-quota-bytes", &quota])?;
    let node = &nodes[0];
    let url = url::Url::parse(&format!("ws://{}", node.addr))?;
    let files = Files::new(&url, &users[0].1, None)?;
    let quid = timed_round_trip(&files, &big, dir.path()).await?;
    let everyone: Vec<Files> = users
        .iter()
        .map(|(_, token)| Files::new(&url, token, None))
        .collect::<Result<_, _>>()?;
    let memory = memory_under_uploads(node, &everyone, &small).await?;
    let table = table(args, &servers, bare, quid, memory);
    super::report("quid bench files", &table, args.record)?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Upload and download throughput, in MiB/s.
#[derive(Debug, Clone, Copy)]
struct Throughput {
    up: f64,
    down: f64,
}

/// The server's resident memory before and at its highest during the concurrent uploads.
#[derive(Debug, Clone, Copy)]
struct Memory {
    idle_mib: f64,
    peak_mib: f64,
    carried_mib: f64,
}

fn table(
    args: &FilesArgs,
    servers: &super::servers::Servers,
    bare: Throughput,
    quid: Throughput,
    memory: Memory,
) -> String {
    let (up, down) = (quid.up / bare.up, quid.down / bare.down);
    let grown = memory.peak_mib - memory.idle_mib;
    let verdict = match up >= 0.7 && down >= 0.7 && grown < memory.carried_mib / 4.0 {
        true => "goal met",
        false => "goal not met",
    };
    format!(
        "{} MiB, {}\n\n\
         | what | upload MiB/s | download MiB/s |\n|---|---|---|\n\
         | baseline: the same bytes over bare HTTP/1.1 on loopback (hyper, a file synced once) | {:.0} | {:.0} |\n\
         | quid serve (/v1/files, the digest checked) | {:.0} | {:.0} |\n\n\
         quid / baseline: upload {up:.2}, download {down:.2}. Server memory: {:.0} MiB idle, \
         {:.0} MiB at most while {} uploads carried {:.0} MiB ({grown:.0} MiB more). \
         Verdict: {verdict} (at least 0.7x both ways; memory growing by under a quarter of \
         the bytes in flight).",
        args.mib,
        servers.describe(),
        bare.up,
        bare.down,
        quid.up,
        quid.down,
        memory.idle_mib,
        memory.peak_mib,
        args.concurrent,
        memory.carried_mib,
    )
}

async fn write_random(path: &Path, size: u64) -> anyhow::Result<()> {
    let mut out = tokio::fs::File::create(path).await?;
    let mut chunk = vec![0u8; MIB as usize];
    let mut left = size;
    while left > 0 {
        rand::fill(&mut chunk[..]);
        let n = left.min(MIB) as usize;
        out.write_all(&chunk[..n]).await?;
        left -= n as u64;
    }
    out.sync_all().await?;
    Ok(())
}

fn mib_per_second(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / MIB as f64 / took.as_secs_f64().max(1e-9)
}

/// quid's upload, then download, of `path`.
async fn timed_round_trip(files: &Files, path: &Path, dir: &Path) -> anyhow::Result<Throughput> {
    let size = tokio::fs::metadata(path).await?.len();
    let started = Instant::now();
    let file = files.upload(path, &mut |_, _| {}).await?;
    let up = started.elapsed();
    let into = dir.join("quid-download");
    tokio::fs::create_dir_all(&into).await?;
    let started = Instant::now();
    files.download(&file, &into, None, &mut |_, _| {}).await?;
    let down = started.elapsed();
    Ok(Throughput {
        up: mib_per_second(size, up),
        down: mib_per_second(size, down),
    })
}

/// Runs every upload at once, sampling the server's resident memory until they are done.
async fn memory_under_uploads(
    node: &ServerChild,
    everyone: &[Files],
    path: &Path,
) -> anyhow::Result<Memory> {
    let pid = node.pid();
    let idle = super::memory::resident_kib(pid)?;
    let uploads: Vec<_> = everyone
        .iter()
        .map(|files| {
            let (files, path) = (files.clone(), path.to_owned());
            tokio::spawn(async move { files.upload(&path, &mut |_, _| {}).await })
        })
        .collect();
    let mut peak = idle;
    while !uploads.iter().all(|u| u.is_finished()) {
        peak = peak.max(super::memory::resident_kib(pid)?);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for upload in uploads {
        upload.await??;
    }
    let size = tokio::fs::metadata(path).await?.len();
    Ok(Memory {
        idle_mib: idle / 1024.0,
        peak_mib: peak / 1024.0,
        carried_mib: (size * everyone.len() as u64) as f64 / MIB as f64,
    })
}

/// The bare copy's receiver: `PUT` writes the body to `stored` and syncs it, `GET` sends it.
async fn bare_answer(
    request: Request<Incoming>,
    stored: PathBuf,
) -> anyhow::Result<Response<BareBody>> {
    if request.method() == hyper::Method::PUT {
        let mut out = tokio::fs::File::create(&stored).await?;
        let mut body = request.into_body();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                out.write_all(&data).await?;
            }
        }
        out.sync_all().await?;
        return Ok(Response::new(
            http_body_util::Empty::new()
                .map_err(|n| match n {})
                .boxed_unsync(),
        ));
    }
    let file = tokio::fs::File::open(&stored).await?;
    let mut response = Response::new(file_frames(file));
    *response.status_mut() = StatusCode::OK;
    Ok(response)
}

/// Copies `path` up to a bare HTTP server on loopback and back down, timing each way.
async fn bare_copy(path: &Path, dir: &Path) -> anyhow::Result<Throughput> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stored = dir.join("bare-stored.bin");
    let server = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let stored = stored.clone();
            let service =
                hyper::service::service_fn(move |request| bare_answer(request, stored.clone()));
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(tcp);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    let size = tokio::fs::metadata(path).await?.len();
    let started = Instant::now();
    let file = tokio::fs::File::open(path).await?;
    bare_request(addr, hyper::Method::PUT, file_frames(file), None).await?;
    let up = started.elapsed();
    let copy = dir.join("bare-download.bin");
    let started = Instant::now();
    let empty = http_body_util::Empty::new()
        .map_err(|n| match n {})
        .boxed_unsync();
    bare_request(addr, hyper::Method::GET, empty, Some(&copy)).await?;
    let down = started.elapsed();
    server.abort();
    Ok(Throughput {
        up: mib_per_second(size, up),
        down: mib_per_second(size, down),
    })
}

/// One request to the bare server; a `GET`'s body goes to `into`, synced.
async fn bare_request(
    addr: std::net::SocketAddr,
    method: hyper::Method,
    body: BareBody,
    into: Option<&Path>,
) -> anyhow::Result<()> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri("/x")
        .header("host", addr.to_string())
        .body(body)?;
    let response = sender.send_request(request).await?;
    let mut body = response.into_body();
    let mut out = match into {
        Some(path) => Some(tokio::fs::File::create(path).await?),
        None => None,
    };
    while let Some(frame) = body.frame().await {
        if let (Ok(data), Some(out)) = (frame?.into_data(), out.as_mut()) {
            out.write_all(&data)
                .await
                .context("writing the bare download")?;
        }
    }
    if let Some(out) = out {
        out.sync_all().await?;
    }
    Ok(())
}

//! A proxy in front of the real S3-compatible store that answers some
//! writes with S3's throttling error (HTTP 503 `SlowDown`) instead of
//! passing them on, to test how clients retry. A request (method, path and
//! query) is refused at most once, so a retry of it always goes through. Everything else, and the
//! writes it lets through, reach the store unchanged (signatures stay
//! valid: the client signed the proxy's host, which it forwards).

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

const SLOW_DOWN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";

/// The running proxy; it stops when dropped.
pub struct FaultyS3 {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    injected: Arc<AtomicU64>,
    writes: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

/// What the proxy counts and remembers.
#[derive(Clone, Default)]
struct Faults {
    every: u64,
    injected: Arc<AtomicU64>,
    writes: Arc<AtomicU64>,
    refused: Arc<Mutex<HashSet<String>>>,
}

impl FaultyS3 {
    /// Proxies to `upstream` (`http://host:port`), refusing every
    /// `every`-th write (PUT or POST: objects, parts, multipart uploads)
    /// unless that request was refused before.
    pub async fn start(upstream: &str, every: u64) -> FaultyS3 {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let endpoint = format!("http://{}", listener.local_addr().expect("proxy address"));
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let faults = Faults { every, ..Faults::default() };
        let (injected, writes) = (faults.injected.clone(), faults.writes.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (upstream, faults) = (upstream.clone(), faults.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let (upstream, faults) = (upstream.clone(), faults.clone());
                        async move { Ok::<_, Infallible>(handle(request, &upstream, &faults).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultyS3 { endpoint, injected, writes, task }
    }

    /// Writes answered with `SlowDown` so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    /// Writes seen so far (passed on or refused).
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }
}

impl Drop for FaultyS3 {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Body = BoxBody<Bytes, hyper::Error>;

async fn handle(request: Request<Incoming>, upstream: &str, faults: &Faults) -> Response<Body> {
    if matches!(*request.method(), Method::PUT | Method::POST) {
        let n = faults.writes.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!("{} {}", request.method(), request.uri());
        let refuse = faults.every > 0
            && n.is_multiple_of(faults.every)
            && faults.refused.lock().map(|mut refused| refused.insert(id)).unwrap_or(false);
        if refuse {
            faults.injected.fetch_add(1, Ordering::Relaxed);
            return fixed(StatusCode::SERVICE_UNAVAILABLE, SLOW_DOWN);
        }
    }
    match forward(request, upstream).await {
        Ok(response) => response.map(|b| b.boxed()),
        Err(err) => fixed(StatusCode::BAD_GATEWAY, &format!("proxy: {err}")),
    }
}

async fn forward(request: Request<Incoming>, upstream: &str) -> Result<Response<Incoming>, String> {
    let stream = TcpStream::connect(upstream).await.map_err(|e| e.to_string())?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    sender.send_request(request).await.map_err(|e| e.to_string())
}

fn fixed(status: StatusCode, body: &str) -> Response<Body> {
    let mut response =
        Response::new(Full::new(Bytes::from(body.to_owned())).map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", "application/xml".parse().expect("header"));
    response
}

//! HTTP as the tests speak it: raw requests written byte for byte (as playSMS writes them,
//! HTTP/1.0 on a bare socket) with the raw answer read back, and a small server that records
//! every call smsqd makes to it (reports, pushes, webhooks) and answers as told.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An answer read off the wire.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    pub status_line: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawAnswer {
    pub fn status(&self) -> u16 {
        self.status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Writes `request` to 127.0.0.1:`port` and reads the answer until the server closes (an
/// HTTP/1.0 request, or one with `Connection: close`).
pub fn raw(port: u16, request: &[u8]) -> RawAnswer {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("the listener is up");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all)
        .expect("the server answers and closes");
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    RawAnswer {
        status_line,
        headers,
        body: all[split + 4..].to_vec(),
    }
}

/// `GET target HTTP/1.1` with a Host header and `extra` header lines, closed after.
pub fn get(port: u16, target: &str, extra: &str) -> RawAnswer {
    raw(
        port,
        format!(
            "GET {target} HTTP/1.1\r\nHost: localhost:{port}\r\n{extra}Connection: close\r\n\r\n"
        )
        .as_bytes(),
    )
}

/// `POST target` with `content_type`, `extra` header lines and `body`.
pub fn post(port: u16, target: &str, content_type: &str, extra: &str, body: &[u8]) -> RawAnswer {
    let mut request = format!(
        "POST {target} HTTP/1.1\r\nHost: localhost:{port}\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    raw(port, &request)
}

/// Waits up to 10 s for something to listen on 127.0.0.1:`port` (`what`, for the failure).
pub fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not open");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A port nothing listens on now (bound and let go).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Call {
    /// The value of query parameter `name`, percent-decoded (`+` as a space).
    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.target.split_once('?')?.1;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| {
                percent_encoding::percent_decode_str(&v.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
    }

    /// The raw (still encoded) value of query parameter `name`.
    pub fn raw_query(&self, name: &str) -> Option<String> {
        let query = self.target.split_once('?')?.1;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| v.to_string())
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Records calls; answers each with the next queued (status, body), else 200 and `OK`.
#[derive(Clone)]
pub struct Receiver {
    pub port: u16,
    calls: Arc<Mutex<Vec<Call>>>,
    answers: Arc<Mutex<VecDeque<(u16, String)>>>,
    stop: Arc<tokio::sync::Notify>,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    pub async fn start_on(port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let r = Self {
            port,
            calls: Default::default(),
            answers: Default::default(),
            stop: Default::default(),
        };
        let state = r.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let state = state.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
                state.calls.lock().unwrap().push(Call {
                    method: parts.method.to_string(),
                    target: parts.uri.to_string(),
                    headers: parts
                        .headers
                        .iter()
                        .map(|(k, v)| {
                            (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())
                        })
                        .collect(),
                    body: body.to_vec(),
                });
                let (status, text) = state
                    .answers
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or((200, "OK".into()));
                (axum::http::StatusCode::from_u16(status).unwrap(), text)
            }
        });
        let stop = r.stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.notified().await })
                .await
                .unwrap();
        });
        r
    }

    /// The next calls are answered with these.
    pub fn answer(&self, status: u16, body: &str) {
        self.answers
            .lock()
            .unwrap()
            .push_back((status, body.into()));
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits up to `secs` for at least `n` calls.
    pub async fn wait_calls(&self, n: usize, secs: u64) -> Vec<Call> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let calls = self.calls();
            if calls.len() >= n {
                return calls;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} calls, got {}: {calls:#?}",
                calls.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn stop(&self) {
        self.stop.notify_one();
    }
}

//! The HTTP interfaces, each on a listener of its own and off until configured: Kannel's
//! `sendsms` ([`kannel`]), SMS Gateway for Android's REST API ([`android`]), the shop's web
//! page ([`web`]), the calls smsqd makes back to other programs ([`callbacks`]:
//! delivery reports, pushed messages, webhooks) and the escape codes of their URLs
//! ([`escapes`]), with passwords and client addresses in [`auth`].
//!
//! Like the socket, every interface turns its wire format into calls of the core
//! ([`crate::daemon::Daemon`]) and never reaches past it. Every listener binds loopback
//! unless told otherwise and answers only to its own host names, so that a web page in the
//! shop's browser cannot reach it through DNS rebinding.

pub mod android;
pub mod auth;
pub mod callbacks;
pub mod escapes;
pub mod kannel;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::warn;

/// Which `Host` (and, for an interface whose GETs change state, which `Origin` and
/// `Referer`) a listener accepts.
pub struct Guard {
    hosts: Vec<String>,
    /// Refuse requests a browser made from another site's page.
    same_origin: bool,
    /// ... only those that may change something (not GET or HEAD): a page reached by a
    /// link from elsewhere still opens.
    changes_only: bool,
}

impl Guard {
    /// Loopback names, the listener's own address and `extra` (the names it is reached by
    /// on the LAN).
    pub fn new(listen: SocketAddr, extra: &[String], same_origin: bool) -> Self {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|h| h.to_string())
            .collect();
        if !listen.ip().is_unspecified() {
            hosts.push(listen.ip().to_string());
        }
        hosts.extend(extra.iter().map(|h| h.to_ascii_lowercase()));
        Self {
            hosts,
            same_origin,
            changes_only: false,
        }
    }

    /// Checks `Origin` and `Referer` only of requests that may change something.
    pub fn same_origin_for_changes(mut self) -> Self {
        self.same_origin = true;
        self.changes_only = true;
        self
    }

    fn allows_host(&self, host_port: &str) -> bool {
        let host = strip_port(host_port).to_ascii_lowercase();
        self.hosts.contains(&host)
    }
}

/// `host:port`, `[v6]:port`, `host` → the host.
fn strip_port(s: &str) -> &str {
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match s.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => h,
        _ => s,
    }
}

/// The host of an `Origin` or `Referer` value (`scheme://host[:port][/…]`).
fn origin_host(value: &str) -> Option<&str> {
    let rest = value.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some(authority.rsplit_once('@').map_or(authority, |(_, h)| h))
}

/// Refuses a request for a host this listener is not (DNS rebinding) and, where asked, one
/// made from another site's page. A request with no `Host` at all (HTTP/1.0, as playSMS
/// sends) comes from a program, not a browser, and passes.
pub async fn guard(State(g): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if let Some(host) = headers.get(header::HOST) {
        let ok = host.to_str().is_ok_and(|h| g.allows_host(h));
        if !ok {
            warn!(event = "http_host_refused", host = %printable(&String::from_utf8_lossy(host.as_bytes())), "a request for another host name was refused (DNS rebinding?)");
            return (StatusCode::FORBIDDEN, "Forbidden: unknown host name").into_response();
        }
    }
    let safe = matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    if g.same_origin && !(g.changes_only && safe) {
        for name in [header::ORIGIN, header::REFERER] {
            if let Some(v) = headers.get(&name) {
                let ok = v
                    .to_str()
                    .ok()
                    .and_then(origin_host)
                    .is_some_and(|h| g.allows_host(h));
                if !ok {
                    warn!(event = "http_cross_origin_refused", header = %name, "a request from another site's page was refused");
                    return (StatusCode::FORBIDDEN, "Forbidden: cross-site request")
                        .into_response();
                }
            }
        }
    }
    next.run(req).await
}

/// A client-supplied string as it may appear in a log line: control characters escaped and
/// at most 64 characters, so that no value can forge a line or flood the journal.
pub fn printable(s: &str) -> String {
    s.chars().take(64).flat_map(char::escape_default).collect()
}

/// Serves `app` on `listener` until smsqd stops; each connection knows its peer's address.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let stop = async move {
        while !*shutdown.borrow() {
            if shutdown.changed().await.is_err() {
                return;
            }
        }
    };
    if let Err(e) = axum::serve(listener, service)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!(event = "http_server_failed", error = %e, "an HTTP listener stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_without_ports() {
        assert_eq!(strip_port("localhost:13013"), "localhost");
        assert_eq!(strip_port("[::1]:8080"), "::1");
        assert_eq!(strip_port("shop.lan"), "shop.lan");
        assert_eq!(
            origin_host("http://evil.example:80/x"),
            Some("evil.example:80")
        );
        assert_eq!(origin_host("null"), None);
    }

    #[test]
    fn the_guard_knows_its_names() {
        let g = Guard::new("0.0.0.0:13013".parse().unwrap(), &["Shop.LAN".into()], true);
        assert!(g.allows_host("localhost:13013"));
        assert!(g.allows_host("127.0.0.1"));
        assert!(g.allows_host("[::1]:13013"));
        assert!(g.allows_host("shop.lan:13013"));
        assert!(!g.allows_host("evil.example"));
        assert!(!g.allows_host("0.0.0.0"));
        let lan = Guard::new("192.168.1.5:13013".parse().unwrap(), &[], false);
        assert!(lan.allows_host("192.168.1.5:13013"));
    }

    #[test]
    fn printable_values_cannot_forge_log_lines() {
        assert_eq!(printable("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        assert_eq!(printable(&"x".repeat(100)).len(), 64);
    }
}

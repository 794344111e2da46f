//! The local API: newline-delimited JSON over a Unix socket. [`protocol`] defines every
//! request, reply, error and event as types, used by both the server and the client (`smsq`),
//! so the two cannot drift; [`handlers`] turns each request into a call of the daemon core;
//! [`server`] and [`client`] own the socket.
//!
//! One request object per line, with a client-chosen `id` echoed in its response:
//!
//! ```text
//! → {"id":1,"op":"send","to":["09171234567"],"text":"Your documents are ready."}
//! ← {"id":1,"ok":true,"result":{"messages":[{"id":12,"to":"+639171234567","parts":1}]}}
//! → {"id":2,"op":"get","message":12}
//! ← {"id":2,"ok":true,"result":{"id":12,"state":"delivered","parts":[...],"history":[...]}}
//! → {"id":3,"op":"list","box":"inbox","limit":20}
//! → {"id":4,"op":"cancel","message":13}
//! → {"id":5,"op":"retry","message":14}
//! → {"id":6,"op":"modems"}
//! → {"id":7,"op":"ussd","code":"*143#"}
//! → {"id":8,"op":"estimate","text":"Cześć!"}
//! → {"id":9,"op":"subscribe","since":120}
//! ← {"event":{"id":121,"kind":"received","inbox_id":4,"from":"+639171234567","text":"Thanks!",...}}
//! ← {"id":10,"ok":false,"error":{"code":"invalid_number","message":"..."}}
//! ```
//!
//! Errors carry a stable `code`. A malformed line gets an error response (with `id` null)
//! and the connection stays open; lines over [`MAX_REQUEST_LINE`] bytes are refused. A subscriber
//! that reads too slowly gets `{"event":{"kind":"lagged","resume_from":N}}` and can
//! subscribe again with `since: N`; it never slows the daemon down.

pub mod client;
pub mod handlers;
pub mod protocol;
pub mod server;

use std::path::PathBuf;

pub use protocol::*;

/// The states an outgoing message can be in (the README's table), for `list` filters: the
/// store's own names ([`crate::store::MessageState`]).
pub const MESSAGE_STATES: [&str; crate::store::MessageState::ALL.len()] = {
    let mut names = [""; crate::store::MessageState::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = crate::store::MessageState::ALL[i].as_str();
        i += 1;
    }
    names
};

/// Where the socket lives when `--socket` is not given: `$RUNTIME_DIRECTORY/smsq.sock`
/// (systemd), else `$XDG_RUNTIME_DIR/smsq/smsq.sock`, else `/tmp/smsq-<uid>/smsq.sock`.
pub fn default_socket_path() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = env("RUNTIME_DIRECTORY") {
        return d.join("smsq.sock");
    }
    if let Some(d) = env("XDG_RUNTIME_DIR") {
        return d.join("smsq").join("smsq.sock");
    }
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| {
        use std::os::unix::fs::MetadataExt;
        m.uid()
    });
    PathBuf::from(format!("/tmp/smsq-{uid}")).join("smsq.sock")
}

#[cfg(test)]
mod tests;

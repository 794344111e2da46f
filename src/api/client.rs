//! A small client of the socket protocol, used by `smsq` and the tests.

use std::path::Path;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use super::protocol::{ApiError, Call, ErrorCode, Reply, RequestLine, ServerLine};

pub struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next_id: u64,
}

#[derive(Debug)]
pub enum ClientError {
    /// The daemon is not running, or the socket is not accessible.
    Connect(std::path::PathBuf, std::io::Error),
    Io(std::io::Error),
    /// The daemon answered with an error object.
    Api(ApiError),
    Protocol(String),
    /// No answer within this time.
    Timeout(std::time::Duration),
}

/// The longest a request waits for its answer (a USSD session takes up to half a minute, a
/// batch of a thousand messages a moment to commit); nothing waits without a bound.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect(path, e) if e.kind() == std::io::ErrorKind::PermissionDenied => write!(
                f,
                "cannot open {}: permission denied (is your user in the smsq group?)",
                path.display()
            ),
            Self::Connect(path, _) => write!(
                f,
                "smsqd is not running (no socket at {}); start it, or pass --socket",
                path.display()
            ),
            Self::Io(e) => write!(f, "connection to smsqd lost: {e}"),
            Self::Api(e) => write!(f, "{} ({})", e.message, e.code),
            Self::Protocol(what) => write!(f, "unexpected answer from smsqd: {what}"),
            Self::Timeout(after) => write!(
                f,
                "smsqd did not answer within {} s; see `journalctl -u smsqd`",
                after.as_secs()
            ),
        }
    }
}

impl std::error::Error for ClientError {}

impl Client {
    pub async fn connect(path: &Path) -> Result<Self, ClientError> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|e| ClientError::Connect(path.to_path_buf(), e))?;
        let (r, w) = stream.into_split();
        Ok(Self {
            reader: BufReader::new(r),
            writer: w,
            next_id: 1,
        })
    }

    /// Sends a request and waits for its typed reply (events arriving meanwhile are
    /// skipped).
    pub async fn call<C: Call>(&mut self, request: C) -> Result<C::Reply, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let line = RequestLine {
            id: Value::from(id),
            request: request.into(),
        };
        let mut line =
            serde_json::to_string(&line).map_err(|e| ClientError::Protocol(e.to_string()))?;
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .await
            .map_err(ClientError::Io)?;
        let wait = async {
            loop {
                match self.next_line().await? {
                    ServerLine::Reply(r) if r.id == id => return into_result(r),
                    // The daemon could not read the request at all (too long, not JSON), so it
                    // could not echo its id; with one request in flight, this is its answer.
                    ServerLine::Reply(r) if r.id.is_null() && !r.ok => return into_result(r),
                    _ => continue,
                }
            }
        };
        tokio::time::timeout(CALL_TIMEOUT, wait)
            .await
            .map_err(|_| ClientError::Timeout(CALL_TIMEOUT))?
    }

    /// The next line from the daemon: a response or an event.
    pub async fn next_line(&mut self) -> Result<ServerLine, ClientError> {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .await
            .map_err(ClientError::Io)?;
        if n == 0 {
            return Err(ClientError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "smsqd closed the connection",
            )));
        }
        serde_json::from_str(&line)
            .map_err(|e| ClientError::Protocol(format!("{e}: {}", line.trim())))
    }
}

/// A reply's result as the request's reply type, or its error.
fn into_result<T: serde::de::DeserializeOwned>(r: Reply<Value>) -> Result<T, ClientError> {
    if r.ok {
        serde_json::from_value(r.result.unwrap_or(Value::Null))
            .map_err(|e| ClientError::Protocol(format!("a reply of the wrong shape: {e}")))
    } else {
        Err(ClientError::Api(r.error.unwrap_or_else(|| {
            ApiError::new(ErrorCode::Other("unknown".into()), "error without details")
        })))
    }
}

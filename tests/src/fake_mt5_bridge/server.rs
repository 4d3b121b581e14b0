//! A minimal HTTP/1.1 server for the fake bridge: one request per connection (`Connection:
//! close`), JSON in and out. Enough for reqwest, and no server framework to depend on.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::book::Book;

/// The largest request head or body read.
const MAX_REQUEST: usize = 1 << 20;

/// One parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path segments, percent-decoded (`/orders/a%3Ab` is `["orders", "a:b"]`).
    pub segments: Vec<String>,
    /// The query pairs, decoded.
    pub query: Vec<(String, String)>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// The value of query parameter `name`.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Accepts connections until the task is aborted.
pub(super) async fn serve(listener: TcpListener, book: Arc<Mutex<Book>>) {
    while let Ok((socket, _)) = listener.accept().await {
        tokio::spawn(connection(socket, book.clone()));
    }
}

async fn connection(mut socket: TcpStream, book: Arc<Mutex<Book>>) {
    let Some(request) = read_request(&mut socket).await else {
        let _ = socket
            .write_all(&response(
                400,
                b"{\"error\":{\"code\":\"invalid_request\",\"message\":\"unreadable HTTP request\"}}",
            ))
            .await;
        return;
    };
    let (status, body, delay, drop) = {
        let mut book = book.lock().unwrap_or_else(PoisonError::into_inner);
        let (status, body) = book.handle(&request);
        (status, body, book.delay_for(&request), book.drops(&request))
    };
    if delay > Duration::ZERO {
        tokio::time::sleep(delay).await;
    }
    if drop {
        let _ = socket.shutdown().await;
        return;
    }
    // The client may have given up meanwhile: nothing to do about a failed write.
    let _ = socket.write_all(&response(status, body.to_string().as_bytes())).await;
    let _ = socket.shutdown().await;
}

async fn read_request(socket: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > MAX_REQUEST {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?;
    let mut authorization = None;
    let mut length = 0usize;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("authorization") {
            authorization = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok()?;
        }
    }
    if length > MAX_REQUEST {
        return None;
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segments = path.split('/').filter(|s| !s.is_empty()).map(decode).collect();
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    Some(Request { method, segments, query, authorization, body })
}

fn response(status: u16, body: &[u8]) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Percent-decoding (`+` is a space, as in form encoding).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

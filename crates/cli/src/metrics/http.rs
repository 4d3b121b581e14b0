//! A tiny HTTP/1.x listener for Prometheus: `GET /metrics` answers 200 with the text of
//! `render` (`text/plain; version=0.0.4`); any other method or path answers 404. One request per
//! connection (`Connection: close`); a client that sends nothing for [`READ_TIMEOUT`] is dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long a client may take to send its request head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest request head read.
const MAX_HEAD: usize = 8 * 1024;

/// The metrics text, made at each scrape.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Listens on `addr` and serves `render` until the task is aborted; returns the bound address
/// (port 0 picks a free one) and the task.
///
/// # Errors
/// The address cannot be bound.
pub async fn serve(addr: SocketAddr, render: Render) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let render = Arc::clone(&render);
                    tokio::spawn(async move {
                        if let Err(e) = answer(stream, &render).await {
                            tracing::debug!(error = %e, "metrics request not answered");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok((local, task))
}

async fn answer(mut stream: TcpStream, render: &Render) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0_u8; 1024];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(())
    };
    tokio::time::timeout(READ_TIMEOUT, read)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "request head not received"))??;
    let (status, content_type, body) = if is_metrics_request(&head) {
        ("200 OK", "text/plain; version=0.0.4; charset=utf-8", render())
    } else {
        ("404 Not Found", "text/plain; charset=utf-8", "not found: try GET /metrics\n".to_owned())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Whether the request line is `GET /metrics` (a query string is ignored).
fn is_metrics_request(head: &[u8]) -> bool {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut parts = line.split(|b| *b == b' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else { return false };
    let path = target.split(|b| *b == b'?').next().unwrap_or_default();
    method == b"GET" && path == b"/metrics"
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    async fn request(addr: SocketAddr, raw: &str) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(raw.as_bytes()).await.unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        out
    }

    #[rstest]
    #[case("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "200 OK")]
    #[case("GET /metrics?x=1 HTTP/1.0\r\n\r\n", "200 OK")]
    #[case("GET / HTTP/1.1\r\n\r\n", "404 Not Found")]
    #[case("GET /metricsx HTTP/1.1\r\n\r\n", "404 Not Found")]
    #[case("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "404 Not Found")]
    #[case("garbage\r\n\r\n", "404 Not Found")]
    #[tokio::test]
    async fn the_listener_serves_get_metrics_only(#[case] raw: &str, #[case] status: &str) {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let render: Render = Arc::new(move || {
            let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            format!("axia_test_scrapes_total {n}\n")
        });
        let (addr, task) = serve("127.0.0.1:0".parse().unwrap(), render).await.unwrap();
        let response = request(addr, raw).await;
        assert!(response.starts_with(&format!("HTTP/1.1 {status}\r\n")), "{response}");
        if status == "200 OK" {
            assert!(response.contains("Content-Type: text/plain; version=0.0.4"), "{response}");
            assert!(response.ends_with("\r\n\r\naxia_test_scrapes_total 1\n"), "{response}");
            let again = request(addr, raw).await;
            assert!(again.ends_with("axia_test_scrapes_total 2\n"), "rendered at each scrape: {again}");
        } else {
            assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing rendered for a 404");
        }
        task.abort();
    }

    #[tokio::test]
    async fn a_taken_address_is_an_error() {
        let render: Render = Arc::new(String::new);
        let (addr, task) = serve("127.0.0.1:0".parse().unwrap(), Arc::clone(&render)).await.unwrap();
        assert!(serve(addr, render).await.is_err());
        task.abort();
    }
}

//! A minimal blocking RESP2 client for tests that check raw Redis state (`ZCARD`, `PTTL`,
//! `CLUSTER KEYSLOT`, …) and clean up their keys, independent of the adapter under test.
//!
//! It talks to one node (no cluster redirections: callers address the node that owns what they
//! ask about) and supports `redis://host:port/db` URLs without credentials.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The single-node Redis of the test command (`AXIA_TEST_REDIS_URL`, default
/// `redis://127.0.0.1:6379/0`).
#[must_use]
pub fn test_redis_url() -> String {
    std::env::var("AXIA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

/// `(host:port, db)` of a `redis://` URL (credentials ignored).
#[must_use]
pub fn url_parts(url: &str) -> (String, Option<String>) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let db = path.split('?').next().filter(|d| !d.is_empty()).map(str::to_owned);
    (authority.to_owned(), db)
}

/// A reply.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// `:n`
    Int(i64),
    /// `$…` (`None`: the null bulk string).
    Bulk(Option<Vec<u8>>),
    /// `*…`
    Array(Vec<Reply>),
    /// `+…`
    Simple(String),
}

/// One connection to one node.
#[derive(Debug)]
pub struct RawRedis {
    addr: String,
    reader: BufReader<TcpStream>,
}

impl RawRedis {
    /// Connects to `url` and selects its database.
    ///
    /// # Panics
    /// When the node cannot be reached.
    #[must_use]
    pub fn connect(url: &str) -> Self {
        let (addr, db) = url_parts(url);
        let mut raw = Self::connect_addr(&addr);
        if let Some(db) = db {
            assert_eq!(raw.cmd(&["SELECT", &db]), Reply::Simple("OK".into()));
        }
        raw
    }

    /// Connects to `host:port`.
    ///
    /// # Panics
    /// When the node cannot be reached.
    #[must_use]
    pub fn connect_addr(addr: &str) -> Self {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("cannot reach redis at {addr}: {e}"));
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("set a read timeout");
        Self { addr: addr.to_owned(), reader: BufReader::new(stream) }
    }

    /// Sends one command and reads its reply.
    ///
    /// # Panics
    /// On an error reply or a broken connection.
    pub fn cmd(&mut self, args: &[&str]) -> Reply {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.reader.get_mut().write_all(&out).expect("send a command");
        self.read(args)
    }

    fn read(&mut self, args: &[&str]) -> Reply {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read a reply");
        let body = line.trim_end_matches("\r\n");
        let (kind, rest) = body.split_at(1);
        match kind {
            "+" => Reply::Simple(rest.into()),
            "-" => panic!("{args:?} on {}: redis error: {rest}", self.addr),
            ":" => Reply::Int(rest.parse().expect("an integer reply")),
            "$" => {
                let n: i64 = rest.parse().expect("a bulk length");
                let Ok(n) = usize::try_from(n) else { return Reply::Bulk(None) };
                let mut buf = vec![0; n + 2];
                self.reader.read_exact(&mut buf).expect("read a bulk string");
                buf.truncate(n);
                Reply::Bulk(Some(buf))
            }
            "*" => {
                let n: i64 = rest.parse().expect("an array length");
                Reply::Array((0..n.max(0)).map(|_| self.read(args)).collect())
            }
            other => panic!("unexpected RESP type {other:?}"),
        }
    }

    /// A command answering an integer.
    ///
    /// # Panics
    /// When the reply is not an integer.
    pub fn int(&mut self, args: &[&str]) -> i64 {
        match self.cmd(args) {
            Reply::Int(n) => n,
            other => panic!("{args:?}: expected an integer, got {other:?}"),
        }
    }

    /// A command answering a bulk string (`None`: nil).
    ///
    /// # Panics
    /// When the reply is not a bulk string.
    pub fn text(&mut self, args: &[&str]) -> Option<String> {
        match self.cmd(args) {
            Reply::Bulk(b) => b.map(|b| String::from_utf8(b).expect("utf-8 reply")),
            other => panic!("{args:?}: expected a bulk string, got {other:?}"),
        }
    }

    /// The keys of this node starting with `prefix` (which must hold no glob characters), sorted.
    ///
    /// # Panics
    /// On an unexpected reply.
    pub fn keys(&mut self, prefix: &str) -> Vec<String> {
        let pattern = format!("{prefix}*");
        match self.cmd(&["KEYS", &pattern]) {
            Reply::Array(items) => {
                let mut keys: Vec<String> = items
                    .into_iter()
                    .map(|r| match r {
                        Reply::Bulk(Some(b)) => String::from_utf8(b).expect("utf-8 key"),
                        other => panic!("unexpected key {other:?}"),
                    })
                    .collect();
                keys.sort();
                keys
            }
            other => panic!("KEYS: {other:?}"),
        }
    }

    /// Deletes every key of this node starting with `prefix`; returns how many.
    pub fn delete_prefix(&mut self, prefix: &str) -> usize {
        let keys = self.keys(prefix);
        for key in &keys {
            self.int(&["DEL", key]);
        }
        keys.len()
    }
}
